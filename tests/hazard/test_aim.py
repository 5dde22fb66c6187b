"""Aim points from thinned finds (:mod:`remnant.hazard.aim`), against closed forms and
simulation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import shapely
from scipy import integrate, stats

from remnant.hazard import aim
from remnant.hazard.aim import KnownMoments, corrected_centres, mixture_moments, searched_moments
from remnant.hazard.estimate import _grid_args, _polygons
from remnant.hazard.grid import Grid
from remnant.hazard.integrals import polygon_tuple
from remnant.hazard.scanline import polygon_rings

CRS = "EPSG:32637"
SIGMA = 40.0
P = 0.95


def _moments(polygons: list[shapely.Geometry], x: float, y: float, sigma: float = SIGMA):
    grid = Grid.covering(-2000.0, -2000.0, 2000.0, 2000.0, 5.0, CRS)
    searches = _polygons(polygon_rings(np.array(polygons, dtype=object)), grid)
    log_keep = np.tile([math.log(1 - P), 0.0], (len(polygons), 1))
    return searched_moments(
        np.array([x]), np.array([y]), np.array([sigma]), np.array([0]),
        dataclasses.astuple(_grid_args(grid)), polygon_tuple(searches),
        np.full(len(polygons), 10), log_keep, 4.0,
    )[0]  # fmt: skip


def test_a_half_plane_search_sees_a_half_normal() -> None:
    # east of the aim point: E = p/2, mean σ√(2/π) east, variance σ²(1 − 2/π) across
    e, mx, my, sxx, syy, sxy = _moments([shapely.box(0, -1000, 1000, 1000)], 0.0, 0.0)
    assert e == pytest.approx(P / 2, rel=2e-3)
    assert mx == pytest.approx(SIGMA * math.sqrt(2 / math.pi), rel=0.01)
    assert my == pytest.approx(0.0, abs=1e-6)
    assert sxx == pytest.approx(SIGMA**2 * (1 - 2 / math.pi), rel=0.02)
    assert syy == pytest.approx(SIGMA**2, rel=0.01)
    assert sxy == pytest.approx(0.0, abs=1e-6)


def test_a_search_before_the_strike_and_no_search_see_nothing() -> None:
    grid = Grid.covering(-500.0, -500.0, 500.0, 500.0, 5.0, CRS)
    searches = _polygons(polygon_rings(np.array([shapely.box(-400, -400, 400, 400)])), grid)
    out = searched_moments(
        np.array([0.0]), np.array([0.0]), np.array([SIGMA]), np.array([20]),
        dataclasses.astuple(_grid_args(grid)), polygon_tuple(searches), np.array([10]),
        np.array([[math.log(0.05), 0.0]]), 3.0,
    )  # fmt: skip
    assert np.all(out == 0.0)


def test_an_even_search_leaves_the_mean_and_its_variance() -> None:
    mom = _moments([shapely.box(-1000, -1000, 1000, 1000)], 3.0, -2.0)
    x, y, var = corrected_centres(
        np.array([3.0]), np.array([-2.0]), np.array([10.0]), np.array([10.0]),
        np.array([SIGMA**2]), mom[None, :],
    )  # fmt: skip
    assert x[0] == pytest.approx(3.0, abs=0.05)
    assert y[0] == pytest.approx(-2.0, abs=0.05)
    assert var[0] == pytest.approx(SIGMA**2 / 10, rel=0.01)


def test_points_no_search_thinned_are_left_alone() -> None:
    mom = _moments([shapely.box(0, -1000, 1000, 1000)], 0.0, 0.0)
    x, y, var = corrected_centres(
        np.array([0.0]), np.array([0.0]), np.array([4.0]), np.array([0.0]),
        np.array([SIGMA**2]), mom[None, :],
    )  # fmt: skip
    assert (x[0], y[0]) == (0.0, 0.0)
    assert var[0] == pytest.approx(SIGMA**2 / 4)


def test_finds_of_a_half_searched_pattern_are_moved_towards_the_rest() -> None:
    # a clearance of the east half from 10 m east of the aim point: the finds' mean
    # lies east of it; the corrected centre lies between the aim point and the mean,
    # on average nearer the aim point (simulated finds)
    search = shapely.box(10, -1000, 1000, 1000)
    rng = np.random.default_rng(7)
    mean_err, corr_err = [], []
    for _ in range(200):
        xy = rng.normal(scale=SIGMA, size=(400, 2))
        found = xy[(xy[:, 0] > 10) & (rng.random(400) < P)][:8]
        mx, my = found.mean(axis=0)
        mom = _moments([search], mx, my)
        x, _, _ = corrected_centres(
            np.array([mx]), np.array([my]), np.array([8.0]), np.array([8.0]),
            np.array([SIGMA**2]), mom[None, :],
        )  # fmt: skip
        mean_err.append(mx)
        corr_err.append(x[0])
    assert np.mean(mean_err) > 30.0  # 10 + σ φ(¼)/(1 − Φ(¼)) ≈ 48
    assert 0.0 < np.mean(corr_err) < np.mean(mean_err) - 10.0
    assert np.sqrt(np.mean(np.square(corr_err))) < np.sqrt(np.mean(np.square(mean_err)))


def test_known_moments_are_looked_up_and_the_rest_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = Grid.covering(-2000.0, -2000.0, 2000.0, 2000.0, 5.0, CRS)
    boxes = [shapely.box(0, -1000, 1000, 1000), shapely.box(-900, 300, -200, 800)]
    searches = _polygons(polygon_rings(np.array(boxes, dtype=object)), grid)
    log_keep = np.tile([math.log(1 - P), 0.0], (len(boxes), 1))
    computed: list[int] = []

    def compute(x, y, sigma, day):  # the real function, counting the patterns it is given
        computed.append(len(x))
        return searched_moments(x, y, sigma, day, dataclasses.astuple(_grid_args(grid)),
                                polygon_tuple(searches), np.full(len(boxes), 10), log_keep,
                                4.0)  # fmt: skip

    rng = np.random.default_rng(5)
    x, y = rng.uniform(-800, 800, 40), rng.uniform(-800, 800, 40)
    sigma, day = rng.uniform(20, 60, 40), rng.integers(0, 20, 40)
    first, known = KnownMoments.none().moments_of(x, y, sigma, day, compute)
    assert computed == [40]
    again, _ = known.moments_of(x[::-1], y[::-1], sigma[::-1], day[::-1], compute)
    assert computed == [40] and np.array_equal(again, first[::-1])  # all looked up
    moved = x.copy()
    moved[:5] += 1.0  # five patterns moved: only they are computed
    mixed, _ = known.moments_of(moved, y, sigma, day, compute)
    assert computed == [40, 5] and np.array_equal(mixed[5:], first[5:])
    np.testing.assert_array_equal(mixed, compute(moved, y, sigma, day))
    assert len(known.plus(known)) == 40
    _, some = known.moments_of(moved[:8], y[:8], sigma[:8], day[:8], compute)
    grown = known.plus(some)  # the five moved are new, the three others known already
    assert computed == [40, 5, 40, 5] and len(grown) == 45
    both = np.concatenate([x, moved[:5]]), np.concatenate([y, y[:5]])
    looked, _ = grown.moments_of(*both, np.concatenate([sigma, sigma[:5]]),
                                 np.concatenate([day, day[:5]]), compute)  # fmt: skip
    assert computed == [40, 5, 40, 5]  # all looked up
    np.testing.assert_array_equal(looked, np.concatenate([first, mixed[:5]]))
    far = known.away_from(np.array([[700.0, -2000.0, 2000.0, 2000.0]]), 4.0)
    assert 0 < len(far) < 40 and np.all(far.x + 4.0 * far.sigma < 700.0)
    # every key colliding: a lookup compares the inputs, so only the first row is found
    monkeypatch.setattr(aim, "_input_keys", lambda x, y, s, d: np.zeros(len(x), np.uint64))
    table = dataclasses.replace(known)  # made anew: a table keeps the index of its keys
    clashing, _ = table.moments_of(x, y, sigma, day, compute)
    assert computed == [40, 5, 40, 5, 39]  # the check above computed all 40
    np.testing.assert_array_equal(clashing, first)


def _half_plane_moments(v: float, c: float) -> list[float]:
    """Searched moments of N(0, v I) under a clearance of ``x > c`` (truncated normal)."""
    s = math.sqrt(v)
    z = c / s
    seen = 1.0 - stats.norm.cdf(z)
    lam = stats.norm.pdf(z) / seen
    return [seen, s * lam, 0.0, v * (1.0 + z * lam - lam**2), v, 0.0]


def test_a_mixture_of_two_patterns_has_the_moments_of_its_density() -> None:
    # two halves of variances 20² and 60² m², searched east of x = 15 m: E, the mean and
    # the variances of the thinned mixture, integrated numerically from its density
    v1, v2, c = 20.0**2, 60.0**2, 15.0
    a, b = (np.array([_half_plane_moments(v, c)]) for v in (v1, v2))
    e, bx, by, sxx, syy, sxy = mixture_moments(a, b)[0]

    def density(x: float) -> float:
        half = stats.norm.pdf(x, scale=math.sqrt(v1)) + stats.norm.pdf(x, scale=math.sqrt(v2))
        return 0.5 * float(half)

    mass = integrate.quad(density, c, np.inf)[0]
    mean = integrate.quad(lambda x: x * density(x), c, np.inf)[0] / mass
    second = integrate.quad(lambda x: x * x * density(x), c, np.inf)[0] / mass
    # across the edge: each half's y-variance weighted by its share of the thinned mass
    w1 = 0.5 * (1.0 - stats.norm.cdf(c / math.sqrt(v1))) / mass
    assert e == pytest.approx(mass, rel=1e-9)
    assert bx == pytest.approx(mean, rel=1e-7)
    assert sxx == pytest.approx(second - mean**2, rel=1e-7)
    assert syy == pytest.approx(w1 * v1 + (1.0 - w1) * v2, rel=1e-9)
    assert (by, sxy) == (0.0, 0.0)


def test_a_mixture_of_one_pattern_with_itself_is_that_pattern() -> None:
    mom = _moments([shapely.box(10, -1000, 1000, 1000)], 0.0, 0.0)[None, :]
    assert mixture_moments(mom, mom) == pytest.approx(mom, rel=1e-12, abs=1e-12)
