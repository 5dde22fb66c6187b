"""GeoPackageBinary encoding (OGC 12-128r18, clause 2.1.3) and the R-tree SQL functions."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from remnant.errors import StoreError
from remnant.store import gpkg

POINT = shapely.Point(37.5, 48.25)
SQUARES = shapely.MultiPolygon([shapely.box(0, 1, 2, 3), shapely.box(5, 6, 7, 8)])


def test_point_header_has_no_envelope_like_gdal() -> None:
    (blob,) = gpkg.encode([POINT])
    assert blob[:2] == b"GP"
    assert blob[2] == 0  # version 1 of the encoding
    assert blob[3] == 0x01  # little-endian header, no envelope, not empty
    assert struct.unpack_from("<i", blob, 4) == (4326,)
    assert blob[8:] == shapely.to_wkb(POINT, byte_order=1, flavor="iso")


def test_polygon_header_has_xy_envelope_in_gpkg_order() -> None:
    (blob,) = gpkg.encode([SQUARES])
    assert blob[3] == 0x03  # little-endian, envelope [minx, maxx, miny, maxy]
    assert struct.unpack_from("<4d", blob, 8) == (0.0, 7.0, 1.0, 8.0)
    assert gpkg.header_length(blob) == 40
    assert shapely.from_wkb(blob[40:]).equals(SQUARES)


def test_empty_and_missing() -> None:
    empty, missing = gpkg.encode([shapely.MultiPolygon(), None])
    assert missing is None
    assert empty[3] & 0x10  # empty flag
    assert gpkg.envelope(empty) is None
    decoded = gpkg.decode([empty, None])
    assert decoded[0].is_empty and decoded[1] is None


def test_round_trip_is_exact() -> None:
    rng = np.random.default_rng(1)
    points = list(shapely.points(rng.uniform(-180, 180, 50), rng.uniform(-90, 90, 50)))
    geoms = [*points, SQUARES, shapely.MultiPolygon([shapely.box(-1e-9, 0, 1e-9, 1)])]
    decoded = gpkg.decode(gpkg.encode(geoms))
    assert all(shapely.equals_exact(a, b, tolerance=0) for a, b in zip(geoms, decoded, strict=True))


def test_z_is_dropped() -> None:
    (blob,) = gpkg.encode([shapely.Point(1, 2, 3)])
    assert not gpkg.decode([blob])[0].has_z


def test_decode_reads_big_endian_headers() -> None:
    wkb = shapely.to_wkb(SQUARES, byte_order=0, flavor="iso")
    blob = b"GP\x00\x02" + struct.pack(">i4d", 4326, 0, 7, 1, 8) + wkb
    assert gpkg.decode([blob])[0].equals(SQUARES)
    assert gpkg.envelope(blob) == (0.0, 7.0, 1.0, 8.0)


def test_decode_reads_gdal_blobs(tmp_path: Path) -> None:
    path = tmp_path / "gdal.gpkg"
    frame = gpd.GeoDataFrame(geometry=[SQUARES, SQUARES.buffer(1)], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="polys", geometry_type="MultiPolygon")
    with sqlite3.connect(path) as conn:
        blobs = [r[0] for r in conn.execute("SELECT geom FROM polys ORDER BY fid")]
    conn.close()
    decoded = gpkg.decode(blobs)
    assert decoded[0].equals(SQUARES)
    assert blobs[0] == gpkg.encode([SQUARES])[0]  # byte for byte what GDAL writes


def test_not_a_blob() -> None:
    with pytest.raises(StoreError, match="not a GeoPackage geometry"):
        gpkg.decode([b"XX\x00\x01\x00\x00\x00\x00"])
    with pytest.raises(StoreError, match="unsupported"):
        gpkg.header_length(b"GP\x00\x0e" + bytes(70))


def test_sql_functions() -> None:
    conn = sqlite3.connect(":memory:")
    gpkg.register_functions(conn)
    point, squares, empty = gpkg.encode([POINT, SQUARES, shapely.Point()])
    query = "SELECT ST_IsEmpty(?), ST_MinX(?), ST_MaxX(?), ST_MinY(?), ST_MaxY(?)"
    assert conn.execute(query, [point] * 5).fetchone() == (0, 37.5, 37.5, 48.25, 48.25)
    assert conn.execute(query, [squares] * 5).fetchone() == (0, 0.0, 7.0, 1.0, 8.0)
    assert conn.execute(query, [empty] * 5).fetchone() == (1, None, None, None, None)
    assert conn.execute(query, [None] * 5).fetchone() == (None,) * 5
    conn.close()
