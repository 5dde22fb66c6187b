"""How attacks reach ``strikes.csv``: some never do, the rest with errors.

A recorded attack gets a ``source_type``; its 1-sigma location error is that type's
default (:data:`remnant.records.defaults.LOCATION_ERROR_M`) times a log-normal
factor, and the reported point is the true impact point plus an isotropic normal
error of that sigma on each axis. Records are honest about their uncertainty: when
``location_error_m`` is written the error was drawn with it, when it is omitted the
error was drawn with the default of the record's source type. Carrier ids are
sometimes wrong (one of the same kind) or ``unknown``; the count and heading are
sometimes given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remnant.catalogue.model import Catalogue
from remnant.records.defaults import LOCATION_ERROR_M
from remnant.simulate.attacks import UNKNOWN_CARRIER, Attacks
from remnant.simulate.config import ReportingConfig
from remnant.simulate.geography import Region, to_lonlat
from remnant.simulate.ids import numbered

_ERROR_ROUNDING_M = 5.0
"""A written ``location_error_m`` is rounded to this. [m]"""
_MIN_ERROR_M = 5.0
"""Smallest written location error. [m]"""


@dataclass(frozen=True)
class Reports:
    """The recorded attacks, one row per record, in date order.

    Parameters
    ----------
    strike : numpy.ndarray
        Index of the true attack.
    strike_id : numpy.ndarray
        Record id, ``STR-000001`` onwards.
    x, y : numpy.ndarray
        Reported point. [m]
    lon, lat : numpy.ndarray
        Reported point, rounded to 1e-6 degree. [degree]
    sigma_m : numpy.ndarray
        1-sigma error the reported point was drawn with. [m]
    source_type : numpy.ndarray
        True source type of the record.
    columns : dict
        The record's values as written (``None`` / NaN where omitted), by
        ``strikes`` column name.
    """

    strike: np.ndarray
    strike_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    sigma_m: np.ndarray
    source_type: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.strike)


def report_attacks(
    attacks: Attacks,
    region: Region,
    catalogue: Catalogue,
    config: ReportingConfig,
    rng: np.random.Generator,
) -> Reports:
    """Draw which attacks were recorded and what their records say.

    Parameters
    ----------
    attacks : Attacks
    region : Region
    catalogue : Catalogue
    config : ReportingConfig
    rng : numpy.random.Generator

    Returns
    -------
    Reports
    """
    strike = np.flatnonzero(rng.random(len(attacks)) >= config.unreported_fraction)
    n = len(strike)
    names = tuple(config.source_type_weights)
    w = np.array([config.source_type_weights[s] for s in names], dtype=float)
    source_type = np.array(names, dtype=object)[rng.choice(len(names), size=n, p=w / w.sum())]
    sigma, written = _location_errors(source_type, config, rng)
    x = attacks.x[strike] + rng.standard_normal(n) * sigma
    y = attacks.y[strike] + rng.standard_normal(n) * sigma
    lon, lat = to_lonlat(region, x, y)
    columns = _record_columns(
        attacks, strike, source_type, np.where(written, sigma, np.nan), catalogue, config, rng
    )
    return Reports(
        strike,
        columns["strike_id"],
        x,
        y,
        np.round(lon, 6),
        np.round(lat, 6),
        sigma,
        source_type,
        columns,
    )


def _record_columns(
    attacks: Attacks,
    strike: np.ndarray,
    source_type: np.ndarray,
    written_error: np.ndarray,
    catalogue: Catalogue,
    config: ReportingConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The values each record states, by ``strikes`` column (None/NaN where omitted)."""
    count = attacks.count[strike].astype(float)
    return {
        "strike_id": numbered("STR", len(strike)),
        "location_error_m": written_error,
        "carrier": _reported_carriers(attacks, strike, catalogue, config, rng),
        "carrier_count": _maybe(count, config.carrier_count_omitted_fraction, rng),
        "heading_deg": _headings(attacks.heading_deg[strike], config, rng),
        "source_type": _maybe_text(
            source_type, source_type == "reported", config.source_type_omitted_fraction, rng
        ),
        "source": np.char.add(
            source_type.astype(str), " record, synthetic (remnant.simulate)"
        ).astype(object),
    }


def _location_errors(
    source_type: np.ndarray, config: ReportingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """1-sigma error of each record, and whether the record states it. [m]"""
    default = np.array([LOCATION_ERROR_M[s] for s in source_type], dtype=float)
    factor = np.exp(rng.standard_normal(len(default)) * config.location_error_log_sd)
    stated = np.maximum(
        np.round(default * factor / _ERROR_ROUNDING_M) * _ERROR_ROUNDING_M, _MIN_ERROR_M
    )
    written = rng.random(len(default)) < config.location_error_written_fraction
    return np.where(written, stated, default), written


def _reported_carriers(
    attacks: Attacks,
    strike: np.ndarray,
    catalogue: Catalogue,
    config: ReportingConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """True carrier ids, some replaced by a wrong one (same kind first) or ``unknown``."""
    truth = np.array(attacks.types, dtype=object)[attacks.carrier[strike]]
    out = truth.copy()
    u = rng.random(len(strike))
    wrong = (u >= config.unknown_carrier_fraction) & (
        u < config.unknown_carrier_fraction + config.wrong_carrier_fraction
    )
    pick = rng.random(len(strike))
    for cid in attacks.types:
        mine = wrong & (truth == cid)
        others = _confusable(cid, catalogue)
        if mine.any() and others:
            out[mine] = np.array(others, dtype=object)[(pick[mine] * len(others)).astype(int)]
    out[u < config.unknown_carrier_fraction] = UNKNOWN_CARRIER
    return out


def _confusable(cid: str, catalogue: Catalogue) -> list[str]:
    """Carriers a record may name instead of ``cid``: same kind if any, else any."""
    others = [c for c in catalogue.carriers if c not in (cid, UNKNOWN_CARRIER)]
    kind = catalogue.carriers[cid].kind
    return [c for c in others if catalogue.carriers[c].kind == kind] or others


def _maybe(values: np.ndarray, omitted: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(values)) < omitted, np.nan, values)


def _maybe_text(
    values: np.ndarray, may_omit: np.ndarray, omitted: float, rng: np.random.Generator
) -> np.ndarray:
    out = values.copy()
    out[may_omit & (rng.random(len(values)) < omitted)] = None
    return out


def _headings(
    true_deg: np.ndarray, config: ReportingConfig, rng: np.random.Generator
) -> np.ndarray:
    seen = true_deg + rng.normal(0.0, config.heading_error_sd_deg, len(true_deg))
    known = rng.random(len(true_deg)) < config.heading_known_fraction
    return np.where(known, np.round(np.mod(seen, 360.0), 1), np.nan)
