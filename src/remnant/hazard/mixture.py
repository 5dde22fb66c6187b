"""A strike's cell masses as a mixture of components, for the numba tile passes.

The kernels take two packed tables (built by :func:`pack`), so that their signatures
stay short:

- ``strikes``, int64, one row per strike: day, type, window ``(row0, col0, nrows,
  ncols)`` covering every component's window, and its components ``k0:k1``
  (columns :data:`DAY` … :data:`K1`);
- ``comps``, float64, one row per component (:class:`~remnant.hazard.components.Components`):
  centre, mean-kernel widths, heading, window normaliser of an oriented kernel,
  weight, second-moment widths and coefficients (columns :data:`X` … :data:`COEF_X`).

The mass of strike *s* in cell *c* is ``w_sc = Σ_k π_k w_kc``: an isotropic component
is separable (exact, cut at ``±clip`` σ and renormalised,
:func:`~remnant.hazard.kernels.axis_masses`), an oriented one is the midpoint rule
normalised over its window (docs/model.md §1).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.components import Components
from remnant.hazard.grid import Grid
from remnant.hazard.kernels import axis_masses, ndtr, rotated_density, rotated_norm
from remnant.hazard.tiles import windows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAY, TYPE, R0, C0, NR, NC, K0, K1 = range(8)
"""Columns of the packed strike table."""
X, Y, ALONG, ACROSS, HEADING, NORM, WEIGHT, WITHIN, CROSS, COEF_W, COEF_X = range(11)
"""Columns of the packed component table (``NORM`` is 0 for an isotropic component)."""


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
    n = len(comps.offsets) - 1
    half = clip * comps.sigma_max
    win = windows(comps.x, comps.y, half, grid)
    owner = comps.strike
    top = np.full(n, np.iinfo(np.int64).max)
    left = np.full(n, np.iinfo(np.int64).max)
    bottom = np.full(n, np.iinfo(np.int64).min)
    right = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(top, owner, win[:, 0])
    np.minimum.at(left, owner, win[:, 1])
    np.maximum.at(bottom, owner, win[:, 0] + win[:, 2])
    np.maximum.at(right, owner, win[:, 1] + win[:, 3])
    strikes = np.column_stack(
        [day, type_index, top, left, bottom - top, right - left, comps.offsets[:-1],
         comps.offsets[1:]]
    ).astype(np.int64)  # fmt: skip
    oriented = ~np.isnan(comps.heading)
    norm = np.zeros(len(comps))
    for k in np.flatnonzero(oriented):
        norm[k] = rotated_norm(
            comps.x[k], comps.y[k], comps.along[k], comps.across[k], comps.heading[k],
            half[k], grid.x0, grid.top, grid.cell, win[k],
        )  # fmt: skip
    table = np.column_stack(
        [comps.x, comps.y, comps.along, comps.across, np.nan_to_num(comps.heading), norm,
         comps.weight, comps.within, comps.cross, comps.coef_within, comps.coef_cross]
    )  # fmt: skip
    return np.ascontiguousarray(strikes), np.ascontiguousarray(table)


@numba.njit(cache=True)
def holds(strikes: IntArray, s: int, row: int, col: int) -> bool:
    """Whether cell ``(row, col)`` lies in strike ``s``'s window."""
    return (
        strikes[s, R0] <= row < strikes[s, R0] + strikes[s, NR]
        and strikes[s, C0] <= col < strikes[s, C0] + strikes[s, NC]
    )


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
        theta = math.radians(comps[k, HEADING])
        d = rotated_density(
            dx, dy, comps[k, ALONG], comps[k, ACROSS], math.sin(theta), math.cos(theta)
        )
        return d * cell * cell / comps[k, NORM]
    sig = comps[k, ALONG]
    scale = ndtr(clip) - ndtr(-clip)
    zx0 = min(max((x0 + col * cell - cx) / sig, -clip), clip)
    zx1 = min(max((x0 + (col + 1) * cell - cx) / sig, -clip), clip)
    zy0 = min(max((top - (row + 1) * cell - cy) / sig, -clip), clip)
    zy1 = min(max((top - row * cell - cy) / sig, -clip), clip)
    return (ndtr(zx1) - ndtr(zx0)) * (ndtr(zy1) - ndtr(zy0)) / (scale * scale)


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
    """1-D masses of each component's two second-moment kernels (not cut, not normalised)."""
    k0 = strikes[s, K0]
    for k in range(k0, strikes[s, K1]):
        j = k - k0
        axis_masses(top - ra * cell, -cell, rb - ra, comps[k, Y], comps[k, WITHIN], np.inf, wr[j])
        axis_masses(x0 + ca * cell, cell, cb - ca, comps[k, X], comps[k, WITHIN], np.inf, wc[j])
        axis_masses(top - ra * cell, -cell, rb - ra, comps[k, Y], comps[k, CROSS], np.inf, xr[j])
        axis_masses(x0 + ca * cell, cell, cb - ca, comps[k, X], comps[k, CROSS], np.inf, xc[j])


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
