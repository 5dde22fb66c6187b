"""Carriers and submunitions on the ground: aim points, footprints, duds.

Each carrier of an attack is aimed at the impact point plus an isotropic normal
error of 1-sigma ``volley_spread_m``; its submunitions land as the catalogue's
footprint: a bivariate normal with sigma = axis / 4 along and across the direction
of fire, the linear scale of each carrier jittered log-normally by ``log_sd``. Each
submunition fails (is a dud) with the world's true failure rate of its carrier
type. The work runs over chunks of carriers, vectorised within each chunk: no Python
loop over attacks or submunitions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from remnant.catalogue.model import Catalogue
from remnant.simulate.attacks import Attacks
from remnant.simulate.geography import Region, transformer

CHUNK_SUBMUNITIONS = 4_000_000
"""Submunitions drawn per chunk: bounds the temporary memory (about 0.5 GB); part of
the random stream's layout, so changing it changes every world."""


@dataclass(frozen=True)
class Volleys:
    """One row per carrier fired.

    Parameters
    ----------
    strike : numpy.ndarray
        Index of the attack.
    index : numpy.ndarray
        Number of the carrier within its attack, from 0.
    carrier : numpy.ndarray
        Index of the carrier type.
    x, y : numpy.ndarray
        Aim point. [m]
    scale : numpy.ndarray
        Linear scale factor of this carrier's footprint. [-]
    """

    strike: np.ndarray
    index: np.ndarray
    carrier: np.ndarray
    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.strike)


@dataclass(frozen=True)
class Submunitions:
    """Every submunition of the world (compact dtypes: there may be 10⁸).

    Parameters
    ----------
    strike : numpy.ndarray
        Index of the attack, int32.
    volley : numpy.ndarray
        Index of the carrier in :class:`Volleys`, int32.
    item : numpy.ndarray
        Index of the submunition type in ``items``, int8.
    lon, lat : numpy.ndarray
        Position, float32 (about 0.4 m resolution). [degree]
    is_dud : numpy.ndarray
        Failed to function. bool
    items : tuple of str
        Submunition ids.
    """

    strike: np.ndarray
    volley: np.ndarray
    item: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    is_dud: np.ndarray
    items: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.strike)


@dataclass(frozen=True)
class Duds:
    """The duds, the only submunitions that can be found or cause an accident.

    Parameters
    ----------
    index : numpy.ndarray
        Row in :class:`Submunitions`.
    lon, lat : numpy.ndarray
        Position, float64 holding the float32 values of the truth exactly. [degree]
    x, y : numpy.ndarray
        Position in the region's CRS before rounding (within 0.5 m). [m]
    """

    index: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def fire_carriers(attacks: Attacks, catalogue: Catalogue, rng: np.random.Generator) -> Volleys:
    """Draw every carrier's aim point and footprint scale."""
    n = len(attacks)
    strike = np.repeat(np.arange(n), attacks.count)
    starts = np.cumsum(attacks.count) - attacks.count
    index = np.arange(len(strike)) - np.repeat(starts, attacks.count)
    kind = attacks.carrier[strike]
    carriers = [catalogue.carriers[c] for c in attacks.types]
    spread = np.array([c.volley_spread_m for c in carriers])[kind]
    log_sd = np.array([c.footprint.log_sd for c in carriers])[kind]
    offset = rng.standard_normal((2, len(strike))) * spread
    scale = np.exp(rng.standard_normal(len(strike)) * log_sd)
    return Volleys(
        strike, index, kind, attacks.x[strike] + offset[0], attacks.y[strike] + offset[1], scale
    )


def item_table(catalogue: Catalogue, types: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Submunition type of each position within a carrier, per carrier type.

    Returns
    -------
    table : numpy.ndarray
        ``table[k, p]`` is the index in ``items`` of submunition ``p`` of a carrier
        of type ``k``; a carrier's mapping is spread over its nominal count in
        mapping order (e.g. 64 M42 then 24 M46).
    items : tuple of str
        Submunition ids, in catalogue order.
    """
    items = tuple(catalogue.submunitions)
    carriers = [catalogue.carriers[c] for c in types]
    width = max(c.submunitions_per_carrier for c in carriers)
    table = np.zeros((len(types), max(width, 1)), dtype=np.int8)
    for k, c in enumerate(carriers):
        ids = [i for i in c.submunitions if i in items] or [items[0]]
        counts = np.array([max(c.submunitions.get(i, 1), 1) for i in ids], dtype=float)
        edges = np.cumsum(counts) / counts.sum() * c.submunitions_per_carrier
        pos = np.arange(width)
        which = np.minimum(np.searchsorted(edges, pos, side="right"), len(ids) - 1)
        table[k] = [items.index(i) for i in np.array(ids)[which]]
    return table, items


@dataclass(frozen=True)
class _TypeTable:
    """Per carrier type: submunitions per carrier, footprint sigmas, item table, dud rate."""

    per: np.ndarray
    sigma: np.ndarray
    items: np.ndarray
    failure_rate: np.ndarray

    @classmethod
    def build(cls, catalogue: Catalogue, types: tuple[str, ...], rate: np.ndarray) -> _TypeTable:
        carriers = [catalogue.carriers[c] for c in types]
        per = np.array([c.submunitions_per_carrier for c in carriers], dtype=np.int64)
        sigma = np.array([c.footprint.sigma_m for c in carriers], dtype=float)
        return cls(per, sigma, item_table(catalogue, types)[0], np.asarray(rate, float))


def scatter(
    attacks: Attacks,
    volleys: Volleys,
    catalogue: Catalogue,
    failure_rate: np.ndarray,
    region: Region,
    rng: np.random.Generator,
    progress: Callable[[float], None] | None = None,
) -> tuple[Submunitions, Duds]:
    """Lay every submunition on the ground and decide which are duds.

    Parameters
    ----------
    attacks : Attacks
    volleys : Volleys
    catalogue : Catalogue
    failure_rate : numpy.ndarray
        True dud rate per carrier type (index of ``attacks.types``). [-]
    region : Region
    rng : numpy.random.Generator
    progress : callable, optional
        Called with the fraction of submunitions done.

    Returns
    -------
    Submunitions, Duds
    """
    types = _TypeTable.build(catalogue, attacks.types, failure_rate)
    bounds = np.concatenate([[0], np.cumsum(types.per[volleys.carrier])])
    out = _allocate(int(bounds[-1]), item_table(catalogue, attacks.types)[1])
    parts = []
    for c0, c1 in _chunks(bounds, CHUNK_SUBMUNITIONS):
        sl = slice(int(bounds[c0]), int(bounds[c1]))
        parts.append(_fill_chunk(out, sl, np.arange(c0, c1), attacks, volleys, types, region, rng))
        if progress is not None:
            progress(float(bounds[c1] / max(bounds[-1], 1)))
    index = np.concatenate([p[0] for p in parts] or [np.empty(0, np.int64)])
    x = np.concatenate([p[1] for p in parts] or [np.empty(0)])
    y = np.concatenate([p[2] for p in parts] or [np.empty(0)])
    lon, lat = out.lon[index].astype(np.float64), out.lat[index].astype(np.float64)
    return out, Duds(index, lon, lat, x, y)


def _allocate(n: int, items: tuple[str, ...]) -> Submunitions:
    return Submunitions(
        strike=np.empty(n, np.int32),
        volley=np.empty(n, np.int32),
        item=np.empty(n, np.int8),
        lon=np.empty(n, np.float32),
        lat=np.empty(n, np.float32),
        is_dud=np.empty(n, bool),
        items=items,
    )


def _chunks(bounds: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Split carriers ``[0, len(bounds) - 1)`` into runs of about ``size`` submunitions."""
    cuts = np.searchsorted(bounds, np.arange(size, bounds[-1], size), side="left")
    edges = np.unique(np.concatenate([[0], cuts, [len(bounds) - 1]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _fill_chunk(
    out: Submunitions,
    sl: slice,
    vol: np.ndarray,
    attacks: Attacks,
    volleys: Volleys,
    types: _TypeTable,
    region: Region,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_sub = types.per[volleys.carrier[vol]]
    rep = np.repeat(vol, n_sub)
    pos = np.arange(len(rep)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
    kind = volleys.carrier[rep]
    x, y = _footprint_points(rep, types.sigma[kind], attacks, volleys, rng)
    lon, lat = transformer(region).transform(x, y)
    dud = rng.random(len(rep)) < types.failure_rate[kind]
    out.strike[sl], out.volley[sl], out.item[sl] = volleys.strike[rep], rep, types.items[kind, pos]
    out.lon[sl], out.lat[sl], out.is_dud[sl] = lon, lat, dud
    where = np.flatnonzero(dud)
    return where + sl.start, x[where], y[where]


def _footprint_points(
    rep: np.ndarray,
    sigma: np.ndarray,
    attacks: Attacks,
    volleys: Volleys,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Bivariate normal points around each carrier's aim point, rotated to the heading."""
    scale = volleys.scale[rep]
    along = rng.standard_normal(len(rep)) * sigma[:, 0] * scale
    across = rng.standard_normal(len(rep)) * sigma[:, 1] * scale
    theta = np.radians(attacks.heading_deg[volleys.strike[rep]])
    sin, cos = np.sin(theta), np.cos(theta)
    return volleys.x[rep] + along * sin + across * cos, volleys.y[rep] + along * cos - across * sin
