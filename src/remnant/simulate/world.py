"""A whole synthetic world from a seed: ground truth, and the records made of it.

:func:`simulate_world` runs the stages in order (region → attacks → submunitions →
records of attacks → survey and clearance → fates of duds → accidents → tables);
each stage draws from its own random stream (:mod:`.streams`), so a seed gives the
same world on any machine, whatever the hash seed or dict order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from remnant.catalogue import load_catalogue
from remnant.catalogue.model import Catalogue
from remnant.simulate.accidents import AccidentRows, accident_rows
from remnant.simulate.activities import Activities, draw_records, make_activities
from remnant.simulate.attacks import Attacks, sample_attacks
from remnant.simulate.config import WorldConfig
from remnant.simulate.detection import PointIndex
from remnant.simulate.fates import Fates, civilian_clocks, resolve, with_spot_tasks
from remnant.simulate.finds import FindRows, dud_finds, evidence_finds
from remnant.simulate.geography import Region, build_region, to_lonlat
from remnant.simulate.hazard_areas import hazard_areas
from remnant.simulate.ids import numbered
from remnant.simulate.operations import Operations, Targets, run_operations
from remnant.simulate.reporting import Reports, report_attacks
from remnant.simulate.scatter import Duds, Submunitions, Volleys, fire_carriers, scatter
from remnant.simulate.shapes import squares, to_wgs84
from remnant.simulate.streams import stage_streams
from remnant.simulate.tables import (
    accidents_frame,
    activities_frame,
    activity_ids,
    finds_frame,
    hazard_areas_frame,
    strikes_frame,
)
from remnant.simulate.timeline import day
from remnant.simulate.truth import Truth, parameters, strikes_truth, submunitions_truth

Progress = Callable[[str, float], None]
"""Called with a stage name and the fraction of the whole simulation done."""


@dataclass(frozen=True)
class World:
    """A synthetic world.

    Parameters
    ----------
    tables : dict of str to geopandas.GeoDataFrame
        The exchange-format tables (``strikes``, ``activities``, ``finds``,
        ``accidents``, ``hazard_areas``), canonical, EPSG:4326.
    truth : Truth
        What really happened, for tests and benchmarks only.
    """

    tables: dict[str, gpd.GeoDataFrame]
    truth: Truth


@dataclass(frozen=True)
class _Ground:
    """The physical world: land, attacks, carriers, submunitions, and their records."""

    region: Region
    attacks: Attacks
    failure_rate: np.ndarray
    volleys: Volleys
    submunitions: Submunitions
    duds: Duds
    reports: Reports


def simulate_world(
    seed: int,
    n_strikes: int = 40,
    *,
    as_of: str = "2025-06-30",
    catalogue: Catalogue | None = None,
    config: WorldConfig | None = None,
    progress: Progress | None = None,
) -> World:
    """Simulate attacks, their submunitions, their records, survey, clearance, accidents.

    Parameters
    ----------
    seed : int
        Seed of every random draw: the same seed gives the same world.
    n_strikes : int
        Number of true attacks (recorded or not). [-]
    as_of : str
        The world is seen on this date (ISO); nothing is dated later.
    catalogue : Catalogue, optional
        Munition catalogue; default :func:`remnant.catalogue.load_catalogue`.
    config : WorldConfig, optional
        Every other knob; default ``WorldConfig()``. For 10⁵ attacks use
        :meth:`WorldConfig.country_scale`.
    progress : callable, optional
        ``progress(stage, fraction)``, fraction of the whole run done in [0, 1].

    Returns
    -------
    World

    Raises
    ------
    ValueError
        ``n_strikes`` below 1, ``as_of`` not an ISO date or before the first attack.
    """
    if n_strikes < 1:
        raise ValueError(f"n_strikes must be at least 1, got {n_strikes!r}")
    end = day(as_of)
    catalogue = load_catalogue() if catalogue is None else catalogue
    config = WorldConfig() if config is None else config
    if end < day(config.attacks.start_date):
        raise ValueError(
            f"as_of {as_of!r} precedes the first attack date {config.attacks.start_date!r}"
        )
    streams = stage_streams(seed)
    tell = progress if progress is not None else (lambda stage, fraction: None)
    ground = _ground(n_strikes, catalogue, config, end, streams, tell)
    tell("operations", 0.55)
    ops, aims = _operations(ground, config, end, streams)
    tell("fates", 0.75)
    settled, fates = _settle(ground, ops, aims, config, end, streams)
    tell("truth", 0.85)
    truth = _truth(ground, settled, fates)
    del fates  # the largest arrays go before the tables are built
    land = (ground.region, ground.attacks, ground.reports, ground.failure_rate)
    del ground
    tell("tables", 0.9)
    tables = _tables(land, ops, settled, config, end, streams)
    truth.parameters.update(
        parameters(seed, as_of, catalogue, config, land[0], land[1], land[3], tables)
    )
    tell("done", 1.0)
    return World(tables, truth)


def _ground(
    n: int,
    catalogue: Catalogue,
    config: WorldConfig,
    as_of: int,
    streams: dict[str, np.random.Generator],
    tell: Progress,
) -> _Ground:
    tell("region", 0.0)
    region = build_region(n, config.region, streams["region"])
    tell("attacks", 0.02)
    attacks = sample_attacks(n, region, catalogue, config.attacks, as_of, streams["attacks"])
    rates = np.array(
        [
            float(catalogue.carriers[c].failure_rate.sample(streams["failure_rates"]))
            for c in attacks.types
        ]
    )
    volleys = fire_carriers(attacks, catalogue, streams["scatter"])
    tell("scatter", 0.05)
    sub, duds = scatter(
        attacks,
        volleys,
        catalogue,
        rates,
        region,
        streams["scatter"],
        progress=lambda f: tell("scatter", 0.05 + 0.45 * f),
    )
    tell("reporting", 0.5)
    reports = report_attacks(attacks, region, catalogue, config.reporting, streams["reporting"])
    return _Ground(region, attacks, rates, volleys, sub, duds, reports)


def _operations(
    ground: _Ground, config: WorldConfig, as_of: int, streams: dict[str, np.random.Generator]
) -> tuple[Operations, tuple[np.ndarray, np.ndarray]]:
    """Survey and clearance; also the carrier aim points in WGS84. [degree]"""
    strike_of_dud = ground.submunitions.strike[ground.duds.index]
    aim_lon, aim_lat = to_lonlat(ground.region, ground.volleys.x, ground.volleys.y)
    targets = Targets(
        PointIndex.build(ground.duds.lon, ground.duds.lat),
        PointIndex.build(aim_lon, aim_lat),
        ground.attacks.day[strike_of_dud],
        ground.attacks.day[ground.volleys.strike],
    )
    world = (ground.region, ground.attacks, ground.volleys, ground.duds, ground.reports)
    return run_operations(world, targets, config.operations, as_of, streams), (aim_lon, aim_lat)


@dataclass(frozen=True)
class _Settled:
    """The records of what happened to the duds, before they become tables."""

    activities: Activities
    ids: np.ndarray
    outcome: np.ndarray
    finds: FindRows
    accidents: AccidentRows
    accident_ids: np.ndarray


def _settle(
    ground: _Ground,
    ops: Operations,
    aims: tuple[np.ndarray, np.ndarray],
    config: WorldConfig,
    as_of: int,
    streams: dict[str, np.random.Generator],
) -> tuple[_Settled, Fates]:
    """Settle every dud's fate; draw spot tasks, finds and accidents."""
    strike_of_dud = ground.submunitions.strike[ground.duds.index]
    clocks = civilian_clocks(
        strike_of_dud,
        ground.attacks,
        ground.region,
        config.accidents,
        config.operations.access_buffer_km * 1e3,
        as_of,
        streams["fates"],
    )
    fates = resolve(ops.found, *clocks, config.operations, as_of, streams["fates"])
    del clocks
    fates = with_spot_tasks(fates, len(ops.activities))
    activities = Activities.concat(
        [ops.activities, _spot_tasks(ground, fates, config, streams["spot_tasks"])]
    )
    dud_item = (ground.submunitions.item[ground.duds.index], ground.submunitions.items)
    rows, found_day = dud_finds(fates, ground.duds, dud_item, config.operations, streams["finds"])
    fates = dataclasses.replace(fates, found_day=found_day)
    accidents = accident_rows(fates, ground.duds, dud_item, config.accidents, streams["accidents"])
    evidence = evidence_finds(ops.evidence, *aims, config.operations, streams["finds"])
    settled = _Settled(
        activities,
        activity_ids(activities),
        _nts_outcomes(ops, fates, len(activities)),
        FindRows.concat([rows, evidence]),
        accidents,
        numbered("ACC", len(accidents)),
    )
    return settled, fates


def _spot_tasks(
    ground: _Ground, fates: Fates, config: WorldConfig, rng: np.random.Generator
) -> Activities:
    """One EOD spot task per dud reported by civilians: a small square around it."""
    d = fates.spot
    poly_m = squares(ground.duds.x[d], ground.duds.y[d], config.operations.spot_box_m)
    record = draw_records("eod_spot_task", len(d), None, config.operations, rng)
    return make_activities(
        "eod_spot_task",
        record,
        fates.spot_day,
        fates.spot_day,
        poly_m,
        to_wgs84(ground.region, poly_m),
    )


def _truth(ground: _Ground, settled: _Settled, fates: Fates) -> Truth:
    return Truth(
        submunitions=submunitions_truth(
            ground.submunitions,
            ground.volleys,
            ground.attacks,
            ground.duds,
            fates,
            settled.ids,
            settled.accidents,
            settled.accident_ids,
        ),
        strikes=strikes_truth(
            ground.attacks, ground.reports, ground.region, ground.submunitions, ground.duds, fates
        ),
        settlements=_settlements_truth(ground.region),
        parameters={},
    )


def _tables(
    land: tuple[Region, Attacks, Reports, np.ndarray],
    ops: Operations,
    settled: _Settled,
    config: WorldConfig,
    as_of: int,
    streams: dict[str, np.random.Generator],
) -> dict[str, gpd.GeoDataFrame]:
    region, attacks, reports, _ = land
    hazards = hazard_areas(
        ops,
        settled.outcome[: len(ops.nts.activities)],
        settled.ids,
        reports.strike_id,
        region,
        config.operations.sha_radius_m,
        as_of,
        streams["hazard_areas"],
    )
    return {
        "strikes": strikes_frame(reports, attacks),
        "activities": activities_frame(settled.activities, settled.ids, settled.outcome),
        "finds": finds_frame(settled.finds, settled.ids)[0],
        "accidents": accidents_frame(settled.accidents, settled.accident_ids),
        "hazard_areas": hazard_areas_frame(hazards),
    }


def _nts_outcomes(ops: Operations, fates: Fates, n: int) -> np.ndarray:
    """Final NTS outcome from what it really recorded; ``None`` for other activities."""
    n_nts = len(ops.nts.activities)
    direct = np.zeros(n, bool)
    direct[fates.activity[(fates.activity >= 0) & (fates.activity < n_nts)]] = True
    direct[ops.evidence.activity[ops.evidence.activity < n_nts]] = True
    indirect = np.zeros(n, bool)
    indirect[ops.aims_inside[0]] = True
    out = np.full(n, None, dtype=object)
    out[:n_nts] = np.where(
        direct[:n_nts],
        "direct_evidence",
        np.where(indirect[:n_nts], "indirect_evidence", "no_evidence"),
    )
    return out


def _settlements_truth(region: Region) -> pd.DataFrame:
    s = region.settlements
    lon, lat = to_lonlat(region, s.x, s.y)
    return pd.DataFrame(
        {
            "settlement_index": np.arange(len(s.x)),
            "lon": lon,
            "lat": lat,
            "population": s.population,
            "radius_m": s.radius_m,
        }
    )
