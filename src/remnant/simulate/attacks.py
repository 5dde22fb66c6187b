"""Attacks: when, with which carrier and how many, where, and from which direction.

An attack (a *strike* once recorded) is one volley of ``count`` carriers of one type
aimed at one point. Attacks fall either in a band along the front (exponential
depth by carrier kind, mostly on its west side) or on a settlement (chosen by size
and by closeness to the front on the day). Fire crosses the front: an attack west of
it travels west (heading 270°), one east of it east; bombs come from any direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remnant.catalogue.model import Catalogue
from remnant.errors import CatalogueError
from remnant.simulate.config import AttackConfig
from remnant.simulate.geography import Region, front_offset, front_x
from remnant.simulate.timeline import day, sample_days

UNKNOWN_CARRIER = "unknown"
_BUCKET_DAYS = 30
"""Time step on which settlement target weights follow the front. [day]"""
_FREE_HEADING_KINDS = frozenset({"bomb", "dispenser"})
_MIN_DEPTH_M = 200.0
"""Closest an attack lands to the front line. [m] ASSUMPTION."""


@dataclass(frozen=True)
class Attacks:
    """The true attacks, sorted by date.

    Parameters
    ----------
    day : numpy.ndarray
        Date of the attack. [day]
    carrier : numpy.ndarray
        Index of the carrier type in ``types``.
    count : numpy.ndarray
        Carriers fired. [-]
    x, y : numpy.ndarray
        Impact point (centre of the volley). [m]
    heading_deg : numpy.ndarray
        Direction of fire, clockwise from grid north. [degree]
    settlement : numpy.ndarray
        Index of the targeted settlement, -1 for an attack on the front.
    types : tuple of str
        Carrier ids that may fire, in catalogue order.
    """

    day: np.ndarray
    carrier: np.ndarray
    count: np.ndarray
    x: np.ndarray
    y: np.ndarray
    heading_deg: np.ndarray
    settlement: np.ndarray
    types: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.day)


def carrier_types(catalogue: Catalogue, config: AttackConfig) -> tuple[tuple[str, ...], np.ndarray]:
    """Carrier ids that can be the true carrier of an attack, and their weights.

    Raises
    ------
    CatalogueError
        No carrier of the catalogue has a positive weight.
    """
    types = tuple(c for c in catalogue.carriers if c != UNKNOWN_CARRIER)
    weights = np.array([float(config.carrier_weights.get(c, 0.0)) for c in types])
    if not (weights > 0).any():
        raise CatalogueError(
            "no catalogue carrier has a positive weight in AttackConfig.carrier_weights; "
            f"catalogue carriers: {', '.join(types)}"
        )
    return types, weights


def sample_attacks(
    n: int,
    region: Region,
    catalogue: Catalogue,
    config: AttackConfig,
    as_of: int,
    rng: np.random.Generator,
) -> Attacks:
    """Draw ``n`` attacks.

    Parameters
    ----------
    n : int
        Number of attacks.
    region : Region
    catalogue : Catalogue
    config : AttackConfig
    as_of : int
        No attack after this day. [day]
    rng : numpy.random.Generator

    Returns
    -------
    Attacks
    """
    types, weights = carrier_types(catalogue, config)
    days = sample_days(
        rng, n, day(config.start_date), min(day(config.end_date), as_of), config.intensity
    )
    carrier = _draw_carriers(days, types, weights, config, rng)
    count = np.ones(n, dtype=np.int64)
    for k, cid in enumerate(types):
        mine = carrier == k
        count[mine] = catalogue.carriers[cid].carrier_count.sample(rng, size=int(mine.sum()))
    kinds = np.array([catalogue.carriers[c].kind for c in types], dtype=object)
    depth = np.array([config.depth_km.get(k, config.default_depth_km) for k in kinds]) * 1e3
    x, y, target = _positions(days, depth[carrier], region, config, rng)
    free = np.isin(kinds[carrier], list(_FREE_HEADING_KINDS))
    heading = _headings(front_offset(region, x, y, days), free, config, rng)
    return Attacks(days, carrier, count, x, y, heading, target, types)


def _draw_carriers(
    days: np.ndarray,
    types: tuple[str, ...],
    weights: np.ndarray,
    config: AttackConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    first = np.array([day(config.carrier_first_use.get(c, "1900-01-01")) for c in types])
    w = np.where(days[:, None] >= first[None, :], weights[None, :], 0.0)
    w[w.sum(axis=1) == 0] = weights
    cdf = np.cumsum(w, axis=1)
    u = rng.random(len(days)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), len(types) - 1).astype(np.int64)


def _positions(
    days: np.ndarray,
    depth: np.ndarray,
    region: Region,
    config: AttackConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(days)
    on_town = rng.random(n) < config.settlement_target_fraction
    x, y = _front_positions(days, depth, region, config, rng)
    target = np.full(n, -1, dtype=np.int64)
    if on_town.any():
        town = _pick_settlements(days[on_town], depth[on_town], region, rng)
        s = region.settlements
        jitter = rng.standard_normal((2, len(town))) * s.radius_m[town] / 2.0
        x[on_town] = s.x[town] + jitter[0]
        y[on_town] = s.y[town] + jitter[1]
        target[on_town] = town
    xmin, ymin, xmax, ymax = region.bounds
    return np.clip(x, xmin, xmax), np.clip(y, ymin, ymax), target


def _front_positions(
    days: np.ndarray,
    depth: np.ndarray,
    region: Region,
    config: AttackConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Points in the struck band along the front, redrawn until inside the box."""
    xmin, ymin, xmax, ymax = region.bounds
    x = np.full(len(days), np.nan)
    y = np.full(len(days), np.nan)
    todo = np.arange(len(days))
    for _ in range(100):
        if todo.size == 0:
            break
        yy = rng.uniform(ymin, ymax, size=todo.size)
        west = rng.random(todo.size) < config.west_fraction
        d = rng.exponential(depth[todo]) + _MIN_DEPTH_M
        xx = front_x(region, yy, days[todo]) + np.where(west, -d, d)
        inside = (xx >= xmin) & (xx <= xmax)
        x[todo[inside]], y[todo[inside]] = xx[inside], yy[inside]
        todo = todo[~inside]
    x[todo], y[todo] = 0.5 * (xmin + xmax), rng.uniform(ymin, ymax, size=todo.size)
    return x, y


def _pick_settlements(
    days: np.ndarray, depth: np.ndarray, region: Region, rng: np.random.Generator
) -> np.ndarray:
    """Settlements hit, chosen ∝ √population × exp(-|offset from front| / depth).

    The front is taken at the middle of each 30-day bucket; rows of the weight table
    are (bucket, depth) pairs, sampled in one pass by a flat ``searchsorted``.
    """
    s = region.settlements
    bucket = (days - days.min()) // _BUCKET_DAYS
    keys, row = np.unique(np.column_stack([bucket, depth]), axis=0, return_inverse=True)
    mid = days.min() + keys[:, 0] * _BUCKET_DAYS + _BUCKET_DAYS // 2
    offset = np.abs(front_offset(region, s.x[None, :], s.y[None, :], mid[:, None]))
    log_w = 0.5 * np.log(s.population)[None, :] - offset / keys[:, 1:2]
    cdf = np.cumsum(np.exp(log_w - log_w.max(axis=1, keepdims=True)), axis=1)
    cdf /= cdf[:, -1:]
    flat = (cdf + np.arange(len(keys))[:, None]).ravel()
    row = row.ravel()
    pos = np.searchsorted(flat, row + rng.random(len(days)), side="right") - row * len(s.x)
    return np.minimum(pos, len(s.x) - 1).astype(np.int64)


def _headings(
    offset: np.ndarray, free: np.ndarray, config: AttackConfig, rng: np.random.Generator
) -> np.ndarray:
    across = np.where(offset < 0, 270.0, 90.0) + rng.normal(0.0, config.heading_sd_deg, len(offset))
    anywhere = rng.uniform(0.0, 360.0, size=len(offset))
    return np.mod(np.where(free, anywhere, across), 360.0)
