"""GeoPackage binary geometry: encoding, decoding and the SQL functions of the R-tree.

A GeoPackage stores a geometry as a *GeoPackageBinary* blob (OGC 12-128r18,
clause 2.1.3): the magic ``GP``, a version byte (0), a flags byte, the ``srs_id``
(int32) and an optional envelope, followed by the geometry as ISO WKB. Blobs are
written the way GDAL writes them, so a layer edited in QGIS encodes the same way:
little-endian header, no envelope for points, an ``[minx, maxx, miny, maxy]``
envelope for every other geometry, the empty flag (and no envelope) for an empty one.

The stdlib :mod:`sqlite3` cannot load SpatiaLite, so the few functions the standard
R-tree triggers call (``ST_IsEmpty``, ``ST_MinX``, ...) are registered here as
Python functions on each connection (:func:`register_functions`).

References
----------
OGC GeoPackage Encoding Standard 1.3.1, OGC 12-128r18, clause 2.1.3 and
Annex F.3 (RTree Spatial Indexes). https://www.geopackage.org/spec131/
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Sequence

import numpy as np
import shapely

from remnant.errors import StoreError

MAGIC = b"GP"
SRS_ID = 4326
"""The ``srs_id`` of every geometry Remnant writes: WGS84 longitude/latitude."""

_ENVELOPE_BYTES = (0, 32, 48, 48, 64)
"""Envelope length by envelope contents indicator (flags bits 1-3). [byte]"""

_FLAG_LITTLE_ENDIAN = 0x01
_FLAG_XY_ENVELOPE = 0x02
_FLAG_EMPTY = 0x10
_FLAG_EXTENDED = 0x20

_HEADER = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("env", "<f8", 4)]
)
_DOUBLES = {True: struct.Struct("<4d"), False: struct.Struct(">4d")}
_POINT_XY = {1: struct.Struct("<2d"), 0: struct.Struct(">2d")}
_UINT32 = {1: struct.Struct("<I"), 0: struct.Struct(">I")}


def encode(geometries: Sequence[object] | np.ndarray, srs_id: int = SRS_ID) -> list[bytes | None]:
    """Encode geometries as GeoPackageBinary blobs, vectorised.

    Parameters
    ----------
    geometries : array-like of shapely geometries or None
        Geometries; only x and y are written (a Z coordinate is dropped).
    srs_id : int
        The ``srs_id`` written in each header.

    Returns
    -------
    list of bytes or None
        One blob per geometry; ``None`` (SQL NULL) for a missing geometry.
    """
    geoms = np.asarray(geometries, dtype=object)
    out: list[bytes | None] = [None] * len(geoms)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return out
    kept = geoms[present]
    wkb = shapely.to_wkb(kept, output_dimension=2, byte_order=1, flavor="iso")
    header, lengths = _headers(kept, srs_id)
    width = _HEADER.itemsize
    for k, (i, blob, n) in enumerate(
        zip(present.tolist(), wkb.tolist(), lengths.tolist(), strict=True)
    ):
        start = k * width
        out[i] = header[start : start + n] + blob
    return out


def _headers(geoms: np.ndarray, srs_id: int) -> tuple[bytes, np.ndarray]:
    """Fixed-width headers of ``geoms`` as one byte string, and each one's used length."""
    empty = shapely.is_empty(geoms)
    with_envelope = (shapely.get_type_id(geoms) != 0) & ~empty
    header = np.zeros(len(geoms), dtype=_HEADER)
    header["magic"] = MAGIC
    header["flags"] = _FLAG_LITTLE_ENDIAN + _FLAG_XY_ENVELOPE * with_envelope + _FLAG_EMPTY * empty
    header["srs_id"] = srs_id
    bounds = shapely.bounds(geoms)
    header["env"] = np.where(with_envelope[:, None], bounds[:, [0, 2, 1, 3]], 0.0)
    lengths = np.where(with_envelope, _HEADER.itemsize, 8)
    return header.tobytes(), lengths


def header_length(blob: bytes) -> int:
    """Length of the GeoPackageBinary header of ``blob``, envelope included. [byte]"""
    if blob[:2] != MAGIC or len(blob) < 8:
        raise StoreError("not a GeoPackage geometry blob (no 'GP' header)")
    flags = blob[3]
    indicator = (flags >> 1) & 0x07
    if flags & _FLAG_EXTENDED or indicator >= len(_ENVELOPE_BYTES):
        raise StoreError(f"unsupported GeoPackage geometry flags 0x{flags:02x}")
    return 8 + _ENVELOPE_BYTES[indicator]


def wkb_of(blob: bytes) -> bytes:
    """The WKB part of a GeoPackageBinary blob."""
    return blob[header_length(blob) :]


def decode(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Decode GeoPackageBinary blobs to shapely geometries, vectorised.

    Parameters
    ----------
    blobs : sequence of bytes or None
        Blobs as stored; ``None`` (SQL NULL) decodes to ``None``.

    Returns
    -------
    numpy.ndarray
        Object array of shapely geometries (``None`` where missing).
    """
    wkb = np.empty(len(blobs), dtype=object)
    wkb[:] = [None if b is None else b[header_length(b) :] for b in blobs]
    return shapely.from_wkb(wkb)


def envelope(blob: object) -> tuple[float, float, float, float] | None:
    """``(minx, maxx, miny, maxy)`` of a blob; ``None`` for NULL, empty or not a blob."""
    if not isinstance(blob, bytes) or blob[:2] != MAGIC or len(blob) < 8:
        return None
    flags = blob[3]
    if flags & _FLAG_EMPTY:
        return None
    indicator = (flags >> 1) & 0x07
    if indicator == 0:
        return _envelope_of_wkb(blob, 8)
    if indicator < len(_ENVELOPE_BYTES):
        return _DOUBLES[bool(flags & _FLAG_LITTLE_ENDIAN)].unpack_from(blob, 8)
    return None


def _envelope_of_wkb(blob: bytes, offset: int) -> tuple[float, float, float, float] | None:
    """Envelope of the WKB at ``offset``: a fast path for 2D points, shapely otherwise."""
    order = blob[offset]
    if len(blob) >= offset + 21 and _UINT32[order].unpack_from(blob, offset + 1)[0] == 1:
        x, y = _POINT_XY[order].unpack_from(blob, offset + 5)
        return None if x != x else (x, x, y, y)
    geom = shapely.from_wkb(blob[offset:])
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return (minx, maxx, miny, maxy)


def _is_empty(blob: object) -> int | None:
    if not isinstance(blob, bytes) or blob[:2] != MAGIC or len(blob) < 8:
        return None
    return int(envelope(blob) is None)


def _bound(index: int) -> Callable[[object], float | None]:
    def function(blob: object) -> float | None:
        box = envelope(blob)
        return None if box is None else box[index]

    return function


SQL_FUNCTIONS = {
    "ST_IsEmpty": _is_empty,
    "ST_MinX": _bound(0),
    "ST_MaxX": _bound(1),
    "ST_MinY": _bound(2),
    "ST_MaxY": _bound(3),
}
"""The functions the GeoPackage R-tree triggers call, as GDAL names them."""


def register_functions(connection: sqlite3.Connection) -> None:
    """Register :data:`SQL_FUNCTIONS` on a :mod:`sqlite3` connection (deterministic)."""
    for name, function in SQL_FUNCTIONS.items():
        connection.create_function(name, 1, function, deterministic=True)
