"""The TIFF container: blocks GDAL reads to the bit, and its own bytes for the predictor."""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning

from remnant.errors import FormatError
from remnant.io import tiff
from remnant.io.tiff import Image, Tag, read_directories, tiled_writer

pytestmark = pytest.mark.filterwarnings("ignore", category=NotGeoreferencedWarning)


def _floats(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Float32 samples of every kind: NaN, ±inf, ±0, subnormals, small and large."""
    values = rng.gamma(0.5, 0.2, size=shape).astype(np.float32)
    kinds = rng.integers(0, 12, size=shape)
    values[kinds == 0] = np.nan
    values[kinds == 1] = np.inf
    values[kinds == 2] = -np.inf
    values[kinds == 3] = -0.0
    values[kinds == 4] = np.float32(1e-42)  # subnormal
    values[kinds == 5] = -rng.random(np.count_nonzero(kinds == 5)) * 1e30
    return values


def _write(path: Path, images: list[Image], data: list[np.ndarray], **kw: bool) -> None:
    with tiled_writer(path, images, **kw) as out:
        for index, (image, values) in enumerate(zip(images, data, strict=True)):
            for tile_row in range(image.tiles_down):
                out.write_tiles(index, tile_row, values[:, tile_row * 256 : (tile_row + 1) * 256])


def _blocks(path: Path, image: int = 0) -> list[bytes]:
    """The decompressed blocks of one image, in tile order."""
    _, dirs = read_directories(path)
    offsets = dirs[image].ints(tiff.TILE_OFFSETS)
    sizes = dirs[image].ints(tiff.TILE_BYTE_COUNTS)
    data = path.read_bytes()
    return [zlib.decompress(data[o : o + n]) for o, n in zip(offsets, sizes, strict=True)]


def _gdal_write(path: Path, values: np.ndarray) -> None:
    profile = {
        "driver": "GTiff", "width": values.shape[2], "height": values.shape[1],
        "count": values.shape[0], "dtype": "float32", "tiled": True, "blockxsize": 256,
        "blockysize": 256, "compress": "deflate", "predictor": 3, "interleave": "pixel",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)


@pytest.mark.parametrize(("rows", "cols", "samples"), [(600, 700, 4), (256, 256, 1), (1, 300, 3)])
def test_blocks_are_gdals_bytes(tmp_path: Path, rows: int, cols: int, samples: int) -> None:
    """Once decompressed, every block is GDAL's (libtiff's predictor), edge tiles too."""
    values = _floats(np.random.default_rng(rows + cols), (samples, rows, cols))
    ours, gdal = tmp_path / "ours.tif", tmp_path / "gdal.tif"
    _write(ours, [Image(cols, rows, samples)], [values])
    _gdal_write(gdal, values)
    assert _blocks(ours) == _blocks(gdal)


def test_gdal_reads_every_image_to_the_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    full = _floats(rng, (4, 600, 700))
    half = _floats(rng, (4, 300, 350))
    path = tmp_path / "two.tif"
    _write(path, [Image(700, 600, 4), Image(350, 300, 4, reduced=True)], [full, half])
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2]
        assert np.array_equal(src.read().view(np.uint32), full.view(np.uint32))
    with rasterio.open(path, overview_level=0) as ov:
        assert np.array_equal(ov.read().view(np.uint32), half.view(np.uint32))


def test_bigtiff_holds_the_same_image(tmp_path: Path) -> None:
    values = _floats(np.random.default_rng(3), (4, 300, 520))
    classic, big = tmp_path / "classic.tif", tmp_path / "big.tif"
    _write(classic, [Image(520, 300, 4)], [values], bigtiff=False)
    _write(big, [Image(520, 300, 4)], [values], bigtiff=True)
    assert big.read_bytes()[2:4] == struct.pack("<H", 43)
    assert classic.read_bytes()[2:4] == struct.pack("<H", 42)
    for path in (classic, big):
        with rasterio.open(path) as src:
            assert np.array_equal(src.read().view(np.uint32), values.view(np.uint32))
    assert _blocks(classic) == _blocks(big)


def test_needs_bigtiff_at_the_4_gb_bound() -> None:
    """Classic TIFF while DEFLATE's worst case of every block stays under 4 GB."""
    tile = 256 * 256 * 4 * 4  # one uncompressed tile of four float32 samples
    bound = tiff._deflate_bound(tile)
    fits = ((1 << 32) - (1 << 21)) // (bound + 16)  # tiles whose worst case fits
    assert not tiff.needs_bigtiff([Image(256 * fits, 256, 4)])
    assert tiff.needs_bigtiff([Image(256 * (fits + 200), 256, 4)])
    assert tiff.needs_bigtiff([Image(256 * fits, 256, 4), Image(256 * 200, 256, 4)])


def test_tiles_never_given_are_nan_each_in_its_own_block(tmp_path: Path) -> None:
    path = tmp_path / "sparse.tif"
    values = _floats(np.random.default_rng(5), (2, 256, 600))
    with tiled_writer(path, [Image(600, 700, 2)]) as out:
        out.write_tiles(0, 1, values)  # the middle row of tiles only
    with rasterio.open(path) as src:
        read = src.read()
    assert np.isnan(read[:, :256]).all() and np.isnan(read[:, 512:]).all()
    assert np.array_equal(read[:, 256:512].view(np.uint32), values.view(np.uint32))
    _, (d,) = read_directories(path)
    offsets, sizes = d.ints(tiff.TILE_OFFSETS), d.ints(tiff.TILE_BYTE_COUNTS)
    assert len(set(offsets.tolist())) == 9 and (sizes > 0).all()
    starts = np.argsort(offsets)
    assert (offsets[starts][1:] >= offsets[starts][:-1] + sizes[starts][:-1]).all()  # no overlap


def test_incompressible_tile_is_stored_within_zlibs_bound() -> None:
    noise = np.random.default_rng(1).integers(0, 256, 256 * 256 * 16, dtype=np.uint8)
    blob = tiff._deflate(noise)
    assert len(blob) <= tiff._deflate_bound(noise.size)
    assert zlib.decompress(blob) == noise.tobytes()


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 300),
    cols=st.integers(1, 300),
    samples=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_predictor_is_undone_by_its_inverse(rows: int, cols: int, samples: int, seed: int) -> None:
    """Adding back each byte's left neighbour and joining the planes gives the samples."""
    values = _floats(np.random.default_rng(seed), (samples, rows, cols))
    tile = 256
    padded = np.zeros((samples, tile, -(-cols // tile) * tile), np.float32)
    padded[:, : min(rows, tile), :cols] = values[:, :tile]
    out = np.empty((padded.shape[2] // tile, tile * tile * samples * 4), np.uint8)
    tiff._predict(np.ascontiguousarray(values[:, :tile]).view(np.uint32), tile, out)
    for t, block in enumerate(out):
        rows_bytes = block.reshape(tile, 4 * tile * samples).astype(np.int64)
        undone = np.cumsum(rows_bytes.reshape(tile, -1, samples), axis=1).reshape(tile, -1) % 256
        planes = undone.reshape(tile, 4, tile * samples).astype(np.uint32)
        words = (planes[:, 0] << 24) | (planes[:, 1] << 16) | (planes[:, 2] << 8) | planes[:, 3]
        want = padded[:, :, t * tile : (t + 1) * tile].transpose(1, 2, 0).reshape(tile, -1)
        assert np.array_equal(words, want.view(np.uint32))


def test_wrong_shape_is_refused(tmp_path: Path) -> None:
    with tiled_writer(tmp_path / "x.tif", [Image(300, 300, 2)]) as out:
        with pytest.raises(ValueError, match=r"tile row 1 needs shape \(2, 44, 300\)"):
            out.write_tiles(0, 1, np.zeros((2, 256, 300), np.float32))
        with pytest.raises(ValueError, match="tile rows 0 to 1, not 2"):
            out.write_tiles(0, 2, np.zeros((2, 44, 300), np.float32))


def test_the_writers_own_tags_are_refused(tmp_path: Path) -> None:
    clash = Image(10, 10, 1, tags=(Tag.numbers(tiff.COMPRESSION, tiff.SHORT, [1]),))
    with (
        pytest.raises(ValueError, match=r"tags \[259\] are the writer's own"),
        tiled_writer(tmp_path / "x.tif", [clash]),
    ):
        pass


def test_callers_tags_are_written_and_read_back(tmp_path: Path) -> None:
    tags = (
        Tag.numbers(33550, tiff.DOUBLE, [25.0, 25.0, 0.0]),
        Tag.ascii(42113, "nan"),
        Tag.numbers(34735, tiff.SHORT, list(range(1, 33))),
    )
    path = tmp_path / "tags.tif"
    _write(path, [Image(20, 10, 1, tags=tags)], [np.ones((1, 10, 20), np.float32)])
    _, (d,) = read_directories(path)
    assert d.tags[42113].text() == "nan"
    assert d.tags[33550].values.tolist() == [25.0, 25.0, 0.0]
    assert d.tags[34735].values.tolist() == list(range(1, 33))
    assert list(d.tags) == sorted(d.tags)


def test_not_a_tiff_is_a_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(FormatError, match=r"bad\.tif: not a little-endian TIFF"):
        read_directories(bad)


def test_cut_tiff_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.tif"
    _write(path, [Image(300, 300, 4)], [np.ones((4, 300, 300), np.float32)])
    _, (d,) = read_directories(path)
    path.write_bytes(path.read_bytes()[: d.at + 40])
    with pytest.raises(FormatError, match=r"cut\.tif: cut or damaged TIFF directory"):
        read_directories(path)


def _two_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    full, half = _floats(rng, (4, 600, 700)), _floats(rng, (4, 300, 350))
    _write(path, [Image(700, 600, 4), Image(350, 300, 4, reduced=True)], [full, half])
    return full, half


def _read(path: Path, level: int | None = None) -> np.ndarray:
    with rasterio.open(path, overview_level=level) as src:
        return src.read()


def test_read_tile_gives_back_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    full, half = _two_images(path)
    with tiff.tiled_updater(path) as up:
        edge = up.read_tile(0, 8)  # row 2, column 2: 88 rows and 188 columns inside
        assert np.array_equal(
            edge[:, :88, :188].view(np.uint32), full[:, 512:, 512:].view(np.uint32)
        )
        assert (edge[:, 88:] == 0).all() and (edge[:, :, 188:] == 0).all()  # GDAL's padding
        small = up.read_tile(1, 1)
        assert np.array_equal(
            small[:, :256, :94].view(np.uint32), half[:, :256, 256:].view(np.uint32)
        )


def test_read_tiles_in_a_batch_equal_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    _two_images(path)
    with tiff.tiled_updater(path) as up:
        batch = up.read_tiles(0, [8, 0, 4, 8])
        for index, tile in zip([8, 0, 4, 8], batch, strict=True):
            assert np.array_equal(tile.view(np.uint32), up.read_tile(0, index).view(np.uint32))


def test_damaged_block_is_a_format_error_naming_the_tile(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    _two_images(path)
    _, dirs = read_directories(path)
    at = int(dirs[0].ints(tiff.TILE_OFFSETS)[4])
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"\x00\x00\x00\x00")
    with tiff.tiled_updater(path) as up, pytest.raises(FormatError, match="tile 4 of image 0"):
        up.read_tiles(0, [3, 4])


def test_committed_update_is_read_by_gdal(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    full, half = _two_images(path)
    new = _floats(np.random.default_rng(12), (4, 88, 188))
    stamp = (Tag.ascii(42113, "nan"),)
    for _ in range(2):  # twice: the second update reads the first's directories
        with tiff.tiled_updater(path) as up:
            up.put_tiles(0, [8], [new])
            up.commit(stamp)
    want = full.copy()
    want[:, 512:, 512:] = new
    assert np.array_equal(_read(path).view(np.uint32), want.view(np.uint32))
    assert np.array_equal(_read(path, 0).view(np.uint32), half.view(np.uint32))
    _, dirs = read_directories(path)
    assert dirs[0].tags[42113].text() == "nan" and len(dirs) == 2


def test_failed_update_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    _two_images(path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="stop"), tiff.tiled_updater(path) as up:
        up.put_tiles(0, [0], [np.zeros((4, 256, 256), np.float32)])
        raise RuntimeError("stop")
    assert path.read_bytes() == before


def test_update_cut_short_before_its_commit_is_invisible(tmp_path: Path) -> None:
    """The process dies after appending blocks: readers still see the old image."""
    path = tmp_path / "x.tif"
    full, _ = _two_images(path)
    with open(path, "r+b") as f, ThreadPoolExecutor(1) as pool:
        up = tiff.TiledUpdater(f, path, pool)
        up.put_tiles(0, [0], [np.zeros((4, 256, 256), np.float32)])  # no commit
    assert path.stat().st_size > up.start
    assert np.array_equal(_read(path).view(np.uint32), full.view(np.uint32))


def test_foreign_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lzw.tif"
    profile = {
        "driver": "GTiff", "width": 300, "height": 300, "count": 1, "dtype": "float32",
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "lzw",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, 300, 300), np.float32))
    with pytest.raises(FormatError, match=r"lzw\.tif: image at byte \d+ is not float32"):
        tiff.tiled_updater(path).__enter__()
