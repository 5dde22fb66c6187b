"""Survey and clearance from 2023 to ``as_of``: NTS, then technical survey, then clearance.

Each stage is planned from what the previous one recorded (never from the truth it
did not see), and searched: a dud inside an activity's polygon, from an attack
dated before the activity started, is found with the activity's detection
probability, independently per activity; strike evidence (fragments, strike marks,
containers) is recorded at carrier aim points inside it with a probability per
activity type. Which activity *really* found a dud first, and whether an accident
or a civilian report came earlier, is settled afterwards by :mod:`.fates`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from remnant.simulate.activities import Activities
from remnant.simulate.attacks import Attacks
from remnant.simulate.clearance import ClearancePlan, plan_clearance
from remnant.simulate.config import OperationsConfig
from remnant.simulate.detection import Detections, PointIndex, detect, pairs_inside
from remnant.simulate.geography import Region
from remnant.simulate.reporting import Reports
from remnant.simulate.scatter import Duds, Volleys
from remnant.simulate.survey import (
    NtsPlan,
    Sites,
    TsPlan,
    plan_nts,
    plan_technical_survey,
    technical_survey_sites,
)


@dataclass(frozen=True)
class Targets:
    """What a search can find: duds and carrier aim points, indexed, with their dates.

    Parameters
    ----------
    duds, aims : PointIndex
        Dud positions and carrier aim points (strike evidence), in WGS84.
    dud_day, aim_day : numpy.ndarray
        Day of the attack each came from. [day]
    """

    duds: PointIndex
    aims: PointIndex
    dud_day: np.ndarray
    aim_day: np.ndarray


@dataclass(frozen=True)
class Operations:
    """Every survey and clearance done by ``as_of``, and what each one found.

    Parameters
    ----------
    activities : Activities
        NTS, then technical surveys, then clearances.
    nts : NtsPlan
    sites : Sites
    ts : TsPlan
    clearance : ClearancePlan
    found : Detections
        Every (activity, dud) detection drawn, before deciding which came first.
    evidence : Detections
        Strike evidence recorded (point = carrier aim point).
    aims_inside : tuple of numpy.ndarray
        (NTS activity, aim point) pairs: attacks inside each NTS.
    """

    activities: Activities
    nts: NtsPlan
    sites: Sites
    ts: TsPlan
    clearance: ClearancePlan
    found: Detections
    evidence: Detections
    aims_inside: tuple[np.ndarray, np.ndarray]

    @property
    def ts_offset(self) -> int:
        """Index of the first technical survey in :attr:`activities`."""
        return len(self.nts.activities)

    @property
    def clearance_offset(self) -> int:
        """Index of the first clearance in :attr:`activities`."""
        return self.ts_offset + len(self.ts.activities)


def run_operations(
    world: tuple[Region, Attacks, Volleys, Duds, Reports],
    targets: Targets,
    config: OperationsConfig,
    as_of: int,
    streams: Mapping[str, np.random.Generator],
) -> Operations:
    """Plan and search NTS, technical survey and clearance in turn.

    Parameters
    ----------
    world : tuple
        ``(region, attacks, volleys, duds, reports)``.
    targets : Targets
    config : OperationsConfig
    as_of : int
        Last day of the world. [day]
    streams : Mapping[str, numpy.random.Generator]
        The stage streams ``nts``, ``technical_survey`` and ``clearance``.

    Returns
    -------
    Operations
    """
    region, attacks, volleys, duds, reports = world
    nts = plan_nts(reports, attacks, region, config, as_of, streams["nts"])
    f1, e1, inside = search(nts.activities, targets, config.evidence_probability, streams["nts"])
    sites = technical_survey_sites(
        nts, f1, e1, inside, (duds, volleys, attacks, reports), config, streams["technical_survey"]
    )
    rng = streams["technical_survey"]
    ts = plan_technical_survey(sites, nts.activities.end[sites.nts], region, config, as_of, rng)
    f2, e2, _ = search(ts.activities, targets, config.evidence_probability, rng)
    rng = streams["clearance"]
    cl = plan_clearance(sites, ts, f2, e2, duds, volleys, region, config, as_of, rng)
    f3, e3, _ = search(cl.activities, targets, config.evidence_probability, rng)
    n1, n2 = len(nts.activities), len(ts.activities)
    return Operations(
        Activities.concat([nts.activities, ts.activities, cl.activities]),
        nts,
        sites,
        ts,
        cl,
        Detections.concat([f1, f2.shifted(n1), f3.shifted(n1 + n2)]),
        Detections.concat([e1, e2.shifted(n1), e3.shifted(n1 + n2)]),
        inside,
    )


def search(
    activities: Activities,
    targets: Targets,
    evidence_probability: Mapping[str, float],
    rng: np.random.Generator,
) -> tuple[Detections, Detections, tuple[np.ndarray, np.ndarray]]:
    """Draw what each activity found: duds, and strike evidence at aim points.

    Returns
    -------
    found : Detections
        Duds detected (point = dud).
    evidence : Detections
        Strike evidence recorded (point = aim point).
    aims_inside : tuple of numpy.ndarray
        Every (activity, aim point) pair inside, detected or not.
    """
    acts = activities
    found = detect(
        targets.duds, acts.polygon, targets.dud_day, acts.start, acts.end, acts.probability, rng
    )
    aims = pairs_inside(targets.aims, acts.polygon, targets.aim_day, acts.start)
    p = np.array([evidence_probability.get(t, 0.0) for t in acts.type], dtype=float)
    hit = rng.random(len(aims[0])) < p[aims[0]]
    act, point = aims[0][hit], aims[1][hit]
    day = acts.start[act] + np.floor(
        rng.random(len(act)) * (acts.end[act] - acts.start[act] + 1)
    ).astype(np.int64)
    return found, Detections(act, point, day), aims
