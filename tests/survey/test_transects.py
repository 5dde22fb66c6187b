"""Transect spacing to find an elliptical target area (Gilbert et al. 2005; VSP)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize

from remnant.survey.transects import (
    TransectDesign,
    design_transects,
    ellipse_perimeter,
    find_probability,
    max_find_probability,
    spacing_for,
    traverse_probability,
)

# Monte Carlo trials per parameter set, and the tolerance in standard errors.
TRIALS = 40_000
SIGMAS = 4.0


def _traverse_by_quadrature(spacing: float, width: float, a: float, b: float) -> float:
    """The defining integral (2/π) ∫ min(1, (2h(θ) + w)/s) dθ, by adaptive quadrature."""

    def half_extent(theta: float) -> float:
        return math.hypot(a * math.cos(theta), b * math.sin(theta))

    def integrand(theta: float) -> float:
        return min(1.0, (2 * half_extent(theta) + width) / spacing)

    kink = (spacing - width) / 2  # tell quad where min() bends: h(θ*) = (s − w)/2
    points = []
    if b < kink < a:
        points = [optimize.brentq(lambda t: half_extent(t) - kink, 0, math.pi / 2, xtol=1e-15)]
    value, _ = integrate.quad(
        integrand, 0, math.pi / 2, points=points, limit=200, epsabs=1e-14, epsrel=1e-13
    )
    return 2 / math.pi * value


def _ramanujan_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation, π(a + b)(1 + 3λ²/(10 + sqrt(4 − 3λ²)))."""
    lam = (a - b) / (a + b)
    return math.pi * (a + b) * (1 + 3 * lam**2 / (10 + math.sqrt(4 - 3 * lam**2)))


def _simulate_traverse(spacing, width, a, b, seed, trials=TRIALS, chunk=10_000):
    """Fraction of random ellipses met by a swath; extent from 256 boundary points."""
    rng = np.random.default_rng(seed)
    phi = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    hits = 0
    for _ in range(trials // chunk):
        theta = rng.uniform(0, np.pi, (chunk, 1))
        offset = rng.uniform(0, spacing, chunk)
        u = a * np.cos(phi) * np.cos(theta) + b * np.sin(phi) * np.sin(theta)
        low, high = u.min(axis=1), u.max(axis=1)
        first = np.ceil((low - width / 2 - offset) / spacing)  # first swath past `low`
        hits += int(np.count_nonzero(offset + first * spacing - width / 2 < high))
    return hits / trials


def _simulate_find(spacing, width, a, b, density, detect, min_items, seed, trials=TRIALS):
    """Fraction of random ellipses with at least `min_items` Poisson items found."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(density * math.pi * a * b, trials)
    trial = np.repeat(np.arange(trials), counts)
    radius, angle = np.sqrt(rng.uniform(size=trial.size)), rng.uniform(0, 2 * np.pi, trial.size)
    x, y = a * radius * np.cos(angle), b * radius * np.sin(angle)
    theta, offset = rng.uniform(0, np.pi, trials), rng.uniform(0, spacing, trials)
    u = x * np.cos(theta[trial]) + y * np.sin(theta[trial])
    distance = np.mod(u - offset[trial], spacing)  # from the swath centre below
    inside = (distance <= width / 2) | (distance >= spacing - width / 2)
    found = inside & (rng.uniform(size=trial.size) < detect)
    return float(np.mean(np.bincount(trial[found], minlength=trials) >= min_items))


def _assert_within_sigmas(simulated: float, p: float) -> None:
    se = math.sqrt(p * (1 - p) / TRIALS)
    assert abs(simulated - p) <= SIGMAS * se, (simulated, p, se)  # p = 1: never missed


# --- closed forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "width", "spacing"),
    [(10.0, 2.0, 15.0), (10.0, 2.0, 22.0), (10.0, 2.0, 30.0), (10.0, 2.0, 500.0), (3, 1, 1)],
)
def test_circle_is_min_of_one_and_diameter_plus_width_over_spacing(r, width, spacing):
    # A circle has the same extent 2r across the transects at every orientation.
    expected = min(1.0, (2 * r + width) / spacing)
    assert traverse_probability(spacing, width, r, r) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("ratio", [0.99, 0.7, 0.5, 0.3, 0.1, 1e-3])
def test_perimeter_agrees_with_ramanujan_within_its_error(ratio):
    # Ramanujan (1914), "Modular equations and approximations to π", Quart. J. Math. 45,
    # 350-372: the approximation underestimates the perimeter, by 3λ¹⁰/2¹⁷ + O(λ¹²)
    # relative (λ = (a - b)/(a + b)) and at most 1 - 7π/22 ≈ 4.0e-4 (flat ellipse, b → 0).
    a, b = 100.0, 100.0 * ratio
    lam = (a - b) / (a + b)
    error = 1 - _ramanujan_perimeter(a, b) / ellipse_perimeter(a, b)
    assert -1e-15 < error <= 1 - 7 * math.pi / 22
    if ratio >= 0.5:  # the leading term dominates
        assert error == pytest.approx(3 * lam**10 / 2**17, rel=0.25)


def test_perimeter_of_circle_and_flat_ellipse():
    assert ellipse_perimeter(7.0, 7.0) == pytest.approx(2 * math.pi * 7.0, rel=1e-15)
    assert ellipse_perimeter(7.0, 1e-9) == pytest.approx(4 * 7.0, rel=1e-12)  # a segment


@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0), (25.0, 24.0)])
@pytest.mark.parametrize("factor", [1.0, 1.5, 10.0])
def test_wide_spacing_is_mean_width_plus_width_over_spacing(a, b, factor):
    # Cauchy: mean width = perimeter / π (Santaló 1976); valid for s >= 2a + w.
    width = 2.0
    spacing = factor * (2 * a + width)
    expected = (ellipse_perimeter(a, b) / math.pi + width) / spacing
    assert traverse_probability(spacing, width, a, b) == pytest.approx(expected, rel=1e-14)
    assert _traverse_by_quadrature(spacing, width, a, b) == pytest.approx(expected, rel=1e-11)


@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0), (25.0, 24.0)])
@pytest.mark.parametrize("where", [1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
def test_split_form_matches_quadrature_between_the_axes(a, b, where):
    width = 2.0
    spacing = 2 * b + width + where * 2 * (a - b)
    expected = _traverse_by_quadrature(spacing, width, a, b)
    assert traverse_probability(spacing, width, a, b) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0)])
def test_split_form_meets_closed_forms_at_both_ends(a, b):
    width, eps = 2.0, 1e-9
    at_major = traverse_probability(2 * a + width, width, a, b)  # mean-width form
    assert traverse_probability(2 * a + width - eps, width, a, b) == pytest.approx(
        at_major, abs=1e-8
    )
    assert traverse_probability(2 * b + width + eps, width, a, b) == pytest.approx(1, abs=1e-8)


# --- limits ------------------------------------------------------------------------


def test_certain_traverse_up_to_minor_axis_plus_width():
    for spacing in (2.0, 10.0, 21.999, 22.0):
        assert traverse_probability(spacing, 2.0, 30.0, 10.0) == 1.0
    assert traverse_probability(22.001, 2.0, 30.0, 10.0) < 1.0


def test_probabilities_fall_with_spacing():
    spacings = np.linspace(2.0, 150.0, 60)
    traverse = [traverse_probability(s, 2.0, 30.0, 10.0) for s in spacings]
    found = [find_probability(s, 2.0, 30.0, 10.0, 0.01, 0.8, 2) for s in spacings]
    assert np.all(np.diff(traverse) <= 1e-15)
    assert np.all(np.diff(found) < 0)


@pytest.mark.parametrize("spacing", [3.0, 15.0, 40.0, 61.0, 200.0])
@pytest.mark.parametrize(("detect", "min_items"), [(1.0, 1), (0.5, 1), (0.9, 4)])
def test_find_needs_a_traverse(spacing, detect, min_items):
    found = find_probability(spacing, 2.0, 30.0, 10.0, 0.02, detect, min_items)
    assert 0 < found <= traverse_probability(spacing, 2.0, 30.0, 10.0) + 1e-12
    assert found <= max_find_probability(30.0, 10.0, 0.02, detect, min_items) + 1e-12


@pytest.mark.parametrize("spacing", [15.0, 40.0, 61.0, 200.0])
def test_find_tends_to_traverse_as_density_grows(spacing):
    traverse = traverse_probability(spacing, 2.0, 30.0, 10.0)
    gaps = [
        traverse - find_probability(spacing, 2.0, 30.0, 10.0, density, 0.5, 3)
        for density in (0.01, 0.1, 1.0, 100.0, 1e4)
    ]
    assert gaps[0] > 0.01
    assert np.all(np.diff(gaps) <= 1e-15)
    assert gaps[-1] < 1e-4  # areas grazed by a swath keep it above 0, like density^(-2/3)


@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0), (20.0, 20.0)])
@pytest.mark.parametrize("spacing", [5.0, 25.0, 62.0, 100.0, 400.0])
def test_one_certain_find_in_a_dense_area_is_a_traverse(a, b, spacing):
    found = find_probability(spacing, 2.0, a, b, density=1e6, detection_probability=1.0)
    assert found == pytest.approx(traverse_probability(spacing, 2.0, a, b), abs=1e-8)


@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0), (20.0, 20.0)])
def test_touching_swaths_search_the_whole_area(a, b):
    # spacing = width tiles the plane: the strips' areas must add up to πab.
    found = find_probability(2.0, 2.0, a, b, 0.002, 0.7, 3)
    assert found == pytest.approx(max_find_probability(a, b, 0.002, 0.7, 3), rel=1e-9)


# --- Monte Carlo -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spacing", "width", "a", "b", "seed"),
    [
        (40.0, 2.0, 60.0, 5.0, 1),  # strongly elongated, partly saturated
        (8.0, 1.0, 30.0, 20.0, 2),  # several swaths meet the ellipse; p = 1
        (15.0, 1.0, 60.0, 5.0, 5),  # several swaths meet the ellipse; p < 1
        (200.0, 2.0, 20.0, 10.0, 3),  # spacing much larger than the ellipse
        (50.0, 2.0, 30.0, 10.0, 4),
    ],
)
def test_traverse_matches_simulation(spacing, width, a, b, seed):
    p = traverse_probability(spacing, width, a, b)
    _assert_within_sigmas(_simulate_traverse(spacing, width, a, b, seed), p)


@pytest.mark.parametrize(
    ("spacing", "width", "a", "b", "density", "detect", "min_items", "seed"),
    [
        (40.0, 2.0, 60.0, 5.0, 0.01, 0.8, 1, 11),  # strongly elongated
        (8.0, 1.0, 30.0, 20.0, 0.005, 0.5, 3, 12),  # several swaths meet the ellipse
        (200.0, 2.0, 20.0, 10.0, 0.02, 0.9, 2, 13),  # spacing much larger than the ellipse
        (20.0, 4.0, 25.0, 15.0, 0.004, 0.6, 2, 14),
    ],
)
def test_find_matches_simulation(spacing, width, a, b, density, detect, min_items, seed):
    p = find_probability(spacing, width, a, b, density, detect, min_items)
    simulated = _simulate_find(spacing, width, a, b, density, detect, min_items, seed)
    _assert_within_sigmas(simulated, p)


# --- spacing_for -------------------------------------------------------------------


@pytest.mark.parametrize("probability", [0.05, 0.3, 0.6, 0.8, 0.95, 0.999])
@pytest.mark.parametrize(("a", "b"), [(30.0, 10.0), (60.0, 5.0), (20.0, 20.0)])
def test_spacing_for_inverts_traverse(probability, a, b):
    spacing = spacing_for(probability, 2.0, a, b)
    assert traverse_probability(spacing, 2.0, a, b) == pytest.approx(probability, abs=1e-12)


def test_spacing_for_a_certain_traverse_is_minor_axis_plus_width():
    assert spacing_for(1.0, 2.0, 30.0, 10.0) == 22.0


@pytest.mark.parametrize(
    ("probability", "density", "detect", "min_items"),
    [(0.5, 0.01, 0.8, 1), (0.9, 0.01, 0.8, 1), (0.8, 0.02, 0.5, 3), (0.3, 0.003, 1.0, 2)],
)
def test_spacing_for_inverts_find(probability, density, detect, min_items):
    spacing = spacing_for(probability, 2.0, 30.0, 10.0, density, detect, min_items)
    found = find_probability(spacing, 2.0, 30.0, 10.0, density, detect, min_items)
    assert found == pytest.approx(probability, abs=1e-9)
    assert spacing <= spacing_for(probability, 2.0, 30.0, 10.0)  # a find needs a traverse


def test_spacing_for_an_unreachable_find_says_why():
    # 2.36 detectable items on average: P(N >= 3) = 1 - e^-μ(1 + μ + μ²/2) = 0.4188
    reach = max_find_probability(30.0, 10.0, 0.005, 0.5, 3)
    mean = 0.005 * 0.5 * math.pi * 300
    assert reach == pytest.approx(1 - math.exp(-mean) * (1 + mean + mean**2 / 2), rel=1e-12)
    with pytest.raises(ValueError, match=r"out of reach.*probability only 0\.4188"):
        spacing_for(reach + 0.01, 2.0, 30.0, 10.0, 0.005, 0.5, 3)
    assert spacing_for(reach - 0.01, 2.0, 30.0, 10.0, 0.005, 0.5, 3) > 2.0


def test_design_reports_spacing_probabilities_and_effort():
    design = design_transects(0.9, 2.0, 30.0, 10.0, density=0.01, detection_probability=0.8)
    assert isinstance(design, TransectDesign)
    assert design.find_probability == pytest.approx(0.9, abs=1e-9)
    assert design.traverse_probability >= design.find_probability
    assert design.length_per_km2 == pytest.approx(1e6 / design.spacing)
    assert design.coverage == pytest.approx(2.0 / design.spacing)
    assert design_transects(0.9, 2.0, 30.0, 10.0).find_probability is None


# --- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((10.0, 0.0, 30.0, 10.0), "width"),
        ((10.0, 2.0, -30.0, 10.0), "semi_major"),
        ((10.0, 2.0, 30.0, math.nan), "semi_minor"),
        ((10.0, 2.0, 10.0, 30.0), r"semi_minor must lie in \(0, semi_major\]"),
        ((math.inf, 2.0, 30.0, 10.0), "spacing"),
        ((1.0, 2.0, 30.0, 10.0), "spacing must be >= width"),
    ],
)
def test_design_out_of_range_is_rejected(args, name):
    with pytest.raises(ValueError, match=name):
        traverse_probability(*args)
    with pytest.raises(ValueError, match=name):
        find_probability(*args, density=0.01)


@pytest.mark.parametrize(
    ("items", "name"),
    [
        ((0.0, 1.0, 1), "density"),
        ((0.01, 0.0, 1), "detection_probability"),
        ((0.01, 1.5, 1), "detection_probability"),
        ((0.01, 1.0, 0), "min_items"),
        ((0.01, 1.0, 1.5), "min_items"),
    ],
)
def test_items_out_of_range_are_rejected(items, name):
    with pytest.raises(ValueError, match=name):
        find_probability(10.0, 2.0, 30.0, 10.0, *items)


@pytest.mark.parametrize("probability", [0.0, -0.1, 1.2, math.nan])
def test_spacing_for_rejects_a_probability_outside_zero_one(probability):
    with pytest.raises(ValueError, match="probability"):
        spacing_for(probability, 2.0, 30.0, 10.0)


# --- invariants --------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    ratio=st.floats(0.05, 1.0),
    a=st.floats(5.0, 100.0),
    width=st.floats(0.5, 5.0),
    stretch=st.floats(1.0, 30.0),
    density=st.floats(1e-4, 0.1),
    detect=st.floats(0.05, 1.0),
    min_items=st.integers(1, 5),
)
def test_probabilities_are_ordered_in_zero_one(
    ratio, a, width, stretch, density, detect, min_items
):
    b, spacing = a * ratio, width * stretch
    traverse = traverse_probability(spacing, width, a, b)
    found = find_probability(spacing, width, a, b, density, detect, min_items)
    assert 0 < traverse <= 1
    assert 0 <= found <= traverse + 1e-12
    assert found <= max_find_probability(a, b, density, detect, min_items) + 1e-12
