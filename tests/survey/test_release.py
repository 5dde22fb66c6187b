"""Land release decisions: the routes and what each leaves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from remnant.survey.release import AreaFigures, cleared_residual, release_routes


def test_clearance_residual_matches_simulated_thinning():
    mean, variance, detection = 6.0, 30.0, 0.9
    left, p_any = cleared_residual(mean, variance, detection)
    rng = np.random.default_rng(20261203)
    shape = mean**2 / (variance - mean)  # the Gamma–Poisson of these moments
    lam = rng.gamma(shape, mean / shape, 400_000)
    missed = rng.binomial(rng.poisson(lam), 1 - detection)
    assert left == pytest.approx(mean * (1 - detection))
    se = math.sqrt(p_any * (1 - p_any) / missed.size)
    assert abs(np.mean(missed > 0) - p_any) < 4 * se
    assert abs(missed.mean() - left) < 4 * missed.std() / math.sqrt(missed.size)


def test_clearance_residual_of_a_poisson_count_and_limits():
    left, p_any = cleared_residual(4.0, 3.0, 0.95)  # variance below the mean: Poisson
    assert left == pytest.approx(0.2)
    assert p_any == pytest.approx(1 - math.exp(-4.0 * 0.05))
    assert cleared_residual(4.0, 9.0, 1.0) == (0.0, 0.0)
    assert cleared_residual(0.0, 0.0, 0.95) == (0.0, 0.0)
    with pytest.raises(ValueError, match="detection must lie in"):
        cleared_residual(4.0, 9.0, 0.0)


def _figures(p_any: float, free_m2: float = 0.0, free_p: float = 0.0) -> AreaFigures:
    return AreaFigures(area_m2=10_000.0, expected_items=-math.log1p(-p_any), variance=3.0,
                       p_any=p_any, free_m2=free_m2, free_items=free_p,
                       free_p_any_upper=free_p)  # fmt: skip


def test_the_least_work_within_the_tolerable_risk_is_recommended():
    assert release_routes(_figures(0.01), 0.05, 0.95).recommended == "cancel"
    reduce = release_routes(_figures(0.6, free_m2=4_000.0, free_p=0.02), 0.05, 0.95)
    assert reduce.recommended == "reduce"
    assert [r.name for r in reduce.routes] == ["cancel", "reduce", "clear"]
    assert reduce.routes[1].released_m2 == 4_000.0
    clear = release_routes(_figures(0.6, free_m2=4_000.0, free_p=0.3), 0.05, 0.95)
    assert clear.recommended == "clear" and "within the tolerable 5.0%" in clear.reason
    whole = release_routes(_figures(0.6), 0.05, 0.95)
    assert [r.name for r in whole.routes] == ["cancel", "clear"]  # nothing outside to reduce
    hard = AreaFigures(10_000.0, 200.0, 4_000.0, 1.0, 0.0, 0.0, 0.0)
    flagged = release_routes(hard, 0.05, 0.95)
    assert flagged.recommended == "clear" and "even clearance leaves" in flagged.reason
    assert not any(r.tolerable for r in flagged.routes)
