"""Numba primitives of the tile passes: cell masses of a strike, and survival per cell.

Everything here works on one tile (:data:`~remnant.hazard.grid.TILE` cells square)
and plain arrays, so that :mod:`remnant.hazard.integrals` and
:mod:`remnant.hazard.accumulate` can run tiles in parallel.

- :func:`axis_masses` — the exact mass of a 1-D normal per cell along one axis; the
  isotropic strike density is separable, so its cell mass is a product of two of them
  (docs/model.md §1, as :func:`remnant.hazard.footprint.isotropic_cell_mass`).
- :func:`rotated_mass` — the midpoint-rule mass of an oriented normal at one cell
  (as :func:`remnant.hazard.footprint.rotated_cell_mass`).
- :func:`tile_searches` — every search's cells in a tile, in day order;
  :func:`tile_survival` sweeps them for strikes in day order, and :func:`tile_events`
  groups them by cell, latest first, with cumulative ``log(1 − p)``;
  :func:`log_survival` then gives ``log S_sc = Σ_{a: t_a > t_s, c ∈ a} log(1 − p_a)``
  for any strike day (docs/model.md §2) by a short scan of the cell's events.

References
----------
.. [1] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley — Poisson processes,
   thinning. https://doi.org/10.1002/9781119115151
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.scanline import fill_cells

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Index = int | np.integer[Any]
"""A cell, day or row number as the kernels receive it (a NumPy integer from an array)."""
SearchClock = tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
"""A tile's searches in day order and the survival they leave, :func:`tile_survival`."""

SEARCH, NOTICE = 0, 1
"""Columns of a search's ``log_keep``: items found, and attacks noticed."""

_SQRT2 = math.sqrt(2.0)


def weighted_sums(index: npt.ArrayLike, weights: npt.ArrayLike, n: int) -> FloatArray:
    """``out[i] = Σ weights[index == i]`` for ``i < n`` (``numpy.bincount``, typed float). [-]"""
    return np.asarray(np.bincount(np.asarray(index), np.asarray(weights), n), dtype=np.float64)


@numba.njit(cache=True)
def ndtr(z: float) -> float:
    """Standard normal CDF. [-]"""
    return 0.5 * math.erfc(-z / _SQRT2)


@numba.njit(cache=True)
def axis_masses(
    edge0: float, step: float, n: int, centre: float, sigma: float, clip: float, out: FloatArray
) -> None:
    """Mass of a 1-D normal in each of ``n`` consecutive cells along one axis.

    Cell ``k`` spans the edges ``edge0 + k·step`` and ``edge0 + (k + 1)·step``
    (``step`` is negative along rows, which run south). Standardised edges are
    clipped to ``±clip`` (``inf`` for none), so a window's cells sum to
    ``Φ(clip) − Φ(−clip)`` exactly.

    Parameters
    ----------
    edge0 : float
        First edge. [m]
    step : float
        Signed cell side. [m]
    n : int
        Number of cells. [cells]
    centre, sigma : float
        Mean and standard deviation of the normal. [m]
    clip : float
        Cut in standard deviations. [-]
    out : ndarray of float64, length ≥ n
        Receives the masses. [-]
    """
    z = min(max((edge0 - centre) / sigma, -clip), clip)
    lower = ndtr(z)
    for k in range(n):
        edge = min(max((edge0 + (k + 1) * step - centre) / sigma, -clip), clip)
        upper = lower if edge == z else ndtr(edge)  # beyond the cut both edges lie on it
        out[k] = abs(upper - lower)
        lower, z = upper, edge


RESTART = 16
"""Cells between exact evaluations in the Gaussian recurrences below: each step
multiplies by a running ratio, so rounding grows by about one part in 1e16 per
step, and a fresh ``exp`` every 16 steps also keeps far tails from staying at an
underflowed zero. [cells]"""


@numba.njit(cache=True)
def axis_densities(
    first: float, step: float, n: int, centre: float, sigma: float, out: FloatArray
) -> None:
    """Density of a 1-D normal at ``n`` cell centres ``first + k·step``, times ``|step|``.

    The midpoint rule for a cell's mass, by a recurrence: ``φ`` at the next centre is
    ``φ`` times a ratio that itself changes by the constant ``exp(−step²/σ²)``, so a
    cell costs two multiplications, with an exact ``exp`` every :data:`RESTART` cells.
    Used for the second-moment kernels, which are approximations anyway; the mean
    kernel keeps the exact :func:`axis_masses`.

    Parameters
    ----------
    first : float
        Coordinate of the first cell centre. [m]
    step : float
        Signed distance between centres. [m]
    n : int
        Cells. [cells]
    centre, sigma : float
        Mean and standard deviation. [m]
    out : ndarray, length ≥ n
        Receives ``φ(x_k) |step|``. [-]
    """
    scale = abs(step) / (sigma * math.sqrt(2.0 * math.pi))
    inv2 = 0.5 / (sigma * sigma)
    decay = math.exp(-step * step * 2.0 * inv2)
    value = 0.0
    ratio = 0.0
    for k in range(n):
        if k % RESTART == 0:
            d = first + k * step - centre
            value = scale * math.exp(-d * d * inv2)
            ratio = math.exp(-(2.0 * d * step + step * step) * inv2)
        else:
            value *= ratio
            ratio *= decay
        out[k] = value


@numba.njit(cache=True)
def rotated_density(
    dx: float, dy: float, sigma_along: float, sigma_across: float, sin_h: float, cos_h: float
) -> float:
    """Density of an oriented bivariate normal at offset ``(dx, dy)`` from its centre. [1/m²]

    ``sin_h, cos_h`` of the heading, clockwise from grid north: the along axis points
    ``(sin h, cos h)``.
    """
    along = dx * sin_h + dy * cos_h
    across = dx * cos_h - dy * sin_h
    q = (along / sigma_along) ** 2 + (across / sigma_across) ** 2
    return math.exp(-0.5 * q) / (2.0 * math.pi * sigma_along * sigma_across)


# -- searches in a tile ----------------------------------------------------------------


TileSearches = tuple[IntArray, IntArray]
"""The cells of a tile inside searches and the search of each, in day order."""


@numba.njit(cache=True)
def tile_searches(
    ids: IntArray,
    rx: FloatArray,
    ry: FloatArray,
    ring_offsets: IntArray,
    geom_offsets: IntArray,
    day: IntArray,
    x0: float,
    top: float,
    cell: float,
    row0: int,
    col0: int,
    nrows: int,
    ncols: int,
) -> TileSearches:
    """Every cell of a tile inside searches ``ids``: ``(cells, search)``, by day ascending.

    Cells are local, ``c = (row − row0)·ncols + (col − col0)``. The searches are
    visited in day order, so the events come out in day order with no sort of the
    cells (a tile may hold tens of thousands).
    """
    n_cells = nrows * ncols
    buf = np.empty(n_cells, dtype=np.int64)
    cap = max(n_cells, 16)
    cells = np.empty(cap, dtype=np.int64)
    owner = np.empty(cap, dtype=np.int64)
    n = 0
    for a in ids[np.argsort(day[ids], kind="mergesort")]:
        lo, hi = geom_offsets[a], geom_offsets[a + 1]
        k = fill_cells(rx, ry, ring_offsets, lo, hi, x0, top, cell, row0, col0, nrows, ncols, buf)
        if n + k > cap:
            cap = max(2 * cap, n + k)
            cells = _grow(cells, cap)
            owner = _grow(owner, cap)
        cells[n : n + k] = buf[:k]
        owner[n : n + k] = a
        n += k
    return cells[:n], owner[:n]


@numba.njit(cache=True)
def _grow(a: IntArray, cap: int) -> IntArray:
    out = np.empty(cap, dtype=a.dtype)
    out[: len(a)] = a
    return out


@numba.njit(cache=True)
def tile_events(
    events: TileSearches, day: IntArray, log_keep: FloatArray, n_cells: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """The events of :func:`tile_searches` grouped by cell, latest search first.

    Returns ``start`` (shape ``n_cells + 1``), ``ev_day`` and ``ev_cum``: the events of
    local cell ``c`` are ``start[c]:start[c+1]``, sorted by day descending, with
    ``ev_cum[k, j]`` the sum of ``log_keep[:, j]`` over the cell's events up to and
    including ``k``. ``log_keep`` has two columns: :data:`SEARCH` (``log(1 − p)``, the
    items found) and :data:`NOTICE` (``log(1 − q)``, what an NTS without evidence
    says of where an attack fell, docs/model.md §2). A counting sort by cell that fills
    each cell from its end, earliest event first, so its events come out latest first.
    """
    cells, owner = events
    start = np.zeros(n_cells + 1, dtype=np.int64)
    for c in cells:
        start[c + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    at = start[1:].copy()
    ev_owner = np.empty(len(cells), dtype=np.int64)
    for k in range(len(cells)):  # earliest first, to the end of its cell
        c = cells[k]
        at[c] -= 1
        ev_owner[at[c]] = owner[k]
    ev_day = day[ev_owner]
    ev_cum = np.empty((len(cells), 2), dtype=np.float64)
    for c in range(n_cells):
        acc0, acc1 = 0.0, 0.0
        for k in range(start[c], start[c + 1]):
            acc0 += log_keep[ev_owner[k], SEARCH]
            acc1 += log_keep[ev_owner[k], NOTICE]
            ev_cum[k, SEARCH] = acc0
            ev_cum[k, NOTICE] = acc1
    return start, ev_day, ev_cum


@numba.njit(cache=True)
def tile_survival(
    events: TileSearches, day: IntArray, log_keep: FloatArray, n_cells: int
) -> SearchClock:
    """The searches of a tile in day order, to sweep strikes through in day order.

    ``S_sc`` of a strike dated ``t_s`` is the product of ``1 − p`` over the searches
    of cell *c* that ended after ``t_s``, and ``L_sc`` that of ``1 − q`` over the
    non-technical surveys without evidence there (docs/model.md §2). Visiting a
    tile's strikes in day order, the passes start from every search in the future
    (the sums of all of a cell's logs) and :func:`advance` past each search as the
    strikes' days pass it, so every strike reads ``S·L`` and ``L`` from dense arrays:
    no per-cell search of events, no branch. ``events`` are the tile's events in day
    order (:func:`tile_searches`).

    Returns
    -------
    SearchClock
        ``(days, cells, log_keep)`` of the tile's events in day order, ``logs``
        (``log S`` and ``log L`` per local cell), ``s_now = S·L``,
        ``found = 1 − S·L`` and ``notice = 1 − L``.
    """
    cells, owner = events
    n_ev = len(cells)
    days = np.empty(n_ev, dtype=np.int64)
    lks = np.empty((n_ev, 2))
    logs = np.zeros((n_cells, 2))
    k = 0
    while k < n_ev:  # a search's cells come in one run; a log of 0 adds nothing
        a = owner[k]
        end = k + 1
        while end < n_ev and owner[end] == a:
            end += 1
        keep_s, keep_n = log_keep[a, SEARCH], log_keep[a, NOTICE]
        days[k:end] = day[a]
        lks[k:end, SEARCH] = keep_s
        lks[k:end, NOTICE] = keep_n
        if keep_s != 0.0:
            for j in range(k, end):
                logs[cells[j], SEARCH] += keep_s
        if keep_n != 0.0:
            for j in range(k, end):
                logs[cells[j], NOTICE] += keep_n
        k = end
    s_now = np.ones(n_cells)
    notice = np.zeros(n_cells)
    for c in range(n_cells):
        if logs[c, SEARCH] != 0.0 or logs[c, NOTICE] != 0.0:
            s_now[c] = math.exp(logs[c, SEARCH] + logs[c, NOTICE])
            if logs[c, NOTICE] != 0.0:  # NTS without evidence are few: 1 − e⁰ = 0 elsewhere
                notice[c] = 1.0 - math.exp(logs[c, NOTICE])
    return days, cells, lks, logs, s_now, 1.0 - s_now, notice


@numba.njit(cache=True)
def advance(clock: SearchClock, pos: int, day: Index) -> int:
    """Move ``clock`` past every search that ended on or before ``day``; return the new position.

    A search on or before a strike's day clears nothing of it (docs/model.md §2).
    """
    days, cells, lks, logs, s_now, found, notice = clock
    while pos < len(days) and days[pos] <= day:
        c = cells[pos]
        logs[c, SEARCH] = min(logs[c, SEARCH] - lks[pos, SEARCH], 0.0)
        logs[c, NOTICE] = min(logs[c, NOTICE] - lks[pos, NOTICE], 0.0)
        s_now[c] = math.exp(logs[c, SEARCH] + logs[c, NOTICE])
        found[c] = 1.0 - s_now[c]
        notice[c] = 1.0 - math.exp(logs[c, NOTICE]) if logs[c, NOTICE] != 0.0 else 0.0
        pos += 1
    return pos


NEVER = np.iinfo(np.int64).max // 4
"""A day after every search and every strike. [day]"""


@numba.njit(cache=True)
def log_survival(
    start: IntArray,
    ev_day: IntArray,
    ev_cum: FloatArray,
    c: Index,
    after: Index,
    before: Index,
    column: int = 0,
) -> float:
    """``Σ log(1 − p_a)`` over the searches of local cell ``c`` with ``after < t_a < before``.

    ``after`` is a strike's day (a search on or before it clears nothing of it);
    ``before`` the day of a find, or a day beyond every search for the survival up to
    the estimate; ``column`` :data:`SEARCH` or :data:`NOTICE`. [-]
    """
    lo, hi = start[c], start[c + 1]
    k = lo
    late = 0.0  # events on or after `before`
    while k < hi and ev_day[k] >= before:
        late = ev_cum[k, column]
        k += 1
    total = late
    while k < hi and ev_day[k] > after:
        total = ev_cum[k, column]
        k += 1
    return total - late


_MIX = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True)
def mix64(h: np.uint64, v: np.uint64) -> np.uint64:
    """One step of a 64-bit hash (splitmix64's finaliser on ``h ^ v``)."""
    z = (h ^ v) + _MIX
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
