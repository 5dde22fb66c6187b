"""TIFF: tiled float32 images, DEFLATE with the floating-point predictor, block by block.

The container of ``estimate.tif``; :mod:`remnant.io.geotiff` adds the georeferencing
and the meaning of the bands. Written here rather than by GDAL for speed: GDAL's
writer (libdeflate at level 1, the predictor in libtiff) compresses a tile of the
country estimate at about 150 MB/s a core, and ISA-L's DEFLATE [4]_ at level 1 at
about 520 MB/s for files of the same size (1,024 data tiles of the country-scale
benchmark: 19.3 MB against libdeflate's 19.0 MB). The predictor runs in a numba kernel
over a whole strip of tiles on all cores, then the tiles are compressed on all cores
(ISA-L releases the GIL).

What is written is plain TIFF 6.0 [1]_ (BigTIFF [3]_ when the blocks could pass 4 GB,
as GDAL's ``BIGTIFF=IF_SAFER`` decides): chunky (pixel-interleaved) float32 samples in
tiles, Compression 8 (DEFLATE, zlib stream) and Predictor 3, the floating-point
predictor of Adobe's Technical Note 3 [2]_, with the overviews as reduced-resolution
images (``NewSubfileType`` 1) after the first, as GDAL writes internal overviews. Every
block is on disk, none shared: all-NaN tiles too, so that any reader can read any
block and a GDAL update of one block never changes another.

References
----------
.. [1] Adobe, "TIFF Revision 6.0", 1992, sections 2 (structure), 8 (data types) and
   15 (tiled images). https://www.itu.int/itudoc/itu-t/com16/tiff-fx/docs/tiff6.pdf
.. [2] Adobe, "Adobe Photoshop TIFF Technical Note 3" (floating-point predictor), 2005.
   http://chriscox.org/TIFFTN3d1.pdf
.. [3] "The BigTIFF File Format". https://www.awaresystems.be/imaging/tiff/bigtiff.html
.. [4] Intel, "ISA-L: Intelligent Storage Acceleration Library", igzip; Python binding
   python-isal. https://github.com/intel/isa-l, https://github.com/pycompression/python-isal
"""

from __future__ import annotations

import dataclasses
import fcntl
import itertools
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numba
import numpy as np
import numpy.typing as npt
from isal import isal_zlib

from remnant.errors import FormatError

# -- tags -----------------------------------------------------------------------------

NEW_SUBFILE_TYPE = 254
IMAGE_WIDTH = 256
IMAGE_LENGTH = 257
BITS_PER_SAMPLE = 258
COMPRESSION = 259
PHOTOMETRIC = 262
SAMPLES_PER_PIXEL = 277
PLANAR_CONFIGURATION = 284
PREDICTOR = 317
TILE_WIDTH = 322
TILE_LENGTH = 323
TILE_OFFSETS = 324
TILE_BYTE_COUNTS = 325
EXTRA_SAMPLES = 338
SAMPLE_FORMAT = 339

STRUCTURE = frozenset(
    {
        NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION, PHOTOMETRIC,
        SAMPLES_PER_PIXEL, PLANAR_CONFIGURATION, PREDICTOR, TILE_WIDTH, TILE_LENGTH,
        TILE_OFFSETS, TILE_BYTE_COUNTS, EXTRA_SAMPLES, SAMPLE_FORMAT,
    }
)  # fmt: skip
"""The tags :class:`TiledWriter` writes itself; an image's other tags are the caller's."""

_DTYPES = {
    1: "u1", 2: "u1", 3: "u2", 4: "u4", 5: "u4", 6: "i1", 7: "u1", 8: "i2", 9: "i4",
    10: "i4", 11: "f4", 12: "f8", 16: "u8", 17: "i8", 18: "u8",
}  # fmt: skip
"""Numpy kind of each TIFF field type [1]_ [3]_ (RATIONAL: two LONGs per value)."""

ASCII, SHORT, LONG, DOUBLE, LONG8 = 2, 3, 4, 12, 16

DEFLATE_LEVEL = 1
"""ISA-L level: 1 is as small as libdeflate's 1 on the estimate and 2.7× as fast."""


@dataclass(frozen=True)
class Tag:
    """One TIFF field: its code, type and values (ASCII as bytes ending in NUL)."""

    code: int
    type: int
    values: np.ndarray

    @classmethod
    def ascii(cls, code: int, text: str) -> Tag:
        """An ASCII field holding ``text``."""
        return cls(code, ASCII, np.frombuffer(text.encode("ascii") + b"\0", np.uint8))

    @classmethod
    def numbers(cls, code: int, type_: int, values: Sequence[float] | npt.ArrayLike) -> Tag:
        """A numeric field of TIFF type ``type_``."""
        return cls(code, type_, np.asarray(values, dtype="<" + _DTYPES[type_]).ravel())

    @property
    def count(self) -> int:
        """The field's count: values, or for RATIONALs pairs."""
        return len(self.values) // (2 if self.type in (5, 10) else 1)

    def payload(self) -> bytes:
        """The values as little-endian bytes."""
        return np.ascontiguousarray(self.values, dtype="<" + _DTYPES[self.type]).tobytes()

    def text(self) -> str:
        """An ASCII field's text, without the final NUL."""
        return bytes(self.values).rstrip(b"\0").decode("ascii", errors="replace")


@dataclass(frozen=True)
class Image:
    """One tiled image of ``samples`` float32 bands: its size and its own tags."""

    width: int
    height: int
    samples: int
    tile: int = 256
    reduced: bool = False
    tags: tuple[Tag, ...] = ()

    @property
    def tiles_across(self) -> int:
        """Tiles in a row of tiles."""
        return -(-self.width // self.tile)

    @property
    def tiles_down(self) -> int:
        """Rows of tiles."""
        return -(-self.height // self.tile)

    @property
    def tile_bytes(self) -> int:
        """Bytes of one uncompressed tile."""
        return self.tile * self.tile * self.samples * 4

    def fields(self, offsets_type: int) -> list[Tag]:
        """Every field of the image's IFD, sorted by code, offsets and sizes still zero."""
        n, s = self.tiles_across * self.tiles_down, self.samples
        own = [
            Tag.numbers(IMAGE_WIDTH, LONG, [self.width]),
            Tag.numbers(IMAGE_LENGTH, LONG, [self.height]),
            Tag.numbers(BITS_PER_SAMPLE, SHORT, [32] * s),
            Tag.numbers(COMPRESSION, SHORT, [8]),  # DEFLATE, zlib stream
            Tag.numbers(PHOTOMETRIC, SHORT, [1]),  # min is black
            Tag.numbers(SAMPLES_PER_PIXEL, SHORT, [s]),
            Tag.numbers(PLANAR_CONFIGURATION, SHORT, [1]),  # chunky
            Tag.numbers(PREDICTOR, SHORT, [3]),  # floating point
            Tag.numbers(TILE_WIDTH, SHORT, [self.tile]),
            Tag.numbers(TILE_LENGTH, SHORT, [self.tile]),
            Tag.numbers(TILE_OFFSETS, offsets_type, np.zeros(n)),
            Tag.numbers(TILE_BYTE_COUNTS, offsets_type, np.zeros(n)),
            Tag.numbers(SAMPLE_FORMAT, SHORT, [3] * s),  # IEEE floating point
        ]
        if s > 1:
            own.append(Tag.numbers(EXTRA_SAMPLES, SHORT, [0] * (s - 1)))  # unspecified
        if self.reduced:
            own.append(Tag.numbers(NEW_SUBFILE_TYPE, LONG, [1]))
        clash = {t.code for t in self.tags} & STRUCTURE
        if clash:
            raise ValueError(f"tags {sorted(clash)} are the writer's own")
        return sorted(own + list(self.tags), key=lambda t: t.code)


# -- reading the structure -------------------------------------------------------------


@dataclass
class Directory:
    """One IFD as read: where it is, its number of entries, its fields by code."""

    at: int
    entries: int
    tags: dict[int, Tag] = field(default_factory=dict)

    def ints(self, code: int) -> npt.NDArray[np.int64]:
        """A numeric field's values as int64."""
        return self.tags[code].values.astype(np.int64)


def read_directories(path: str | Path) -> tuple[bool, list[Directory]]:
    """Read every IFD of the chain of a little-endian TIFF or BigTIFF.

    Returns whether the file is a BigTIFF, and the directories in order. Raises
    :class:`~remnant.errors.FormatError` naming the file if it is not one.
    """
    with open(path, "rb") as f:
        return _read_file(f, path)


def _read_file(f: BinaryIO, path: str | Path) -> tuple[bool, list[Directory]]:
    f.seek(0)
    head = f.read(16)
    if head[:2] != b"II" or struct.unpack_from("<H", head, 2)[0] not in (42, 43):
        raise FormatError(f"{path}: not a little-endian TIFF")
    big = struct.unpack_from("<H", head, 2)[0] == 43
    at = struct.unpack_from("<Q", head, 8)[0] if big else struct.unpack_from("<I", head, 4)[0]
    dirs: list[Directory] = []
    while at and len(dirs) < 1000:
        dirs.append(_read_directory(f, at, big, path))
        f.seek(at + (8 if big else 2) + dirs[-1].entries * (20 if big else 12))
        raw = f.read(8 if big else 4)
        at = int.from_bytes(raw, "little") if len(raw) == (8 if big else 4) else 0
    return big, dirs


def image_of(d: Directory, path: str | Path) -> Image:
    """The :class:`Image` an IFD describes; FormatError unless it has this module's layout."""
    t = d.tags
    layout = {
        COMPRESSION: [8], PREDICTOR: [3], PLANAR_CONFIGURATION: [1],
    }  # fmt: skip
    samples = int(t[SAMPLES_PER_PIXEL].values[0]) if SAMPLES_PER_PIXEL in t else 1
    layout |= {BITS_PER_SAMPLE: [32] * samples, SAMPLE_FORMAT: [3] * samples}
    wrong = [c for c, want in layout.items() if c not in t or t[c].values.tolist() != want]
    tiles = [TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS, IMAGE_WIDTH, IMAGE_LENGTH]
    if wrong or any(c not in t for c in tiles) or d.ints(TILE_WIDTH)[0] != d.ints(TILE_LENGTH)[0]:
        raise FormatError(
            f"{path}: image at byte {d.at} is not float32 square tiles with DEFLATE and"
            f" the floating-point predictor (fields {sorted(wrong)})"
        )
    reduced = NEW_SUBFILE_TYPE in t and int(t[NEW_SUBFILE_TYPE].values[0]) & 1 == 1
    own = tuple(tag for code, tag in sorted(t.items()) if code not in STRUCTURE)
    width, height = int(d.ints(IMAGE_WIDTH)[0]), int(d.ints(IMAGE_LENGTH)[0])
    return Image(width, height, samples, int(d.ints(TILE_WIDTH)[0]), reduced, own)


def _read_directory(f: BinaryIO, at: int, big: bool, path: str | Path) -> Directory:
    f.seek(at)
    raw = f.read(8 if big else 2)
    n = int.from_bytes(raw, "little") if raw else 0
    entry, slot = (20, 8) if big else (12, 4)
    block = f.read(n * entry)
    if not n or len(block) != n * entry:
        raise FormatError(f"{path}: cut or damaged TIFF directory at byte {at}")
    out = Directory(at, n)
    for i in range(n):
        code, type_ = struct.unpack_from("<HH", block, i * entry)
        count = struct.unpack_from("<Q" if big else "<I", block, i * entry + 4)[0]
        if type_ not in _DTYPES:
            continue  # a type this module has no use for
        dtype = np.dtype("<" + _DTYPES[type_])
        size = count * dtype.itemsize * (2 if type_ in (5, 10) else 1)
        where = at + len(raw) + i * entry + (12 if big else 8)
        if size > slot:
            where = int.from_bytes(block[i * entry + entry - slot : (i + 1) * entry], "little")
        f.seek(where)
        data = f.read(size)
        if len(data) != size:
            raise FormatError(f"{path}: TIFF field {code} points past the end of the file")
        out.tags[code] = Tag(code, type_, np.frombuffer(data, dtype).copy())
    return out


# -- writing ---------------------------------------------------------------------------


def needs_bigtiff(images: Sequence[Image]) -> bool:
    """Whether the blocks of ``images`` could pass 4 GB (DEFLATE's worst case, plus 1 MB)."""
    blocks = sum(i.tiles_across * i.tiles_down * _deflate_bound(i.tile_bytes) for i in images)
    return blocks + (1 << 20) + sum(16 * i.tiles_across * i.tiles_down for i in images) >= 1 << 32


class TiledWriter:
    """Write the tiled ``images`` into a new file, a row of tiles at a time.

    The header and every IFD are written first, with zero offsets; :meth:`write_tiles`
    appends compressed tiles; :meth:`close` writes the tiles never given (NaN) and
    then the offsets and sizes into the IFDs. Use :func:`tiled_writer`.
    """

    def __init__(
        self,
        file: BinaryIO,
        images: Sequence[Image],
        pool: ThreadPoolExecutor,
        bigtiff: bool | None = None,
    ):
        if not images:
            raise ValueError("a TIFF needs at least one image")
        self._file, self._images, self._pool = file, list(images), pool
        self.big = needs_bigtiff(images) if bigtiff is None else bigtiff
        self._offsets = [np.zeros(i.tiles_across * i.tiles_down, np.uint64) for i in images]
        self._sizes = [np.zeros_like(o) for o in self._offsets]
        self._arrays: list[tuple[int, int]] = []  # where each image's offsets, sizes lie
        self._end = self._write_structure()

    def write_tiles(self, image: int, tile_row: int, values: np.ndarray) -> None:
        """Compress and append one row of tiles of image ``image``.

        ``values`` is float32-convertible ``(samples, rows, width)``: the image's rows
        ``tile_row·tile`` to ``+rows`` (``rows`` is the tile, or what is left at the
        bottom), every column.
        """
        im = self._images[image]
        if not 0 <= tile_row < im.tiles_down:
            last = im.tiles_down - 1
            raise ValueError(f"image {image} has tile rows 0 to {last}, not {tile_row}")
        rows = min(im.tile, im.height - tile_row * im.tile)
        if values.shape != (im.samples, rows, im.width):
            raise ValueError(
                f"image {image}: tile row {tile_row} needs shape {(im.samples, rows, im.width)},"
                f" got {values.shape}"
            )
        bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
        predicted = np.empty((im.tiles_across, im.tile_bytes), np.uint8)
        _predict(bits, im.tile, predicted)
        blobs = _deflate_rows(self._pool, predicted)
        first = tile_row * im.tiles_across
        self._append(image, range(first, first + im.tiles_across), blobs)

    def close(self) -> None:
        """Write the tiles never given (all NaN), then every offset and size."""
        for index, im in enumerate(self._images):
            missing = np.flatnonzero(self._sizes[index] == 0)
            if len(missing):
                nan = np.full((im.samples, im.tile, im.tile), np.nan, np.float32)
                predicted = np.empty((1, im.tile_bytes), np.uint8)
                _predict(nan.view(np.uint32), im.tile, predicted)
                blob = _deflate(predicted[0])
                self._append(index, missing.tolist(), [blob] * len(missing))
        kind = "<u8" if self.big else "<u4"
        for (offsets_at, sizes_at), offsets, sizes in zip(
            self._arrays, self._offsets, self._sizes, strict=True
        ):
            self._file.seek(offsets_at)
            self._file.write(offsets.astype(kind).tobytes())
            self._file.seek(sizes_at)
            self._file.write(sizes.astype(kind).tobytes())
        self._file.flush()

    def _append(self, image: int, tiles: Sequence[int] | range, blobs: list[bytes]) -> None:
        offsets, sizes = self._offsets[image], self._sizes[image]
        self._end = _append_blocks(self._file, self._end, offsets, sizes, tiles, blobs)
        if not self.big and self._end >= 1 << 32:
            raise OSError("TIFF blocks passed 4 GB in a classic TIFF; needs_bigtiff is wrong")

    def _write_structure(self) -> int:
        """Write the header and the IFDs; return the end of what was written."""
        if self.big:
            header = struct.pack("<2sHHHQ", b"II", 43, 8, 0, 16)
        else:
            header = struct.pack("<2sHI", b"II", 42, 8)
        tables, arrays = _directories(self._images, self.big, len(header))
        self._arrays = [(o + len(header), n + len(header)) for o, n in arrays]
        self._file.seek(0)
        self._file.write(header + tables)
        return len(header) + len(tables)


def _append_blocks(
    file: BinaryIO,
    end: int,
    offsets: np.ndarray,
    sizes: np.ndarray,
    tiles: Sequence[int] | range,
    blobs: Sequence[bytes],
) -> int:
    """Write ``blobs`` from byte ``end`` on, noting each tile's offset and size; the new end."""
    lengths = np.array([len(blob) for blob in blobs], dtype=np.uint64)
    if len(lengths) != len(tiles):
        raise ValueError(f"{len(tiles)} tiles but {len(lengths)} blocks")
    at = np.zeros(len(lengths), dtype=np.uint64)
    np.cumsum(lengths[:-1], out=at[1:])
    at += np.uint64(end)
    index = np.asarray(tiles, dtype=np.int64)
    offsets[index], sizes[index] = at, lengths
    file.seek(end)
    file.write(b"".join(blobs))  # one write for the row, not one per block
    return end + int(lengths.sum())


def _directories(
    images: Sequence[Image], big: bool, at: int
) -> tuple[bytearray, list[tuple[int, int]]]:
    """The chained IFDs of ``images`` as bytes to be written at byte ``at`` (a multiple of 8).

    Offsets and sizes are zero; returns too where each image's arrays of them lie.
    """
    offsets_type = LONG8 if big else LONG
    entry, slot = (20, 8) if big else (12, 4)
    count, pointer = ("<Q", "<Q") if big else ("<H", "<I")
    out = bytearray()
    arrays = []
    for k, image in enumerate(images):
        fields = image.fields(offsets_type)
        start = at + len(out)
        values_at = start + struct.calcsize(count) + len(fields) * entry + slot
        extra = bytearray()
        entries = bytearray(struct.pack(count, len(fields)))
        where: dict[int, int] = {}
        for t in fields:
            data = t.payload()
            head = struct.pack("<HHQ" if big else "<HHI", t.code, t.type, t.count)
            if len(data) <= slot:
                where[t.code] = start + len(entries) + len(head)
                entries += head + data.ljust(slot, b"\0")
            else:
                extra += b"\0" * (-len(extra) % 8)
                where[t.code] = values_at + len(extra)
                entries += head + struct.pack(pointer, where[t.code])
                extra += data
        after = values_at + len(extra)
        after += -after % 8
        entries += struct.pack(pointer, 0 if k == len(images) - 1 else after)
        out += entries + extra
        out += b"\0" * (-len(out) % 8)
        arrays.append((where[TILE_OFFSETS] - at, where[TILE_BYTE_COUNTS] - at))
    return out, arrays


class TiledUpdater:
    """Replace tiles of a file in this module's layout, in place and atomically.

    New blocks, then new IFDs, are appended; nothing of the file is overwritten until
    :meth:`commit` moves the header's pointer to the new first IFD, one write of 4 or
    8 bytes in the first sector, after the rest is on disk (``fsync``). Until then,
    and if the process dies before, a reader sees the file as it was. The old blocks
    stay, unused (:func:`unused_share`). Use :func:`tiled_updater`.
    """

    def __init__(self, file: BinaryIO, path: str | Path, pool: ThreadPoolExecutor):
        self._file, self._path, self._pool = file, path, pool
        self.big, dirs = _read_file(file, path)
        self.images = [image_of(d, path) for d in dirs]
        self._offsets = [d.ints(TILE_OFFSETS) for d in dirs]
        self._sizes = [d.ints(TILE_BYTE_COUNTS) for d in dirs]
        self.start = file.seek(0, os.SEEK_END)
        self._end = self.start + (-self.start % 8)

    def read_tile(self, image: int, index: int) -> np.ndarray:
        """The tile ``index`` (row-major) of image ``image``, float32 ``(samples, tile, tile)``."""
        return self.read_tiles(image, [index])[0]

    def read_tiles(self, image: int, indices: Sequence[int]) -> list[np.ndarray]:
        """The tiles ``indices`` of image ``image``, as :meth:`read_tile` gives each.

        The blocks are read in turn and inflated and un-predicted on the pool's threads
        (ISA-L and the numba kernel release the GIL).
        """
        raws = []
        for index in indices:
            self._file.seek(int(self._offsets[image][index]))
            raws.append((index, self._file.read(int(self._sizes[image][index]))))
        return list(self._pool.map(lambda item: self._decode(image, *item), raws))

    def _decode(self, image: int, index: int, raw: bytes) -> np.ndarray:
        im = self.images[image]
        try:
            data = isal_zlib.decompress(raw)
        except INFLATE_ERROR as exc:
            raise FormatError(f"{self._path}: tile {index} of image {image}: {exc}") from exc
        if len(data) != im.tile_bytes:
            raise FormatError(f"{self._path}: tile {index} of image {image} has a wrong size")
        out = np.empty((im.samples, im.tile, im.tile), np.uint32)
        _unpredict(np.frombuffer(data, np.uint8), im.tile, out)
        return out.view(np.float32)

    def put_tiles(self, image: int, indices: Sequence[int], tiles: Sequence[np.ndarray]) -> None:
        """Compress and append new tiles, each ``(samples, rows, cols)``: the tile's window.

        Each tile is predicted and compressed on the pool's threads.
        """
        im = self.images[image]
        for index, values in zip(indices, tiles, strict=True):
            row, col = divmod(index, im.tiles_across)
            rows = min(im.tile, im.height - row * im.tile)
            cols = min(im.tile, im.width - col * im.tile)
            if values.shape != (im.samples, rows, cols) or not 0 <= row < im.tiles_down:
                raise ValueError(
                    f"image {image}: tile {index} needs shape {(im.samples, rows, cols)},"
                    f" got {values.shape}"
                )

        def encode(values: np.ndarray) -> bytes:
            bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
            predicted = np.empty(im.tile_bytes, np.uint8)
            _predict_tile(bits, 0, im.tile, predicted)
            return _deflate(predicted)

        blobs = list(self._pool.map(encode, tiles))
        offsets, sizes = self._offsets[image], self._sizes[image]
        self._end = _append_blocks(self._file, self._end, offsets, sizes, indices, blobs)

    def commit(self, first_tags: tuple[Tag, ...] | None = None) -> None:
        """Append the new IFDs, then point the header to them.

        ``first_tags`` replace the first image's own fields (not its structure).
        """
        images = list(self.images)
        if first_tags is not None:
            images[0] = dataclasses.replace(images[0], tags=first_tags)
        at = self._end + (-self._end % 8)
        tables, arrays = _directories(images, self.big, at)
        kind = np.dtype("<u8" if self.big else "<u4")
        for (offsets_at, sizes_at), offsets, sizes in zip(
            arrays, self._offsets, self._sizes, strict=True
        ):
            for where, values in ((offsets_at, offsets), (sizes_at, sizes)):
                tables[where : where + values.size * kind.itemsize] = values.astype(kind).tobytes()
        if not self.big and at + len(tables) >= 1 << 32:
            raise OSError(f"{self._path}: a classic TIFF cannot pass 4 GB; write it afresh")
        self._file.seek(at)
        self._file.write(tables)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.seek(8 if self.big else 4)
        self._file.write(struct.pack("<Q" if self.big else "<I", at))
        self._file.flush()
        os.fsync(self._file.fileno())


@contextmanager
def tiled_updater(path: str | Path) -> Iterator[TiledUpdater]:
    """A :class:`TiledUpdater` on ``path``, locked against other updaters while open.

    Commit inside the block; on an exception the file is cut back to its old length,
    as it was.
    """
    with open(path, "r+b") as file, ThreadPoolExecutor(DEFLATE_TASKS) as pool:
        fcntl.flock(file, fcntl.LOCK_EX)
        updater = TiledUpdater(file, path, pool)
        try:
            yield updater
        except BaseException:
            file.truncate(updater.start)
            raise


@contextmanager
def tiled_writer(
    path: str | Path, images: Sequence[Image], *, bigtiff: bool | None = None
) -> Iterator[TiledWriter]:
    """A :class:`TiledWriter` on a new file at ``path``, closed (offsets written) on exit.

    ``bigtiff`` forces the choice of :func:`needs_bigtiff` (a classic TIFF whose blocks
    pass 4 GB is an error). On an exception the file is left as it is, for the
    caller's atomic write to drop.
    """
    with open(path, "w+b") as file, ThreadPoolExecutor(DEFLATE_TASKS) as pool:
        writer = TiledWriter(file, images, pool, bigtiff)
        yield writer
        writer.close()


# -- blocks ----------------------------------------------------------------------------


INFLATE_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]
"""What ISA-L's inflate raises on a damaged stream (its stub calls it an instance)."""


DEFLATE_TASKS = max(1, os.cpu_count() or 1)
"""Threads compressing blocks (all cores: ISA-L releases the GIL). [-]"""


def _deflate_rows(pool: ThreadPoolExecutor, predicted: np.ndarray) -> list[bytes]:
    """:func:`_deflate` of each row of ``predicted``, in a few runs of rows per thread.

    A country's overviews at 64 × 64 are 27,000 blocks of 64 KB: the runs keep the
    pool's overhead to a few tasks per row of tiles, whatever the blocks' size.
    """
    n = len(predicted)
    cuts = np.linspace(0, n, min(n, 2 * DEFLATE_TASKS) + 1).astype(np.int64)
    runs = pool.map(lambda ab: [_deflate(p) for p in predicted[ab[0] : ab[1]]],
                    itertools.pairwise(cuts))  # fmt: skip
    return [blob for run in runs for blob in run]


def _deflate(predicted: np.ndarray) -> bytes:
    """A zlib stream of one tile's predicted bytes; stored, not coded, if that is smaller."""
    blob = isal_zlib.compress(predicted.data, DEFLATE_LEVEL)
    if len(blob) > _deflate_bound(len(predicted)):
        blob = zlib.compress(predicted.data, 0)
    return blob


def _deflate_bound(n: int) -> int:
    """The largest zlib stream of ``n`` bytes (zlib's ``compressBound``), stored. [bytes]"""
    return n + (n >> 12) + (n >> 14) + (n >> 25) + 13


@numba.njit(parallel=True, cache=True, nogil=True)
def _predict(bits: npt.NDArray[np.uint32], tile: int, out: npt.NDArray[np.uint8]) -> None:
    """Apply the floating-point predictor to each tile of a row of tiles, into ``out``.

    ``bits`` is ``(samples, rows, width)``, the float32 samples' bits; ``out`` is
    ``(tiles, tile·tile·samples·4)``. Per row of a tile [2]_: the samples in pixel
    order are split into byte planes, most significant first, and each byte becomes
    its difference from the byte ``samples`` places before it in that sequence (the
    same sample one pixel to the left; at a plane's start, the last pixel's in the
    plane before), modulo 256. Written in one pass, plane after plane. Cells beyond
    the image's right and bottom edges are 0, as GDAL pads them, so a tile's bytes are
    GDAL's to the bit.
    """
    for t in numba.prange(out.shape[0]):
        _predict_tile(bits, t * tile, tile, out[t])


@numba.njit(nogil=True, cache=True)
def _predict_tile(
    bits: npt.NDArray[np.uint32], col0: int, tile: int, out: npt.NDArray[np.uint8]
) -> None:
    """:func:`_predict` of the one tile whose columns start at ``col0`` of ``bits`` (numba).

    Releases the GIL, so that threads may predict tiles side by side.
    """
    samples, rows, width = bits.shape
    wc = tile * samples
    inside = min(tile, width - col0)
    pixels = np.zeros(wc, np.uint32)  # one row of the tile, pixel-interleaved
    for r in range(tile):
        if r < rows:
            for c in range(inside):
                for s in range(samples):
                    pixels[c * samples + s] = bits[s, r, col0 + c]
        else:
            pixels[:] = 0
        row = out[r * 4 * wc : (r + 1) * 4 * wc]
        for k in range(4):
            _plane(pixels, samples, 24 - 8 * k, k > 0, row[k * wc : (k + 1) * wc])


@numba.njit(inline="always")
def _plane(
    pixels: npt.NDArray[np.uint32],
    samples: int,
    shift: int,
    after: bool,
    out: npt.NDArray[np.uint8],
) -> None:
    """Byte plane ``shift`` of a row's samples, each minus the one ``samples`` bytes before."""
    n = pixels.size
    for i in range(samples):
        before = (pixels[n - samples + i] >> (shift + 8)) & 0xFF if after else 0
        out[i] = (((pixels[i] >> shift) & 0xFF) - before) & 0xFF
    for i in range(samples, n):
        out[i] = (((pixels[i] >> shift) & 0xFF) - ((pixels[i - samples] >> shift) & 0xFF)) & 0xFF


@numba.njit(nogil=True, cache=True)
def _unpredict(raw: npt.NDArray[np.uint8], tile: int, out: npt.NDArray[np.uint32]) -> None:
    """Undo :func:`_predict` for one tile: ``raw`` bytes into ``out`` ``(samples, tile, tile)``."""
    samples = out.shape[0]
    wc = tile * samples
    row = np.empty(4 * wc, np.uint8)
    for r in range(tile):
        base = r * 4 * wc
        for j in range(4 * wc):
            row[j] = (raw[base + j] + row[j - samples]) & 0xFF if j >= samples else raw[base + j]
        for c in range(tile):
            for s in range(samples):
                i = c * samples + s
                out[s, r, c] = (
                    (np.uint32(row[i]) << 24)
                    | (np.uint32(row[i + wc]) << 16)
                    | (np.uint32(row[i + 2 * wc]) << 8)
                    | np.uint32(row[i + 3 * wc])
                )
