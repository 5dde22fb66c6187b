"""Probability of any item and quantile bands of the count in a cell (docs/model.md §6)."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numba
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from remnant.hazard import cells
from remnant.hazard.cells import bands, cell_bands, nb_size

MEANS = [1e-8, 1e-5, 1e-3, 0.05, 0.5, 1.0, 3.0, 10.0, 47.5, 100.0, 1e3, 1e4, 1e5]
RATIOS = [1.0, 1.0 + 1e-12, 1.5, 10.0, 1e3, 1e6]  # var / mean


def _scipy_reference(
    mean: np.ndarray, var: np.ndarray, q_lo: float, q_hi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p_any and the quantiles from scipy.stats (Boost's incomplete beta/gamma)."""
    p_any, lower, upper = [], [], []
    for m, v in zip(mean, var, strict=True):
        if v <= m * (1 + 1e-9):
            dist = stats.poisson(m)
        else:
            size = m * m / (v - m)
            dist = stats.nbinom(size, size / (size + m))
        # -expm1(logpmf(0)) is 1 - pmf(0) without the cancellation for tiny p_any
        p_any.append(-np.expm1(dist.logpmf(0)))
        lower.append(dist.ppf(q_lo))
        upper.append(dist.ppf(q_hi))
    return np.array(p_any), np.array(lower), np.array(upper)


def _assert_matches_scipy(
    mean: np.ndarray, var: np.ndarray, level: float, q_lo: float, q_hi: float
) -> None:
    p_any, lower, upper = bands(mean, var, level=level)
    p_ref, lower_ref, upper_ref = _scipy_reference(mean, var, q_lo, q_hi)
    np.testing.assert_array_equal(lower, lower_ref)
    np.testing.assert_array_equal(upper, upper_ref)
    np.testing.assert_allclose(p_any, p_ref, rtol=1e-12, atol=1e-15)


# --- against scipy.stats --------------------------------------------------------------


@pytest.mark.parametrize("ratio", RATIOS)
def test_bands_match_scipy_on_a_grid_of_means(ratio: float) -> None:
    mean = np.array(MEANS)
    _assert_matches_scipy(mean, mean * ratio, 0.9, 0.05, 0.95)


@pytest.mark.parametrize(("level", "q_lo", "q_hi"), [(0.5, 0.25, 0.75), (0.98, 0.01, 0.99)])
@pytest.mark.parametrize("ratio", [1.0, 1.5, 10.0, 1e3])
def test_bands_match_scipy_at_other_levels(
    ratio: float, level: float, q_lo: float, q_hi: float
) -> None:
    mean = np.array(MEANS)
    _assert_matches_scipy(mean, mean * ratio, level, q_lo, q_hi)


@pytest.mark.parametrize("ratio", [1.0, 1.5, 10.0, 1e3, 1e6])
def test_bands_match_scipy_for_large_means(ratio: float) -> None:
    mean = np.array([3.3e5, 1e6, 1e7, 1e8])
    _assert_matches_scipy(mean, mean * ratio, 0.9, 0.05, 0.95)


def test_bands_match_scipy_where_the_first_pmf_underflows() -> None:
    # r = 100, p = 1e-4: P(R = 0) = p^r = 1e-400, so the sum cannot start at k = 0.
    mean, var = np.array([1e6]), np.array([1e10])
    assert stats.nbinom.logpmf(0, 1e6**2 / (1e10 - 1e6), 1e-4) < -900
    _assert_matches_scipy(mean, var, 0.9, 0.05, 0.95)


@pytest.mark.parametrize(
    ("mean", "var", "size"),
    [(1.0, 1.0 + 1e6, 1e-6), (1e-3, 1e-3 + 1e3, 1e-9), (1e-10, 1e-10, math.inf)],
)
def test_p_any_is_accurate_when_it_is_tiny(mean: float, var: float, size: float) -> None:
    # p_any = 1 - P(R = 0) is 1.4e-5, 2.1e-8 and 1e-10: 1 - P(R = 0) in float64 would
    # keep only 11, 8 and 6 digits of it.
    assert nb_size(mean, var) == pytest.approx(size, rel=1e-9, abs=0)
    p_any, lower, upper = bands(mean, var)
    if math.isinf(size):
        expected = -math.expm1(-mean)
    else:
        expected = -math.expm1(stats.nbinom.logpmf(0, size, size / (size + mean)))
    assert p_any == pytest.approx(expected, rel=1e-13, abs=0)
    assert (lower, upper) == (0.0, 0.0)


_PI = Decimal("3.14159265358979323846264338327950288419716939937511")
_BERNOULLI = [(1, 6), (-1, 30), (1, 42), (-1, 30), (5, 66), (-691, 2730), (7, 6)]  # B_2..B_14


def _ln_gamma(x: Decimal) -> Decimal:
    """ln Γ(x) to ~30 digits: Stirling's series (DLMF 5.11.1) after shifting x above 100.

    DLMF 5.11.1, https://dlmf.nist.gov/5.11.E1: with x ≥ 100 the first omitted term,
    B_16 / (16 · 15 · x^15), is below 1e-31.
    """
    shift = Decimal(0)
    while x < 100:
        shift -= x.ln()
        x += 1
    series = sum(
        Decimal(num) / (den * 2 * j * (2 * j - 1) * x ** (2 * j - 1))
        for j, (num, den) in enumerate(_BERNOULLI, start=1)
    )
    return shift + (x - Decimal("0.5")) * x.ln() - x + (2 * _PI).ln() / 2 + series


@pytest.mark.parametrize(
    ("k", "mean", "var"),
    [
        (7.0, 3.0, 3.0),
        (870.0, 1e3, 1e3),
        (99_000.0, 1e5, 1e5),
        (999_950_000.0, 1e9, 1e9),
        (12.0, 3.0, 3.5),
        (3.0, 2.0, 30.0),
        (512.0, 500.0, 5000.0),
        (1.0, 0.5, 400.0),
        (5.0, 1.0, 1e6),  # r = 1e-6
        (2.0, 1e-8, 1e-2),  # r = 1e-14
        (84_000.0, 1e5, 1e8),
        (99_950.0, 1e5, 1e5 * (1 + 2e-9)),  # r = 5e13, 1 - p = 2e-9
        (100_300.0, 1e5, 1e5 * (1 + 1e-6)),
        (999_900_000.0, 1e9, 1.5e9),
    ],
)
def test_log_pmf_matches_a_high_precision_reference(k: float, mean: float, var: float) -> None:
    # The parameters are the floats cell_bands derives from (mean, var), read exactly
    # into 60-digit decimals. scipy's gammaln differences are off by ~1e-11 at k = 1e5.
    poisson = var <= mean * (1 + 1e-9)
    size = math.inf if poisson else mean * (mean / (var - mean))
    odds = 0.0 if poisson else (var - mean) / var
    with localcontext() as ctx:
        ctx.prec = 60
        kd, md, rd, qd = Decimal(k), Decimal(mean), Decimal(size), Decimal(odds)
        if poisson:
            expected = kd * md.ln() - md - _ln_gamma(kd + 1)
        else:
            log_choose = _ln_gamma(kd + rd) - _ln_gamma(rd) - _ln_gamma(kd + 1)
            expected = log_choose + rd * (1 - qd).ln() + kd * qd.ln()
    log_p0 = -mean if poisson else 0.0  # unused for k >= 1
    got = cells._log_pmf(k, mean, size, odds, log_p0)
    # The last case is ill-conditioned: a relative change e of 1 - p moves it by
    # e |k - n (1 - p)| / p = 1e5 e, so the float parameters alone allow ~1e-11.
    assert got == pytest.approx(float(expected), rel=2e-13, abs=1e-13)


def test_sum_starts_at_the_first_pmf_above_the_floor() -> None:
    # r = 100, p = 1e-4: P(R = 0) = p^r = 1e-400 underflows; the start is found by bisection.
    mean, var = 1e6, 1e10
    size, p, odds = mean**2 / (var - mean), mean / var, (var - mean) / var
    log_p0 = stats.nbinom.logpmf(0, size, p)
    args = (mean, size, odds, log_p0)
    k = cells._start(0.0, *args)
    assert cells._log_pmf(k, *args) >= cells.LOG_PMF_FLOOR > cells._log_pmf(k - 1.0, *args)
    assert stats.nbinom.logpmf(k - 1, size, p) < cells.LOG_PMF_FLOOR


def test_default_level_is_the_central_90_percent() -> None:
    mean, var = np.array(MEANS), 4.0 * np.array(MEANS)
    for got, expected in zip(bands(mean, var), bands(mean, var, level=0.9), strict=True):
        np.testing.assert_array_equal(got, expected)


# --- Poisson limit --------------------------------------------------------------------


def test_variance_at_or_below_the_mean_is_poisson() -> None:
    mean = np.array(MEANS)
    poisson = bands(mean, mean)
    for var in (mean * (1 + 1e-9), mean * 0.9, np.zeros_like(mean)):
        for got, expected in zip(bands(mean, var), poisson, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_negative_binomial_just_above_the_poisson_threshold_is_continuous() -> None:
    # Overdispersion 2e-9: the NB differs from the Poisson by O(1e-9) in every probability.
    mean = np.array(MEANS)
    p_nb, lower_nb, upper_nb = bands(mean, mean * (1 + 2e-9))
    p_poisson, lower_poisson, upper_poisson = bands(mean, mean)
    assert np.all(np.isfinite(nb_size(mean, mean * (1 + 2e-9))))
    np.testing.assert_allclose(p_nb, p_poisson, rtol=1e-8)
    np.testing.assert_array_equal(lower_nb, lower_poisson)
    np.testing.assert_array_equal(upper_nb, upper_poisson)


# --- nb_size --------------------------------------------------------------------------


@pytest.mark.parametrize(("mean", "var"), [(0.2, 0.3), (3.0, 30.0), (1e4, 1.5e4), (1e5, 1e11)])
def test_nb_size_matches_mean_and_variance(mean: float, var: float) -> None:
    size = nb_size(mean, var)
    assert size == pytest.approx(mean**2 / (var - mean), rel=1e-14)
    m, v = stats.nbinom.stats(size, size / (size + mean), moments="mv")
    assert (m, v) == (pytest.approx(mean, rel=1e-12), pytest.approx(var, rel=1e-12))


def test_nb_size_edge_cases() -> None:
    size = nb_size(
        [2.0, 2.0, 2.0, 0.0, 0.0, math.nan, 1.0], [2.0, 1.0, 2.0000000001, 0.0, 1.0, 1.0, math.nan]
    )
    np.testing.assert_array_equal(size, [np.inf, np.inf, np.inf, np.inf, 0.0, np.nan, np.nan])


def test_nb_size_has_no_overflow_for_large_means() -> None:
    assert nb_size(1e200, 2e200) == pytest.approx(1e200)


# --- edge cases and validation --------------------------------------------------------


@pytest.mark.parametrize("var", [0.0, 1.0, 1e6])
def test_zero_mean_has_nothing(var: float) -> None:
    assert tuple(bands(0.0, var)) == (0.0, 0.0, 0.0)
    assert cell_bands(0.0, var, 0.05, 0.95) == (0.0, 0.0, 0.0)


def test_nan_propagates_to_all_three() -> None:
    p_any, lower, upper = bands([math.nan, 1.0, 2.0], [1.0, math.nan, 6.0])
    for out in (p_any, lower, upper):
        assert np.isnan(out[:2]).all()
        assert np.isfinite(out[2])


def test_cell_bands_returns_nan_for_invalid_input() -> None:
    for args in [(-1.0, 1.0, 0.05, 0.95), (1.0, -1.0, 0.05, 0.95), (1.0, 2.0, 0.0, 0.95)]:
        assert all(math.isnan(x) for x in cell_bands(*args))


@pytest.mark.parametrize(
    ("mean", "var", "match"),
    [
        (-1.0, 1.0, "mean must be ≥ 0"),
        ([1.0, -1e-12], 1.0, "mean must be ≥ 0"),
        (1.0, -0.5, "var must be ≥ 0"),
        (math.inf, 1.0, "mean must be finite"),
        (1.0, math.inf, "var must be finite"),
        (2e9, 4e9, "mean must be ≤"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "broadcastable"),
    ],
)
def test_bands_rejects_invalid_moments(mean: npt.ArrayLike, var: npt.ArrayLike, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bands(mean, var)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_bands_rejects_a_level_outside_0_1(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        bands(1.0, 2.0, level=level)


def test_nb_size_rejects_negative_input() -> None:
    with pytest.raises(ValueError, match="var must be ≥ 0"):
        nb_size([1.0, 2.0], [1.0, -2.0])


def test_bands_broadcasts_and_keeps_the_shape() -> None:
    mean = np.array([[0.5], [3.0], [40.0]])
    var = np.array([0.5, 2.0, 80.0, 4000.0])
    p_any, lower, upper = bands(mean, var)
    assert p_any.shape == lower.shape == upper.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            expected = cell_bands(float(mean[i, 0]), float(var[j]), 0.05, 0.95)
            assert (p_any[i, j], lower[i, j], upper[i, j]) == expected
    scalar = bands(3.0, 6.0)
    assert all(out.shape == () and out.dtype == np.float64 for out in scalar)


def test_an_upper_quantile_out_of_reach_is_nan_with_a_warning() -> None:
    # r = 1e-4: P(R > m + 13 sd) is about r · E1(0.13) = 1.6e-4, far above 1 - q_hi.
    with pytest.warns(RuntimeWarning, match="1 cell"):
        p_any, lower, upper = bands([1.0, 1.0], [1.0, 1e4], level=1 - 1e-12)
    assert np.isfinite(upper[0]) and np.isnan(upper[1])
    assert lower[1] == 0.0 and 0 < p_any[1] < 1


@numba.njit
def _bands_in_a_kernel(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    out = np.empty((mean.size, 3))
    for i in range(mean.size):
        p_any, lower, upper = cell_bands(mean[i], var[i], 0.05, 0.95)
        out[i, 0], out[i, 1], out[i, 2] = p_any, lower, upper
    return out


def test_cell_bands_runs_inside_a_numba_kernel() -> None:
    mean = np.array(MEANS)
    var = 7.0 * mean
    np.testing.assert_array_equal(_bands_in_a_kernel(mean, var), np.column_stack(bands(mean, var)))


# --- properties -----------------------------------------------------------------------


@settings(deadline=None, max_examples=200)
@given(
    mean=st.floats(0.0, 1e5),
    ratio=st.one_of(st.just(1.0), st.floats(1.0 + 1e-6, 1e6)),
    factor=st.floats(1.0, 10.0),
    level=st.floats(0.05, 0.98),
)
def test_bands_invariants(mean: float, ratio: float, factor: float, level: float) -> None:
    means = np.array([mean, mean * factor])
    p_any, lower, upper = bands(means, means * ratio, level=level)
    assert np.all((p_any >= 0) & (p_any <= 1))
    assert np.all((lower >= 0) & (lower <= upper))
    np.testing.assert_array_equal(lower, np.round(lower))
    np.testing.assert_array_equal(upper, np.round(upper))
    # At a fixed var / mean, p = mean / var is fixed and r grows with the mean: the larger
    # mean adds an independent NB(r2 - r1, p), so its count is stochastically larger.
    assert p_any[1] >= p_any[0] and lower[1] >= lower[0] and upper[1] >= upper[0]
    # A quantile is 0 exactly when P(R = 0) = 1 - p_any reaches its probability.
    q_lo, q_hi = (1 - level) / 2, (1 + level) / 2
    for q, quantile in ((q_lo, lower), (q_hi, upper)):
        p_zero = 1 - p_any
        assert np.all(np.where(quantile == 0, p_zero >= q - 1e-12, p_zero <= q + 1e-12))


# --- simulation -----------------------------------------------------------------------


@pytest.mark.parametrize(("mean", "var"), [(2.0, 6.0), (0.3, 15.0), (50.0, 5000.0), (4.0, 4.0)])
def test_p_any_matches_a_simulated_gamma_poisson_mixture(mean: float, var: float) -> None:
    # R | lambda ~ Poisson(lambda), lambda ~ Gamma(r, scale mean / r) is the NB with size r
    # (Gelman et al. 2013, Bayesian Data Analysis, 3rd ed., section 2.6).
    n = 200_000
    rng = np.random.default_rng(20250630)
    if var > mean:
        size = mean**2 / (var - mean)
        lam = rng.gamma(size, mean / size, n)
    else:
        lam = np.full(n, mean)
    counts = rng.poisson(lam)
    p_any = float(bands(mean, var)[0])
    p_zero = 1.0 - p_any
    se = math.sqrt(p_zero * (1.0 - p_zero) / n)
    assert abs(np.mean(counts == 0) - p_zero) < 4 * se
