"""The derivation methods of remnant.catalogue.priors, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from remnant.catalogue.priors import (
    beta_from_quantiles,
    ellipse_from_area,
    footprint_from_extremes,
    lognormal_from_interval,
    sigma_from_radius,
)

# ---------------------------------------------------------------- beta_from_quantiles


def test_uniform_is_beta_1_1():
    # Beta(1, 1) is uniform: its q-quantile is q.
    alpha, beta = beta_from_quantiles(0.05, 0.95)
    assert alpha == pytest.approx(1.0, rel=1e-7)
    assert beta == pytest.approx(1.0, rel=1e-7)


@pytest.mark.parametrize("a", [0.3, 1.0, 2.5, 10.0, 80.0])
def test_closed_form_beta_a_1(a):
    # Beta(a, 1) has CDF x**a, so its q-quantile is q**(1/a) (Johnson et al. 1995, ch. 25).
    alpha, beta = beta_from_quantiles(0.05 ** (1 / a), 0.95 ** (1 / a))
    assert alpha == pytest.approx(a, rel=1e-6)
    assert beta == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("b", [0.4, 3.0, 40.0])
def test_closed_form_beta_1_b(b):
    # Beta(1, b) has CDF 1 - (1 - x)**b, so its q-quantile is 1 - (1 - q)**(1/b).
    lower, upper = (1 - (1 - q) ** (1 / b) for q in (0.1, 0.8))
    alpha, beta = beta_from_quantiles(lower, upper, q_lower=0.1, q_upper=0.8)
    assert alpha == pytest.approx(1.0, rel=1e-6)
    assert beta == pytest.approx(b, rel=1e-6)


def test_symmetric_quantiles_give_equal_shapes():
    alpha, beta = beta_from_quantiles(0.3, 0.7)
    assert alpha == pytest.approx(beta, rel=1e-9)


_SHAPE = st.floats(min_value=0.3, max_value=300.0).map(float)
_LEVELS = st.tuples(
    st.floats(min_value=0.01, max_value=0.5), st.floats(min_value=0.5, max_value=0.99)
).filter(lambda qs: qs[1] - qs[0] > 0.05)


@settings(max_examples=60, deadline=None)
@given(alpha=_SHAPE, beta=_SHAPE, levels=_LEVELS)
def test_round_trip(alpha, beta, levels):
    # Generate a Beta, take two of its quantiles, recover it.
    q_lower, q_upper = levels
    lower, upper = (float(x) for x in stats.beta.ppf([q_lower, q_upper], alpha, beta))
    if not (0.0 < lower < upper < 1.0) or upper - lower < 1e-6:
        return  # quantiles collapsed in double precision: nothing to recover
    a, b = beta_from_quantiles(lower, upper, q_lower, q_upper)
    got = stats.beta.ppf([q_lower, q_upper], a, b)
    np.testing.assert_allclose(got, [lower, upper], atol=1e-9)
    assert a == pytest.approx(alpha, rel=1e-3)
    assert b == pytest.approx(beta, rel=1e-3)


@pytest.mark.parametrize(
    ("lower", "upper"),
    [(1e-6, 2e-6), (0.999998, 0.999999), (0.001, 0.999), (0.4999, 0.5001)],
)
def test_extreme_but_possible_inputs(lower, upper):
    a, b = beta_from_quantiles(lower, upper)
    got = stats.beta.ppf([0.05, 0.95], a, b)
    np.testing.assert_allclose(got, [lower, upper], rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.2, 0.1), "lower"),
        ((0.1, 0.1), "lower"),
        ((0.0, 0.1), "lower"),
        ((0.1, 1.0), "upper"),
        ((-0.1, 0.5), "lower"),
        ((math.nan, 0.5), "lower"),
        ((0.1, 0.4, 0.9, 0.5), "q_lower"),
        ((0.1, 0.4, 0.05, 1.0), "q_upper"),
        ((0.5, 0.5 + 1e-13), "no Beta distribution"),
    ],
)
def test_impossible_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        beta_from_quantiles(*args)


# ---------------------------------------------------------------- footprints and spread


def test_lognormal_from_interval_reproduces_its_interval():
    median, log_sd = lognormal_from_interval(61.0, 244.0, coverage=0.9)
    assert median == pytest.approx(122.0)  # sqrt(61 * 244)
    got = stats.lognorm.ppf([0.05, 0.95], log_sd, scale=median)
    np.testing.assert_allclose(got, [61.0, 244.0], rtol=1e-12)


@pytest.mark.parametrize(("low", "high", "coverage"), [(0, 1, 0.9), (2, 1, 0.9), (1, 2, 1.0)])
def test_lognormal_from_interval_rejects(low, high, coverage):
    with pytest.raises(ValueError):
        lognormal_from_interval(low, high, coverage)


def test_ellipse_from_area_round_trip():
    length, width = ellipse_from_area(22_500.0, 2.0)
    assert math.pi / 4 * length * width == pytest.approx(22_500.0)
    assert length / width == pytest.approx(2.0)


@pytest.mark.parametrize(("area", "ratio"), [(0.0, 2.0), (100.0, 0.5)])
def test_ellipse_from_area_rejects(area, ratio):
    with pytest.raises(ValueError):
        ellipse_from_area(area, ratio)


def test_footprint_from_extremes_cbu87():
    # HRW 2002 (Fatally Flawed): CBU-87 ovals from 37 x 61 m to 123 x 244 m.
    length, width, log_sd = footprint_from_extremes((61.0, 37.0), (244.0, 123.0))
    assert length == pytest.approx(math.sqrt(61 * 244))
    assert width == pytest.approx(math.sqrt(37 * 123))
    scale_low, scale_high = math.sqrt(61 * 37), math.sqrt(244 * 123)
    expected = math.log(scale_high / scale_low) / (2 * stats.norm.ppf(0.95))
    assert log_sd == pytest.approx(expected)


def test_sigma_from_radius_two_sigma_convention():
    # HRW 2006: an M26 volley lands within about 1 km radius -> 2 sigma = 1000 m.
    sigma = sigma_from_radius(1000.0)
    assert sigma == 500.0
    inside = stats.chi2.cdf((1000.0 / sigma) ** 2, df=2)
    assert inside == pytest.approx(1 - math.exp(-2))


def test_sigma_from_radius_rejects_non_positive():
    with pytest.raises(ValueError):
        sigma_from_radius(0.0)
