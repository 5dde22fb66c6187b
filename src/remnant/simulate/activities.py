"""Survey and clearance activities as columns of arrays, and what their records say.

Detection is honest: an activity's true per-item detection probability is the one
its record states, or, when the record omits it, the default the record implies
(:data:`~remnant.records.defaults.DETECTION_PROBABILITY` of the recorded method, else
:data:`~remnant.records.defaults.DETECTION_PROBABILITY_BY_TYPE` of the type).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from remnant.records.defaults import DETECTION_PROBABILITY, DETECTION_PROBABILITY_BY_TYPE
from remnant.simulate.config import OperationsConfig

_MIN_WRITTEN_PROBABILITY = 0.001
_MAX_WRITTEN_PROBABILITY = 0.999


@dataclass(frozen=True)
class Activities:
    """Activities of one or several types, one row each.

    Parameters
    ----------
    type : numpy.ndarray
        Activity type (exchange-format enum).
    method : numpy.ndarray
        Recorded method, or ``None``.
    start, end : numpy.ndarray
        First and last day. [day]
    depth_cm : numpy.ndarray
        Recorded search depth, NaN when not recorded. [cm]
    probability : numpy.ndarray
        True per-item detection probability. [-]
    written_probability : numpy.ndarray
        Recorded detection probability, NaN when omitted. [-]
    organisation : numpy.ndarray
        Operator.
    polygon_m : numpy.ndarray of shapely.Polygon
        Area, in the region's CRS. [m]
    polygon : numpy.ndarray of shapely.Polygon
        Area in WGS84. [degree]
    """

    type: np.ndarray
    method: np.ndarray
    start: np.ndarray
    end: np.ndarray
    depth_cm: np.ndarray
    probability: np.ndarray
    written_probability: np.ndarray
    organisation: np.ndarray
    polygon_m: np.ndarray
    polygon: np.ndarray

    def __len__(self) -> int:
        return len(self.type)

    def take(self, rows: np.ndarray) -> Activities:
        """The activities at ``rows`` (indices or a boolean mask)."""
        return Activities(*(getattr(self, f.name)[rows] for f in fields(self)))

    @classmethod
    def concat(cls, parts: list[Activities]) -> Activities:
        """Join activities, in the order given."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


@dataclass(frozen=True)
class Record:
    """What one batch of activities records beside dates and polygons.

    Parameters
    ----------
    method, depth_cm, probability, written_probability, organisation : numpy.ndarray
        As in :class:`Activities`.
    """

    method: np.ndarray
    depth_cm: np.ndarray
    probability: np.ndarray
    written_probability: np.ndarray
    organisation: np.ndarray


def draw_records(
    activity_type: np.ndarray | str,
    n: int,
    methods: Mapping[str, float] | None,
    config: OperationsConfig,
    rng: np.random.Generator,
    nominal: float | None = None,
) -> Record:
    """Draw the recorded attributes of ``n`` activities.

    Parameters
    ----------
    activity_type : numpy.ndarray or str
        Exchange-format activity type, of each activity or of all.
    n : int
    methods : Mapping[str, float] or None
        Method → share; ``None`` records no method (NTS, EOD spot tasks).
    config : OperationsConfig
    rng : numpy.random.Generator
    nominal : float, optional
        Detection probability the records state (before a small spread); by
        default the default of the recorded method or type. [-]

    Returns
    -------
    Record
    """
    method = _draw_methods(n, methods, config.method_omitted_fraction, rng)
    kinds = np.broadcast_to(np.asarray(activity_type, dtype=object), (n,))
    default = np.array(
        [
            DETECTION_PROBABILITY[m] if m is not None else DETECTION_PROBABILITY_BY_TYPE[t]
            for m, t in zip(method, kinds, strict=True)
        ],
        dtype=float,
    )
    centre = default if nominal is None else np.full(n, nominal)
    p = np.clip(centre, _MIN_WRITTEN_PROBABILITY, _MAX_WRITTEN_PROBABILITY)
    logit = np.log(p) - np.log1p(-p)
    noisy = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0.0, config.detection_probability_sd, n))))
    stated = np.clip(np.round(noisy, 3), _MIN_WRITTEN_PROBABILITY, _MAX_WRITTEN_PROBABILITY)
    share = np.array([config.detection_probability_omitted.get(t, 0.0) for t in kinds])
    omitted = (rng.random(n) < share) | (default == 0)
    written = np.where(omitted, np.nan, stated)
    depth = np.array(
        [config.depth_cm.get(m, np.nan) if m is not None else np.nan for m in method], dtype=float
    )
    orgs = np.array(config.organisations, dtype=object)
    organisation = orgs[rng.integers(0, len(orgs), size=n)]
    return Record(method, depth, np.where(omitted, default, written), written, organisation)


def _draw_methods(
    n: int, methods: Mapping[str, float] | None, omitted: float, rng: np.random.Generator
) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    if methods is None or n == 0:
        return out
    names = tuple(methods)
    w = np.array([methods[m] for m in names], dtype=float)
    out[:] = np.array(names, dtype=object)[rng.choice(len(names), size=n, p=w / w.sum())]
    out[rng.random(n) < omitted] = None
    return out


def make_activities(
    activity_type: np.ndarray | str,
    record: Record,
    start: np.ndarray,
    end: np.ndarray,
    polygon_m: np.ndarray,
    polygon: np.ndarray,
) -> Activities:
    """Assemble :class:`Activities` from their parts."""
    kind = np.broadcast_to(np.asarray(activity_type, dtype=object), np.shape(start)).copy()
    return Activities(
        kind,
        record.method,
        np.asarray(start, np.int64),
        np.asarray(end, np.int64),
        record.depth_cm,
        record.probability,
        record.written_probability,
        record.organisation,
        polygon_m,
        polygon,
    )


def empty_activities() -> Activities:
    """No activity."""
    z = np.empty(0, dtype=object)
    i = np.empty(0, np.int64)
    f = np.empty(0, float)
    return Activities(z, z, i, i, f, f, f, z, z, z)
