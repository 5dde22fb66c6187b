"""Numba primitives of the tile passes: cell masses of a strike, and survival per cell.

Everything here works on one tile (:data:`~remnant.hazard.grid.TILE` cells square)
and plain arrays, so that :mod:`remnant.hazard.integrals` and
:mod:`remnant.hazard.accumulate` can run tiles in parallel.

- :func:`axis_masses` — the exact mass of a 1-D normal per cell along one axis; the
  isotropic strike density is separable, so its cell mass is a product of two of them
  (docs/model.md §1, as :func:`remnant.hazard.footprint.isotropic_cell_mass`).
- :func:`rotated_mass` — the midpoint-rule mass of an oriented normal at one cell
  (as :func:`remnant.hazard.footprint.rotated_cell_mass`).
- :func:`tile_events` — every search's cells in a tile, grouped by cell and sorted by
  day, with cumulative ``log(1 − p)``; :func:`log_survival` then gives
  ``log S_sc = Σ_{a: t_a > t_s, c ∈ a} log(1 − p_a)`` for any strike day (docs/model.md
  §2) by a short scan of the cell's events.

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
        z = min(max((edge0 + (k + 1) * step - centre) / sigma, -clip), clip)
        upper = ndtr(z)
        out[k] = abs(upper - lower)
        lower = upper


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


@numba.njit(cache=True)
def rotated_norm(
    x: float,
    y: float,
    sigma_along: float,
    sigma_across: float,
    heading_deg: float,
    half: float,
    x0: float,
    top: float,
    cell: float,
    win: IntArray,
) -> float:
    """Midpoint-rule mass of an oriented normal over its window's cells.

    The cells whose centres lie in the square ``±half`` around ``(x, y)``; the mass
    of each is the density at its centre times the cell area. Dividing by this sum
    makes the strike's window mass exactly 1 (docs/model.md §1). [-]
    """
    theta = math.radians(heading_deg)
    sin_h, cos_h = math.sin(theta), math.cos(theta)
    total = 0.0
    for r in range(win[0], win[0] + win[2]):
        dy = top - (r + 0.5) * cell - y
        if abs(dy) > half:
            continue
        for c in range(win[1], win[1] + win[3]):
            dx = x0 + (c + 0.5) * cell - x
            if abs(dx) <= half:
                total += rotated_density(dx, dy, sigma_along, sigma_across, sin_h, cos_h)
    return total * cell * cell


# -- searches in a tile ----------------------------------------------------------------


@numba.njit(cache=True)
def tile_events(
    ids: IntArray,
    rx: FloatArray,
    ry: FloatArray,
    ring_offsets: IntArray,
    geom_offsets: IntArray,
    day: IntArray,
    log_keep: FloatArray,
    x0: float,
    top: float,
    cell: float,
    row0: int,
    col0: int,
    nrows: int,
    ncols: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every cell of a tile inside searches ``ids``, grouped by cell, latest search first.

    Returns ``start`` (shape ``nrows·ncols + 1``), ``ev_day`` and ``ev_cum``: the
    events of local cell ``c = (row − row0)·ncols + (col − col0)`` are
    ``start[c]:start[c+1]``, sorted by day descending, with ``ev_cum[k]`` the sum of
    ``log_keep`` over the cell's events up to and including ``k``.
    """
    n_cells = nrows * ncols
    buf = np.empty(n_cells, dtype=np.int64)
    cap = max(n_cells, 16)
    cells = np.empty(cap, dtype=np.int64)
    owner = np.empty(cap, dtype=np.int64)
    n = 0
    for a in ids:
        lo, hi = geom_offsets[a], geom_offsets[a + 1]
        k = fill_cells(rx, ry, ring_offsets, lo, hi, x0, top, cell, row0, col0, nrows, ncols, buf)
        if n + k > cap:
            cap = max(2 * cap, n + k)
            cells = _grow(cells, cap)
            owner = _grow(owner, cap)
        cells[n : n + k] = buf[:k]
        owner[n : n + k] = a
        n += k
    return _group_by_cell(cells[:n], owner[:n], day, log_keep, n_cells)


@numba.njit(cache=True)
def _grow(a: IntArray, cap: int) -> IntArray:
    out = np.empty(cap, dtype=a.dtype)
    out[: len(a)] = a
    return out


@numba.njit(cache=True)
def _group_by_cell(
    cells: IntArray, owner: IntArray, day: IntArray, log_keep: FloatArray, n_cells: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Counting sort of events by cell; within a cell, by day descending; cumulative sums."""
    start = np.zeros(n_cells + 1, dtype=np.int64)
    for c in cells:
        start[c + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    at = start[:-1].copy()
    ev_day = np.empty(len(cells), dtype=np.int64)
    ev_lk = np.empty(len(cells), dtype=np.float64)
    for k in range(len(cells)):
        c = cells[k]
        ev_day[at[c]] = day[owner[k]]
        ev_lk[at[c]] = log_keep[owner[k]]
        at[c] += 1
    for c in range(n_cells):
        _sort_desc(ev_day, ev_lk, start[c], start[c + 1])
    ev_cum = np.empty(len(cells), dtype=np.float64)
    for c in range(n_cells):
        acc = 0.0
        for k in range(start[c], start[c + 1]):
            acc += ev_lk[k]
            ev_cum[k] = acc
    return start, ev_day, ev_cum


@numba.njit(cache=True)
def _sort_desc(days: IntArray, values: FloatArray, lo: int, hi: int) -> None:
    """Insertion sort of ``days[lo:hi]`` descending, carrying ``values`` (few per cell)."""
    for k in range(lo + 1, hi):
        d, v = days[k], values[k]
        m = k - 1
        while m >= lo and days[m] < d:
            days[m + 1] = days[m]
            values[m + 1] = values[m]
            m -= 1
        days[m + 1] = d
        values[m + 1] = v


@numba.njit(cache=True)
def log_survival(
    start: IntArray, ev_day: IntArray, ev_cum: FloatArray, c: Index, after: Index, before: Index
) -> float:
    """``Σ log(1 − p_a)`` over the searches of local cell ``c`` with ``after < t_a < before``.

    ``after`` is a strike's day (a search on or before it clears nothing of it);
    ``before`` the day of a find, or a day beyond every search for the survival up to
    the estimate. [-]
    """
    lo, hi = start[c], start[c + 1]
    k = lo
    late = 0.0  # events on or after `before`
    while k < hi and ev_day[k] >= before:
        late = ev_cum[k]
        k += 1
    total = late
    while k < hi and ev_day[k] > after:
        total = ev_cum[k]
        k += 1
    return total - late
