"""GeoTIFF: the hazard estimate as ``estimate.tif`` (exchange format, "Estimate output").

Four float32 bands in spec order, each named by its description, in a projected metre
CRS, NaN as no data outside the studied area; tiled 256 × 256 with DEFLATE and the
floating-point predictor, and internal overviews for fast display in GIS.

The raster is written a strip of whole tile rows at a time (:func:`write_estimate_strips`),
so a country-sized estimate never sits in memory, and can be updated tile by tile in
place (:func:`update_estimate_tiles`). Overviews are computed here, not by GDAL: each
overview pixel is the mean of the valid (non-NaN) cells it covers at full resolution
(:func:`block_means`). They are built as a pyramid (:func:`overview_pyramid`): the
float64 sum and the count of the valid cells of every 2 × 2 block, each level's from
the level below, so each cell is read once whatever the number of levels; the mean is
the sum over the count, not a mean of means. GDAL's own ``average`` overviews are a
mean of the level below's means instead, which weighs a half-empty block like a full
one. Every overview factor divides a tile, so a tile's overview pixels depend on that
tile alone — a full write and a tile update give the same overviews, to the bit.

References
----------
.. [1] GDAL, "GTiff -- GeoTIFF File Format" (creation options TILED, COMPRESS,
   PREDICTOR, BIGTIFF). https://gdal.org/en/stable/drivers/raster/gtiff.html
.. [2] rasterio, "Overviews". https://rasterio.readthedocs.io/en/stable/topics/overviews.html
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.crs import CRS as RioCRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioIOError
from rasterio.io import DatasetReader, DatasetWriter
from rasterio.transform import Affine
from rasterio.windows import Window

from remnant.errors import FormatError
from remnant.hazard.grid import TILE, Grid
from remnant.io.files import atomic_path

ESTIMATE_BANDS = ("expected_remaining", "p_any", "lower_90", "upper_90")
"""Band names of ``estimate.tif``, in the order of the exchange-format spec."""

BAND_UNITS = {
    "expected_remaining": "items",
    "p_any": "probability",
    "lower_90": "items",
    "upper_90": "items",
}
"""The ``unit`` tag of each band."""

CREATION_OPTIONS = {
    "tiled": True,
    "blockxsize": TILE,
    "blockysize": TILE,
    "compress": "deflate",
    "zlevel": 1,
    "predictor": 3,
    "num_threads": "all_cpus",
    "BIGTIFF": "IF_SAFER",
}
"""GTiff creation options [1]_; ``predictor=3`` is the floating-point predictor;
DEFLATE level 1 compresses a country-sized estimate five times faster than the
default level 6, for files a few per cent larger."""

_GDAL_TAGS = frozenset({"AREA_OR_POINT"})
"""Dataset tags GDAL adds by itself, left out of the metadata read back."""


def write_estimate(
    path: str | Path,
    grid: Grid,
    bands: Mapping[str, npt.ArrayLike],
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write the hazard estimate from whole arrays as a GeoTIFF, atomically.

    See :func:`write_estimate_strips`, which this calls one strip of 256 rows at a
    time (converted to float32 per strip).

    Parameters
    ----------
    path : path
        The GeoTIFF to write; replaced if it exists.
    grid : Grid
        The grid of the arrays; its CRS must be projected, in metres.
    bands : mapping of str to array_like
        One ``(grid.ny, grid.nx)`` array per name of :data:`ESTIMATE_BANDS`, NaN outside
        the studied area. [items] or, for ``p_any``, [probability]
    metadata : mapping of str to str, optional
        Dataset-level tags, e.g. ``as_of``, ``cell_size_m``, ``software_version``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        A band is missing, unknown or of the wrong shape; or the CRS is geographic or
        not in metres.
    """
    _metre_crs(grid.crs)
    arrays = _checked_bands(grid, bands)
    return write_estimate_strips(path, grid, _strips_of(grid, arrays), metadata=metadata)


def _strips_of(grid: Grid, arrays: Mapping[str, np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """The arrays as float32 strips of 256 rows, bands stacked in spec order."""
    for row0 in range(0, grid.ny, TILE):
        rows = [np.asarray(arrays[n][row0 : row0 + TILE], np.float32) for n in ESTIMATE_BANDS]
        yield row0, np.stack(rows)


def write_estimate_strips(
    path: str | Path,
    grid: Grid,
    strips: Iterable[tuple[int, np.ndarray]],
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write the hazard estimate a strip at a time as a GeoTIFF, atomically.

    Memory beyond one strip is the overview levels, held in scratch files beside
    ``path`` (a third of the raster, at most) and written into the overview levels
    once the full resolution is done. Overviews at factors 2, 4, 8, ... (until the
    smallest is under 256 cells on its long side, and at most 256) hold the mean of
    the valid cells they cover: for ``expected_remaining`` (a count per cell) the mean
    count per cell of the coarser pixel, the right picture of a density; sum it over
    cells, not over overview pixels, for totals.

    Parameters
    ----------
    path : path
        The GeoTIFF to write; replaced if it exists.
    grid : Grid
        The grid of the strips; its CRS must be projected, in metres.
    strips : iterable of (int, ndarray)
        ``(row0, bands)`` for every strip of whole tile rows, in any order, with
        ``row0`` a multiple of 256 and ``bands`` of shape ``(4, rows, grid.nx)`` in
        :data:`ESTIMATE_BANDS` order, NaN outside the studied area.
    metadata : mapping of str to str, optional
        Dataset-level tags, e.g. ``as_of``, ``cell_size_m``, ``software_version``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The CRS is geographic or not in metres, or a strip has the wrong shape or
        place.
    """
    crs = _metre_crs(grid.crs)
    factors = overview_factors(grid.nx, grid.ny)
    target = Path(path)
    with (
        atomic_path(target) as tmp,
        tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as scratch,
    ):
        levels = [_level_file(Path(scratch), grid, f) for f in factors]
        with rasterio.open(tmp, "w", **_profile(grid, crs)) as dst:
            _describe(dst, metadata)
            if factors:
                dst.build_overviews(factors, Resampling.nearest)  # the levels, filled below
            written = set()
            for row0, strip in strips:
                _check_strip(grid, row0, strip)
                values = strip.astype(np.float32, copy=False)
                _write_strip(dst, row0, values)
                _store_levels(levels, factors, row0, overview_pyramid(values, len(factors)))
                written.add(row0)
        _blank_missing(levels, factors, grid, written)
        _write_levels(tmp, levels)
    return target


def _store_levels(
    levels: list[np.ndarray], factors: list[int], row0: int, pyramid: list[np.ndarray]
) -> None:
    """Put a strip's overview rows, from full-resolution row ``row0``, in the levels."""
    for f, level, means in zip(factors, levels, pyramid, strict=True):
        level[:, row0 // f : row0 // f + means.shape[1]] = means


def _blank_missing(
    levels: list[np.ndarray], factors: list[int], grid: Grid, written: set[int]
) -> None:
    """Set to NaN the overview rows of strips never written (no data there)."""
    for row0 in sorted(set(range(0, grid.ny, TILE)) - written):
        rows = min(TILE, grid.ny - row0)
        for f, level in zip(factors, levels, strict=True):
            level[:, row0 // f : row0 // f + -(-rows // f)] = np.nan


def _write_levels(path: Path, levels: list[np.ndarray]) -> None:
    """Write the levels into the file's overviews, compressing on all cores."""
    for index, level in enumerate(levels):
        with rasterio.open(path, "r+", overview_level=index, num_threads="all_cpus") as ov:
            for row0 in range(0, level.shape[1], TILE):
                _write_strip(ov, row0, np.asarray(level[:, row0 : row0 + TILE]))


def update_estimate_tiles(
    path: str | Path,
    grid: Grid,
    tiles: Iterable[tuple[int, int, np.ndarray]],
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Replace some tiles of an ``estimate.tif`` and their overview pixels, atomically.

    The file is copied, the copy updated in place (GDAL appends the new compressed
    blocks) and renamed over the original, so a reader never sees a half-updated
    estimate.

    Parameters
    ----------
    path : path
        An ``estimate.tif`` written by :func:`write_estimate_strips` on ``grid``.
    grid : Grid
        Its grid.
    tiles : iterable of (int, int, ndarray)
        ``(tile_row, tile_col, bands)`` with ``bands`` of shape ``(4, rows, cols)``,
        the tile's window (:meth:`Grid.tile_window`).
    metadata : mapping of str to str, optional
        Dataset-level tags to set (others are kept).
    """
    factors = overview_factors(grid.nx, grid.ny)
    target = Path(path)
    blocks = list(tiles)
    with atomic_path(target) as tmp:
        shutil.copyfile(target, tmp)
        with rasterio.open(tmp, "r+") as dst:
            if _grid_of(target, dst) != grid:
                raise ValueError(f"{target}: written on another grid than {grid}")
            for tile_row, tile_col, bands in blocks:
                row0, col0, rows, cols = grid.tile_window(tile_row, tile_col)
                _check_block(bands, rows, cols)
                dst.write(bands.astype(np.float32), window=Window(col0, row0, cols, rows))
            dst.update_tags(**dict(metadata or {}))
        pyramids = [
            overview_pyramid(b.astype(np.float32, copy=False), len(factors)) for *_, b in blocks
        ]
        for index, f in enumerate(factors):
            with rasterio.open(tmp, "r+", overview_level=index) as ov:
                for (tile_row, tile_col, _), pyramid in zip(blocks, pyramids, strict=True):
                    row0, col0, _, _ = grid.tile_window(tile_row, tile_col)
                    means = pyramid[index]
                    window = Window(col0 // f, row0 // f, means.shape[2], means.shape[1])
                    ov.write(means, window=window)
    return target


def block_means(bands: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the valid cells of each ``factor × factor`` block, NaN where none is valid.

    The cells are taken as float32, as the file stores them, and summed in float64. A
    power-of-two ``factor`` is the matching level of :func:`overview_pyramid` (the
    overviews of the file, to the bit); any other sums each block directly.

    Parameters
    ----------
    bands : ndarray, shape (4, rows, cols)
        Values, NaN where no data; ``rows`` and ``cols`` need not be multiples of
        ``factor`` (the last blocks are partial).
    factor : int
        Block side, at least 1. [cells]

    Returns
    -------
    ndarray of float32, shape (4, ceil(rows / factor), ceil(cols / factor))
    """
    if factor < 1:
        raise ValueError(f"block side must be at least 1 cell, not {factor}")
    values = np.asarray(bands).astype(np.float32, copy=False)
    if factor > 1 and factor & (factor - 1) == 0:
        return overview_pyramid(values, factor.bit_length() - 1)[-1]
    return _block_means(*_block_sums(values, factor))


def overview_pyramid(bands: np.ndarray, levels: int) -> list[np.ndarray]:
    """Means of the valid cells of blocks of 2, 4, ..., ``2**levels`` cells a side.

    Each level holds the float64 sum and the count of the valid cells of each block,
    made from the level below (2 × 2 blocks of it), so the full-resolution cells are
    read once; the means are the sums over the counts, NaN where a block has no valid
    cell. The same as :func:`block_means` of each factor, to float32 rounding (the
    sums are the same numbers added in another order).

    Parameters
    ----------
    bands : ndarray of float32, shape (4, rows, cols)
        Values, NaN where no data; ``rows`` and ``cols`` need not be even (the last
        blocks of each level are partial).
    levels : int
        Number of levels. [-]

    Returns
    -------
    list of ndarray of float32
        Level ``k`` (from 0) of shape ``(4, ceil(rows / 2**(k+1)), ceil(cols / 2**(k+1)))``.
    """
    if not levels:
        return []
    sums, counts = _block_sums(np.asarray(bands, np.float32), 2)
    pyramid = [_block_means(sums, counts)]
    for _ in range(levels - 1):
        sums, counts = _halve(sums, counts)
        pyramid.append(_block_means(sums, counts))
    return pyramid


@numba.njit(parallel=True, cache=True)
def _block_sums(
    values: npt.NDArray[np.float32], factor: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """Float64 sum and count of the non-NaN values of each ``factor × factor`` block.

    Within a block the values are added row by row, left to right.
    """
    bands, rows, cols = values.shape
    out_rows, out_cols = -(-rows // factor), -(-cols // factor)
    sums = np.empty((bands, out_rows, out_cols))
    counts = np.empty((bands, out_rows, out_cols), np.int32)
    for k in numba.prange(bands * out_rows):
        b, r_out = k // out_rows, k % out_rows
        r_end = min(rows, (r_out + 1) * factor)
        for c_out in range(out_cols):
            c_end = min(cols, (c_out + 1) * factor)
            total, n = 0.0, 0
            for r in range(r_out * factor, r_end):
                for c in range(c_out * factor, c_end):
                    v = values[b, r, c]
                    if not np.isnan(v):
                        total += v
                        n += 1
            sums[b, r_out, c_out] = total
            counts[b, r_out, c_out] = n
    return sums, counts


@numba.njit(parallel=True, cache=True)
def _halve(
    sums: npt.NDArray[np.float64], counts: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """The sums and counts of 2 × 2 blocks of sums and counts (the next level up).

    The four are added row by row, left to right, as :func:`_block_sums` adds cells.
    """
    bands, rows, cols = sums.shape
    out_rows, out_cols = -(-rows // 2), -(-cols // 2)
    out_sums = np.empty((bands, out_rows, out_cols))
    out_counts = np.empty((bands, out_rows, out_cols), np.int32)
    for k in numba.prange(bands * out_rows):
        b, r_out = k // out_rows, k % out_rows
        r_end = min(rows, 2 * r_out + 2)
        for c_out in range(out_cols):
            c_end = min(cols, 2 * c_out + 2)
            total, n = 0.0, 0
            for r in range(2 * r_out, r_end):
                for c in range(2 * c_out, c_end):
                    total += sums[b, r, c]
                    n += counts[b, r, c]
            out_sums[b, r_out, c_out] = total
            out_counts[b, r_out, c_out] = n
    return out_sums, out_counts


@numba.njit(parallel=True, cache=True)
def _block_means(
    sums: npt.NDArray[np.float64], counts: npt.NDArray[np.int32]
) -> npt.NDArray[np.float32]:
    """Sums over counts as float32, NaN where the count is 0."""
    bands, rows, cols = sums.shape
    means = np.empty((bands, rows, cols), np.float32)
    for k in numba.prange(bands * rows):
        b, r = k // rows, k % rows
        for c in range(cols):
            n = counts[b, r, c]
            means[b, r, c] = sums[b, r, c] / n if n > 0 else np.nan
    return means


def read_estimate(path: str | Path) -> tuple[Grid, dict[str, np.ndarray], dict[str, str]]:
    """Read an ``estimate.tif`` written by :func:`write_estimate` (or to the same spec).

    Parameters
    ----------
    path : path
        The GeoTIFF.

    Returns
    -------
    grid : Grid
        The grid of the file.
    bands : dict of str to ndarray
        The float32 ``(ny, nx)`` arrays by band name (the band description), in
        :data:`ESTIMATE_BANDS` order; NaN where no data.
    metadata : dict of str to str
        The dataset-level tags (GDAL's own ``AREA_OR_POINT`` left out).

    Raises
    ------
    FormatError
        The file cannot be opened, a band is missing, the CRS is not projected in
        metres, or the cells are not square and north up.
    """
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise FormatError(f"{path}: not a readable GeoTIFF: {exc}") from exc
    with src:
        grid = _grid_of(path, src)
        index = _band_index(path, src)
        bands = {name: _read_band(src, index[name]) for name in ESTIMATE_BANDS}
        tags = {k: v for k, v in src.tags().items() if k not in _GDAL_TAGS}
    return grid, bands, tags


def _metre_crs(crs: str) -> RioCRS:
    """Return ``crs`` as a rasterio CRS; ValueError unless projected in metres."""
    try:
        parsed = RioCRS.from_user_input(crs)
    except CRSError as exc:
        raise ValueError(f"grid CRS {crs!r} is not a valid CRS: {exc}") from exc
    if not parsed.is_projected:
        raise ValueError(f"grid CRS {crs!r} is geographic; estimate.tif needs a metre CRS")
    unit, factor = parsed.linear_units_factor
    if factor != 1.0:
        raise ValueError(f"grid CRS {crs!r} is in {unit}; estimate.tif needs metres")
    return parsed


def _checked_bands(grid: Grid, bands: Mapping[str, npt.ArrayLike]) -> dict[str, np.ndarray]:
    """The arrays by name, without copies; ValueError listing every problem."""
    problems = [f"missing band {name!r}" for name in ESTIMATE_BANDS if name not in bands]
    problems += [f"unknown band {name!r}" for name in bands if name not in ESTIMATE_BANDS]
    arrays = {name: np.asarray(bands[name]) for name in ESTIMATE_BANDS if name in bands}
    shape = (grid.ny, grid.nx)
    problems += [
        f"band {name!r} has shape {a.shape}, the grid needs {shape}"
        for name, a in arrays.items()
        if a.shape != shape
    ]
    if problems:
        raise ValueError(
            "cannot write estimate: " + "; ".join(problems) + f" (bands: {ESTIMATE_BANDS})"
        )
    return arrays


def _profile(grid: Grid, crs: RioCRS) -> dict[str, object]:
    return {
        "driver": "GTiff",
        "width": grid.nx,
        "height": grid.ny,
        "count": len(ESTIMATE_BANDS),
        "dtype": "float32",
        "crs": crs,
        "transform": Affine(*grid.transform),
        "nodata": np.nan,
        **CREATION_OPTIONS,
    }


def _describe(dst: DatasetWriter, metadata: Mapping[str, str] | None) -> None:
    """Name each band, set its unit, and the dataset's tags."""
    for index, name in enumerate(ESTIMATE_BANDS, start=1):
        dst.set_band_description(index, name)
        dst.set_band_unit(index, BAND_UNITS[name])
        dst.update_tags(index, unit=BAND_UNITS[name])
    dst.update_tags(**dict(metadata or {}))
    dst.update_tags(ns="rio_overview", resampling="average")


def _level_file(scratch: Path, grid: Grid, factor: int) -> np.ndarray:
    """A float32 scratch array on disk for the overview of ``factor``, not filled."""
    shape = (len(ESTIMATE_BANDS), -(-grid.ny // factor), -(-grid.nx // factor))
    return np.lib.format.open_memmap(scratch / f"overview-{factor}.npy", "w+", np.float32, shape)


def _check_strip(grid: Grid, row0: int, strip: np.ndarray) -> None:
    rows = min(TILE, grid.ny - row0)
    if (
        row0 % TILE
        or not 0 <= row0 < grid.ny
        or strip.shape != (len(ESTIMATE_BANDS), rows, grid.nx)
    ):
        raise ValueError(
            f"strip at row {row0} has shape {strip.shape}; the grid needs row0 a multiple of "
            f"{TILE} below {grid.ny} and shape {(len(ESTIMATE_BANDS), rows, grid.nx)}"
        )


def _check_block(bands: np.ndarray, rows: int, cols: int) -> None:
    if bands.shape != (len(ESTIMATE_BANDS), rows, cols):
        raise ValueError(f"tile has shape {bands.shape}, its window needs {(4, rows, cols)}")


def _write_strip(dst: DatasetWriter, row0: int, strip: np.ndarray) -> None:
    """Write ``(bands, rows, cols)`` at row ``row0``, all bands, as float32."""
    rows, cols = strip.shape[1], strip.shape[2]
    dst.write(strip.astype(np.float32, copy=False), window=Window(0, row0, cols, rows))


def overview_factors(nx: int, ny: int) -> list[int]:
    """Return the overview factors 2, 4, 8, ... down to the first under one tile (≤ 256).

    Parameters
    ----------
    nx, ny : int
        Size of the full-resolution raster. [cells]
    """
    factors: list[int] = []
    factor = 2
    while max(nx, ny) / (factor // 2) > TILE and factor <= TILE:
        factors.append(factor)
        factor *= 2
    return factors


def _grid_of(path: str | Path, src: DatasetReader) -> Grid:
    """The Grid of an open dataset; FormatError unless projected, metre, square, north up."""
    if src.crs is None or not src.crs.is_projected:
        raise FormatError(f"{path}: CRS {src.crs} is not projected; estimate.tif needs metres")
    unit, factor = src.crs.linear_units_factor
    if factor != 1.0:
        raise FormatError(f"{path}: CRS {src.crs} is in {unit}; estimate.tif needs metres")
    t = src.transform
    if t.b != 0 or t.d != 0 or t.a <= 0 or t.e != -t.a:
        raise FormatError(f"{path}: cells are not square and north up (transform {tuple(t)})")
    return Grid(
        crs=src.crs.to_string(),
        x0=t.c,
        y0=t.f - src.height * t.a,
        cell=t.a,
        nx=src.width,
        ny=src.height,
    )


def _band_index(path: str | Path, src: DatasetReader) -> dict[str, int]:
    """Band numbers by description; FormatError naming every missing band."""
    index = {d: i for i, d in enumerate(src.descriptions, start=1) if d}
    missing = [name for name in ESTIMATE_BANDS if name not in index]
    if missing:
        found = [d for d in src.descriptions if d]
        raise FormatError(f"{path}: missing band(s) {missing} (band descriptions: {found})")
    return index


def _read_band(src: DatasetReader, index: int) -> np.ndarray:
    values = src.read(index, out_dtype=np.float32)
    nodata = src.nodatavals[index - 1]
    if nodata is not None and not np.isnan(nodata):
        values[values == nodata] = np.nan
    return values
