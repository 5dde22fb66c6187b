"""Where unrecorded attacks may lie: an adaptive kernel density of the recorded ones.

Some attacks are never recorded (docs/model.md §5). Their submunitions are the
*background* of the model: a Cox process whose density ``ḡ`` follows the recorded
attacks (attacks cluster along the front and at the same targets, recorded or not),
smoothed by an adaptive bandwidth — each recorded strike spread by the distance to
its ``k``-th nearest recorded neighbour, clipped, and added in quadrature to its own
kernel width [1]_. ``ḡ`` is smooth on a kilometre scale, so it is held on coarse
cells of ``factor × factor`` grid cells (a power of two dividing a tile) and shared
evenly by their grid cells; it sums to exactly 1 over the grid's cells.

References
----------
.. [1] Silverman, B. W. (1986) *Density Estimation for Statistics and Data
   Analysis*, Chapman & Hall, §5.3 (adaptive kernel estimates).
   https://doi.org/10.1201/9781315140919
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from remnant.hazard.grid import TILE, Grid
from remnant.hazard.kernels import axis_masses, ndtr

FloatArray = npt.NDArray[np.float64]


def coarse_factor(cell_m: float, target_m: float) -> int:
    """Return the largest power of two ``F ≤ target_m / cell_m`` dividing a tile (≥ 1). [-]"""
    factor = 1
    while factor * 2 <= target_m / cell_m and factor * 2 <= TILE:
        factor *= 2
    return factor


def bandwidths(
    x: FloatArray,
    y: FloatArray,
    sigma: FloatArray,
    neighbours: int,
    limits: tuple[float, float],
) -> FloatArray:
    """Return each point's kernel width ``√(clip(d_k, lo, hi)² + σ²)``. [m]

    Parameters
    ----------
    x, y : ndarray
        Recorded strike points. [m]
    sigma : ndarray
        Each strike's own kernel width. [m]
    neighbours : int
        ``k``: the distance to the ``k``-th nearest other point sets the width. [-]
    limits : tuple of float
        ``(lo, hi)`` bounds of that distance. [m]
    """
    n = len(x)
    if n == 0:
        return np.empty(0)
    lo, hi = limits
    if n == 1:
        d = np.full(1, hi)
    else:
        k = min(neighbours, n - 1)
        dist, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=k + 1)
        d = np.asarray(dist)[:, -1]
    return np.sqrt(np.clip(d, lo, hi) ** 2 + np.asarray(sigma) ** 2)


def background_density(
    x: FloatArray,
    y: FloatArray,
    weight: FloatArray,
    bandwidth: FloatArray,
    grid: Grid,
    factor: int,
    n_sigma: float,
) -> FloatArray:
    """Return ``ḡ`` on the coarse cells: the weighted kernel density, summing to 1.

    Each point adds ``weight`` times the exact cell masses of an isotropic normal of
    width ``bandwidth`` cut at ``±n_sigma`` (renormalised). The coarse grid shares
    the fine grid's top-left corner; a coarse cell that sticks out past the fine
    grid holds only the mass of its fine cells inside, and the whole is scaled so
    that ``Σ_fine-cells ḡ_coarse / factor² = 1``.

    Parameters
    ----------
    x, y : ndarray
        Points, grid CRS. [m]
    weight : ndarray
        Non-negative weight of each point. [-]
    bandwidth : ndarray
        Kernel width of each point. [m]
    grid : Grid
        The fine grid.
    factor : int
        Fine cells per coarse cell side. [-]
    n_sigma : float
        Kernel cut. [-]

    Returns
    -------
    ndarray, shape (ceil(ny / factor), ceil(nx / factor))
        Mass of ``ḡ`` per coarse cell as if every fine cell of it were in the grid;
        all zero when there are no points or no weight. [-]
    """
    cny, cnx = -(-grid.ny // factor), -(-grid.nx // factor)
    out = np.zeros((cny, cnx))
    w = np.asarray(weight, dtype=np.float64)
    if len(x) == 0 or not w.sum() > 0:
        return out
    coarse = factor * grid.cell
    _add_kernels(
        np.asarray(x, np.float64),
        np.asarray(y, np.float64),
        w,
        np.asarray(bandwidth, np.float64),
        grid.x0,
        grid.top,
        coarse,
        n_sigma,
        out,
    )
    inside = inside_fraction(grid, factor)
    total = float((out * inside).sum())
    return out / total if total > 0 else out


def inside_fraction(grid: Grid, factor: int) -> FloatArray:
    """Share of each coarse cell's ``factor²`` fine cells that lie in the grid. [-]"""
    rows = np.minimum(factor, grid.ny - np.arange(0, grid.ny, factor)) / factor
    cols = np.minimum(factor, grid.nx - np.arange(0, grid.nx, factor)) / factor
    return np.outer(rows, cols)


@numba.njit(cache=True)
def _add_kernels(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray,
    h: FloatArray,
    x0: float,
    top: float,
    cell: float,
    n_sigma: float,
    out: FloatArray,
) -> None:
    cny, cnx = out.shape
    scale = (ndtr(n_sigma) - ndtr(-n_sigma)) ** 2
    rows = np.empty(cny)
    cols = np.empty(cnx)
    for k in range(len(x)):
        half = n_sigma * h[k]
        r0 = max(math.floor((top - (y[k] + half)) / cell), 0)
        r1 = min(math.floor((top - (y[k] - half)) / cell) + 1, cny)
        c0 = max(math.floor((x[k] - half - x0) / cell), 0)
        c1 = min(math.floor((x[k] + half - x0) / cell) + 1, cnx)
        if r0 >= r1 or c0 >= c1:
            continue
        axis_masses(top - r0 * cell, -cell, r1 - r0, y[k], h[k], n_sigma, rows)
        axis_masses(x0 + c0 * cell, cell, c1 - c0, x[k], h[k], n_sigma, cols)
        for i in range(r1 - r0):
            f = w[k] * rows[i] / scale
            for j in range(c1 - c0):
                out[r0 + i, c0 + j] += f * cols[j]
