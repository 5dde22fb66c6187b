"""What became of each dud by ``as_of``: found, exploded in an accident, or remaining.

Every dud carries, besides the detections drawn by :mod:`.operations`, two clocks
that start when its land becomes accessible (civilians return): an accident and a
civilian report (:class:`~remnant.simulate.config.AccidentConfig`). The first event
wins: the earliest detection (ties: the lower activity index), an accident, or an
EOD spot task that follows a civilian report. A report leads to a spot task only if
the dud is still there when reported, and the spot task removes it only if it
arrives before any other event; otherwise it is not recorded. A detection on the
same day as an accident counts as the detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remnant.simulate.attacks import Attacks
from remnant.simulate.config import AccidentConfig, OperationsConfig
from remnant.simulate.detection import Detections
from remnant.simulate.geography import Region, distance_to_settlement_edge, first_accessible_day
from remnant.simulate.timeline import DAYS_PER_YEAR, NEVER, exponential_days


@dataclass(frozen=True)
class Fates:
    """The fate of every dud.

    Parameters
    ----------
    activity : numpy.ndarray
        Activity that found the dud, -1 if none.
    found_day : numpy.ndarray
        Day it was found, :data:`NEVER` if not. [day]
    accident_day : numpy.ndarray
        Day it exploded in an accident, :data:`NEVER` if not. [day]
    spot : numpy.ndarray
        Duds removed by an EOD spot task, in the order of the spot tasks.
    spot_day : numpy.ndarray
        Day of each spot task. [day]
    """

    activity: np.ndarray
    found_day: np.ndarray
    accident_day: np.ndarray
    spot: np.ndarray
    spot_day: np.ndarray

    @property
    def remains(self) -> np.ndarray:
        """Still in the ground at ``as_of``."""
        return (self.found_day == NEVER) & (self.accident_day == NEVER)


def civilian_clocks(
    dud_strike: np.ndarray,
    attacks: Attacks,
    region: Region,
    config: AccidentConfig,
    buffer_m: float,
    as_of: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent accident and report days of each dud, if nothing removes it first. [day]

    The rates scale with the attack's distance to the nearest settlement edge (one
    distance per attack: footprints are small against settlement spacing).
    """
    access = first_accessible_day(region, attacks.x, attacks.y, attacks.day + 1, as_of, buffer_m)
    near = distance_to_settlement_edge(region, attacks.x, attacks.y)
    weight = 1.0 + config.near_factor * np.exp(-near / config.near_scale_m)
    t0 = access[dud_strike]
    accident = _clock(t0, config.rate_per_dud_year * weight[dud_strike], as_of, rng)
    report = _clock(t0, config.report_rate_per_dud_year * weight[dud_strike], as_of, rng)
    return accident, report


def _clock(t0: np.ndarray, rate: np.ndarray, as_of: int, rng: np.random.Generator) -> np.ndarray:
    """Day of an exponential event of ``rate`` per year after ``t0``; NEVER after ``as_of``."""
    if not (rate > 0).any():
        return np.full(len(t0), NEVER, dtype=np.int64)
    wait = rng.exponential(DAYS_PER_YEAR / np.maximum(rate, 1e-300))
    late = (t0 == NEVER) | (t0 + wait > as_of)
    return np.where(late, NEVER, t0 + np.floor(np.where(late, 0.0, wait)).astype(np.int64))


def resolve(
    found: Detections,
    accident: np.ndarray,
    report: np.ndarray,
    ops: OperationsConfig,
    as_of: int,
    rng: np.random.Generator,
) -> Fates:
    """Decide the first event of each dud.

    Parameters
    ----------
    found : Detections
        Every detection drawn (point = dud), activity indices global.
    accident, report : numpy.ndarray
        Latent accident and civilian report day of each dud. [day]
    ops : OperationsConfig
    as_of : int
        Last day of the world. [day]
    rng : numpy.random.Generator

    Returns
    -------
    Fates
        ``activity`` is -1 for duds removed by spot tasks; the caller numbers them.
    """
    n = len(accident)
    activity, t_det = _first_detection(found, n)
    spot_day = report + exponential_days(rng, ops.spot_delay_days, n)
    spot_day = np.where(report == NEVER, NEVER, spot_day)
    other = np.minimum(t_det, accident)
    by_spot = (spot_day < other) & (spot_day <= as_of)
    by_find = ~by_spot & (t_det <= accident) & (t_det <= as_of)
    by_accident = ~by_spot & ~by_find & (accident <= as_of)
    spot = np.flatnonzero(by_spot)
    spot = spot[np.lexsort((spot, spot_day[spot]))]
    found_day = np.where(by_find, t_det, NEVER)
    found_day[spot] = spot_day[spot]
    return Fates(
        np.where(by_find, activity, -1),
        found_day,
        np.where(by_accident, accident, NEVER),
        spot,
        spot_day[spot],
    )


def _first_detection(found: Detections, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Earliest detection of each dud (ties: lower activity index)."""
    activity = np.full(n, -1, dtype=np.int64)
    t = np.full(n, NEVER, dtype=np.int64)
    if len(found):
        order = np.lexsort((found.activity, found.day, found.point))
        point = found.point[order]
        _, first = np.unique(point, return_index=True)
        activity[point[first]] = found.activity[order][first]
        t[point[first]] = found.day[order][first]
    return activity, t


def with_spot_tasks(fates: Fates, first_index: int) -> Fates:
    """Number the spot tasks from ``first_index`` and credit them with their duds."""
    activity = fates.activity.copy()
    activity[fates.spot] = first_index + np.arange(len(fates.spot))
    return Fates(activity, fates.found_day, fates.accident_day, fates.spot, fates.spot_day)
