"""Point-in-polygon pairs through the grid index, and Bernoulli detection."""

from __future__ import annotations

import numpy as np
import shapely
from scipy import stats

from remnant.simulate.detection import CELL_DEG, PointIndex, detect, pairs_inside

ALPHA = 1e-3


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon = rng.uniform(36.0, 36.3, 20_000)
    lat = rng.uniform(49.0, 49.2, 20_000)
    cx, cy = rng.uniform(36.0, 36.3, 60), rng.uniform(49.0, 49.2, 60)
    size = rng.choice([0.002, 0.02, 0.12], 60)  # inside one cell, a few, many
    polygons = shapely.buffer(shapely.points(cx, cy), size, quad_segs=3)
    return lon, lat, polygons


def test_pairs_inside_equal_brute_force():
    rng = np.random.default_rng(0)
    lon, lat, polygons = _scene(rng)
    lon[:50] = 36.0 + CELL_DEG * np.arange(50) % 0.3  # points on cell edges
    day = rng.integers(0, 100, lon.size)
    start = rng.integers(0, 100, len(polygons))
    poly, point = pairs_inside(PointIndex.build(lon, lat), polygons, day, start)
    inside = shapely.contains_xy(polygons[:, None], lon[None, :], lat[None, :])
    inside &= day[None, :] < start[:, None]
    want_poly, want_point = np.nonzero(inside)
    assert np.array_equal(poly, want_poly) and np.array_equal(point, want_point)


def test_no_points_or_no_polygons_give_no_pairs():
    polygons = np.array([shapely.box(0, 0, 1, 1)])
    poly, point = pairs_inside(
        PointIndex.build(np.empty(0), np.empty(0)),
        polygons,
        np.empty(0, np.int64),
        np.zeros(1, np.int64),
    )
    assert len(poly) == len(point) == 0
    index = PointIndex.build(np.array([0.5]), np.array([0.5]))
    poly, _ = pairs_inside(
        index, np.empty(0, dtype=object), np.zeros(1, np.int64), np.empty(0, np.int64)
    )
    assert len(poly) == 0


def test_detect_finds_each_item_with_its_activity_probability_within_its_dates():
    rng = np.random.default_rng(1)
    lon, lat, polygons = _scene(rng)
    index = PointIndex.build(lon, lat)
    day = np.zeros(lon.size, np.int64)
    start = rng.integers(10, 20, len(polygons))
    end = start + rng.integers(0, 30, len(polygons))
    p = rng.choice([0.1, 0.5, 0.9], len(polygons))
    found = detect(index, polygons, day, start, end, p, np.random.default_rng(2))
    poly, _ = pairs_inside(index, polygons, day, start)
    assert ((found.day >= start[found.activity]) & (found.day <= end[found.activity])).all()
    for level in (0.1, 0.5, 0.9):
        n = int((p[poly] == level).sum())
        k = int((p[found.activity] == level).sum())
        assert stats.binomtest(k, n, level).pvalue > ALPHA / 3, (level, k, n)


def test_detect_ignores_items_of_later_attacks():
    polygons = np.array([shapely.box(0, 0, 1, 1)])
    index = PointIndex.build(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    found = detect(
        index,
        polygons,
        np.array([5, 10]),
        np.array([10]),
        np.array([12]),
        np.array([1.0]),
        np.random.default_rng(0),
    )
    assert found.point.tolist() == [0]
