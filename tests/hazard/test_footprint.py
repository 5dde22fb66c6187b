"""Strike densities and their mass per cell (docs/model.md §1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from remnant.catalogue import Catalogue
from remnant.catalogue.model import BetaPrior, Carrier, CountPrior, Footprint
from remnant.hazard.footprint import isotropic_cell_mass, rotated_cell_mass, strike_sigma
from remnant.hazard.grid import Grid

GRID = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=10.0, nx=1000, ny=1000)


def _carrier(length_m: float, width_m: float, volley_m: float) -> Carrier:
    return Carrier(
        id="TEST",
        name="test carrier",
        kind="shell",
        submunitions={"M42": 88},
        submunitions_per_carrier=88,
        failure_rate=BetaPrior(2.0, 20.0),
        footprint=Footprint(length_m=length_m, width_m=width_m),
        carrier_count=CountPrior(mean=6.0),
        volley_spread_m=volley_m,
    )


def _moments(
    row0: int, col0: int, mass: np.ndarray, x: float, y: float
) -> tuple[float, float, float, float]:
    """Centroid offsets and second moments (about the true centre) along x and y."""
    rows = row0 + np.arange(mass.shape[0])[:, np.newaxis]
    cols = col0 + np.arange(mass.shape[1])[np.newaxis, :]
    cx, cy = GRID.centres(rows, cols)
    dx, dy = cx - x, cy - y
    return (
        float((mass * dx).sum()),
        float((mass * dy).sum()),
        float((mass * dx**2).sum()),
        float((mass * dy**2).sum()),
    )


# --- strike_sigma ---------------------------------------------------------------------


def test_strike_sigma_adds_volley_and_location_error_in_quadrature() -> None:
    # footprint 200 m x 100 m -> sigma 50 m x 25 m (axis / 4); volley 30 m; error 40 m
    carrier = _carrier(200.0, 100.0, 30.0)
    along, across = strike_sigma(carrier, 40.0, heading_known=True)
    assert along == pytest.approx(math.sqrt(50**2 + 30**2 + 40**2))
    assert across == pytest.approx(math.sqrt(25**2 + 30**2 + 40**2))


def test_strike_sigma_without_heading_is_the_isotropic_moment_match() -> None:
    carrier = _carrier(200.0, 100.0, 30.0)
    along, across = strike_sigma(carrier, 40.0, heading_known=False)
    assert along == across == pytest.approx(math.sqrt((50**2 + 25**2) / 2 + 30**2 + 40**2))


def test_strike_sigma_preserves_the_total_variance(catalogue: Catalogue) -> None:
    for carrier in catalogue.carriers.values():
        known = strike_sigma(carrier, 100.0, heading_known=True)
        unknown = strike_sigma(carrier, 100.0, heading_known=False)
        assert sum(s**2 for s in unknown) == pytest.approx(sum(s**2 for s in known))


def test_strike_sigma_rejects_a_negative_location_error() -> None:
    with pytest.raises(ValueError, match="location_error_m"):
        strike_sigma(_carrier(200.0, 100.0, 30.0), -1.0, heading_known=False)


# --- isotropic_cell_mass --------------------------------------------------------------


@settings(deadline=None, max_examples=50)
@given(
    x=st.floats(3000.0, 7000.0),
    y=st.floats(3000.0, 7000.0),
    sigma=st.floats(1.0, 500.0),
)
def test_isotropic_mass_sums_to_one(x: float, y: float, sigma: float) -> None:
    _, _, mass = isotropic_cell_mass(x, y, sigma, GRID)
    assert mass.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(mass >= 0)


@pytest.mark.parametrize("n_sigma", [1.0, 2.0, 3.0, 4.0])
def test_isotropic_window_cut_matches_the_closed_form(n_sigma: float) -> None:
    # Mass of a standard bivariate normal inside the square +-k sigma: erf(k / sqrt 2)^2.
    _, _, mass = isotropic_cell_mass(5003.7, 4991.2, 37.0, GRID, n_sigma=n_sigma, normalise=False)
    assert mass.sum() == pytest.approx(special.erf(n_sigma / math.sqrt(2.0)) ** 2, rel=1e-12)


def test_default_window_loses_under_0_07_percent() -> None:
    # the reference kernel's default window of ±4σ: 1 − erf(4/√2)² ≈ 1.3e-4 is lost
    _, _, mass = isotropic_cell_mass(5000.0, 5000.0, 50.0, GRID, normalise=False)
    assert 1.0 - mass.sum() < 0.0007


def test_isotropic_centroid_is_the_centre() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        x, y = rng.uniform(2000.0, 8000.0, 2)
        sigma = rng.uniform(5.0, 300.0)
        mx, my, _, _ = _moments(*isotropic_cell_mass(x, y, sigma, GRID), x, y)
        assert abs(mx) < GRID.cell / 10 and abs(my) < GRID.cell / 10


@pytest.mark.parametrize("sigma", [20.0, 35.0, 80.0, 250.0])
def test_isotropic_second_moment_has_sheppards_correction(sigma: float) -> None:
    # Sheppard, W. F. (1898) Proc. London Math. Soc. 29, 353-380: grouping into bins of
    # width h adds h^2 / 12 to the variance.
    rng = np.random.default_rng(int(sigma))
    x, y = rng.uniform(4000.0, 6000.0, 2)
    _, _, vx, vy = _moments(*isotropic_cell_mass(x, y, sigma, GRID), x, y)
    expected = sigma**2 + GRID.cell**2 / 12
    assert vx == pytest.approx(expected, rel=0.01)
    assert vy == pytest.approx(expected, rel=0.01)


def test_isotropic_window_may_reach_outside_the_grid() -> None:
    row0, col0, mass = isotropic_cell_mass(5.0, 5.0, 20.0, GRID)
    assert row0 + mass.shape[0] > GRID.ny and col0 < 0
    assert mass.sum() == pytest.approx(1.0)


def test_isotropic_rejects_a_non_positive_sigma() -> None:
    with pytest.raises(ValueError, match="sigma"):
        isotropic_cell_mass(5000.0, 5000.0, 0.0, GRID)


# --- rotated_cell_mass ----------------------------------------------------------------


@settings(deadline=None, max_examples=50)
@given(
    x=st.floats(3000.0, 7000.0),
    y=st.floats(3000.0, 7000.0),
    sigma_along=st.floats(10.0, 400.0),
    sigma_across=st.floats(10.0, 400.0),
    heading=st.floats(0.0, 360.0),
)
def test_rotated_mass_sums_to_one(
    x: float, y: float, sigma_along: float, sigma_across: float, heading: float
) -> None:
    _, _, mass = rotated_cell_mass(x, y, sigma_along, sigma_across, heading, GRID)
    assert mass.sum() == pytest.approx(1.0, abs=1e-12)


def test_rotated_centroid_is_the_centre() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        x, y = rng.uniform(2000.0, 8000.0, 2)
        along, across = rng.uniform(15.0, 300.0, 2)
        heading = rng.uniform(0.0, 360.0)
        mx, my, _, _ = _moments(*rotated_cell_mass(x, y, along, across, heading, GRID), x, y)
        assert abs(mx) < GRID.cell / 10 and abs(my) < GRID.cell / 10


def test_rotated_heading_0_and_90_swap_row_and_column_spreads() -> None:
    x, y, along, across = 5003.3, 4996.1, 120.0, 40.0
    _, _, vx0, vy0 = _moments(*rotated_cell_mass(x, y, along, across, 0.0, GRID), x, y)
    _, _, vx90, vy90 = _moments(*rotated_cell_mass(x, y, along, across, 90.0, GRID), x, y)
    # heading 0: the line of fire runs north-south, along the rows' index
    assert vy0 == pytest.approx(along**2 + GRID.cell**2 / 12, rel=0.01)
    assert vx0 == pytest.approx(across**2 + GRID.cell**2 / 12, rel=0.01)
    assert vx90 == pytest.approx(vy0, rel=1e-3)
    assert vy90 == pytest.approx(vx0, rel=1e-3)


def test_rotated_on_a_cell_centre_heading_90_is_the_transpose_of_heading_0() -> None:
    x, y = GRID.centres(500, 500)
    _, _, m0 = rotated_cell_mass(float(x), float(y), 90.0, 30.0, 0.0, GRID)
    _, _, m90 = rotated_cell_mass(float(x), float(y), 90.0, 30.0, 90.0, GRID)
    np.testing.assert_allclose(m90, m0.T, atol=1e-15)


def test_rotated_heading_is_clockwise_from_north() -> None:
    # heading 45 deg: the long axis runs north-east, so x and y offsets correlate positively.
    x, y = 5000.0, 5000.0
    row0, col0, mass = rotated_cell_mass(x, y, 150.0, 20.0, 45.0, GRID)
    rows = row0 + np.arange(mass.shape[0])[:, np.newaxis]
    cols = col0 + np.arange(mass.shape[1])[np.newaxis, :]
    cx, cy = GRID.centres(rows, cols)
    assert float((mass * (cx - x) * (cy - y)).sum()) > 0.4 * (150.0**2 - 20.0**2)


def test_rotated_with_equal_sigmas_matches_the_isotropic_mass() -> None:
    x, y, sigma = 5001.7, 4993.4, 60.0
    r_iso, c_iso, iso = isotropic_cell_mass(x, y, sigma, GRID)
    r_rot, c_rot, rot = rotated_cell_mass(x, y, sigma, sigma, 30.0, GRID)
    assert (r_iso, c_iso, iso.shape) == (r_rot, c_rot, rot.shape)
    # midpoint rule vs exact cell integrals: the 2-D midpoint error is cell^2 / 24 times the
    # Laplacian, -2 f / sigma^2 at the peak; renormalisation shifts it by as much again.
    np.testing.assert_allclose(rot, iso, atol=(GRID.cell / sigma) ** 2 / 6 * iso.max())
