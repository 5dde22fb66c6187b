"""estimate.tif: written to the exchange-format spec and read back unchanged."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from remnant.errors import FormatError
from remnant.hazard.grid import Grid
from remnant.io import geotiff, tiff
from remnant.io.geotiff import (
    BAND_UNITS,
    ESTIMATE_BANDS,
    overview_factors,
    read_estimate,
    write_estimate,
)

GRID = Grid(crs="EPSG:32637", x0=400_000.0, y0=5_500_000.0, cell=25.0, nx=700, ny=600)
META = {"as_of": "2025-06-30", "cell_size_m": "25", "software_version": "remnant 0.1.0"}


def _bands(grid: Grid = GRID) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    expected = rng.gamma(0.5, 0.2, size=(grid.ny, grid.nx))  # float64 on purpose
    expected[:50, :] = np.nan  # outside the studied area
    expected[300:320, 600:] = np.nan
    outside = np.isnan(expected)
    p_any = np.where(outside, np.nan, 1 - np.exp(-expected))
    lower = np.where(outside, np.nan, 0.0)
    upper = np.where(outside, np.nan, np.ceil(expected * 3))
    return {"expected_remaining": expected, "p_any": p_any, "lower_90": lower, "upper_90": upper}


@pytest.fixture()
def written(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    bands = _bands()
    path = write_estimate(tmp_path / "estimate.tif", GRID, bands, metadata=META)
    return path, bands


def test_round_trip(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, bands = written
    grid, read, meta = read_estimate(path)
    assert grid == GRID
    assert list(read) == list(ESTIMATE_BANDS)
    for name in ESTIMATE_BANDS:
        assert read[name].dtype == np.float32
        np.testing.assert_array_equal(read[name], bands[name].astype(np.float32))
        assert np.array_equal(np.isnan(read[name]), np.isnan(bands[name]))
    assert meta == META


def test_layout_follows_the_spec(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = written
    with rasterio.open(path) as src:
        assert src.descriptions == ESTIMATE_BANDS
        assert src.count == 4
        assert src.dtypes == ("float32",) * 4
        assert src.crs.to_epsg() == 32637
        assert src.crs.linear_units_factor == ("metre", 1.0)
        assert tuple(src.transform)[:6] == GRID.transform
        assert all(np.isnan(v) for v in src.nodatavals)
        profile = src.profile
        assert profile["tiled"] is True
        assert profile["blockxsize"] == profile["blockysize"] == 256
        assert profile["compress"] == "deflate"
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        for index, name in enumerate(ESTIMATE_BANDS, start=1):
            assert src.tags(index)["unit"] == BAND_UNITS[name]
            assert src.units[index - 1] == BAND_UNITS[name]
            assert src.overviews(index) == [2, 4]
        assert src.tags()["as_of"] == "2025-06-30"


def test_overviews_average_valid_cells(written: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, bands = written
    with rasterio.open(path) as src:
        coarse = src.read(1, out_shape=(300, 350))  # served from the factor-2 overview
    block = bands["expected_remaining"][100:102, 0:2].astype(np.float32)
    assert coarse[50, 0] == pytest.approx(float(np.mean(block)), rel=1e-5)
    assert np.isnan(coarse[0, 0])  # all-NaN rows stay no data


@pytest.mark.parametrize(
    ("size", "factors"), [((256, 100), []), ((300, 10), [2]), ((700, 600), [2, 4])]
)
def test_overview_factors(size: tuple[int, int], factors: list[int]) -> None:
    assert overview_factors(*size) == factors


def test_wrong_shape_and_names_rejected_listing_all(tmp_path: Path) -> None:
    bands = _bands()
    bands["p_any"] = bands["p_any"][:, :-1]
    del bands["upper_90"]
    bands["median"] = bands["lower_90"]
    target = tmp_path / "estimate.tif"
    with pytest.raises(ValueError, match="p_any") as info:
        write_estimate(target, GRID, bands)
    assert "upper_90" in str(info.value)
    assert "median" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_geographic_crs_rejected(tmp_path: Path) -> None:
    grid = Grid(crs="EPSG:4326", x0=36.0, y0=49.0, cell=0.001, nx=700, ny=600)
    with pytest.raises(ValueError, match="EPSG:4326"):
        write_estimate(tmp_path / "estimate.tif", grid, _bands(grid))
    assert list(tmp_path.iterdir()) == []


def test_feet_crs_rejected(tmp_path: Path) -> None:
    grid = Grid(crs="EPSG:2263", x0=0.0, y0=0.0, cell=50.0, nx=700, ny=600)  # NY State, ftUS
    with pytest.raises(ValueError, match="metres"):
        write_estimate(tmp_path / "estimate.tif", grid, _bands(grid))


def test_killed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tiff.TiledWriter.write_tiles
    calls = []

    def dies_on_third_strip(self, image, tile_row, values):  # type: ignore[no-untyped-def]
        if image == 0:  # the overviews' rows are written between the strips
            calls.append(tile_row)
            if len(calls) == 3:
                raise KeyboardInterrupt
        real(self, image, tile_row, values)

    monkeypatch.setattr(tiff.TiledWriter, "write_tiles", dies_on_third_strip)
    target = tmp_path / "estimate.tif"
    with pytest.raises(KeyboardInterrupt):
        write_estimate(target, GRID, _bands())
    assert calls == [0, 1, 2]
    assert list(tmp_path.iterdir()) == []


def test_killed_write_keeps_the_old_file(
    written: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = written
    before = path.read_bytes()

    def dies(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(geotiff, "_write_levels", dies)
    with pytest.raises(RuntimeError):
        write_estimate(path, GRID, _bands())
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def _stacked_strips() -> list[tuple[int, np.ndarray]]:
    bands = _bands()
    stacked = np.stack([bands[n].astype(np.float32) for n in ESTIMATE_BANDS])
    return [(row0, stacked[:, row0 : row0 + 256]) for row0 in range(0, GRID.ny, 256)]


def test_an_error_making_a_strip_is_raised_and_nothing_written(tmp_path: Path) -> None:
    def strips() -> Iterator[tuple[int, np.ndarray]]:
        yield _stacked_strips()[0]
        raise RuntimeError("pass 2 failed")

    with pytest.raises(RuntimeError, match="pass 2 failed"):
        geotiff.write_estimate_strips(tmp_path / "estimate.tif", GRID, strips())
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_stops_making_strips(tmp_path: Path) -> None:
    made = []

    def strips() -> Iterator[tuple[int, np.ndarray]]:
        good = _stacked_strips()
        for n in range(100):
            made.append(n)
            row0, values = good[0] if n == 0 else (256, good[0][1][:, :10])
            yield row0, values

    with pytest.raises(ValueError, match="strip"):
        geotiff.write_estimate_strips(tmp_path / "estimate.tif", GRID, strips())
    assert len(made) <= 4  # the bad strip, and at most two made ahead of the writer
    assert not any(t.name == "estimate strips" for t in threading.enumerate())


def test_strips_in_any_order_give_the_same_file(tmp_path: Path) -> None:
    bands = _bands()
    stacked = np.stack([bands[n].astype(np.float32) for n in ESTIMATE_BANDS])
    strips = [(row0, stacked[:, row0 : row0 + 256]) for row0 in range(0, GRID.ny, 256)]
    a = geotiff.write_estimate_strips(tmp_path / "a.tif", GRID, strips, metadata=META)
    b = geotiff.write_estimate_strips(tmp_path / "b.tif", GRID, strips[::-1], metadata=META)
    _assert_same_rasters(a, b)


@pytest.mark.parametrize("backwards", [False, True])
def test_overview_rows_are_written_as_soon_as_their_strips_are_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backwards: bool
) -> None:
    # GRID's 600 rows are three strips; its overviews at factors 2 and 4 have rows of
    # 64-pixel blocks of 128 and 256 full-resolution rows, so each strip completes two
    # rows of the first level (one, the last) and one of the second.
    order = _noted_writes(monkeypatch)
    strips = _stacked_strips()
    by_strip = [
        [(0, 0), (1, 0), (1, 1), (2, 0)],
        [(0, 1), (1, 2), (1, 3), (2, 1)],
        [(0, 2), (1, 4), (2, 2)],
    ]
    if backwards:
        strips, by_strip = strips[::-1], by_strip[::-1]
    path = geotiff.write_estimate_strips(tmp_path / "estimate.tif", GRID, strips)
    assert order == [block for blocks in by_strip for block in blocks]
    monkeypatch.undo()
    _assert_same_rasters(path, write_estimate(tmp_path / "whole.tif", GRID, _bands()))


def _noted_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """``(image, tile_row)`` of every row of blocks written from now on, in order."""
    real = tiff.TiledWriter.write_tiles
    order: list[tuple[int, int]] = []

    def noted(self, image, tile_row, values):  # type: ignore[no-untyped-def]
        order.append((image, tile_row))
        real(self, image, tile_row, values)

    monkeypatch.setattr(tiff.TiledWriter, "write_tiles", noted)
    return order


def _assert_same_rasters(a: Path, b: Path) -> None:
    """Full resolution and both overview levels of two files, pixel for pixel."""
    for level in (None, 0, 1):
        with (
            rasterio.open(a, overview_level=level) as x,
            rasterio.open(b, overview_level=level) as y,
        ):
            np.testing.assert_array_equal(x.read(), y.read())


def test_overviews_are_block_means_of_valid_cells(
    written: tuple[Path, dict[str, np.ndarray]],
) -> None:
    path, bands = written
    stacked = np.stack([bands[n].astype(np.float32) for n in ESTIMATE_BANDS]).astype(np.float64)
    for level, factor in enumerate((2, 4)):
        with rasterio.open(path, overview_level=level) as ov:
            got = ov.read()
        r, c = 37, 101  # an interior block with some NaN rows nearby
        block = stacked[:, r * factor : (r + 1) * factor, c * factor : (c + 1) * factor]
        np.testing.assert_allclose(got[:, r, c], np.nanmean(block, axis=(1, 2)), rtol=1e-6)
        assert got.shape == (4, -(-GRID.ny // factor), -(-GRID.nx // factor))
    assert np.isnan(geotiff.block_means(np.full((4, 3, 3), np.nan), 2)).all()


def test_updating_tiles_equals_writing_them(tmp_path: Path) -> None:
    bands = _bands()
    path = write_estimate(tmp_path / "estimate.tif", GRID, bands, metadata=META)
    changed = {name: values.copy() for name, values in bands.items()}
    for values in changed.values():
        values[256:512, 512:700] = 7.0  # tile (1, 2), clipped at the right edge
    row0, col0, rows, cols = GRID.tile_window(1, 2)
    tile = np.stack([changed[n][row0 : row0 + rows, col0 : col0 + cols] for n in ESTIMATE_BANDS])
    geotiff.update_estimate_tiles(path, GRID, [(1, 2, tile)], metadata={"as_of": "2025-07-01"})
    fresh = write_estimate(tmp_path / "fresh.tif", GRID, changed, metadata=META)
    _assert_same_rasters(path, fresh)
    assert read_estimate(path)[2]["as_of"] == "2025-07-01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["estimate.tif", "fresh.tif"]


@pytest.mark.parametrize("overview_tile", [geotiff.OVERVIEW_TILE, 256])
def test_updating_tiles_sharing_overview_blocks_equals_writing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overview_tile: int
) -> None:
    """Tiles side by side, one at the clipped corner: their pixels fill some overview
    blocks whole and others in part. A file written with 256-pixel overview blocks (as
    before OVERVIEW_TILE) is updated in its own layout."""
    monkeypatch.setattr(geotiff, "OVERVIEW_TILE", overview_tile)
    bands = _bands()
    path = write_estimate(tmp_path / "estimate.tif", GRID, bands, metadata=META)
    monkeypatch.undo()
    changed = {name: values.copy() for name, values in bands.items()}
    where = [(0, 0), (0, 1), (1, 2)]
    rng = np.random.default_rng(8)
    for tile_row, tile_col in where:
        row0, col0, rows, cols = GRID.tile_window(tile_row, tile_col)
        for values in changed.values():
            values[row0 : row0 + rows, col0 : col0 + cols] = rng.random((rows, cols))
    tiles = []
    for tile_row, tile_col in where:
        row0, col0, rows, cols = GRID.tile_window(tile_row, tile_col)
        window = [changed[n][row0 : row0 + rows, col0 : col0 + cols] for n in ESTIMATE_BANDS]
        tiles.append((tile_row, tile_col, np.stack(window)))
    geotiff.update_estimate_tiles(path, GRID, tiles)
    fresh = write_estimate(tmp_path / "fresh.tif", GRID, changed, metadata=META)
    _assert_same_rasters(path, fresh)
    for level in (0, 1):
        with (
            rasterio.open(path, overview_level=level) as x,
            rasterio.open(fresh, overview_level=level) as y,
        ):
            assert x.block_shapes[0] == (overview_tile, overview_tile)
            assert y.block_shapes[0] == (geotiff.OVERVIEW_TILE,) * 2


def test_unused_share_counts_the_space_updates_leave_behind(tmp_path: Path) -> None:
    path = write_estimate(tmp_path / "estimate.tif", GRID, _bands(), metadata=META)
    fresh = geotiff.unused_share(path)
    assert 0.0 <= fresh < 0.05  # headers and tags only
    size = path.stat().st_size
    noise = np.random.default_rng(5).random((4, 256, 256)).astype(np.float32)
    geotiff.update_estimate_tiles(path, GRID, [(0, 0, noise)])  # compresses worse: moved
    grown = path.stat().st_size - size
    assert grown > 0
    # the old blocks' space is left behind; the new ones, no smaller, took what it grew by
    assert fresh + 0.01 < geotiff.unused_share(path) <= fresh + grown / (size + grown)
    with path.open("ab") as fh:
        fh.write(bytes(3 * path.stat().st_size))
    assert geotiff.unused_share(path) > 0.75


def test_missing_band_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "two_bands.tif"
    profile = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 2,
        "dtype": "float32",
        "crs": GRID.crs,
        "transform": rasterio.Affine(*GRID.transform),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.set_band_description(1, "expected_remaining")
        dst.set_band_description(2, "p_any")
    with pytest.raises(FormatError, match=r"two_bands\.tif.*lower_90"):
        read_estimate(path)


def test_geographic_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "lonlat.tif"
    profile = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 4,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": rasterio.Affine(0.01, 0, 36, 0, -0.01, 50),
    }
    with rasterio.open(path, "w", **profile) as dst:
        for index, name in enumerate(ESTIMATE_BANDS, start=1):
            dst.set_band_description(index, name)
    with pytest.raises(FormatError, match=r"lonlat\.tif.*not projected"):
        read_estimate(path)


def test_unreadable_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "estimate.tif"
    path.write_text("not a tiff")
    with pytest.raises(FormatError, match=r"estimate\.tif"):
        read_estimate(path)


# -- overviews: the mean of the valid cells, against plain numpy ----------------------

ODD = Grid(crs="EPSG:32637", x0=400_000.0, y0=5_500_000.0, cell=25.0, nx=1037, ny=613)
"""Sides that are multiples of no overview factor: 4 tile columns and a partial fifth."""


def _reference_means(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the valid cells of each block, NaN where none: float64 numpy, then float32."""
    b, rows, cols = values.shape
    padded = np.full((b, -(-rows // factor) * factor, -(-cols // factor) * factor), np.nan)
    padded[:, :rows, :cols] = values
    blocks = padded.reshape(b, padded.shape[1] // factor, factor, padded.shape[2] // factor, factor)
    valid = ~np.isnan(blocks)
    total = np.where(valid, blocks, 0.0).sum(axis=(2, 4))
    with np.errstate(invalid="ignore"):
        return (total / valid.sum(axis=(2, 4))).astype(np.float32)  # 0 / 0 is NaN


def _assert_same_to_float32_rounding(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = ~np.isnan(want)
    np.testing.assert_array_max_ulp(got[valid], want[valid], maxulp=1)


def _odd_bands(grid: Grid = ODD, seed: int = 7) -> dict[str, np.ndarray]:
    """Values over many orders of magnitude, whole NaN tiles and ragged NaN regions."""
    rng = np.random.default_rng(seed)
    expected = rng.lognormal(-6.0, 3.0, size=(grid.ny, grid.nx))
    expected[100:140, 700:760] += 40.0  # a hot spot
    rows, cols = np.mgrid[0 : grid.ny, 0 : grid.nx]
    outside = (rows + cols < 150) | (rng.random(expected.shape) < 0.02)
    outside[0:256, 256:512] = True  # a whole tile
    outside[512:, 768:] = True  # the bottom-right tiles, clipped by the grid
    outside[300:303, :] = True  # rows across every tile
    expected[outside] = np.nan
    return {
        "expected_remaining": expected,
        "p_any": np.where(outside, np.nan, -np.expm1(-expected)),
        "lower_90": np.where(outside, np.nan, np.floor(expected / 2)),
        "upper_90": np.where(outside, np.nan, np.ceil(expected * 3)),
    }


def _stacked(bands: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(bands[n], np.float32) for n in ESTIMATE_BANDS])


def test_overviews_are_the_means_of_the_valid_cells_on_an_odd_grid(tmp_path: Path) -> None:
    bands = _odd_bands()
    path = write_estimate(tmp_path / "estimate.tif", ODD, bands, metadata=META)
    cells = _stacked(bands)  # the float32 cells the file holds
    factors = overview_factors(ODD.nx, ODD.ny)
    assert factors == [2, 4, 8]
    for level, factor in enumerate(factors):
        with rasterio.open(path, overview_level=level) as ov:
            got = ov.read()
        _assert_same_to_float32_rounding(got, _reference_means(cells, factor))
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(), cells)


def test_every_block_of_every_level_is_on_disk(tmp_path: Path) -> None:
    # All-NaN tiles are left to GDAL, which must still write them: readers other than
    # GDAL cannot read a sparse TIFF (a block at offset 0).
    path = write_estimate(tmp_path / "estimate.tif", ODD, _odd_bands())
    with rasterio.open(path) as src:
        for level, factor in [(None, 1), (0, 2), (1, 4), (2, 8)]:
            height, width = math.ceil(ODD.ny / factor), math.ceil(ODD.nx / factor)
            blocks = itertools.product(
                range(math.ceil(height / 256)), range(math.ceil(width / 256))
            )
            for y, x in blocks:
                for item in (f"BLOCK_OFFSET_{x}_{y}", f"BLOCK_SIZE_{x}_{y}"):
                    value = src.get_tag_item(item, "TIFF", bidx=1, ovr=level)
                    assert value is not None and int(value) > 0, (level, item)


def _assert_odd_levels(path: Path, cells: np.ndarray) -> None:
    """An ODD file holds ``cells`` at full resolution and their means at every level."""
    for level, factor in enumerate([1, 2, 4, 8]):
        with rasterio.open(path, overview_level=level - 1 if level else None) as src:
            got = src.read()
        if factor == 1:
            np.testing.assert_array_equal(got, cells)
        else:
            _assert_same_to_float32_rounding(got, _reference_means(cells, factor))


def test_a_strip_never_given_is_no_data_at_every_level(tmp_path: Path) -> None:
    cells = _stacked(_odd_bands())
    strips = [(row0, cells[:, row0 : row0 + 256]) for row0 in (0, 512)]  # not 256
    path = geotiff.write_estimate_strips(tmp_path / "estimate.tif", ODD, strips)
    cells[:, 256:512] = np.nan
    _assert_odd_levels(path, cells)


def test_a_row_of_overview_blocks_over_strips_is_written_with_its_last_strip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ODD's overview at factor 8 has two rows of 64-pixel blocks: full-resolution rows
    # 0-511 (strips 0 and 256) and 512-612 (strip 512). Its pixels wait in the scratch
    # file until a row's last strip is in, in whatever order the strips come.
    order = _noted_writes(monkeypatch)
    cells = _stacked(_odd_bands())
    strips = [(row0, cells[:, row0 : row0 + 256]) for row0 in (512, 0, 256)]
    path = geotiff.write_estimate_strips(tmp_path / "estimate.tif", ODD, strips)
    at = {block: i for i, block in enumerate(order)}
    assert len(at) == len(order)  # no block written twice
    assert at[(0, 2)] < at[(3, 1)] < at[(0, 0)] < at[(0, 1)] < at[(3, 0)]
    assert sorted(row for image, row in order if image == 3) == [0, 1]
    _assert_odd_levels(path, cells)


def test_updating_a_tile_to_no_data_equals_writing_it(tmp_path: Path) -> None:
    bands = _odd_bands()
    path = write_estimate(tmp_path / "estimate.tif", ODD, bands)
    changed = {name: values.copy() for name, values in bands.items()}
    for values in changed.values():
        values[256:512, 1024:] = np.nan  # tile (1, 4), clipped at the right edge
    row0, col0, rows, cols = ODD.tile_window(1, 4)
    tile = np.stack([changed[n][row0 : row0 + rows, col0 : col0 + cols] for n in ESTIMATE_BANDS])
    assert tile.shape == (4, 256, 13)
    geotiff.update_estimate_tiles(path, ODD, [(1, 4, tile)])
    fresh = write_estimate(tmp_path / "fresh.tif", ODD, changed)
    for level in (None, 0, 1, 2):
        with (
            rasterio.open(path, overview_level=level) as x,
            rasterio.open(fresh, overview_level=level) as y,
        ):
            np.testing.assert_array_equal(x.read(), y.read())


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8, 256, 300])
def test_block_means_against_numpy(factor: int) -> None:
    cells = _stacked(_odd_bands())
    _assert_same_to_float32_rounding(
        geotiff.block_means(cells, factor), _reference_means(cells, factor)
    )


def test_block_means_of_float64_take_the_float32_cells() -> None:
    values = np.array([[[0.1, 0.2], [np.nan, 1e-9]]])  # float64, not float32-exact
    want = np.float32(np.mean(np.float32([0.1, 0.2, 1e-9]).astype(np.float64)))
    assert geotiff.block_means(values, 2)[0, 0, 0] == want


def test_block_means_rejects_a_block_under_one_cell() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        geotiff.block_means(np.zeros((4, 2, 2)), 0)


@settings(max_examples=40, deadline=None)
@given(
    bands=st.integers(1, 4),
    rows=st.integers(1, 300),
    cols=st.integers(1, 600),
    nan_share=st.sampled_from([0.0, 0.3, 0.95, 1.0]),
    levels=st.integers(0, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_overview_pyramid_against_numpy(
    bands: int, rows: int, cols: int, nan_share: float, levels: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(-3.0, 2.0, size=(bands, rows, cols)).astype(np.float32)
    values[rng.random(values.shape) < nan_share] = np.nan
    pyramid = geotiff.overview_pyramid(values, levels)
    assert len(pyramid) == levels
    for k, means in enumerate(pyramid):
        _assert_same_to_float32_rounding(means, _reference_means(values, 2 ** (k + 1)))


def test_a_tile_alone_has_the_overview_pixels_it_has_in_its_strip() -> None:
    # What lets update_estimate_tiles recompute a tile's overview pixels on its own.
    strip = _stacked(_odd_bands())[:, 256:512]
    whole = geotiff.overview_pyramid(strip, 8)
    for col0 in range(0, ODD.nx, 256):
        alone = geotiff.overview_pyramid(strip[:, :, col0 : col0 + 256], 8)
        for k, (a, w) in enumerate(zip(alone, whole, strict=True)):
            f = 2 ** (k + 1)
            part = w[:, :, col0 // f : col0 // f + a.shape[2]]
            assert np.array_equal(a, part, equal_nan=True)


def test_overview_pyramid_stops_at_a_tile() -> None:
    with pytest.raises(ValueError, match="at most 8 levels"):
        geotiff.overview_pyramid(np.zeros((1, 4, 4), np.float32), 9)
