"""GeoTIFF: the hazard estimate as ``estimate.tif`` (exchange format, "Estimate output").

Four float32 bands in spec order, each named by its description, in a projected metre
CRS, NaN as no data outside the studied area; tiled 256 × 256 with DEFLATE and the
floating-point predictor, and internal overviews for fast display in GIS (tiled
64 × 64, :data:`OVERVIEW_TILE`).

The raster is written a strip of whole tile rows at a time (:func:`write_estimate_strips`),
so a country-sized estimate never sits in memory, and can be updated tile by tile in
place (:func:`update_estimate_tiles`). Overviews are computed here, not by GDAL: each
overview pixel is the mean of the valid (non-NaN) cells it covers at full resolution
(:func:`block_means`). They are built as a pyramid (:func:`overview_pyramid`): the
float64 sum and the count of the valid cells of every 2 × 2 block, each level's from
the level below, so each cell is read once whatever the number of levels; the mean is
the sum over the count, not a mean of means. (GDAL's ``average`` overviews are a mean
of the level below's means, which weighs a half-empty block like a full one, and on
sides that are not multiples of the factor its blocks drift off the cells'.) Every
overview factor divides a tile, so a tile's overview pixels depend on that tile alone
— a full write and a tile update give the same overviews, to the bit.

The blocks are compressed and written by :mod:`remnant.io.tiff`, for a new file and
for an update in place (:func:`update_estimate_tiles`), the same bytes once
decompressed as GDAL's at 2.3 times its speed; GDAL writes what makes it a GeoTIFF
(the GeoKeys, tie point, cell size, no-data value, band names, units and tags), for a
one-cell raster on the same grid, and these fields are copied from it. GDAL reads it.

References
----------
.. [1] GDAL, "GTiff -- GeoTIFF File Format" (creation options TILED, COMPRESS,
   PREDICTOR, BIGTIFF; the configuration option GDAL_TIFF_OVR_BLOCKSIZE; the TIFF
   tags GDAL_METADATA and GDAL_NODATA).
   https://gdal.org/en/stable/drivers/raster/gtiff.html
.. [2] rasterio, "Overviews". https://rasterio.readthedocs.io/en/stable/topics/overviews.html
"""

from __future__ import annotations

import io
import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.crs import CRS as RioCRS
from rasterio.errors import CRSError, RasterioIOError
from rasterio.io import DatasetReader, DatasetWriter
from rasterio.transform import Affine

from remnant.errors import FormatError
from remnant.hazard.grid import TILE, Grid
from remnant.io import tiff
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
"""GTiff creation options [1]_ of the file's layout: GDAL writes the one-cell raster
whose GeoTIFF fields are copied (:func:`_georeference`) with them, and
:mod:`remnant.io.tiff` writes the blocks in the same layout.
``predictor=3`` is the floating-point predictor; DEFLATE level 1 compresses a
country-sized estimate five times faster than the default level 6, for files a few
per cent larger."""

OVERVIEW_TILE = 64
"""Side of the overviews' blocks. [pixels] A tile's pixels at overview factor ``f``
are ``256/f`` a side: at 256 a side, updating a tile recompressed a whole 256 × 256
block at each of a country's seven levels, seven times the tile's own bytes (0.7 s of
a day's 58 tiles); at 64, about 0.6 times, as its blocks at factors 2 and 4 are
replaced whole, unread. Writing a whole country's raster costs 1.5–2 s more for its
27,000 small blocks (``benchmarks/geotiff_write.py``, in turn: 21.3–23.3 s against
19.0–22.2 s; the full estimate's overview write, when it came after the last strip,
11.1–11.4 s against 8.9 s). GDAL's own overviews are 128 (before GDAL 3.1) or the
image's block [1]_; a reader takes each level's block size from its directory."""

_GDAL_TAGS = frozenset({"AREA_OR_POINT"})
"""Dataset tags GDAL adds by itself, left out of the metadata read back."""

MAX_LEVELS = TILE.bit_length() - 1
"""Overview levels at most: blocks of 2, 4, ..., 256 cells a side, a tile at most."""


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

    Memory beyond one strip is one strip of the overview levels. Each row of an
    overview's blocks is written as soon as the strips it is made from are in
    (:func:`_overviews`); until then its pixels wait in scratch files beside ``path``
    (at factors 8 and over: 1/48 of the raster at most). Overviews at
    factors 2, 4, 8, ... (until the smallest is under 256 cells on its long side, and
    at most 256) hold the mean of the valid cells they cover: for
    ``expected_remaining`` (a count per cell) the mean count per cell of the coarser
    pixel, the right picture of a density; sum it over cells, not over overview
    pixels, for totals.

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
        ExitStack() as files,
    ):
        levels = [_Level.create(files, Path(scratch), grid, f) for f in factors]
        images = _images(grid, factors, _georeference(grid, crs, metadata, Path(scratch)))
        with tiff.tiled_writer(tmp, images) as out:
            written: set[int] = set()
            done: list[set[int]] = [set() for _ in levels]  # each level's tile rows written
            for row0, strip in _made_ahead(strips):
                _check_strip(grid, row0, strip)
                if row0 in written:
                    raise ValueError(f"strip at row {row0} given twice")
                values = strip.astype(np.float32, copy=False)
                out.write_tiles(0, row0 // TILE, values)
                written.add(row0)
                _overviews(out, levels, done, grid, row0, values, written)
            _blank_missing(levels, grid, written)
            _write_levels(out, levels, done)
    return target


def _made_ahead(strips: Iterable[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
    """``strips``, each made on a thread of its own while the one before is written.

    Pass 2 (a numba kernel) and the writer (predictor, ISA-L, the file) release the
    GIL, so making a strip and writing the last overlap: on the development machine
    neither alone keeps both cores busy. At most one strip waits made. An exception
    in the making is raised here; when the writing stops early, the making stops
    after the strip it is on.
    """
    made: queue.Queue[tuple[int, np.ndarray] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def make() -> None:
        try:
            for item in strips:
                while not stop.is_set():
                    try:
                        made.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
            made.put(None)
        except BaseException as exc:  # handed to the writer, which raises it
            made.put(exc)

    maker = threading.Thread(target=make, name="estimate strips", daemon=True)
    maker.start()
    try:
        while (item := made.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while maker.is_alive():  # take what it still hands over, so that it can end
            with suppress(queue.Empty):
                made.get(timeout=0.1)
        maker.join()


def _georeference(
    grid: Grid, crs: RioCRS, metadata: Mapping[str, str] | None, scratch: Path
) -> tuple[tiff.Tag, ...]:
    """The GeoTIFF keys, no-data value, band names, units and tags, as GDAL writes them.

    GDAL writes them for a one-cell raster on the same grid (the tie point is the
    top-left corner, whatever the size); every field of its first image but the image
    structure is taken from there.
    """
    template = scratch / "georeference.tif"
    profile = {**_profile(grid, crs), "width": 1, "height": 1}
    with rasterio.open(template, "w", **profile) as dst:
        _describe(dst, metadata)
    _, (first, *_) = tiff.read_directories(template)
    return tuple(t for code, t in sorted(first.tags.items()) if code not in tiff.STRUCTURE)


def _images(grid: Grid, factors: list[int], georeference: tuple[tiff.Tag, ...]) -> list[tiff.Image]:
    """The full-resolution image with ``georeference``, then one image per overview."""
    bands = len(ESTIMATE_BANDS)
    nodata = tuple(t for t in georeference if t.code == _GDAL_NODATA)
    overview = (tiff.Tag.ascii(_GDAL_METADATA, _OVERVIEW_METADATA), *nodata)
    return [tiff.Image(grid.nx, grid.ny, bands, TILE, tags=georeference)] + [
        tiff.Image(-(-grid.nx // f), -(-grid.ny // f), bands, OVERVIEW_TILE, True, overview)
        for f in factors
    ]


_GDAL_METADATA, _GDAL_NODATA = 42112, 42113
"""GDAL's TIFF tags for its metadata (XML) and the no-data value (text) [1]_."""

_OVERVIEW_METADATA = (
    '<GDALMetadata><Item name="RESAMPLING" sample="0">AVERAGE</Item></GDALMetadata>'
)
"""The overviews' GDAL metadata: how they were made (a mean, of the valid cells)."""


@dataclass(frozen=True)
class _Level:
    """One overview level, float32 ``(4, rows, cols)`` in C order, in a scratch file.

    Rows are written and read at their offsets from buffers used again and again, not
    through a memory map: the levels (1.8 GB over the country grid) sit in the page
    cache, outside the process's resident memory, and no page of the process is
    faulted in for them (on the development machine, a virtual one, faulting in
    0.45 GB took 1.4 s).
    """

    factor: int
    shape: tuple[int, int, int]
    file: io.FileIO
    buffer: np.ndarray  # float32 (4, TILE // factor, cols) for a strip's rows

    @classmethod
    def create(cls, files: ExitStack, scratch: Path, grid: Grid, factor: int) -> _Level:
        """An empty level for ``factor`` in a new file in ``scratch``, closed with ``files``."""
        shape = (len(ESTIMATE_BANDS), -(-grid.ny // factor), -(-grid.nx // factor))
        file = files.enter_context((scratch / f"overview-{factor}.f32").open("w+b", buffering=0))
        buffer = np.empty((shape[0], TILE // factor, shape[2]), np.float32)
        return cls(factor, shape, file, buffer)

    def rows_of(self, rows: int) -> np.ndarray:
        """A C-ordered array for the level rows of ``rows`` full-resolution rows."""
        n = -(-rows // self.factor)
        return self.buffer if n == self.buffer.shape[1] else np.empty_like(self.buffer[:, :n])

    def put(self, row0: int, means: np.ndarray) -> None:
        """Write ``(4, n, cols)`` as the level's rows from ``row0``."""
        for band in range(self.shape[0]):
            self.file.seek(self._offset(band, row0))
            data = memoryview(means[band]).cast("B")
            while data:
                data = data[self.file.write(data) :]

    def get(self, row0: int, out: np.ndarray) -> np.ndarray:
        """Read the level's rows from ``row0`` into ``out`` ``(4, n, cols)``; return it."""
        for band in range(self.shape[0]):
            self.file.seek(self._offset(band, row0))
            if self.file.readinto(memoryview(out[band]).cast("B")) != out[band].nbytes:
                raise OSError(f"{self.file.name}: short read of overview level {self.factor}")
        return out

    def _offset(self, band: int, row: int) -> int:
        return (band * self.shape[1] + row) * self.shape[2] * 4


def _overviews(
    out: tiff.TiledWriter,
    levels: list[_Level],
    done: list[set[int]],
    grid: Grid,
    row0: int,
    values: np.ndarray,
    written: set[int],
) -> None:
    """Compute a strip's overview pixels and write the rows of blocks it completes.

    At factors 2 and 4 a strip's pixels are whole rows of 64-pixel blocks, written
    at once; at 8 and over a row of blocks takes two strips or more, so the strip's
    pixels wait in the level's scratch file until the row's last strip is in (in any
    order). So the overviews are compressed while pass 2 makes the next strip, not
    all after the last (on the development machine 7–8 s of a country's full run
    with its cores otherwise idle), and the two largest levels never touch the
    scratch files.
    """
    if not levels:
        return
    outs = [level.rows_of(values.shape[1]) for level in levels]
    _fill_pyramid(values, *_padded(outs))
    side = OVERVIEW_TILE
    for index, (level, these, means) in enumerate(zip(levels, done, outs, strict=True), 1):
        first = row0 // level.factor  # the strip's first row in the level
        if side * level.factor <= TILE:
            for a in range(0, means.shape[1], side):
                out.write_tiles(index, (first + a) // side, means[:, a : a + side])
                these.add((first + a) // side)
            continue
        level.put(first, means)
        j = first // side
        rows = side * level.factor  # full-resolution rows of a row of blocks
        if all(r in written for r in range(j * rows, min((j + 1) * rows, grid.ny), TILE)):
            _write_level_row(out, index, level, j)
            these.add(j)


def _blank_missing(levels: list[_Level], grid: Grid, written: set[int]) -> None:
    """Set to NaN the overview rows of strips never written (no data there)."""
    for row0 in sorted(set(range(0, grid.ny, TILE)) - written):
        for level in levels:
            means = level.rows_of(min(TILE, grid.ny - row0))
            means[:] = np.nan
            level.put(row0 // level.factor, means)


def _write_levels(out: tiff.TiledWriter, levels: list[_Level], done: list[set[int]]) -> None:
    """Write each level's rows of blocks not yet ``done``, from its scratch file."""
    for index, (level, these) in enumerate(zip(levels, done, strict=True), 1):
        for j in range(-(-level.shape[1] // OVERVIEW_TILE)):
            if j not in these:
                _write_level_row(out, index, level, j)


def _write_level_row(out: tiff.TiledWriter, index: int, level: _Level, j: int) -> None:
    """Write row ``j`` of level ``index``'s blocks from its scratch file."""
    side = OVERVIEW_TILE
    rows = min(side, level.shape[1] - j * side)
    out.write_tiles(
        index, j, level.get(j * side, np.empty((level.shape[0], rows, level.shape[2]), np.float32))
    )


def update_estimate_tiles(
    path: str | Path,
    grid: Grid,
    tiles: Iterable[tuple[int, int, np.ndarray]],
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Replace some tiles of an ``estimate.tif`` and their overview pixels, atomically.

    The new blocks and directories are appended to the file and the header is pointed
    to them last (:class:`remnant.io.tiff.TiledUpdater`), so a reader never sees a
    half-updated estimate and a failed update leaves the file as it was. Each
    overview block a tile meets is read, its pixels over the tile replaced and
    compressed again.

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
    with rasterio.open(target) as src:
        if _grid_of(target, src) != grid:
            raise ValueError(f"{target}: written on another grid than {grid}")
        tags = {k: v for k, v in src.tags().items() if k not in _GDAL_TAGS}
    blocks = [(tr, tc, b.astype(np.float32, copy=False)) for tr, tc, b in tiles]
    for tile_row, tile_col, bands in blocks:
        _check_block(bands, *grid.tile_window(tile_row, tile_col)[2:])
    with (
        tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as scratch,
        tiff.tiled_updater(target) as up,
    ):
        if len(up.images) != len(factors) + 1:
            raise FormatError(f"{target}: {len(up.images) - 1} overview levels, not {len(factors)}")
        across = up.images[0].tiles_across
        up.put_tiles(0, [tr * across + tc for tr, tc, _ in blocks], [b for *_, b in blocks])
        pyramids = [overview_pyramid(b, len(factors)) for *_, b in blocks]
        for level, f in enumerate(factors, start=1):
            _update_level(up, level, f, grid, blocks, [p[level - 1] for p in pyramids])
        up.commit(
            _georeference(grid, _metre_crs(grid.crs), {**tags, **(metadata or {})}, Path(scratch))
        )
    return target


def _update_level(
    up: tiff.TiledUpdater,
    level: int,
    factor: int,
    grid: Grid,
    blocks: list[tuple[int, int, np.ndarray]],
    means: list[np.ndarray],
) -> None:
    """Put each tile's overview pixels ``means`` into the blocks of overview ``level``.

    A block the tiles' pixels cover whole is made from them alone; one they cover in
    part is read and its pixels over them replaced. The level's block size is the
    file's (:data:`OVERVIEW_TILE` for a file written now).
    """
    im = up.images[level]
    side = im.tile
    pieces: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for (tile_row, tile_col, _), pixels in zip(blocks, means, strict=True):
        row0, col0, _, _ = grid.tile_window(tile_row, tile_col)
        r0, c0 = row0 // factor, col0 // factor
        r1, c1 = r0 + pixels.shape[1], c0 + pixels.shape[2]
        for br in range(r0 // side, -(-r1 // side)):
            for bc in range(c0 // side, -(-c1 // side)):
                lo_r, hi_r = max(r0, br * side), min(r1, (br + 1) * side)
                lo_c, hi_c = max(c0, bc * side), min(c1, (bc + 1) * side)
                piece = pixels[:, lo_r - r0 : hi_r - r0, lo_c - c0 : hi_c - c0]
                pieces.setdefault(br * im.tiles_across + bc, []).append(
                    (lo_r - br * side, lo_c - bc * side, piece)
                )
    indices = list(pieces)
    windows = {}
    for index in indices:
        row, col = divmod(index, im.tiles_across)
        rows, cols = min(side, im.height - row * side), min(side, im.width - col * side)
        windows[index] = (rows, cols)
    partial = [  # the tiles' pieces never overlap: covered whole when their areas add up
        i for i in indices
        if sum(p.shape[1] * p.shape[2] for _, _, p in pieces[i]) < windows[i][0] * windows[i][1]
    ]  # fmt: skip
    old = dict(zip(partial, up.read_tiles(level, partial), strict=True))
    out = []
    for index in indices:
        rows, cols = windows[index]
        block = old.get(index)
        if block is None:
            block = np.empty((im.samples, side, side), np.float32)
        for r, c, piece in pieces[index]:
            block[:, r : r + piece.shape[1], c : c + piece.shape[2]] = piece
        out.append(block[:, :rows, :cols])
    up.put_tiles(level, indices, out)


def unused_share(path: str | Path) -> float:
    """Share of a GeoTIFF's bytes that none of its blocks uses.

    :func:`update_estimate_tiles` appends the new blocks and leaves the old ones, so a
    file updated again and again grows; its caller writes it afresh once this share is
    large. Reads only the directories' block sizes, not the blocks. [-]
    """
    _, directories = tiff.read_directories(path)
    used = sum(int(d.ints(tiff.TILE_BYTE_COUNTS).sum()) for d in directories)
    size = Path(path).stat().st_size
    return max(0.0, 1.0 - used / size) if size else 0.0


def block_means(bands: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the valid cells of each ``factor × factor`` block, NaN where none is valid.

    The cells are taken as float32, as the file stores them, and summed in float64. A
    power-of-two ``factor`` gives the matching level of :func:`overview_pyramid`, the
    file's overview to the bit; any other factor adds up each block directly.

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

    Raises
    ------
    ValueError
        ``factor`` is below 1.
    """
    if factor < 1:
        raise ValueError(f"block side must be at least 1 cell, not {factor}")
    values = np.asarray(bands).astype(np.float32, copy=False)
    if factor > 1 and factor & (factor - 1) == 0:
        return overview_pyramid(values, factor.bit_length() - 1)[-1]
    return _means(*_block_sums(values, factor))


def overview_pyramid(bands: np.ndarray, levels: int) -> list[np.ndarray]:
    """Means of the valid cells of blocks of 2, 4, ..., ``2**levels`` cells a side.

    The raster is taken a tile (256 columns) at a time. Level 1 is the float64 sum and
    the count of the valid cells of each 2 × 2 block of cells, each level above those
    of each 2 × 2 block of the level below, so every cell is read once whatever the
    number of levels; a pixel's mean is its sum over its count (NaN for none), the
    mean of the valid cells it covers. It equals the mean by direct summation to
    float32 rounding (the same float64 terms added in another order). All-NaN tiles
    are found by a vectorised count and not summed.

    Parameters
    ----------
    bands : ndarray, shape (bands, rows, cols)
        Values, NaN where no data, taken as float32; ``rows`` and ``cols`` need not be
        even (the last blocks of each level are partial).
    levels : int
        Number of levels, at most 8 (blocks of at most a tile). [-]

    Returns
    -------
    list of ndarray of float32
        Level ``k`` (from 0), of shape
        ``(bands, ceil(rows / 2**(k+1)), ceil(cols / 2**(k+1)))``.

    Raises
    ------
    ValueError
        ``levels`` is above 8.
    """
    if levels > MAX_LEVELS:
        raise ValueError(f"at most {MAX_LEVELS} levels (blocks of a tile), not {levels}")
    values = np.asarray(bands).astype(np.float32, copy=False)
    b, rows, cols = values.shape
    shapes = [(b, -(-rows // 2**k), -(-cols // 2**k)) for k in range(1, levels + 1)]
    outs = [np.empty(shape, np.float32) for shape in shapes]
    if outs:
        _fill_pyramid(values, *_padded(outs))
    return outs


def _padded(outs: list[np.ndarray]) -> tuple[tuple[np.ndarray, ...], int]:
    """``outs`` padded with empty arrays to :data:`MAX_LEVELS`, and how many they were.

    One tuple type whatever the number of levels, so numba compiles
    :func:`_fill_pyramid` once, not once per number of levels.
    """
    empty = np.empty((0, 0, 0), np.float32)
    return tuple(outs) + (empty,) * (MAX_LEVELS - len(outs)), len(outs)


# -- numba kernels ----------------------------------------------------------------------
# Within a 2 × 2 block the four values are added row by row and left to right, starting
# from 0, and a raster is cut in tiles from its column 0, so a pixel's sum is the same
# float64 number whether its tile came in a strip or alone. Rows are taken as 1-d
# slices indexed from 0, which lets LLVM vectorise the NaN counts.


@numba.njit(parallel=True, cache=True, nogil=True)
def _fill_pyramid(
    values: npt.NDArray[np.float32], outs: tuple[npt.NDArray[np.float32], ...], levels: int
) -> None:
    """Write into ``outs[k]``, ``k < levels``, the means of blocks of ``2**(k+1)`` cells a side."""
    bands, rows, cols = values.shape
    for row0 in range(0, rows, TILE):
        height = min(TILE, rows - row0)
        for t in numba.prange(-(-cols // TILE)):
            sums = np.empty((TILE // 2, TILE // 2))
            counts = np.empty((TILE // 2, TILE // 2), np.int64)
            col0 = t * TILE
            width = min(TILE, cols - col0)
            for b in range(bands):
                valid = _pair_sums(
                    values[b, row0 : row0 + height, col0 : col0 + width], sums, counts
                )
                h, w = -(-height // 2), -(-width // 2)
                for k in range(levels):
                    if k:
                        h, w = _halve(sums, counts, h, w) if valid else (-(-h // 2), -(-w // 2))
                    r0, c0 = row0 >> (k + 1), col0 >> (k + 1)
                    out = outs[k][b, r0 : r0 + h, c0 : c0 + w]
                    for r in range(out.shape[0]):
                        for c in range(out.shape[1]):
                            n = counts[r, c] if valid else 0
                            out[r, c] = sums[r, c] / n if n > 0 else np.nan


@numba.njit(cache=True)
def _pair_sums(
    tile: npt.NDArray[np.float32], sums: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
) -> bool:
    """Sum and count the non-NaN cells of each 2 × 2 block of one band of a tile.

    Fills ``sums[:h, :w]`` and ``counts[:h, :w]`` (``h, w`` the tile's sides over 2,
    rounded up) and returns True; returns False, filling nothing, if all are NaN.
    """
    rows, cols = tile.shape
    nan = 0
    for r in range(rows):
        row = tile[r]
        for c in range(cols):
            nan += np.isnan(row[c])
    if nan == rows * cols:
        return False
    h, w = -(-rows // 2), -(-cols // 2)
    sums[:h, :w] = 0.0
    counts[:h, :w] = 0
    for r in range(rows):
        row, total, n = tile[r], sums[r // 2], counts[r // 2]
        for c in range(cols):
            v = row[c]
            if not np.isnan(v):
                total[c // 2] += v
                n[c // 2] += 1
    return True


@numba.njit(cache=True)
def _halve(
    sums: npt.NDArray[np.float64], counts: npt.NDArray[np.int64], h: int, w: int
) -> tuple[int, int]:
    """Replace ``sums[:h, :w]`` and ``counts[:h, :w]`` by those of their 2 × 2 blocks.

    In place; returns the new ``(h, w)``, halved and rounded up. Output ``(r, c)`` is
    written after its inputs ``(2r..2r+1, 2c..2c+1)`` are read, and no later output
    reads it.
    """
    h2, w2 = -(-h // 2), -(-w // 2)
    for r in range(h2):
        for c in range(w2):
            total, n = 0.0, 0
            for i in range(2 * r, min(h, 2 * r + 2)):
                for j in range(2 * c, min(w, 2 * c + 2)):
                    total += sums[i, j]
                    n += counts[i, j]
            sums[r, c], counts[r, c] = total, n
    return h2, w2


@numba.njit(cache=True)
def _block_sums(
    values: npt.NDArray[np.float32], factor: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """Float64 sum and count of the non-NaN values of each ``factor × factor`` block."""
    bands, rows, cols = values.shape
    out_rows = -(-rows // factor)
    sums = np.zeros((bands, out_rows, -(-cols // factor)))
    counts = np.zeros((bands, out_rows, -(-cols // factor)), np.int32)
    for k in range(bands * out_rows):
        b, r_out = k // out_rows, k % out_rows
        total, n = sums[b, r_out], counts[b, r_out]
        for r in range(r_out * factor, min(rows, (r_out + 1) * factor)):
            row = values[b, r]
            for c in range(cols):
                if not np.isnan(row[c]):
                    total[c // factor] += row[c]
                    n[c // factor] += 1
    return sums, counts


@numba.njit(cache=True)
def _means(sums: npt.NDArray[np.float64], counts: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
    """Sums over counts as float32, NaN where the count is 0."""
    bands, rows, cols = sums.shape
    means = np.empty((bands, rows, cols), np.float32)
    for k in range(bands * rows):
        b, r = k // rows, k % rows
        row, row_n, out = sums[b, r], counts[b, r], means[b, r]
        for c in range(cols):
            out[c] = row[c] / row_n[c] if row_n[c] > 0 else np.nan
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
