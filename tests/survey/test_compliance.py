"""Compliance sampling after clearance: accept on zero (docs/survey.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from remnant.survey.compliance import (
    acceptable_fraction,
    compliance_design,
    confidence_of,
    exact_units_to_inspect,
    unacceptable_units,
    units_to_inspect,
)


def _bowen_bennett(units: int, confidence: float, acceptable: float) -> int:
    """n = (1 − (1 − X)^{1/D}) (N − (D − 1)/2), rounded up, written out as in [1] §12."""
    d = units * (1 - acceptable)
    return math.ceil((1 - (1 - confidence) ** (1 / d)) * (units - (d - 1) / 2))


@pytest.mark.parametrize(
    ("units", "confidence", "acceptable"),
    [(1000, 0.95, 0.99), (100, 0.95, 0.95), (50, 0.9, 0.9), (10_000, 0.99, 0.999),
     (400, 0.95, 0.99), (20, 0.95, 0.8), (1000, 0.95, 0.995), (150, 0.9, 0.99)],
)  # fmt: skip
def test_reproduces_bowen_and_bennett_to_the_unit(units, confidence, acceptable):
    assert units_to_inspect(units, confidence, acceptable) == _bowen_bennett(
        units, confidence, acceptable
    )


def test_worked_example_of_a_thousand_lanes():
    # N = 1000, X = 95 %, Y = 99 %: D = 10, 0.05^{1/10} = 0.741134,
    # n = 0.258866 × (1000 − 4.5) = 257.7 → 258 (by hand from the formula of [1]).
    design = compliance_design(1000, 0.95, 0.99)
    assert design.unacceptable_units == pytest.approx(10.0)
    assert design.inspect == 258
    assert design.inspect_exact == 258
    assert design.confidence_exact == pytest.approx(0.9502, abs=1e-4)


def test_exact_answer_is_the_smallest_n_by_scipy_hypergeometric():
    for units, confidence, acceptable in [(1000, 0.95, 0.99), (60, 0.9, 0.9), (20, 0.8, 0.95)]:
        d = math.ceil(units * (1 - acceptable) - 1e-9)
        n = exact_units_to_inspect(units, confidence, acceptable)
        accept = stats.hypergeom(units, d, n).pmf(0)
        accept_less = stats.hypergeom(units, d, n - 1).pmf(0)
        assert accept <= 1 - confidence + 1e-12 < accept_less


def test_approximation_is_the_exact_answer_or_one_unit_more():
    """How far the exact hypergeometric answer lies from the approximation (docs/survey.md).

    Over N = 10 … 300 and some larger, X 0.8–0.99, Y 0.5–0.99 with a whole D: the same
    in 1,053 of the 1,088 designs, one unit more in 35, never fewer.
    """
    gaps = []
    for units in [*range(10, 301), 500, 1000, 2000, 5000]:
        for confidence in (0.8, 0.9, 0.95, 0.99):
            for acceptable in (0.5, 0.8, 0.9, 0.95, 0.99):
                d = units * (1 - acceptable)
                if d < 1 or abs(d - round(d)) > 1e-9:
                    continue
                gaps.append(
                    units_to_inspect(units, confidence, acceptable)
                    - exact_units_to_inspect(units, confidence, acceptable)
                )
    gaps_arr = np.array(gaps)
    assert set(gaps_arr.tolist()) == {0, 1}
    assert np.sum(gaps_arr == 0) == 1053


def test_tends_to_the_binomial_for_many_units():
    n = units_to_inspect(10_000_000, 0.95, 0.99)
    assert n == math.ceil(math.log(0.05) / math.log(0.99))


def test_monte_carlo_acceptance_matches_the_exact_confidence():
    rng = np.random.default_rng(20261203)
    units, d, n, trials = 200, 6, 60, 40_000
    # each trial: n of the N units drawn without replacement; units 0 … D−1 unacceptable
    keys = rng.random((trials, units))
    drawn = np.argpartition(keys, n, axis=1)[:, :n]
    accepted = ~(drawn < d).any(axis=1)
    p = 1 - confidence_of(n, units, 1 - d / units, exact=True)
    se = math.sqrt(p * (1 - p) / trials)
    assert abs(accepted.mean() - p) < 4 * se


def test_confidence_and_acceptable_fraction_invert_the_design():
    units, confidence, acceptable = 1000, 0.95, 0.99
    n = units_to_inspect(units, confidence, acceptable)
    assert confidence_of(n, units, acceptable) >= confidence
    assert confidence_of(n - 1, units, acceptable) < confidence
    assert acceptable_fraction(n, units, confidence) == pytest.approx(acceptable, abs=2e-4)
    assert acceptable_fraction(n, units, confidence) >= acceptable
    assert acceptable_fraction(n - 20, units, confidence) < acceptable


def test_limits_of_inspection():
    assert acceptable_fraction(0, 100, 0.95) == 0.0
    assert acceptable_fraction(100, 100, 0.95) == 1.0
    assert confidence_of(0, 100, 0.9) == pytest.approx(0.0)
    assert confidence_of(100, 100, 0.9, exact=True) == 1.0
    assert units_to_inspect(50, 0.95, 0.99) == 50  # D = 0.5: no unacceptable unit tolerated


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: units_to_inspect(0, 0.95, 0.99), "units must be a whole number"),
        (lambda: units_to_inspect(100, 1.0, 0.99), "confidence must lie strictly"),
        (lambda: units_to_inspect(100, 0.95, 0.0), "acceptable must lie strictly"),
        (lambda: confidence_of(101, 100, 0.99), r"inspected must lie in \[0, units = 100\]"),
        (lambda: confidence_of(2.5, 100, 0.99), "inspected must be a whole number"),
        (lambda: unacceptable_units(True, 0.9), "units must be a whole number"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
