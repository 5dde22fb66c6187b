"""Strike mixtures for the tile passes: oriented windows hold their mass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from remnant.hazard.mixture import square_mass


@pytest.mark.parametrize("half", [300.0, 120.0, 80.0])
def test_square_mass_matches_simulation_within_its_standard_error(half: float) -> None:
    rng = np.random.default_rng(7)
    n = 400_000
    along, across, heading = 100.0, 40.0, math.radians(30.0)
    z = rng.standard_normal((n, 2)) * [along, across]
    east = z[:, 0] * math.sin(heading) + z[:, 1] * math.cos(heading)
    north = z[:, 0] * math.cos(heading) - z[:, 1] * math.sin(heading)
    simulated = np.mean((np.abs(east) <= half) & (np.abs(north) <= half))
    exact = square_mass(
        np.array([along]), np.array([across]), np.array([heading]), np.array([half])
    )
    se = math.sqrt(simulated * (1 - simulated) / n)
    assert abs(exact[0] - simulated) < 4 * se + 1e-12


def test_square_mass_of_an_isotropic_normal_is_the_product_of_two_erfs() -> None:
    from scipy import special

    half = np.array([50.0, 150.0, 450.0])
    sigma = np.full(3, 100.0)
    exact = special.erf(half / (sigma * math.sqrt(2))) ** 2
    got = square_mass(sigma, sigma, np.array([0.3, 1.0, 2.0]), half)
    np.testing.assert_allclose(got, exact, rtol=1e-10)
