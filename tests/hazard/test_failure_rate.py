"""Tests of the failure-rate sampler (docs/model.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from remnant.hazard.failure_rate import (
    FailureRatePosterior,
    HeldTerms,
    _count_terms,
    _count_terms_direct,
    _ratio_moments,
    _ratio_moments_direct,
    _type_sums,
    gamma_poisson_update,
    learn_failure_rates,
)


def _synthetic(rng: np.random.Generator, n_strikes: int, alpha, beta):
    """Data drawn from the model itself: π ~ prior, C ~ Gamma count prior, k ~ Poisson."""
    n_types = len(alpha)
    t = rng.integers(0, n_types, n_strikes)
    pi = rng.beta(alpha, beta)
    n = rng.uniform(20.0, 300.0, n_strikes)
    m = rng.uniform(2.0, 8.0, n_strikes)
    v = m * rng.uniform(0.5, 2.0, n_strikes)
    c = rng.gamma(m * m / v, v / m)
    known = np.where(rng.random(n_strikes) < 0.4, c, np.nan)
    e = rng.uniform(0.0, 0.6, n_strikes) * (rng.random(n_strikes) < 0.8)
    k = rng.poisson(n * pi[t] * c * e).astype(float)
    return pi, (k, e, n, known, m, v, t, np.asarray(alpha), np.asarray(beta))


def test_gamma_poisson_update_is_the_conjugate_closed_form():
    # statistics.md, "Conjugacy that makes large models cheap": Gamma(α + k, β + p·a).
    a, b = gamma_poisson_update([2.0, 0.5], [1.0, 3.0], [3.0, 0.25], [0.4, 0.0])
    np.testing.assert_allclose(a, [5.0, 0.75])
    np.testing.assert_allclose(b, [1.4, 3.0])


def test_posterior_mean_matches_quadrature_of_the_exact_marginal():
    # With C_s ~ Gamma(κ, κ/m) integrated out, the exact marginal posterior of π is
    # Beta(α, β) π^K exp(-π Σ_known n C e) Π_unknown (κ/m + n π e)^-(κ + k).
    rng = np.random.default_rng(7)
    alpha, beta = 2.0, 30.0
    _, data = _synthetic(rng, 40, [alpha], [beta])
    k, e, n, known, m, v, *_ = data
    post = learn_failure_rates(*data, draws=4000, seed=3)

    pi = np.linspace(1e-6, 1 - 1e-6, 400_001)
    unk = np.isnan(known)
    kappa = m[unk] ** 2 / v[unk]
    logp = (alpha - 1 + k.sum()) * np.log(pi) + (beta - 1) * np.log1p(-pi)
    logp -= pi * np.sum((n * np.nan_to_num(known) * e)[~unk])
    logp -= np.sum(
        (kappa + k[unk])[:, None]
        * np.log(kappa[:, None] / m[unk][:, None] + np.outer(n[unk] * e[unk], pi)),
        axis=0,
    )
    w = np.exp(logp - logp.max())
    exact = np.trapezoid(pi * w, pi) / np.trapezoid(w, pi)

    np.testing.assert_allclose(post.mean[0], exact, rtol=1e-6)  # a quadrature, not a sample
    se = post.rate_draws[:, 0].std() / np.sqrt(post.rate_draws.shape[0])
    assert abs(post.rate_draws[:, 0].mean() - exact) < 4 * se  # draws are exact and independent
    assert post.rate_draws[:, 0].std() < 0.5 * stats.beta(alpha, beta).std()  # data informed it


def test_no_data_returns_the_beta_prior():
    n_strikes, alpha, beta = 30, np.array([2.0, 0.7]), np.array([40.0, 5.0])
    zeros = np.zeros(n_strikes)
    post = learn_failure_rates(
        zeros, zeros, np.full(n_strikes, 100.0), np.full(n_strikes, np.nan),
        np.full(n_strikes, 4.0), np.full(n_strikes, 6.0), np.arange(n_strikes) % 2,
        alpha, beta, draws=4000, seed=1,
    )  # fmt: skip
    prior = stats.beta(alpha, beta)
    np.testing.assert_allclose(post.mean, prior.mean(), rtol=1e-6)
    lo, hi = post.interval(0.9)
    np.testing.assert_allclose(lo, prior.ppf(0.05), rtol=1e-3)  # within a grid cell
    np.testing.assert_allclose(hi, prior.ppf(0.95), rtol=1e-3)
    # the draws are independent draws from the same posterior
    ks = stats.kstest(post.rate_draws[:, 1], stats.beta(alpha[1], beta[1]).cdf)
    assert ks.pvalue > 1e-3


def test_interval_coverage_over_repeated_synthetic_datasets():
    rng = np.random.default_rng(2024)
    alpha, beta = [2.0, 4.0], [60.0, 40.0]
    hits = []
    for rep in range(200):
        truth, data = _synthetic(rng, 60, alpha, beta)
        post = learn_failure_rates(*data, draws=250, seed=rep, grid_points=1000)
        lo, hi = post.interval(0.9)
        hits.extend((lo <= truth) & (truth <= hi))
    se = np.sqrt(0.9 * 0.1 / len(hits))
    assert abs(np.mean(hits) - 0.9) < 3 * se


def test_scale_gamma_and_remaining_totals_are_consistent():
    rng = np.random.default_rng(5)
    _, data = _synthetic(rng, 50, [2.0, 4.0], [60.0, 40.0])
    _, e, n, known, *_ = data
    post = learn_failure_rates(*data, draws=2000, seed=4)
    assert isinstance(post, FailureRatePosterior)
    assert post.scale_shape.shape == post.scale_rate.shape == (50,)
    assert np.all(post.scale_shape > 0) and np.all(post.scale_rate > 0)
    # A known-count strike: E[Λ] = n C E[π_t] exactly, from the same draws.
    s = int(np.flatnonzero(~np.isnan(known))[0])
    expected = n[s] * known[s] * post.mean[data[6][s]]
    np.testing.assert_allclose(post.scale_mean[s], expected, rtol=1e-10)
    totals = post.total_remaining_draws(1.0 - e)
    assert totals.dtype == np.int64 and totals.shape == (2000,)
    mean = np.sum(post.scale_mean * (1.0 - e))
    assert abs(totals.mean() - mean) < 5 * totals.std() / np.sqrt(totals.size) + 0.02 * mean
    assert np.all(post.total_remaining_draws(np.zeros(50)) == 0)


def test_same_seed_same_draws_other_seed_other_draws():
    rng = np.random.default_rng(9)
    _, data = _synthetic(rng, 30, [2.0], [30.0])
    a = learn_failure_rates(*data, draws=200, seed=11)
    b = learn_failure_rates(*data, draws=200, seed=11)
    c = learn_failure_rates(*data, draws=200, seed=12)
    np.testing.assert_array_equal(a.rate_draws, b.rate_draws)
    np.testing.assert_array_equal(a.scale_shape, b.scale_shape)
    np.testing.assert_array_equal(
        a.total_remaining_draws(1 - data[1]), b.total_remaining_draws(1 - data[1])
    )
    assert not np.array_equal(a.rate_draws, c.rate_draws)


def _valid(n_strikes: int = 4) -> dict:
    return {
        "found": np.zeros(n_strikes),
        "exposure": np.full(n_strikes, 0.5),
        "per_carrier": np.full(n_strikes, 100.0),
        "carriers_known": np.full(n_strikes, np.nan),
        "count_mean": np.full(n_strikes, 4.0),
        "count_var": np.full(n_strikes, 6.0),
        "type_index": np.zeros(n_strikes, dtype=int),
        "prior_alpha": np.array([2.0]),
        "prior_beta": np.array([30.0]),
    }


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("found", np.zeros(3), "exposure must have shape"),
        ("exposure", np.full(5, 0.5), "exposure must have shape"),
        ("type_index", np.zeros(3, dtype=int), "type_index"),
        ("prior_beta", np.array([1.0, 2.0]), "prior_beta"),
        ("found", np.array([0.0, -1.0, 0.0, 0.0]), "found must be"),
        ("exposure", np.array([0.5, 1.2, 0.5, 0.5]), r"exposure must lie in \[0, 1\]"),
        ("exposure", np.array([0.5, -0.1, 0.5, 0.5]), r"exposure must lie in \[0, 1\]"),
        ("type_index", np.array([0, 1, 0, 0]), "type_index must lie"),
        ("per_carrier", np.array([0.0, 1.0, 1.0, 1.0]), "per_carrier"),
        ("count_mean", np.array([0.0, 4.0, 4.0, 4.0]), "count_mean"),
        ("prior_alpha", np.array([0.0]), "prior"),
    ],
)
def test_invalid_input_raises(name, value, match):
    kwargs = _valid()
    kwargs[name] = value
    with pytest.raises(ValueError, match=match):
        learn_failure_rates(**kwargs, draws=5)


def test_finds_where_nothing_can_be_found_raise():
    kwargs = _valid()
    kwargs["found"] = np.array([1.0, 0.0, 0.0, 0.0])
    kwargs["exposure"] = np.array([0.0, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="nothing can be found"):
        learn_failure_rates(**kwargs, draws=5)


def test_remaining_fraction_is_checked():
    post = learn_failure_rates(**_valid(), draws=5)
    with pytest.raises(ValueError, match="unfound_fraction"):
        post.total_remaining_draws(np.full(4, 1.5))
    with pytest.raises(ValueError, match="unfound_fraction"):
        post.total_remaining_draws(np.ones(3))


def test_zero_variance_count_prior_fixes_the_count():
    kwargs = _valid()
    kwargs["count_var"] = np.zeros(4)
    post = learn_failure_rates(**kwargs, draws=50)
    np.testing.assert_allclose(post.scale_mean, 100.0 * 4.0 * post.mean[0])
    assert np.isfinite(special.logit(post.mean[0]))


def test_a_grid_started_from_an_earlier_window_gives_the_same_posterior():
    """The EM's warm start: a window from slightly different data is kept and gives the
    cold-zoom answer; a window that misses the posterior (or is far too wide) is zoomed
    afresh."""
    rng = np.random.default_rng(11)
    _, data = _synthetic(rng, 60, [2.0, 3.0], [30.0, 10.0])
    cold = learn_failure_rates(*data, draws=10, seed=1)
    k = data[0]
    earlier = learn_failure_rates(k * 0.999, *data[1:], draws=10, seed=1)
    warm = learn_failure_rates(*data, draws=10, seed=1, window=earlier.window)
    np.testing.assert_allclose(warm.window, earlier.window)  # the window was kept
    np.testing.assert_allclose(warm.mean, cold.mean, rtol=1e-6)
    np.testing.assert_allclose(warm.scale_mean, cold.scale_mean, rtol=1e-6)
    for wrong in (cold.window + 8.0, np.tile([-30.0, 30.0], (2, 1))):
        again = learn_failure_rates(*data, draws=10, seed=1, window=wrong)
        np.testing.assert_allclose(again.window, cold.window)


def test_a_posterior_without_draws_has_the_same_means_and_refuses_to_draw():
    """``draws=0`` (an evidence update's steps) keeps no draws of π, and nothing else moves."""
    rng = np.random.default_rng(13)
    _, data = _synthetic(rng, 300, [2.0, 3.0], [30.0, 10.0])
    some, none = (learn_failure_rates(*data, draws=d, seed=1) for d in (1, 0))
    assert none.rate_draws.shape == (0, 2)
    for name in ("mean", "scale_mean", "scale_var", "window"):
        np.testing.assert_array_equal(getattr(none, name), getattr(some, name))
    with pytest.raises(ValueError, match="no draws"):
        none.total_remaining_draws(np.full(300, 0.5))
    with pytest.raises(ValueError, match="draws >= 0"):
        learn_failure_rates(*data, draws=-1)


def test_count_terms_held_over_a_series_give_the_posterior_computed_whole():
    """A local evidence update's series: the finds of a few strikes change from call to
    call, the rest are held; each posterior is the one computed from all the data."""
    rng = np.random.default_rng(12)
    _, data = _synthetic(rng, 400, [2.0, 3.0], [30.0, 10.0])
    k = data[0]
    moving = rng.random(len(k)) < 0.05
    held = HeldTerms(~moving)
    window = None
    for step in range(4):
        k_now = np.where(moving, k * (1.0 + 0.3 * step), k)
        whole = learn_failure_rates(k_now, *data[1:], draws=10, seed=1, window=window)
        part = learn_failure_rates(k_now, *data[1:], draws=10, seed=1, window=window, held=held)
        np.testing.assert_allclose(part.window, whole.window, rtol=1e-12)
        np.testing.assert_allclose(part.mean, whole.mean, rtol=1e-9)
        np.testing.assert_allclose(part.scale_mean, whole.scale_mean, rtol=1e-9)
        some = learn_failure_rates(k_now, *data[1:], draws=10, seed=1, window=window,
                                   held=held, scales_of=np.flatnonzero(moving))  # fmt: skip
        np.testing.assert_allclose(some.mean, whole.mean, rtol=1e-9)
        np.testing.assert_allclose(some.scale_mean[moving], whole.scale_mean[moving], rtol=1e-9)
        assert np.isnan(some.scale_mean[~moving]).all()  # the steps' others: not computed
        window = whole.window
    assert len(held.sums) >= 2  # the held sums kept, on each grid used
    assert len(held.types) == 2 and held.types[0].rows.size < moving.sum()  # split once
    assert len(held.checked) == 1  # the strikes validated once; the later calls: their finds
    bad = k.copy()
    bad[np.flatnonzero(moving)[0]] = -1.0
    with pytest.raises(ValueError, match="found must be finite and >= 0"):
        learn_failure_rates(bad, *data[1:], draws=10, seed=1, held=held)
    assert not np.allclose(whole.mean, learn_failure_rates(*data, draws=10, seed=1).mean)


@pytest.mark.parametrize("width", [0.05, 0.5, 2.0, 8.0, 40.0])
def test_count_terms_by_their_power_series_are_those_summed_strike_by_strike(width):
    """The count terms summed by a power series about the grid's middle (a fine grid a
    posterior fills) and, on wide grids, strike by strike: both the direct sums to
    1e-13 of ``Σ shape``, at every point and across the grid."""
    rng = np.random.default_rng(21)
    n = 5000
    shape, rate0 = rng.uniform(0.5, 40.0, n), rng.uniform(1e-3, 3.0, n)
    ne = rng.uniform(0.0, 600.0, n) * (rng.random(n) < 0.9)
    y = -2.0 + width * (np.arange(1000) + 0.5) / 1000 - width / 2
    p = special.expit(y)
    got = _count_terms(shape, rate0, ne, p)
    want = (shape[:, None] * np.log(rate0[:, None] + ne[:, None] * p[None, :])).sum(axis=0)
    scale = shape.sum()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(got - got[0], want - want[0], rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(got, _count_terms_direct(shape, rate0, ne, p), rtol=0,
                               atol=1e-13 * scale)  # fmt: skip


@pytest.mark.parametrize("width", [0.05, 0.5, 2.0, 8.0, 40.0])
def test_ratio_moments_by_their_power_series_are_those_summed_point_by_point(width):
    """The scale moments' sums over a posterior grid, by power series about the grid's
    middle and, on wide grids, point by point: both the direct sums to 1e-13."""
    rng = np.random.default_rng(22)
    n = 3000
    rate0, ne = rng.uniform(1e-3, 3.0, n), rng.uniform(1e-3, 600.0, n)
    y = -2.0 + width * (np.arange(1000) + 0.5) / 1000 - width / 2
    pi = special.expit(y)
    w = np.exp(-0.5 * ((y + 2.0) / (width / 8)) ** 2)
    w /= w.sum()
    x = pi[None, :] / (rate0[:, None] + ne[:, None] * pi[None, :])
    m1, m2 = _ratio_moments(rate0, ne, pi, w)
    np.testing.assert_allclose(m1, x @ w, rtol=1e-13)
    np.testing.assert_allclose(m2, (x * x) @ w, rtol=1e-13)
    for got, want in zip(_ratio_moments_direct(rate0, ne, pi, w), (m1, m2), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_the_conditional_sums_of_the_total_are_those_summed_draw_by_draw():
    """Interpolated between rates spanning the draws, the sums per draw are the direct
    ones to 1e-5."""
    rng = np.random.default_rng(13)
    n_st, draws = 3000, 400
    t = rng.integers(0, 3, n_st)
    n, r = rng.uniform(20.0, 300.0, n_st), rng.uniform(0.0, 1.0, n_st)
    rate0, shape = rng.uniform(0.1, 2.0, n_st), rng.uniform(0.5, 20.0, n_st)
    e = rng.uniform(0.0, 0.9, n_st) * (rng.random(n_st) < 0.6)
    pi = np.column_stack([rng.uniform(0.5, 1.5, draws) * c for c in (0.05, 0.1, 0.3)])
    mean, var = _type_sums(pi, t, n, r, rate0, e, shape)
    c = n * pi[:, t] * r / (rate0 + n * e * pi[:, t])  # (draws, strikes)
    np.testing.assert_allclose(mean, (c * shape).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(var, (c * c * shape).sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize("n_strikes", [1, 5, 200])
def test_total_draws_match_strike_by_strike_composition(n_strikes):
    """The total given ``π`` drawn from the Gamma of its two moments (Satterthwaite)
    against drawing every strike's count from its conditional: quantiles agree within
    Monte Carlo error and 2 % for one strike (exact), a few, and many."""
    rng = np.random.default_rng(5)
    _, data = _synthetic(rng, n_strikes, [2.0, 0.5], [30.0, 10.0])
    post = learn_failure_rates(*data, draws=20_000, seed=3)
    r = 1.0 - data[1]
    fast = post.total_remaining_draws(r, seed=4)
    s = post.data
    pi = post.rate_draws[:, s.type_index]
    rate = s.rate0 + s.per_carrier * s.exposure * pi
    counts = np.where(
        s.unknown, rng.standard_gamma(np.broadcast_to(s.shape, pi.shape)) / rate, s.carriers
    )
    exact = rng.poisson((pi * counts) @ (s.per_carrier * r))
    for q in (0.05, 0.5, 0.95):
        a, b = np.quantile(fast, q), np.quantile(exact, q)
        assert abs(a - b) <= 0.02 * b + 3.0, (q, a, b)
