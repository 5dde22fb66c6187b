"""Items left after a search: the Bayesian count (remnant.survey.item_count).

Reference values come from three independent routes, never from the module's own
formulas: direct normalised sums of prior × binomial likelihood over ``N`` (with the
Gamma–Poisson prior obtained by numerical integration over ``λ``), Monte Carlo draws
of the generative model (λ → N → found), and a root-finder on the probability.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from remnant.survey.item_count import (
    GammaPoisson,
    Poisson,
    RemainingItems,
    confidence_at_most,
    coverage_needed,
    remaining_after_search,
)

PRIORS = [None, GammaPoisson(2.0, 0.5), GammaPoisson(0.3, 0.05), Poisson(7.0)]
PRIOR_IDS = ["flat", "gp-2-0.5", "gp-0.3-0.05", "poisson-7"]


def _flat_posterior_by_sum(p: float, found: int, n_max: int) -> np.ndarray:
    """P(M = m | found) for m = 0..n_max−found: flat prior × binomial likelihood, normalised."""
    n = np.arange(found, n_max + 1)
    weight = stats.binom.pmf(found, n, p)
    return weight / weight.sum()


def _gamma_poisson_prior_by_quadrature(prior: GammaPoisson, n_max: int) -> np.ndarray:
    """P(N = n) = ∫ Poisson(n; λ) Gamma(λ; α, β) dλ, by adaptive quadrature.

    The integrand is written out in logs (plain floats, for speed); beyond λ = 400 it
    is below e^-150 of its peak for every n ≤ 200 and the priors used here.
    """
    a, b = prior.shape, prior.rate
    log_norm = a * math.log(b) - math.lgamma(a)

    def integrand(lam: float, n: int) -> float:
        if lam <= 0.0:
            return 0.0
        log_f = (n + a - 1) * math.log(lam) - (1 + b) * lam - math.lgamma(n + 1) + log_norm
        return math.exp(log_f)

    return np.array(
        [
            integrate.quad(
                integrand,
                0.0,
                400.0,
                args=(n,),
                points=[n + 0.5],
                limit=200,
                epsabs=0.0,
                epsrel=1e-12,
            )[0]
            for n in range(n_max + 1)
        ]
    )


def _simulate(prior: GammaPoisson, p: float, size: int, seed: int) -> tuple[np.ndarray, ...]:
    """Draw λ ~ Gamma, N ~ Poisson(λ), found ~ Binomial(N, p); return (found, remaining)."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(rng.gamma(prior.shape, 1.0 / prior.rate, size))
    found = rng.binomial(n, p)
    return found, n - found


def _simulate_flat(p: float, n_max: int, size: int, seed: int) -> tuple[np.ndarray, ...]:
    """Flat prior truncated at n_max (the posterior mass beyond is below (1−p)^(n_max−k))."""
    rng = np.random.default_rng(seed)
    n = rng.integers(0, n_max + 1, size)
    found = rng.binomial(n, p)
    return found, n - found


def _assert_within_4se(observed: np.ndarray, expected: np.ndarray, draws: int) -> None:
    se = np.sqrt(expected * (1.0 - expected) / draws)
    assert np.all(np.abs(observed - expected) <= 4.0 * se + 1e-12), (observed, expected)


# --- closed forms ----------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("max_items", [0, 1, 2, 10])
def test_flat_coverage_is_the_closed_form(confidence: float, max_items: int) -> None:
    # Flat prior, empty search: P(M <= m) = 1 - (1 - p)^(m + 1) (geometric remaining).
    expected = 1.0 - (1.0 - confidence) ** (1.0 / (max_items + 1))
    assert coverage_needed(confidence, max_items) == pytest.approx(expected, rel=1e-12)


def test_flat_coverage_for_no_item_left_equals_the_confidence() -> None:
    # Hand value: with a flat prior and nothing found, P(M = 0) = p.
    assert coverage_needed(0.95) == pytest.approx(0.95, rel=1e-14)
    assert confidence_at_most(0, 0.8) == pytest.approx(0.8, rel=1e-14)


@pytest.mark.parametrize("found", [0, 3, 7])
@pytest.mark.parametrize("p", [0.2, 0.65, 0.97])
def test_flat_posterior_matches_the_direct_sum(found: int, p: float) -> None:
    n_max = found + 2000  # (1 - 0.2)^2000 ≈ 1e-194: the truncated tail is nothing
    direct = _flat_posterior_by_sum(p, found, n_max)
    post = remaining_after_search(p, found)
    m = np.arange(direct.size)
    np.testing.assert_allclose(post.pmf(m[:200]), direct[:200], rtol=1e-10, atol=1e-300)
    assert post.mean == pytest.approx(float(np.sum(m * direct)), rel=1e-10)
    assert post.mean == pytest.approx((found + 1) * (1 - p) / p, rel=1e-14)
    assert post.prob_at_most(4) == pytest.approx(float(direct[:5].sum()), rel=1e-10)


@pytest.mark.parametrize("found", [0, 4])
def test_gamma_poisson_posterior_matches_quadrature(found: int) -> None:
    prior, p, n_max = GammaPoisson(2.5, 0.4), 0.55, 200  # P(N > 200) < 1e-20
    prior_pmf = _gamma_poisson_prior_by_quadrature(prior, n_max)
    weight = prior_pmf[found:] * stats.binom.pmf(found, np.arange(found, n_max + 1), p)
    direct = weight / weight.sum()
    post = remaining_after_search(p, found, prior)
    m = np.arange(direct.size)
    np.testing.assert_allclose(post.pmf(m[:60]), direct[:60], rtol=1e-9, atol=1e-14)
    assert post.mean == pytest.approx(float(np.sum(m * direct)), rel=1e-9)
    # Conjugate update: λ | k ~ Gamma(α + k, β + p), E[M] = E[λ](1 - p).
    assert post.mean == pytest.approx((2.5 + found) / (0.4 + p) * (1 - p), rel=1e-14)


def test_gamma_poisson_posterior_is_scipy_negative_binomial() -> None:
    # M | k ~ nbinom(α + k, (β + p)/(β + 1)) in scipy's (n, p) parameterisation.
    post = remaining_after_search(0.3, 5, GammaPoisson(1.5, 0.2))
    m = np.arange(80)
    np.testing.assert_allclose(
        post.pmf(m), stats.nbinom.pmf(m, 6.5, 0.5 / 1.2), rtol=1e-12, atol=1e-300
    )


# --- limits -------------------------------------------------------------------------


@pytest.mark.parametrize("prior", PRIORS, ids=PRIOR_IDS)
@pytest.mark.parametrize("found", [0, 5])
def test_a_complete_search_leaves_nothing(prior: GammaPoisson | Poisson | None, found: int) -> None:
    post = remaining_after_search(1.0, found, prior)
    assert post.mean == 0.0
    assert post.variance == 0.0
    assert post.prob_at_most(0) == 1.0
    assert post.quantile(0.999) == 0


def test_an_empty_search_of_probability_zero_leaves_the_prior() -> None:
    # The prior marginal of N is nbinom(α, β/(β + 1)) with mean μ and variance σ².
    prior = GammaPoisson.from_moments(4.0, 12.0)
    post = remaining_after_search(0.0, 0, prior)
    assert post.mean == pytest.approx(4.0, rel=1e-14)
    assert post.variance == pytest.approx(12.0, rel=1e-14)
    quad = _gamma_poisson_prior_by_quadrature(GammaPoisson(2.0, 0.5), 40)
    np.testing.assert_allclose(post.pmf(np.arange(41)), quad, rtol=1e-9)
    assert remaining_after_search(0.0, 0, Poisson(3.0)).mean == 3.0


def test_flat_prior_with_probability_zero_is_improper() -> None:
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\] with the flat prior"):
        remaining_after_search(0.0, 0)


@pytest.mark.parametrize("prior", PRIORS, ids=PRIOR_IDS)
def test_finding_items_with_probability_zero_is_impossible(
    prior: GammaPoisson | Poisson | None,
) -> None:
    with pytest.raises(ValueError, match="found must be 0 when p = 0"):
        remaining_after_search(0.0, 2, prior)


def test_from_moments_matches_both_moments() -> None:
    # μ = 4, σ² = 12: α = 16/8 = 2, β = 4/8 = 0.5; marginal variance α/β + α/β² = 12.
    prior = GammaPoisson.from_moments(4.0, 12.0)
    assert prior == GammaPoisson(2.0, 0.5)
    assert (prior.mean, prior.variance) == (4.0, 12.0)


@pytest.mark.parametrize("variance", [5.0, 3.0, 0.0])
def test_from_moments_without_over_dispersion_is_poisson(variance: float) -> None:
    prior = GammaPoisson.from_moments(5.0, variance)
    assert prior == Poisson(5.0)
    for found in (0, 6):  # what was found says nothing about what was missed
        post = remaining_after_search(0.4, found, prior)
        np.testing.assert_allclose(post.pmf(np.arange(30)), stats.poisson.pmf(np.arange(30), 3.0))
        assert post.shape == math.inf


def test_gamma_poisson_tends_to_poisson_as_dispersion_vanishes() -> None:
    near = remaining_after_search(0.4, 0, GammaPoisson.from_moments(5.0, 5.0 + 1e-7))
    assert isinstance(near, RemainingItems)
    np.testing.assert_allclose(
        near.pmf(np.arange(30)), stats.poisson.pmf(np.arange(30), 3.0), atol=1e-6
    )


# --- Monte Carlo --------------------------------------------------------------------


@pytest.mark.parametrize("found", [0, 3])
def test_gamma_poisson_posterior_matches_simulation(found: int) -> None:
    prior, p = GammaPoisson(2.0, 0.5), 0.6
    found_sim, left = _simulate(prior, p, 400_000, seed=20240601 + found)
    kept = left[found_sim == found]
    assert kept.size > 40_000  # P(found = 0) ≈ 0.21, P(found = 3) ≈ 0.13
    post = remaining_after_search(p, found, prior)
    m = np.arange(12)
    freq = np.array([np.mean(kept == i) for i in m])
    _assert_within_4se(freq, post.pmf(m), kept.size)
    at_most = np.array([np.mean(kept <= i) for i in m])
    _assert_within_4se(at_most, post.cdf(m), kept.size)
    assert confidence_at_most(2, p, found, prior) == pytest.approx(at_most[2], abs=4e-3)


@pytest.mark.parametrize("found", [0, 3])
def test_flat_posterior_matches_simulation(found: int) -> None:
    p = 0.5
    found_sim, left = _simulate_flat(p, n_max=400, size=2_000_000, seed=7 + found)
    kept = left[found_sim == found]
    assert kept.size > 8_000  # P(found = k) ≈ 1/(401 p)
    post = remaining_after_search(p, found)
    m = np.arange(10)
    _assert_within_4se(np.array([np.mean(kept == i) for i in m]), post.pmf(m), kept.size)
    _assert_within_4se(np.array([np.mean(kept <= i) for i in m]), post.cdf(m), kept.size)


def test_gamma_poisson_coverage_is_calibrated() -> None:
    # Among simulated areas whose search found nothing, the share with at most
    # max_items left is the confidence asked for — and clearly less with less coverage.
    prior, max_items = GammaPoisson(2.0, 0.5), 2
    p = coverage_needed(0.95, max_items, prior)
    found, left = _simulate(prior, p, 400_000, seed=11)
    kept = left[found == 0]
    share = float(np.mean(kept <= max_items))
    assert abs(share - 0.95) <= 4.0 * math.sqrt(0.95 * 0.05 / kept.size)
    found, left = _simulate(prior, p - 0.1, 400_000, seed=12)
    assert float(np.mean(left[found == 0] <= max_items)) < 0.93


def test_flat_coverage_is_calibrated() -> None:
    max_items = 1
    p = coverage_needed(0.9, max_items)  # 1 - 0.1^(1/2) ≈ 0.684
    found, left = _simulate_flat(p, n_max=200, size=2_000_000, seed=13)
    kept = left[found == 0]
    share = float(np.mean(kept <= max_items))
    assert abs(share - 0.9) <= 4.0 * math.sqrt(0.9 * 0.1 / kept.size)


# --- coverage needed is the smallest ------------------------------------------------


@pytest.mark.parametrize("prior", PRIORS, ids=PRIOR_IDS)
@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("max_items", [0, 2, 10])
def test_coverage_needed_is_the_smallest_reaching_it(
    prior: GammaPoisson | Poisson | None, confidence: float, max_items: int
) -> None:
    p = coverage_needed(confidence, max_items, prior)
    assert 0.0 <= p <= 1.0
    assert confidence_at_most(max_items, p, 0, prior) >= confidence
    if p > 1e-6:
        assert confidence_at_most(max_items, p - 1e-6, 0, prior) < confidence
        root = optimize.brentq(
            lambda q: confidence_at_most(max_items, q, 0, prior) - confidence,
            1e-12,
            1.0,
            xtol=1e-14,
        )
        assert p == pytest.approx(root, abs=1e-9)
    else:
        assert confidence_at_most(max_items, 0.0, 0, prior) >= confidence


def test_no_search_is_needed_when_the_prior_already_gives_the_confidence() -> None:
    # Poisson(0.5): P(N <= 2) = e^-0.5 (1 + 0.5 + 0.125) ≈ 0.9856 >= 0.95.
    assert coverage_needed(0.95, 2, Poisson(0.5)) == 0.0
    assert coverage_needed(0.99, 2, Poisson(0.5)) > 0.0


def test_poisson_coverage_for_no_item_left_is_closed_form() -> None:
    # exp(-μ(1 - p)) >= C  ⇔  p >= 1 + ln(C)/μ.
    assert coverage_needed(0.95, 0, Poisson(7.0)) == pytest.approx(
        1 + math.log(0.95) / 7, abs=1e-12
    )


# --- properties ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    p=st.floats(0.01, 0.99),
    dp=st.floats(0.001, 0.5),
    found=st.integers(0, 20),
    max_items=st.integers(0, 30),
    shape=st.floats(0.05, 50.0),
    rate=st.floats(0.01, 10.0),
)
def test_confidence_is_a_probability_increasing_in_coverage(
    p: float, dp: float, found: int, max_items: int, shape: float, rate: float
) -> None:
    for prior in (None, GammaPoisson(shape, rate), Poisson(shape / rate)):
        lo = confidence_at_most(max_items, p, found, prior)
        hi = confidence_at_most(max_items, min(1.0, p + dp), found, prior)
        more_found = confidence_at_most(max_items, p, found + 1, prior)
        assert 0.0 <= lo <= hi <= 1.0
        assert more_found <= lo + 1e-12  # finding more never means fewer left


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95, 0.999])
def test_quantile_is_the_smallest_count_reaching_q(q: float) -> None:
    post = remaining_after_search(0.3, 2, GammaPoisson(1.2, 0.1))
    m = post.quantile(q)
    assert post.prob_at_most(m) >= q
    assert m == 0 or post.prob_at_most(m - 1) < q


# --- input checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: remaining_after_search(1.2, 0), "p"),
        (lambda: remaining_after_search(-0.1, 0), "p"),
        (lambda: remaining_after_search(float("nan"), 0), "p"),
        (lambda: remaining_after_search(0.5, -1), "found"),
        (lambda: remaining_after_search(0.5, 1.5), "found"),
        (lambda: remaining_after_search(0.5, True), "found"),
        (lambda: confidence_at_most(-1, 0.5), "max_items"),
        (lambda: coverage_needed(1.0), "confidence"),
        (lambda: coverage_needed(0.0), "confidence"),
        (lambda: coverage_needed(float("nan")), "confidence"),
        (lambda: coverage_needed(0.9, max_items=2.0), "max_items"),
        (lambda: GammaPoisson.from_moments(0.0, 1.0), "mean"),
        (lambda: GammaPoisson.from_moments(3.0, -1.0), "variance"),
        (lambda: GammaPoisson.from_moments(3.0, float("inf")), "variance"),
        (lambda: GammaPoisson(0.0, 1.0), "shape"),
        (lambda: GammaPoisson(1.0, float("inf")), "rate"),
        (lambda: Poisson(-2.0), "mean"),
        (lambda: remaining_after_search(0.5, 0).quantile(1.0), "q"),
    ],
)
def test_bad_input_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


def test_unknown_prior_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="prior must be None"):
        remaining_after_search(0.5, 0, "flat")  # type: ignore[arg-type]
