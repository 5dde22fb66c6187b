"""Non-technical and technical survey: where, when and how big.

Non-technical survey (NTS, IMAS 08.10) comes first: a rough circle around each
recorded strike (a few location errors wide) once its land is accessible, and one
around each settlement near a recorded strike (plus a share of the others). Evidence
seen by an NTS (duds, fragments, strike marks, containers) becomes *evidence points*;
CMRS technical survey (IMAS 08.20) then works in 50 m boxes around them. An NTS with
only indirect evidence (local people confirm an attack) sends technical survey to the
recorded point, or to the point local people show. Only activities that end by
``as_of`` exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from remnant.simulate.activities import Activities, draw_records, make_activities
from remnant.simulate.attacks import Attacks
from remnant.simulate.config import OperationsConfig
from remnant.simulate.detection import Detections, PointIndex, pairs_inside
from remnant.simulate.geography import Region, first_accessible_day, to_lonlat
from remnant.simulate.reporting import Reports
from remnant.simulate.scatter import Duds, Volleys
from remnant.simulate.shapes import rectangles, rough_circles, to_wgs84
from remnant.simulate.timeline import NEVER, day, exponential_days

NTS = "non_technical_survey"
TS = "technical_survey"


@dataclass(frozen=True)
class NtsPlan:
    """The NTS activities done by ``as_of``.

    Parameters
    ----------
    activities : Activities
    report : numpy.ndarray
        Record (row of :class:`Reports`) an NTS followed up, -1 for a settlement NTS.
    settlement : numpy.ndarray
        Settlement an NTS covered, -1 for a strike NTS.
    """

    activities: Activities
    report: np.ndarray
    settlement: np.ndarray


def plan_nts(
    reports: Reports,
    attacks: Attacks,
    region: Region,
    config: OperationsConfig,
    as_of: int,
    rng: np.random.Generator,
) -> NtsPlan:
    """Place and date the NTS of recorded strikes and of settlements.

    A strike record whose point lies in an area already surveyed by an earlier NTS
    gets no NTS of its own: that survey already answered for it.
    """
    x, y, radius, earliest, report, settlement = _nts_candidates(
        reports, attacks, region, config, rng
    )
    release = first_accessible_day(region, x, y, earliest, as_of, config.access_buffer_km * 1e3)
    start = release + exponential_days(rng, config.nts_delay_days, len(x))
    end = start + 1 + rng.poisson(2.0, size=len(x))
    done = np.flatnonzero(end <= as_of)
    polygon_m = rough_circles(x[done], y[done], radius[done], rng)
    polygon = to_wgs84(region, polygon_m)
    keep = ~_answered_earlier(
        polygon, region, x[done], y[done], start[done], end[done], report[done] >= 0
    )
    done, polygon_m, polygon = done[keep], polygon_m[keep], polygon[keep]
    record = draw_records(
        NTS, len(done), None, config, rng, nominal=config.nts_detection_probability
    )
    acts = make_activities(NTS, record, start[done], end[done], polygon_m, polygon)
    return NtsPlan(acts, report[done], settlement[done])


def _nts_candidates(
    reports: Reports,
    attacks: Attacks,
    region: Region,
    config: OperationsConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Centre, radius, earliest day, record and settlement of every possible NTS."""
    start = day(config.start_date)
    tasked = rng.random(len(reports)) < config.followed_up_fraction
    from_day = np.where(tasked, np.maximum(start, attacks.day[reports.strike] + 1), NEVER)
    lo, hi = config.nts_min_radius_m, config.nts_max_radius_m
    r = np.clip(config.nts_radius_factor * reports.sigma_m, lo, hi)
    s = region.settlements
    town = _settlements_to_survey(reports, region, config, rng)
    town_r = np.minimum(s.radius_m[town] + config.nts_settlement_margin_m, hi)
    n, k = len(reports), len(town)
    return (
        np.concatenate([reports.x, s.x[town]]),
        np.concatenate([reports.y, s.y[town]]),
        np.concatenate([r, town_r]),
        np.concatenate([from_day, np.full(k, start)]),
        np.concatenate([np.arange(n), np.full(k, -1)]),
        np.concatenate([np.full(n, -1), town]),
    )


def _answered_earlier(
    polygon: np.ndarray,
    region: Region,
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    optional: np.ndarray,
) -> np.ndarray:
    """Which optional NTS have their centre in another NTS, kept, that ended before.

    Two passes: the NTS that no earlier one covers are kept for sure; an optional
    NTS is then dropped if one of those covers it, so that every NTS dropped is
    answered by one that exists.
    """
    lon, lat = to_lonlat(region, x, y)
    # pairs_inside keeps point_day < start[polygon]: pass -start and -end to keep
    # the pairs whose polygon ended before the centre's NTS started.
    poly, centre = pairs_inside(PointIndex.build(lon, lat), polygon, -start, -end)
    poly, centre = poly[poly != centre], centre[poly != centre]
    covered = np.zeros(len(x), bool)
    covered[centre] = True
    sure = ~(covered & optional)
    answered = np.zeros(len(x), bool)
    answered[centre[sure[poly]]] = True
    return answered & optional


def _settlements_to_survey(
    reports: Reports, region: Region, config: OperationsConfig, rng: np.random.Generator
) -> np.ndarray:
    """Settlements within ``nts_settlement_near_km`` of a record, and a share of others."""
    s = region.settlements
    other = rng.random(len(s.x)) < config.nts_settlement_other_fraction
    if len(reports) == 0:
        return np.flatnonzero(other)
    dist, _ = cKDTree(np.column_stack([reports.x, reports.y])).query(
        np.column_stack([s.x, s.y]), k=1
    )
    near = np.asarray(dist) <= config.nts_settlement_near_km * 1e3 + s.radius_m
    return np.flatnonzero(near | other)


@dataclass(frozen=True)
class Sites:
    """Technical survey sites: evidence points, or points of indirect evidence.

    Parameters
    ----------
    x, y : numpy.ndarray
        The point. [m]
    nts : numpy.ndarray
        The NTS (row of :class:`NtsPlan`) that led here.
    direct : numpy.ndarray
        The point is direct evidence (an item or strike evidence was recorded).
    """

    x: np.ndarray
    y: np.ndarray
    nts: np.ndarray
    direct: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def technical_survey_sites(
    plan: NtsPlan,
    found: Detections,
    evidence: Detections,
    aims_inside: tuple[np.ndarray, ...],
    context: tuple[Duds, Volleys, Attacks, Reports],
    config: OperationsConfig,
    rng: np.random.Generator,
) -> Sites:
    """Where technical survey goes after the NTS.

    Parameters
    ----------
    plan : NtsPlan
    found : Detections
        Duds the NTS saw (activity = NTS row, point = dud).
    evidence : Detections
        Strike evidence the NTS recorded (point = carrier aim point).
    aims_inside : tuple of numpy.ndarray
        (NTS row, aim point) pairs: attacks inside each NTS, known to local people.
    context : tuple
        ``(duds, volleys, attacks, reports)``.
    config : OperationsConfig
    rng : numpy.random.Generator

    Returns
    -------
    Sites
    """
    duds, volleys, attacks, reports = context
    nts = np.concatenate([found.activity, evidence.activity])
    x = np.concatenate([duds.x[found.point], volleys.x[evidence.point]])
    y = np.concatenate([duds.y[found.point], volleys.y[evidence.point]])
    direct = _distinct_sites(nts, x, y, config, rng)
    indirect = _indirect_sites(
        plan, np.unique(nts), aims_inside, volleys, attacks, reports, config, rng
    )
    return Sites(
        np.concatenate([x[direct], indirect[1]]),
        np.concatenate([y[direct], indirect[2]]),
        np.concatenate([nts[direct], indirect[0]]),
        np.concatenate([np.ones(len(direct), bool), np.zeros(len(indirect[0]), bool)]),
    )


def _distinct_sites(
    nts: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    config: OperationsConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of evidence points kept as sites: one per cell, a few per NTS."""
    if len(nts) == 0:
        return np.empty(0, np.int64)
    shuffled = rng.permutation(len(nts))
    s = config.ts_site_spacing_m
    keys = np.column_stack([nts, np.floor(x / s), np.floor(y / s)])[shuffled]
    _, first = np.unique(keys, axis=0, return_index=True)
    kept = shuffled[np.sort(first)]
    kept = kept[np.argsort(nts[kept], kind="stable")]
    return kept[rank_within(nts[kept]) < config.ts_max_sites]


def rank_within(group: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal, sorted ``group`` values."""
    if len(group) == 0:
        return np.empty(0, np.int64)
    new = np.concatenate([[True], group[1:] != group[:-1]])
    starts = np.flatnonzero(new)
    return np.arange(len(group)) - np.repeat(starts, np.diff(np.append(starts, len(group))))


def _indirect_sites(
    plan: NtsPlan,
    with_evidence: np.ndarray,
    aims_inside: tuple[np.ndarray, ...],
    volleys: Volleys,
    attacks: Attacks,
    reports: Reports,
    config: OperationsConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One site per NTS with only indirect evidence: the record, or what locals show."""
    nts_of, aim = aims_inside
    nts, first = np.unique(nts_of, return_index=True)
    keep = ~np.isin(nts, with_evidence)
    nts, aim = nts[keep], aim[first[keep]]
    report = plan.report[nts]
    strike = volleys.strike[aim]
    shown = rng.standard_normal((2, len(nts))) * config.informant_error_m
    x = np.where(report >= 0, reports.x[report], attacks.x[strike] + shown[0])
    y = np.where(report >= 0, reports.y[report], attacks.y[strike] + shown[1])
    return nts, x, y


@dataclass(frozen=True)
class TsPlan:
    """The technical surveys done by ``as_of``, one rectangle of boxes per site.

    Parameters
    ----------
    activities : Activities
    site : numpy.ndarray
        The site (row of :class:`Sites`) each survey worked from.
    """

    activities: Activities
    site: np.ndarray


def plan_technical_survey(
    sites: Sites,
    nts_end: np.ndarray,
    region: Region,
    config: OperationsConfig,
    as_of: int,
    rng: np.random.Generator,
) -> TsPlan:
    """A rectangle of 50 m boxes around each site, some time after its NTS.

    Parameters
    ----------
    sites : Sites
    nts_end : numpy.ndarray
        End day of the NTS of each site. [day]
    region : Region
    config : OperationsConfig
    as_of : int
    rng : numpy.random.Generator

    Returns
    -------
    TsPlan
    """
    n, box = len(sites), config.ts_box_m
    nx = 1 + rng.binomial(config.ts_max_boxes_per_side - 1, 0.4, size=n)
    ny = 1 + rng.binomial(config.ts_max_boxes_per_side - 1, 0.4, size=n)
    x0 = sites.x - (rng.integers(0, nx) + rng.random(n)) * box
    y0 = sites.y - (rng.integers(0, ny) + rng.random(n)) * box
    start = nts_end + 1 + exponential_days(rng, config.ts_delay_days, n)
    end = start + np.ceil(nx * ny * box**2 / config.ts_rate_m2_per_day).astype(np.int64) - 1
    done = end <= as_of
    poly_m = rectangles(x0[done], y0[done], (x0 + nx * box)[done], (y0 + ny * box)[done])
    record = draw_records(TS, int(done.sum()), config.ts_methods, config, rng)
    acts = make_activities(TS, record, start[done], end[done], poly_m, to_wgs84(region, poly_m))
    return TsPlan(acts, np.flatnonzero(done))
