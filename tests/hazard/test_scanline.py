"""Scanline cells of polygons agree with shapely.contains_xy at their centres."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from remnant.hazard.grid import Grid
from remnant.hazard.scanline import Rings, cells_inside, fill_cells, polygon_rings

GRID = Grid(crs="EPSG:32637", x0=-200.0, y0=-150.0, cell=10.0, nx=60, ny=50)
BOUNDARY_TOL = 1e-9
"""Centres closer than this to a boundary are ambiguous and not compared. [m]"""


def _star(rng, cx, cy, r_min, r_max, n=24) -> Polygon:
    """A random star-shaped polygon (simple: angles increase, gaps below π)."""
    angles = 2 * np.pi * (np.arange(n) + rng.uniform(0.0, 0.5, n)) / n
    radii = rng.uniform(r_min, r_max, n)
    return Polygon(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]))


def _window_cells(grid: Grid, window) -> np.ndarray:
    """Flat grid indices of the window's cells inside the grid, row-major."""
    row0, col0, nrows, ncols = window if window is not None else (0, 0, grid.ny, grid.nx)
    rows = np.arange(max(row0, 0), min(row0 + nrows, grid.ny))
    cols = np.arange(max(col0, 0), min(col0 + ncols, grid.nx))
    return (rows[:, np.newaxis] * grid.nx + cols[np.newaxis, :]).ravel()


def _assert_matches_shapely(geometries, grid: Grid = GRID, window=None) -> int:
    """Compare with contains_xy off the boundary; return the number of cells inside."""
    geoms = np.asarray(geometries, dtype=object)
    gi, ci = cells_inside(geoms, grid, window)
    assert gi.dtype == ci.dtype == np.int64
    assert np.all(np.diff(gi) >= 0)
    flat = _window_cells(grid, window)
    x, y = grid.centres(flat // grid.nx, flat % grid.nx)
    for i, geom in enumerate(geoms):
        mine = ci[gi == i]
        assert np.all(np.diff(mine) > 0)
        assert np.isin(mine, flat).all()
        got = np.isin(flat, mine)
        if geom is None or geom.is_empty:
            assert not got.any()
            continue
        expected = shapely.contains_xy(geom, x, y)
        clear = shapely.distance(shapely.boundary(geom), shapely.points(x, y)) > BOUNDARY_TOL
        assert np.array_equal(got[clear], expected[clear]), f"geometry {i}"
    return len(ci)


# --- agreement with shapely --------------------------------------------------------


def test_random_convex_polygons_match_shapely() -> None:
    rng = np.random.default_rng(1)
    centres = rng.uniform([-150, -100], [350, 300], (20, 2))
    polygons = shapely.buffer(shapely.points(centres), rng.uniform(5, 120, 20))
    hulls = [_star(rng, cx, cy, 20, 90).convex_hull for cx, cy in centres]
    assert _assert_matches_shapely([*polygons, *hulls]) > 1000


def test_random_non_convex_polygons_match_shapely() -> None:
    rng = np.random.default_rng(2)
    stars = [_star(rng, *rng.uniform([-150, -100], [350, 300]), 5, 150) for _ in range(20)]
    zigzag = LineString(rng.uniform([-200, -150], [400, 350], (8, 2))).buffer(12.0)
    assert all(s.is_valid for s in stars)
    assert _assert_matches_shapely([*stars, zigzag]) > 1000


def test_polygons_with_holes_match_shapely() -> None:
    rng = np.random.default_rng(3)
    holed = []
    for _ in range(10):
        cx, cy = rng.uniform([-100, -50], [300, 250])
        holes = shapely.points(cx + rng.uniform(-60, 60, 4), cy + rng.uniform(-60, 60, 4))
        cutter = shapely.union_all(shapely.buffer(holes, 15.0))
        holed.append(_star(rng, cx, cy, 80, 140).difference(cutter))
    assert sum(len(shapely.get_rings(p)) for p in holed) > 2 * len(holed)
    assert _assert_matches_shapely(holed) > 1000


def test_multipolygons_match_shapely() -> None:
    rng = np.random.default_rng(4)
    frame = box(-150, -100, 300, 250).difference(box(-100, -50, 250, 200))
    ring_with_island = MultiPolygon([frame, box(-20, 10, 120, 90)])
    parts = [_star(rng, cx, cy, 10, 40) for cx, cy in rng.uniform([-180, -130], [380, 330], (6, 2))]
    scattered = shapely.unary_union(parts)
    assert isinstance(scattered, MultiPolygon)
    assert _assert_matches_shapely([ring_with_island, scattered]) > 500


def test_polygons_partly_outside_the_grid_match_shapely() -> None:
    rng = np.random.default_rng(5)
    corners = [(-200, -150), (400, -150), (-200, 350), (400, 350), (100, 370), (-230, 100)]
    polygons = [_star(rng, cx, cy, 40, 120) for cx, cy in corners]
    polygons.append(box(-1000, -1000, 1000, 1000))
    assert _assert_matches_shapely(polygons) > GRID.nx * GRID.ny


def test_tiny_polygons_match_shapely() -> None:
    rng = np.random.default_rng(6)
    x, y = GRID.centres(rng.integers(0, GRID.ny, 30), rng.integers(0, GRID.nx, 30))
    around = [_star(rng, cx, cy, 0.5, 3.0, n=5) for cx, cy in zip(x, y, strict=True)]
    between = [_star(rng, cx + 5, cy + 5, 0.5, 3.0, n=5) for cx, cy in zip(x, y, strict=True)]
    assert _assert_matches_shapely(around) == 30
    assert _assert_matches_shapely(between) == 0


@pytest.mark.parametrize(
    "window", [(7, 13, 11, 9), (0, 0, 1, 60), (49, 59, 1, 1), (-5, -8, 20, 25), (40, 50, 30, 30)]
)
def test_windows_that_cut_polygons_match_shapely(window) -> None:
    rng = np.random.default_rng(7)
    polygons = [_star(rng, cx, cy, 30, 150) for cx, cy in [(-100, 250), (100, 100), (350, -100)]]
    assert _assert_matches_shapely(polygons, window=window) > 0


def test_vertices_and_edges_on_centre_lines_match_shapely() -> None:
    # vertices exactly on cell centres and edges along centre lines: the half-open
    # rule must still count every other centre of those rows right
    diamond = Polygon([(5, -45), (105, 55), (5, 155), (-95, 55)])
    rectangle = box(-95, -45, 105, 155)
    steps = Polygon([(-95, -45), (105, -45), (105, 55), (5, 55), (5, 155), (-95, 155)])
    notch = Polygon([(-95, -45), (105, -45), (5, 55), (105, 155), (-95, 155)])
    assert _assert_matches_shapely([diamond, rectangle, steps, notch]) > 500


def test_utm_coordinates_match_shapely() -> None:
    rng = np.random.default_rng(8)
    grid = Grid(crs="EPSG:32637", x0=500_000.0, y0=4_000_000.0, cell=25.0, nx=200, ny=160)
    centres = rng.uniform([500_000, 4_000_000], [505_000, 4_004_000], (15, 2))
    polygons = [_star(rng, cx, cy, 200, 720, n=32) for cx, cy in centres]
    assert _assert_matches_shapely(polygons, grid=grid) > 10_000


@st.composite
def _star_and_window(draw):
    n = draw(st.integers(4, 16))
    cx = draw(st.floats(-260, 460))
    cy = draw(st.floats(-210, 410))
    jitter = draw(st.lists(st.floats(0, 0.5), min_size=n, max_size=n))
    radii = np.array(draw(st.lists(st.floats(0.5, 200), min_size=n, max_size=n)))
    angles = 2 * np.pi * (np.arange(n) + np.array(jitter)) / n
    xy = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    if draw(st.booleans()):  # on cell edges and centre lines: boundary cases
        xy = np.round(xy / 5.0) * 5.0
    polygon = Polygon(xy)
    if draw(st.booleans()):
        hole = affinity.scale(polygon, 0.4, 0.4, origin=(cx, cy))
        polygon = Polygon(polygon.exterior, [hole.exterior])
    row0, col0 = draw(st.integers(-20, 55)), draw(st.integers(-20, 65))
    window = (row0, col0, draw(st.integers(0, 40)), draw(st.integers(0, 40)))
    return polygon, window


@settings(max_examples=300, deadline=None)
@given(_star_and_window())
def test_property_random_star_polygons_and_windows_match_shapely(case) -> None:
    polygon, window = case
    assume(polygon.is_valid and not polygon.is_empty)
    _assert_matches_shapely([polygon], window=window)


def test_tiles_together_give_the_whole_grid() -> None:
    rng = np.random.default_rng(9)
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=1.0, nx=700, ny=600)
    polygons = [_star(rng, cx, cy, 20, 150) for cx, cy in rng.uniform(0, 700, (40, 2))]
    rings = polygon_rings(polygons)
    whole = cells_inside(rings, grid)
    parts = [cells_inside(rings, grid, grid.tile_window(r, c)) for r in range(3) for c in range(3)]
    gi = np.concatenate([p[0] for p in parts])
    ci = np.concatenate([p[1] for p in parts])
    order = np.lexsort((ci, gi))
    assert len(whole[1]) > 100_000
    assert np.array_equal(gi[order], whole[0])
    assert np.array_equal(ci[order], whole[1])


# --- the boundary rule -------------------------------------------------------------


def test_boundary_rule_on_centre_lines() -> None:
    # a rectangle whose edges run through cell centres: centres on the south edge
    # are in (interior to the north), on the north, west and east edges out
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=10.0, nx=10, ny=10)
    _, ci = cells_inside([box(15, 25, 65, 75)], grid)
    rows, cols = np.divmod(ci, grid.nx)
    x, y = grid.centres(rows, cols)
    assert set(np.unique(x)) == {25.0, 35.0, 45.0, 55.0}
    assert set(np.unique(y)) == {25.0, 35.0, 45.0, 55.0, 65.0}
    assert len(ci) == 4 * 5


# --- empty input and windows -------------------------------------------------------


def test_none_and_empty_geometries_give_nothing() -> None:
    geoms = [None, Polygon(), MultiPolygon(), box(0, 0, 100, 100), None]
    gi, ci = cells_inside(geoms, GRID)
    assert set(gi.tolist()) == {3}
    assert len(ci) == 100
    for nothing in ([], [None], [Polygon()]):
        gi, ci = cells_inside(nothing, GRID)
        assert gi.shape == ci.shape == (0,)


@pytest.mark.parametrize(
    "window", [(50, 0, 10, 10), (0, 60, 10, 10), (-10, 0, 10, 60), (0, -30, 50, 30), (5, 5, 0, 9)]
)
def test_windows_outside_the_grid_give_nothing(window) -> None:
    gi, ci = cells_inside([box(-1e4, -1e4, 1e4, 1e4)], GRID, window)
    assert gi.shape == ci.shape == (0,)


def test_polygon_outside_the_window_gives_nothing() -> None:
    gi, _ = cells_inside([box(300, 250, 400, 350)], GRID, (0, 0, 10, 10))
    assert len(gi) == 0
    assert len(cells_inside([box(300, 250, 400, 350)], GRID)[0]) == 100


def test_negative_window_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        cells_inside([box(0, 0, 1, 1)], GRID, (0, 0, -1, 5))


def test_non_polygonal_geometry_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[1\] are not Polygon"):
        polygon_rings([box(0, 0, 1, 1), Point(0, 0), None])


# --- Rings layout ------------------------------------------------------------------


def test_rings_layout_of_mixed_geometries() -> None:
    square = box(0, 0, 1, 1)  # 5 vertices
    triangle = Polygon([(5, 5), (6, 5), (6, 6)])  # 4
    holed = Polygon(box(10, 10, 20, 20).exterior, [[(12, 12), (14, 12), (13, 14)]])  # 5 + 4
    rings = polygon_rings([square, None, MultiPolygon([triangle, holed]), Polygon()])
    assert isinstance(rings, Rings)
    assert len(rings) == 4
    assert rings.ring_offsets.tolist() == [0, 5, 9, 14, 18]
    assert rings.geom_offsets.tolist() == [0, 1, 1, 4, 4]
    assert rings.ring_offsets.dtype == rings.geom_offsets.dtype == np.int64
    assert rings.x.dtype == rings.y.dtype == np.float64
    xy = np.column_stack([rings.x, rings.y])
    np.testing.assert_array_equal(xy[0:5], shapely.get_coordinates(square))
    np.testing.assert_array_equal(xy[14:18], [(12, 12), (14, 12), (13, 14), (12, 12)])
    np.testing.assert_array_equal(rings.bounds[[0, 2]], [[0, 0, 1, 1], [5, 5, 20, 20]])
    assert np.isnan(rings.bounds[[1, 3]]).all()


def test_rings_can_be_reused_across_calls() -> None:
    rng = np.random.default_rng(10)
    polygons = [_star(rng, cx, cy, 20, 90) for cx, cy in rng.uniform(-150, 300, (10, 2))]
    direct = cells_inside(polygons, GRID, (3, 4, 30, 40))
    reused = cells_inside(polygon_rings(polygons), GRID, (3, 4, 30, 40))
    assert len(direct[0]) > 0
    np.testing.assert_array_equal(direct[0], reused[0])
    np.testing.assert_array_equal(direct[1], reused[1])


# --- the kernel --------------------------------------------------------------------


def test_fill_cells_counts_with_an_empty_buffer_and_truncates_a_short_one() -> None:
    holed = Polygon(box(0, 0, 100, 100).exterior, [box(30, 30, 70, 70).exterior.coords])
    rings = polygon_rings([holed])
    frame = (GRID.x0, GRID.top, GRID.cell)
    window = (10, 15, 20, 20)  # rows 10..29, cols 15..34: the box is rows 25..34, cols 20..29
    args = (rings.x, rings.y, rings.ring_offsets, 0, 2, *frame, *window)
    n = fill_cells(*args, np.empty(0, dtype=np.int64))
    assert n == 5 * 10 - 2 * 4  # rows 25..29 of the box, less the hole's 2 rows × 4 cols
    full = np.full(100, -1, dtype=np.int64)
    assert fill_cells(*args, full) == n
    rows, cols = np.divmod(full[:n], window[3])
    assert rows.min() == 25 - 10 and rows.max() == 29 - 10
    assert cols.min() == 20 - 15 and cols.max() == 29 - 15
    assert np.all(full[n:] == -1)
    short = np.full(7, -1, dtype=np.int64)
    assert fill_cells(*args, short) == n
    np.testing.assert_array_equal(short, full[:7])


def test_fill_cells_closes_an_open_ring() -> None:
    # shapely's rings repeat the first vertex; the kernel must not depend on it
    x = np.array([0.0, 100.0, 100.0, 0.0])
    y = np.array([0.0, 0.0, 100.0, 100.0])
    offsets = np.array([0, 4], dtype=np.int64)
    out = np.empty(200, dtype=np.int64)
    n = fill_cells(x, y, offsets, 0, 1, GRID.x0, GRID.top, GRID.cell, 0, 0, 50, 60, out)
    assert n == 100
    np.testing.assert_array_equal(out[:n], cells_inside([box(0, 0, 100, 100)], GRID)[1])


def test_rings_concatenated_are_the_rings_of_both_lists() -> None:
    holed = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    first = [box(0, 0, 1, 1), None, holed]
    second = [MultiPolygon([box(5, 5, 6, 6), box(7, 7, 8, 9)]), box(2, 3, 4, 5)]
    joined = polygon_rings(first).concat(polygon_rings(second))
    whole = polygon_rings(first + second)
    for name in ("x", "y", "ring_offsets", "geom_offsets", "bounds"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))
