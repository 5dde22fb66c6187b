"""The hazard grid: cell indexing, snapping, tiles and the choice of UTM zone."""

from __future__ import annotations

import numpy as np
import pytest

from remnant.hazard.grid import TILE, Grid, choose_crs
from remnant.hazard.tiles import (
    Csr,
    coarse_cells_meeting,
    coarse_corner_tiles,
    tiles_of_points,
    tiles_of_windows,
    unique_rows,
    windows_meeting,
)

GRID = Grid(crs="EPSG:32637", x0=1000.0, y0=2000.0, cell=10.0, nx=600, ny=300)


def test_transform_is_rasterio_order_with_row_zero_at_top() -> None:
    assert GRID.transform == (10.0, 0.0, 1000.0, 0.0, -10.0, 2000.0 + 300 * 10.0)


def test_cell_of_top_left_and_bottom_right() -> None:
    row, col = GRID.cell_of([1000.5, 6999.5], [4999.5, 2000.5])
    assert row.tolist() == [0, 299]
    assert col.tolist() == [0, 599]


def test_cell_of_centres_round_trip() -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(-5, GRID.ny + 5, size=1000)
    cols = rng.integers(-5, GRID.nx + 5, size=1000)
    x, y = GRID.centres(rows, cols)
    back_rows, back_cols = GRID.cell_of(x, y)
    np.testing.assert_array_equal(back_rows, rows)
    np.testing.assert_array_equal(back_cols, cols)


def test_points_map_to_a_cell_whose_centre_is_within_half_a_cell() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(1000.0, 7000.0, 1000)
    y = rng.uniform(2000.0, 5000.0, 1000)
    cx, cy = GRID.centres(*GRID.cell_of(x, y))
    assert np.all(np.abs(cx - x) <= 5.0)
    assert np.all(np.abs(cy - y) <= 5.0)


@pytest.mark.parametrize(
    "box",
    [(1234.5, -987.0, 5678.9, 12.0), (0.0, 0.0, 100.0, 100.0), (-5.0, -5.0, -5.0, -5.0)],
)
def test_covering_contains_the_box_and_snaps_to_the_cell(
    box: tuple[float, float, float, float],
) -> None:
    xmin, ymin, xmax, ymax = box
    grid = Grid.covering(xmin, ymin, xmax, ymax, cell=25.0, crs="EPSG:32637")
    assert grid.x0 % 25.0 == 0 and grid.y0 % 25.0 == 0
    assert grid.x0 <= xmin and grid.y0 < ymin
    assert grid.x0 + grid.nx * grid.cell > xmax and grid.top >= ymax
    # the smallest such grid: dropping the last column or row would lose the box
    assert grid.x0 + (grid.nx - 1) * grid.cell <= xmax
    assert grid.y0 + grid.cell >= ymin
    rows, cols = grid.cell_of([xmin, xmax], [ymin, ymax])
    assert np.all((rows >= 0) & (rows < grid.ny) & (cols >= 0) & (cols < grid.nx))


def test_covering_rejects_an_empty_box() -> None:
    with pytest.raises(ValueError, match="empty box"):
        Grid.covering(10.0, 0.0, 0.0, 10.0, cell=1.0, crs="EPSG:32637")


def test_tiles_partition_the_grid() -> None:
    n_rows, n_cols = GRID.n_tiles
    assert (n_rows, n_cols) == (2, 3)
    covered = np.zeros((GRID.ny, GRID.nx), dtype=np.int64)
    for tr in range(n_rows):
        for tc in range(n_cols):
            row0, col0, nrows, ncols = GRID.tile_window(tr, tc)
            covered[row0 : row0 + nrows, col0 : col0 + ncols] += 1
            tile_rows, tile_cols = GRID.tile_of(row0 + nrows - 1, col0 + ncols - 1)
            assert (int(tile_rows), int(tile_cols)) == (tr, tc)
    assert np.all(covered == 1)
    assert GRID.tile_window(1, 2) == (TILE, 2 * TILE, 300 - TILE, 600 - 2 * TILE)


def test_tile_window_outside_the_grid_raises() -> None:
    with pytest.raises(ValueError, match="outside"):
        GRID.tile_window(2, 0)


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (36.7, 49.2, "EPSG:32637"),  # Kharkiv oblast: UTM 37N
        (-70.0, -33.0, "EPSG:32719"),  # Santiago de Chile: UTM 19S
        (180.0, 0.0, "EPSG:32660"),  # the antimeridian belongs to zone 60
        (-180.0, -1.0, "EPSG:32701"),
    ],
)
def test_choose_crs_gives_the_utm_zone(lon: float, lat: float, crs: str) -> None:
    assert choose_crs([lon], [lat]) == crs


def test_choose_crs_uses_the_median_point() -> None:
    assert choose_crs([36.7, 36.8, 120.0], [49.2, 49.0, -40.0]) == "EPSG:32637"


def test_choose_crs_rejects_points_outside_utm() -> None:
    with pytest.raises(ValueError, match="UTM"):
        choose_crs([10.0], [88.0])


@pytest.mark.parametrize("n", [0, 1, 2000])
def test_unique_rows_numbers_rows_as_numpy_unique_does(n: int) -> None:
    rng = np.random.default_rng(n)
    owner = rng.integers(0, 7, n)
    x, y = np.floor(rng.normal(0, 2, n)), np.floor(rng.normal(0, 2, n))  # many repeats
    first, number = unique_rows(owner, x, y)
    rows = np.column_stack([owner, x, y]).astype(float)
    _, want_first, want_number = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(number, want_number.ravel())


@pytest.mark.parametrize(
    ("factor", "nx", "ny"), [(16, 1000, 700), (7, 600, 900), (256, 700, 800), (100, 1300, 500)]
)
def test_coarse_cells_meeting_tiles_are_those_with_a_corner_in_them(
    factor: int, nx: int, ny: int
) -> None:
    """Against every coarse cell's four corners, for factors that divide a tile, that
    straddle tiles, and a tile's own."""
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=25.0, nx=nx, ny=ny)
    shape = (-(-ny // factor), -(-nx // factor))
    n_tiles = int(np.prod(grid.n_tiles))
    rng = np.random.default_rng(factor)
    for tiles in (np.arange(n_tiles), rng.choice(n_tiles, 3, replace=False), np.array([0])):
        touched = np.zeros(n_tiles, dtype=bool)
        touched[tiles] = True
        cr, cc = np.indices(shape)
        want = np.flatnonzero(touched[coarse_corner_tiles(cr, cc, factor, grid)].any(axis=0))
        got = coarse_cells_meeting(tiles, factor, grid.n_tiles[1], shape)
        np.testing.assert_array_equal(got, want)


def test_windows_meeting_tiles_and_boxes_against_the_tile_lists() -> None:
    """Windows inside, across the edge, outside and empty; against the tile index's
    lists (as the update found its strikes before) and every box one by one."""
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=25.0, nx=1500, ny=1100)
    rng = np.random.default_rng(7)
    n = 4000
    win = np.column_stack([
        rng.integers(-300, grid.ny + 100, n), rng.integers(-300, grid.nx + 100, n),
        rng.integers(1, 400, n), rng.integers(1, 400, n),
    ])  # fmt: skip
    big = np.iinfo(np.int64).max
    win[:5] = [big, big, 1, 1]  # a strike without components (its extent wraps to 1)
    n_tiles = int(np.prod(grid.n_tiles))
    tiles = rng.choice(n_tiles, 6, replace=False)
    r, c = rng.integers(0, grid.ny, 40), rng.integers(0, grid.nx, 40)
    boxes = np.column_stack(
        [r - 1, r + rng.integers(2, 60, 40), c - 1, c + rng.integers(2, 60, 40)]
    )
    csr = tiles_of_windows(win, grid)
    owner = np.repeat(np.arange(n_tiles), np.diff(csr.offsets))
    listed = np.zeros(n, dtype=bool)
    listed[csr.index[np.isin(owner, tiles)]] = True
    r0, c0 = win[:, 0], win[:, 1]
    r1, c1 = r0 + win[:, 2], c0 + win[:, 3]
    hit = np.zeros(n, dtype=bool)
    for b0, b1, b2, b3 in boxes:
        hit |= (r0 < b1) & (b0 < r1) & (c0 < b3) & (b2 < c1)
    want = listed & hit
    assert 0 < want.sum() < hit.sum()  # some boxes meet windows in no tile of the list
    np.testing.assert_array_equal(windows_meeting(win, tiles, boxes, grid), want)


@pytest.mark.parametrize("n_later", [0, 1, 500])
def test_points_appended_to_tile_lists_are_as_if_listed_with_the_others(n_later: int) -> None:
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=25.0, nx=900, ny=700)
    rng = np.random.default_rng(n_later)
    row, col = rng.integers(-5, grid.ny + 5, 3000), rng.integers(-5, grid.nx + 5, 3000)
    n = row.size - n_later
    earlier = tiles_of_points(row[:n], col[:n], grid)
    later = tiles_of_points(row[n:], col[n:], grid)
    both = earlier.appended(Csr(later.offsets, later.index + n))
    whole = tiles_of_points(row, col, grid)
    np.testing.assert_array_equal(both.offsets, whole.offsets)
    np.testing.assert_array_equal(both.index, whole.index)
