"""A strike's cell masses as a mixture of components, for the numba tile passes.

The kernels take two packed tables (built by :func:`pack`), so that their signatures
stay short:

- ``strikes``, int64, one row per strike: day, type, window ``(row0, col0, nrows,
  ncols)`` covering every component's window, and its components ``k0:k1``
  (columns :data:`DAY` … :data:`K1`);
- ``comps``, float64, one row per component (:class:`~remnant.hazard.components.Components`):
  centre, mean-kernel widths, sine and cosine of the heading, the window mass of an
  oriented kernel (:func:`square_mass`; 0 flags an isotropic one), weight,
  second-moment widths and coefficients (columns :data:`X` … :data:`COEF_X`).

The mass of strike *s* in cell *c* is ``w_sc = Σ_k π_k w_kc``: an isotropic component
is separable (exact, cut at ``±clip`` σ and renormalised,
:func:`~remnant.hazard.kernels.axis_masses`); an oriented one is the midpoint rule,
its density at the cell centre times the cell area, cut at the same square and
divided by the exact mass inside the square (:func:`square_mass`). The midpoint sum
of a normal density over a lattice of spacing ``a`` differs from its integral by
``O(exp(−2π² σ² / a²))`` (Poisson summation), below 1e-8 once ``σ ≥ a``, so an
oriented window then holds the strike's mass to that precision (docs/model.md §1).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

from remnant.hazard.components import Components
from remnant.hazard.grid import Grid
from remnant.hazard.kernels import (
    RESTART,
    axis_densities,
    axis_masses,
    ndtr,
    rotated_density,
)
from remnant.hazard.tiles import windows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAY, TYPE, R0, C0, NR, NC, K0, K1 = range(8)
"""Columns of the packed strike table."""
X, Y, ALONG, ACROSS, SIN, COS, NORM, WEIGHT, WITHIN, CROSS, COEF_W, COEF_X = range(12)
"""Columns of the packed component table (``NORM`` is the window mass of an oriented
component, 0 for an isotropic one)."""


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)
"""Gauss–Legendre rule for :func:`square_mass` (exact to far below 1e-10 here)."""


def square_mass(
    along: FloatArray, across: FloatArray, heading: FloatArray, half: FloatArray
) -> FloatArray:
    """Mass of an oriented bivariate normal inside the square ``±half`` around its centre.

    ``∫ φ_X(x) P(|Y| ≤ h | X = x) dx`` over ``|x| ≤ h`` by Gauss–Legendre quadrature,
    with ``(X, Y)`` the grid-axis coordinates of the rotated normal and ``Y | X`` the
    conditional normal. Oriented components are normalised by it, so a window
    holds exactly the strike's mass, as the isotropic ones do [1]_.

    Parameters
    ----------
    along, across : ndarray
        Standard deviations along and across the line of fire. [m]
    heading : ndarray
        Direction of fire, clockwise from grid north. [rad]
    half : ndarray
        Half-side of the square. [m]

    References
    ----------
    .. [1] Genz, A. and Bretz, F. (2009) *Computation of Multivariate Normal and t
       Probabilities*, Springer, §2.1 (conditioning on one variable).
       https://doi.org/10.1007/978-3-642-01689-9
    """
    s, c = np.sin(heading), np.cos(heading)
    vx = (along * s) ** 2 + (across * c) ** 2  # east
    vy = (along * c) ** 2 + (across * s) ** 2  # north
    cov = (along**2 - across**2) * s * c
    sx = np.sqrt(vx)
    x = half[:, None] * _NODES[None, :]
    cond_mean = (cov / vx)[:, None] * x
    cond_sd = np.sqrt(np.maximum(vy - cov**2 / vx, 1e-300))[:, None]
    inside = special.ndtr((half[:, None] - cond_mean) / cond_sd) - special.ndtr(
        (-half[:, None] - cond_mean) / cond_sd
    )
    density = np.exp(-0.5 * (x / sx[:, None]) ** 2) / (sx[:, None] * math.sqrt(2 * math.pi))
    return np.asarray(half * np.sum(_WEIGHTS[None, :] * density * inside, axis=1))


def pack(
    day: IntArray, type_index: IntArray, comps: Components, grid: Grid, clip: float
) -> tuple[IntArray, FloatArray]:
    """Return the packed strike and component tables (module docstring).

    Parameters
    ----------
    day, type_index : ndarray of int64, shape (strikes,)
        Day and carrier type of each strike.
    comps : Components
        The strikes' components.
    grid : Grid
        The study grid (for the windows and the oriented kernels' normalisers).
    clip : float
        Windows cut at this many standard deviations. [-]
    """
    half = clip * comps.sigma_max
    win = _windows_of(comps, grid, half)
    strikes = np.column_stack(
        [day, type_index, win, comps.offsets[:-1], comps.offsets[1:]]
    ).astype(np.int64)  # fmt: skip
    heading = np.nan_to_num(comps.heading)
    norm = np.zeros(len(comps))
    oriented = ~np.isnan(comps.heading)
    norm[oriented] = square_mass(
        comps.along[oriented], comps.across[oriented], np.radians(heading[oriented]),
        half[oriented],
    )  # fmt: skip
    table = np.column_stack(
        [comps.x, comps.y, comps.along, comps.across, np.sin(np.radians(heading)),
         np.cos(np.radians(heading)), norm,
         comps.weight, comps.within, comps.cross, comps.coef_within, comps.coef_cross]
    )  # fmt: skip
    return np.ascontiguousarray(strikes), np.ascontiguousarray(table)


def strike_windows(comps: Components, grid: Grid, clip: float) -> IntArray:
    """Each strike's window ``(row0, col0, nrows, ncols)``: its components' windows' union.

    A component's window holds the cells within ``clip`` of its largest width
    (:func:`.tiles.windows`); a strike without components gets an empty one. Shape
    ``(strikes, 4)``: columns ``R0 … NC`` of :func:`pack`'s strike table.
    """
    return _windows_of(comps, grid, clip * comps.sigma_max)


def _windows_of(comps: Components, grid: Grid, half: FloatArray) -> IntArray:
    """:func:`strike_windows` of components whose windows reach ``half`` each way. [m]"""
    n = len(comps.offsets) - 1
    win = windows(comps.x, comps.y, half, grid)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    top, left = np.full(n, big), np.full(n, big)
    bottom, right = np.full(n, small), np.full(n, small)
    some = np.flatnonzero(np.diff(comps.offsets) > 0)
    if some.size:  # the components of a strike lie together: one run each
        at = comps.offsets[some]
        top[some] = np.minimum.reduceat(win[:, 0], at)
        left[some] = np.minimum.reduceat(win[:, 1], at)
        bottom[some] = np.maximum.reduceat(win[:, 0] + win[:, 2], at)
        right[some] = np.maximum.reduceat(win[:, 1] + win[:, 3], at)
    return np.stack([top, left, bottom - top, right - left], axis=1)  # empty: wraps to 1


@numba.njit(cache=True)
def component_mass(
    comps: FloatArray, k: int, row: int, col: int, clip: float, x0: float, top: float, cell: float
) -> float:
    """Mass of component ``k``'s density in cell ``(row, col)`` (not weighted). [-]"""
    cx, cy = comps[k, X], comps[k, Y]
    if comps[k, NORM] > 0.0:
        dx = x0 + (col + 0.5) * cell - cx
        dy = top - (row + 0.5) * cell - cy
        half = clip * max(comps[k, ALONG], comps[k, ACROSS])
        if abs(dx) > half or abs(dy) > half:
            return 0.0
        d = rotated_density(dx, dy, comps[k, ALONG], comps[k, ACROSS], comps[k, SIN], comps[k, COS])
        return d * cell * cell / comps[k, NORM]
    sig = comps[k, ALONG]
    zx0 = min(max((x0 + col * cell - cx) / sig, -clip), clip)
    zx1 = min(max((x0 + (col + 1) * cell - cx) / sig, -clip), clip)
    zy0 = min(max((top - (row + 1) * cell - cy) / sig, -clip), clip)
    zy1 = min(max((top - row * cell - cy) / sig, -clip), clip)
    if zx0 == zx1 or zy0 == zy1:  # outside the cut window: no erfc for a zero
        return 0.0
    scale = ndtr(clip) - ndtr(-clip)
    return (ndtr(zx1) - ndtr(zx0)) * (ndtr(zy1) - ndtr(zy0)) / (scale * scale)


@numba.njit(cache=True)
def oriented_row(
    comps: FloatArray, k: int, row: int, ca: int, cb: int, clip: float, x0: float,
    top: float, cell: float, out: FloatArray,
) -> None:  # fmt: skip
    """Masses of oriented component ``k`` in cells ``ca ≤ col < cb`` of ``row``.

    The exponent is quadratic in the column, so along a row the density follows the
    recurrence of :func:`~remnant.hazard.kernels.axis_densities`, restarted exactly
    every :data:`~remnant.hazard.kernels.RESTART` cells; cells outside the cut
    square get 0, as in :func:`component_mass`.
    """
    sa, sc = comps[k, ALONG], comps[k, ACROSS]
    sin_h, cos_h = comps[k, SIN], comps[k, COS]
    half = clip * max(sa, sc)
    dy = top - (row + 0.5) * cell - comps[k, Y]
    # q(dx) = a dx² + b dx + c for the normalised quadratic form of the density
    a = (sin_h / sa) ** 2 + (cos_h / sc) ** 2
    b = 2.0 * dy * (sin_h * cos_h / sa**2 - sin_h * cos_h / sc**2)
    c = (dy * cos_h / sa) ** 2 + (dy * sin_h / sc) ** 2
    norm = cell * cell / (2.0 * math.pi * sa * sc * comps[k, NORM])
    decay = math.exp(-a * cell * cell)
    value = 0.0
    ratio = 0.0
    for col in range(ca, cb):
        j = col - ca
        dx = x0 + (col + 0.5) * cell - comps[k, X]
        if j % RESTART == 0:
            value = norm * math.exp(-0.5 * (a * dx * dx + b * dx + c))
            ratio = math.exp(-0.5 * (a * (2.0 * dx * cell + cell * cell) + b * cell))
        else:
            value *= ratio
            ratio *= decay
        out[j] = value if abs(dx) <= half and abs(dy) <= half else 0.0


@numba.njit(cache=True)
def point_mass(
    strikes: IntArray, comps: FloatArray, s: int, row: int, col: int, clip: float,
    x0: float, top: float, cell: float,
) -> float:  # fmt: skip
    """``w_sc``: strike ``s``'s mass in cell ``(row, col)``, all components. [-]"""
    total = 0.0
    for k in range(strikes[s, K0], strikes[s, K1]):
        total += comps[k, WEIGHT] * component_mass(comps, k, row, col, clip, x0, top, cell)
    return total


@numba.njit(cache=True)
def mean_axes(
    strikes: IntArray, comps: FloatArray, s: int, ra: int, rb: int, ca: int, cb: int,
    clip: float, x0: float, top: float, cell: float, rows: FloatArray, cols: FloatArray,
) -> None:  # fmt: skip
    """Normalised 1-D masses of each isotropic component of ``s`` on ``[ra, rb) × [ca, cb)``.

    Row ``k − k0`` of ``rows`` and ``cols`` holds component ``k``'s masses; oriented
    components are skipped (their cells come from :func:`component_mass`).
    """
    scale = ndtr(clip) - ndtr(-clip)
    k0 = strikes[s, K0]
    for k in range(k0, strikes[s, K1]):
        if comps[k, NORM] > 0.0:
            continue
        r, c = rows[k - k0], cols[k - k0]
        axis_masses(top - ra * cell, -cell, rb - ra, comps[k, Y], comps[k, ALONG], clip, r)
        axis_masses(x0 + ca * cell, cell, cb - ca, comps[k, X], comps[k, ALONG], clip, c)
        for i in range(rb - ra):
            r[i] /= scale
        for i in range(cb - ca):
            c[i] /= scale


@numba.njit(cache=True)
def moment_axes(
    strikes: IntArray, comps: FloatArray, s: int, ra: int, rb: int, ca: int, cb: int,
    x0: float, top: float, cell: float, wr: FloatArray, wc: FloatArray, xr: FloatArray,
    xc: FloatArray,
) -> None:  # fmt: skip
    """1-D masses of each component's two second-moment kernels (not cut, not normalised).

    Exact (:func:`~remnant.hazard.kernels.axis_masses`) for a kernel narrower than two
    cells, the midpoint rule (:func:`~remnant.hazard.kernels.axis_densities`, relative
    error below ``a²/(24σ²)`` ≈ 1 %) for wider ones.
    """
    k0 = strikes[s, K0]
    y1, x1 = top - (ra + 0.5) * cell, x0 + (ca + 0.5) * cell
    for k in range(k0, strikes[s, K1]):
        j = k - k0
        for sigma, r_out, c_out in (
            (comps[k, WITHIN], wr[j], wc[j]),
            (comps[k, CROSS], xr[j], xc[j]),
        ):
            if sigma >= 2.0 * cell:
                axis_densities(y1, -cell, rb - ra, comps[k, Y], sigma, r_out)
                axis_densities(x1, cell, cb - ca, comps[k, X], sigma, c_out)
            else:
                axis_masses(top - ra * cell, -cell, rb - ra, comps[k, Y], sigma, np.inf, r_out)
                axis_masses(x0 + ca * cell, cell, cb - ca, comps[k, X], sigma, np.inf, c_out)


@numba.njit(cache=True)
def cell_mass(
    strikes: IntArray, comps: FloatArray, s: int, row: int, col: int, i: int, j: int,
    rows: FloatArray, cols: FloatArray, clip: float, x0: float, top: float, cell: float,
) -> float:  # fmt: skip
    """``w_sc`` from the 1-D masses of :func:`mean_axes` (``i, j`` offsets in the range)."""
    total = 0.0
    k0 = strikes[s, K0]
    for k in range(k0, strikes[s, K1]):
        if comps[k, NORM] > 0.0:
            w = component_mass(comps, k, row, col, clip, x0, top, cell)
        else:
            w = rows[k - k0, i] * cols[k - k0, j]
        total += comps[k, WEIGHT] * w
    return total
