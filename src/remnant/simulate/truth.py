"""The ground truth of a synthetic world: every submunition, every attack, the parameters.

Kept apart from the records: a model under test must never see it. The
submunition table can hold 10⁸ rows, so it uses compact dtypes: float32
coordinates (about 0.4 m), int16/int32 indices, and categoricals for ids and dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from remnant.catalogue.model import Catalogue
from remnant.records.defaults import (
    DETECTION_PROBABILITY,
    DETECTION_PROBABILITY_BY_TYPE,
    LOCATION_ERROR_M,
)
from remnant.simulate.accidents import AccidentRows
from remnant.simulate.attacks import Attacks
from remnant.simulate.config import WorldConfig
from remnant.simulate.fates import Fates
from remnant.simulate.geography import Region, front_offset, to_lonlat
from remnant.simulate.ids import numbered
from remnant.simulate.reporting import Reports
from remnant.simulate.scatter import Duds, Submunitions, Volleys
from remnant.simulate.timeline import NEVER, iso

if TYPE_CHECKING:
    from remnant.hazard.grid import Grid


@dataclass(frozen=True)
class Truth:
    """What really happened.

    Parameters
    ----------
    submunitions : pandas.DataFrame
        One row per submunition: ``strike_index`` (row of ``strikes``),
        ``carrier_index`` (carrier within its attack, from 0), ``carrier``, ``item``,
        ``lon``, ``lat`` (float32, degree), ``is_dud``, ``remains`` (dud still in the
        ground at ``as_of``), ``found_by`` (activity id), ``found_date`` (ISO),
        ``accident_id``; the last three categorical, NaN where not applicable.
    strikes : pandas.DataFrame
        One row per true attack: ``true_strike_id``, ``date``, impact ``lon``/``lat``,
        ``carrier``, ``carrier_count``, ``heading_deg``, ``settlement_index``,
        ``front_offset_m``, ``reported``, ``strike_id`` (record id or None),
        ``reported_lon``/``reported_lat``, ``source_type``, ``location_error_m``
        (1-sigma the reported point was drawn with), ``n_submunitions``,
        ``n_duds``, ``n_remaining``.
    settlements : pandas.DataFrame
        ``settlement_index``, ``lon``, ``lat``, ``population``, ``radius_m``.
    parameters : dict
        True failure rate per carrier type, detection and location-error defaults
        used, CRS, region, front line, ``as_of``, seed, configuration, counts.
    """

    submunitions: pd.DataFrame
    strikes: pd.DataFrame
    settlements: pd.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)

    def remaining_on(self, grid: Grid) -> tuple[npt.NDArray[np.int32], int]:
        """Duds still in the ground per cell of ``grid``, and how many lie off it.

        The yardstick an estimate on that grid is judged by (benchmarks/).
        """
        left = self.submunitions[self.submunitions["remains"].to_numpy()]
        to_grid = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
        lon, lat = left["lon"].to_numpy(np.float64), left["lat"].to_numpy(np.float64)
        row, col = grid.cell_of(*to_grid.transform(lon, lat))
        inside = (row >= 0) & (row < grid.ny) & (col >= 0) & (col < grid.nx)
        counts = np.zeros((grid.ny, grid.nx), dtype=np.int32)
        np.add.at(counts, (row[inside], col[inside]), 1)
        return counts, int((~inside).sum())


def _categorical(codes: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))


def _code_dtype(n_categories: int) -> type[np.signedinteger[Any]]:
    """Smallest signed integer dtype holding codes ``-1 .. n_categories - 1``."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _codes(n: int, rows: np.ndarray, values: np.ndarray, n_categories: int) -> np.ndarray:
    out = np.full(n, -1, dtype=_code_dtype(n_categories))
    out[rows] = values
    return out


def submunitions_truth(
    sub: Submunitions,
    volleys: Volleys,
    attacks: Attacks,
    duds: Duds,
    fates: Fates,
    activity_ids: np.ndarray,
    accidents: AccidentRows,
    accident_ids: np.ndarray,
) -> pd.DataFrame:
    """The submunition table (see :class:`Truth`), sharing ``sub``'s arrays."""
    n = len(sub)
    found = fates.found_day != NEVER
    days, day_code = np.unique(fates.found_day[found], return_inverse=True)
    remains = np.zeros(n, bool)
    remains[duds.index] = fates.remains
    data = {
        "strike_index": sub.strike,
        "carrier_index": volleys.index.astype(np.int16)[sub.volley],
        "carrier": _categorical(
            volleys.carrier.astype(np.int8)[sub.volley], np.array(attacks.types)
        ),
        "item": _categorical(sub.item, np.array(sub.items)),
        "lon": sub.lon,
        "lat": sub.lat,
        "is_dud": sub.is_dud,
        "remains": remains,
        "found_by": _categorical(
            _codes(n, duds.index, fates.activity, len(activity_ids)), activity_ids
        ),
        "found_date": _categorical(
            _codes(n, duds.index[found], day_code.ravel(), len(days)), iso(days)
        ),
        "accident_id": _categorical(
            _codes(n, duds.index[accidents.dud], np.arange(len(accidents)), len(accident_ids)),
            accident_ids,
        ),
    }
    return pd.DataFrame(data, copy=False)


def strikes_truth(
    attacks: Attacks,
    reports: Reports,
    region: Region,
    sub: Submunitions,
    duds: Duds,
    fates: Fates,
) -> pd.DataFrame:
    """The attack table (see :class:`Truth`)."""
    n = len(attacks)
    lon, lat = to_lonlat(region, attacks.x, attacks.y)
    record = np.full(n, -1, dtype=np.int64)
    record[reports.strike] = np.arange(len(reports))
    has = record >= 0
    dud_strike = sub.strike[duds.index]
    return pd.DataFrame(
        {
            "true_strike_id": numbered("T", n),
            "date": iso(attacks.day),
            "lon": lon,
            "lat": lat,
            "carrier": np.array(attacks.types, dtype=object)[attacks.carrier],
            "carrier_count": attacks.count,
            "heading_deg": attacks.heading_deg,
            "settlement_index": attacks.settlement,
            "front_offset_m": front_offset(region, attacks.x, attacks.y, attacks.day),
            "reported": has,
            "strike_id": _where_recorded(has, reports.strike_id, record),
            "reported_lon": _recorded_values(has, reports.lon, record),
            "reported_lat": _recorded_values(has, reports.lat, record),
            "source_type": _where_recorded(has, reports.source_type, record),
            "location_error_m": _recorded_values(has, reports.sigma_m, record),
            "n_submunitions": np.bincount(sub.strike, minlength=n),
            "n_duds": np.bincount(dud_strike, minlength=n),
            "n_remaining": np.bincount(dud_strike[fates.remains], minlength=n),
        }
    )


def _recorded_values(has: np.ndarray, values: np.ndarray, record: np.ndarray) -> np.ndarray:
    """Numeric ``values`` of each attack's record, NaN for unrecorded attacks."""
    out = np.full(len(has), np.nan)
    out[has] = values[record[has]]
    return out


def _where_recorded(has: np.ndarray, values: np.ndarray, record: np.ndarray) -> np.ndarray:
    """``values`` of each attack's record, ``None`` for unrecorded attacks."""
    out = np.full(len(has), None, dtype=object)
    out[has] = values[record[has]]
    return out


def parameters(
    seed: int,
    as_of: str,
    catalogue: Catalogue,
    config: WorldConfig,
    region: Region,
    attacks: Attacks,
    failure_rate: np.ndarray,
    tables: dict[str, gpd.GeoDataFrame],
) -> dict[str, Any]:
    """The world's parameters, JSON-serialisable."""
    return {
        "seed": int(seed),
        "n_strikes": len(attacks),
        "as_of": as_of,
        "crs": region.crs,
        "catalogue_version": str(getattr(catalogue, "version", "")),
        "failure_rate": {c: float(r) for c, r in zip(attacks.types, failure_rate, strict=True)},
        "detection_probability": {
            "by_method": dict(DETECTION_PROBABILITY),
            "by_type": dict(DETECTION_PROBABILITY_BY_TYPE),
            "rule": "the activity's recorded detection_probability, else the default of "
            "its recorded method, else the default of its type",
            "mean_by_type": _mean_detection(tables["activities"]),
        },
        "location_error_m": dict(LOCATION_ERROR_M),
        **_land(region, config),
        "config": config.as_dict(),
        "counts": {name: len(frame) for name, frame in tables.items()},
    }


def _mean_detection(activities: gpd.GeoDataFrame) -> dict[str, float]:
    """Mean true per-item detection probability of the activities of each type. [-]"""
    p = (
        activities["detection_probability"]
        .fillna(activities["method"].map(DETECTION_PROBABILITY))
        .fillna(activities["type"].map(DETECTION_PROBABILITY_BY_TYPE))
    )
    means = p.astype(float).groupby(activities["type"]).mean()
    return {str(k): float(v) for k, v in means.items()}


def _land(region: Region, config: WorldConfig) -> dict[str, Any]:
    """The box and the front line, in WGS84 and in the region's CRS."""
    xmin, ymin, xmax, ymax = region.bounds
    lon, lat = to_lonlat(region, np.array([xmin, xmax]), np.array([ymin, ymax]))
    front_lon, front_lat = to_lonlat(region, region.front_x, region.front_y)
    return {
        "region": {
            "bounds_m": [xmin, ymin, xmax, ymax],
            "area_km2": region.area_km2,
            "bbox_lonlat": [float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])],
        },
        "front": {
            "lon": np.round(front_lon, 6).tolist(),
            "lat": np.round(front_lat, 6).tolist(),
            "shift_km": dict(config.region.front_shift_km),
        },
    }
