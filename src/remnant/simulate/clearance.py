"""Clearance (battle area clearance, IMAS 09.11) of confirmed hazardous areas.

After a technical survey, the confirmed hazardous area is drawn CMRS-style: the
convex hull of the evidence (the site itself when it was direct evidence, and every
item or strike evidence the survey recorded) buffered by the fade-out distance. A
team clears it some time later at a fixed rate per day. A clearance that has started
but not ended by ``as_of`` is *in progress*: it has no activity record yet, only a
hazard area status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from remnant.simulate.activities import Activities, draw_records, make_activities
from remnant.simulate.config import OperationsConfig
from remnant.simulate.detection import Detections
from remnant.simulate.geography import Region
from remnant.simulate.scatter import Duds, Volleys
from remnant.simulate.shapes import hull_buffers, to_wgs84
from remnant.simulate.survey import Sites, TsPlan
from remnant.simulate.timeline import NEVER, exponential_days


@dataclass(frozen=True)
class ClearancePlan:
    """Clearance of the areas confirmed by technical survey.

    Parameters
    ----------
    activities : Activities
        Clearances finished by ``as_of``.
    site : numpy.ndarray
        Site of each finished clearance.
    polygon_m : numpy.ndarray
        Confirmed area of each site, ``None`` where survey confirmed nothing. [m]
    start, end : numpy.ndarray
        Planned clearance dates of each site, :data:`NEVER` where none. [day]
    """

    activities: Activities
    site: np.ndarray
    polygon_m: np.ndarray
    start: np.ndarray
    end: np.ndarray


def plan_clearance(
    sites: Sites,
    ts: TsPlan,
    found: Detections,
    evidence: Detections,
    duds: Duds,
    volleys: Volleys,
    region: Region,
    config: OperationsConfig,
    as_of: int,
    rng: np.random.Generator,
) -> ClearancePlan:
    """Draw the confirmed area of each surveyed site and date its clearance.

    Parameters
    ----------
    sites : Sites
    ts : TsPlan
    found, evidence : Detections
        Duds and strike evidence the technical surveys recorded (activity = TS row).
    duds : Duds
    volleys : Volleys
    region : Region
    config : OperationsConfig
    as_of : int
        Last day of the world. [day]
    rng : numpy.random.Generator

    Returns
    -------
    ClearancePlan
    """
    group, x, y = _evidence_points(sites, ts, found, evidence, duds, volleys)
    n_sites = len(sites)
    polygon_m = np.full(n_sites, None, dtype=object)
    confirmed = np.unique(group)
    if len(confirmed):
        dense = np.searchsorted(confirmed, group)
        polygon_m[confirmed] = hull_buffers(x, y, dense, len(confirmed), config.fade_out_m)
    ts_end = np.full(n_sites, NEVER, dtype=np.int64)
    ts_end[ts.site] = ts.activities.end
    start = np.full(n_sites, NEVER, dtype=np.int64)
    end = np.full(n_sites, NEVER, dtype=np.int64)
    area = shapely.area(polygon_m[confirmed].astype(object)) if len(confirmed) else np.empty(0)
    start[confirmed] = (
        ts_end[confirmed] + 1 + exponential_days(rng, config.clearance_delay_days, len(confirmed))
    )
    end[confirmed] = start[confirmed] + np.ceil(area / config.clearance_rate_m2_per_day) - 1
    done = np.flatnonzero(end <= as_of)
    return ClearancePlan(
        _activities(done, polygon_m, start, end, region, config, rng), done, polygon_m, start, end
    )


def _evidence_points(
    sites: Sites,
    ts: TsPlan,
    found: Detections,
    evidence: Detections,
    duds: Duds,
    volleys: Volleys,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, x, y) of every point that confirms contamination at a surveyed site."""
    surveyed = ts.site
    direct = surveyed[sites.direct[surveyed]]
    group = np.concatenate([direct, ts.site[found.activity], ts.site[evidence.activity]])
    x = np.concatenate([sites.x[direct], duds.x[found.point], volleys.x[evidence.point]])
    y = np.concatenate([sites.y[direct], duds.y[found.point], volleys.y[evidence.point]])
    return group, x, y


def _activities(
    done: np.ndarray,
    polygon_m: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    region: Region,
    config: OperationsConfig,
    rng: np.random.Generator,
) -> Activities:
    n = len(done)
    bac = rng.random(n) < config.bac_fraction
    kind = np.where(bac, "battle_area_clearance", "clearance").astype(object)
    record = draw_records(kind, n, config.clearance_methods, config, rng)
    poly_m = polygon_m[done].astype(object)
    return make_activities(kind, record, start[done], end[done], poly_m, to_wgs84(region, poly_m))
