"""Spatial density of one strike's submunitions and its mass per grid cell.

docs/model.md §1: the density g_s of a strike is the carrier footprint (a bivariate
normal with ``sigma = axis / 4``) convolved with the volley spread and the location
error of the report, both isotropic normals, so the variances add. With a known
heading the footprint keeps its orientation; without it the isotropic normal with the
same second moments is used. The mass of g_s per cell is exact (a product of normal
CDF differences) in the isotropic case and a midpoint rule (density at the cell centre
× cell area) for a rotated ellipse; windows are cut at ``n_sigma`` standard deviations
and renormalised so that each strike's mass is exactly 1.

The windows returned may reach outside the grid (negative or too large indices):
clipping to the grid or to tiles is the accumulator's job, and mass that falls
outside the study grid is not redistributed.

References
----------
.. [1] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley.
   https://doi.org/10.1002/9781119115151
.. [2] McKenna, S. A. (2001) *Application of a Cox process to UXO site
   characterization*, Sandia report SAND2001-1591. https://doi.org/10.2172/783740
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from remnant.catalogue.model import Carrier
from remnant.hazard.grid import Grid

N_SIGMA = 4.0
"""Default half-width of a window in standard deviations; the mass outside a
±4σ square is 1 − erf(4/√2)² ≈ 1.3e-4 (docs/model.md §1). [-]"""

CellMass = tuple[int, int, npt.NDArray[np.float64]]
"""``(row0, col0, mass)``: the window's top-left cell and the mass of each cell."""


def strike_sigma(
    carrier: Carrier, location_error_m: float, heading_known: bool
) -> tuple[float, float]:
    """Return the standard deviations of a strike's density along and across.

    The footprint sigmas (``axis / 4``) with the volley spread and the location
    error added in quadrature. Without a heading, both are the isotropic moment match
    ``sigma² = (σ_L² + σ_W²) / 2 + volley² + location_error²`` (docs/model.md §1).

    Parameters
    ----------
    carrier : Carrier
        The catalogue carrier (``footprint``, ``volley_spread_m``).
    location_error_m : float
        1-sigma error of the reported strike point. [m]
    heading_known : bool
        Whether the strike record gives ``heading_deg``.

    Returns
    -------
    sigma_along, sigma_across : float
        Standard deviations along and across the line of fire; equal when the
        heading is not known. [m]
    """
    if not location_error_m >= 0:
        raise ValueError(f"location_error_m must be ≥ 0, got {location_error_m!r}")
    sigma_l, sigma_w = carrier.footprint.sigma_m
    common = carrier.volley_spread_m**2 + location_error_m**2
    if heading_known:
        return math.sqrt(sigma_l**2 + common), math.sqrt(sigma_w**2 + common)
    sigma = math.sqrt((sigma_l**2 + sigma_w**2) / 2.0 + common)
    return sigma, sigma


def _axis_mass(
    edges: npt.NDArray[np.float64], centre: float, sigma: float, n_sigma: float
) -> npt.NDArray[np.float64]:
    """Mass of a 1-D normal between consecutive ``edges``, cut at ±``n_sigma``."""
    z = np.clip((edges - centre) / sigma, -n_sigma, n_sigma)
    return np.abs(np.diff(special.ndtr(z)))


def isotropic_cell_mass(
    x: float,
    y: float,
    sigma: float,
    grid: Grid,
    *,
    n_sigma: float = N_SIGMA,
    normalise: bool = True,
) -> CellMass:
    """Return the mass of an isotropic bivariate normal in each cell of its window.

    Exact per cell: the outer product of two differences of the normal CDF (the
    density is separable). The density is cut at the square ``±n_sigma·sigma`` around
    ``(x, y)`` (border cells keep only their part inside the square), so before
    renormalising the total is ``erf(n_sigma / √2)²``.

    Parameters
    ----------
    x, y : float
        Centre, in the grid's CRS. [m]
    sigma : float
        Standard deviation along each axis. [m]
    grid : Grid
        The grid whose cells receive the mass (its origin and cell size).
    n_sigma : float
        Half-width of the window in standard deviations. [-]
    normalise : bool
        Scale the window to sum to exactly 1 (restores the cut mass).

    Returns
    -------
    row0, col0 : int
        Top-left cell of the window (may lie outside the grid). [cells]
    mass : ndarray of float64, shape (nrows, ncols)
        Mass of each cell of the window. [-]
    """
    _check_sigma(sigma, n_sigma)
    half = n_sigma * sigma
    row0, col0, nrows, ncols = _window(x, y, half, half, grid)
    col_edges = grid.x0 + (col0 + np.arange(ncols + 1, dtype=np.float64)) * grid.cell
    row_edges = grid.top - (row0 + np.arange(nrows + 1, dtype=np.float64)) * grid.cell
    mass = np.outer(
        _axis_mass(row_edges, y, sigma, n_sigma), _axis_mass(col_edges, x, sigma, n_sigma)
    )
    return row0, col0, _normalised(mass) if normalise else mass


def rotated_cell_mass(
    x: float,
    y: float,
    sigma_along: float,
    sigma_across: float,
    heading_deg: float,
    grid: Grid,
    *,
    n_sigma: float = N_SIGMA,
    normalise: bool = True,
) -> CellMass:
    """Return the mass of an oriented bivariate normal in each cell of its window.

    Midpoint rule: the density at each cell centre × the cell area, over the cells
    whose centres lie in the square ``±n_sigma·max(sigma_along, sigma_across)``
    around ``(x, y)``. Accurate when the sigmas are a few cells or more.

    Parameters
    ----------
    x, y : float
        Centre, in the grid's CRS. [m]
    sigma_along, sigma_across : float
        Standard deviations along and across the line of fire (see
        :func:`strike_sigma`). [m]
    heading_deg : float
        Direction of the line of fire, clockwise from grid north. [°]
    grid : Grid
        The grid whose cells receive the mass.
    n_sigma : float
        Half-width of the window in the largest standard deviation. [-]
    normalise : bool
        Scale the window to sum to exactly 1 (restores the cut mass).

    Returns
    -------
    row0, col0 : int
        Top-left cell of the window (may lie outside the grid). [cells]
    mass : ndarray of float64, shape (nrows, ncols)
        Mass of each cell of the window. [-]
    """
    _check_sigma(min(sigma_along, sigma_across), n_sigma)
    half = n_sigma * max(sigma_along, sigma_across)
    row0, col0, nrows, ncols = _window(x, y, half, half, grid)
    cx, cy = grid.centres(
        row0 + np.arange(nrows)[:, np.newaxis], col0 + np.arange(ncols)[np.newaxis, :]
    )
    dx, dy = cx - x, cy - y
    theta = math.radians(heading_deg)
    along = dx * math.sin(theta) + dy * math.cos(theta)
    across = dx * math.cos(theta) - dy * math.sin(theta)
    inside = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    quad = (along / sigma_along) ** 2 + (across / sigma_across) ** 2
    density = np.exp(-0.5 * quad) / (2.0 * math.pi * sigma_along * sigma_across)
    mass = np.where(inside, density * grid.cell**2, 0.0)
    return row0, col0, _normalised(mass) if normalise else mass


def _check_sigma(sigma: float, n_sigma: float) -> None:
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    if not n_sigma > 0:
        raise ValueError(f"n_sigma must be positive, got {n_sigma!r}")


def _window(
    x: float, y: float, half_x: float, half_y: float, grid: Grid
) -> tuple[int, int, int, int]:
    """Cells ``(row0, col0, nrows, ncols)`` meeting the box ``x ± half_x, y ± half_y``."""
    (r_top, r_bottom), (c_left, c_right) = grid.cell_of(
        [x - half_x, x + half_x], [y + half_y, y - half_y]
    )
    return int(r_top), int(c_left), int(r_bottom - r_top) + 1, int(c_right - c_left) + 1


def _normalised(mass: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    total = mass.sum()
    if not total > 0:
        raise ValueError("no mass in the window (sigma far below the cell size?)")
    return mass / total
