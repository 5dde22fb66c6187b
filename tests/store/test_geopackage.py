"""The store is a valid GeoPackage that GDAL (hence QGIS) reads: layers, types, CRS, index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from remnant.errors import StoreError
from remnant.records.schema import TABLES
from remnant.store import Store, gpkg_meta, init_store

from .conftest import finds, integrity

GEOMETRY_TYPES = {
    "strikes": "Point",
    "activities": "MultiPolygon",
    "finds": "Point",
    "accidents": "Point",
    "hazard_areas": "MultiPolygon",
}


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_init_creates_geopackage_layers(store: Store) -> None:
    layers = dict(pyogrio.list_layers(store.path).tolist())
    assert layers == {**GEOMETRY_TYPES, "imports": None, "audit": None}
    assert pragma(store.path, "application_id") == 0x47504B47
    assert pragma(store.path, "user_version") == gpkg_meta.USER_VERSION
    assert pragma(store.path, "journal_mode") == "delete"
    assert integrity(store.path) == ["ok"]
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_mandatory_spatial_reference_systems(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    ids = {r[0] for r in conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
    columns = conn.execute("SELECT * FROM gpkg_geometry_columns ORDER BY table_name").fetchall()
    conn.close()
    assert {-1, 0, 4326} <= ids
    assert {(t, c, g.upper(), s, z, m) for t, c, g, s, z, m in columns} == {
        (t, "geom", g.upper(), 4326, 0, 0) for t, g in GEOMETRY_TYPES.items()
    }


@pytest.mark.parametrize("table", list(TABLES))
def test_gdal_reads_every_layer(filled: Store, frames: dict, table: str) -> None:
    info = pyogrio.read_info(filled.path, layer=table)
    assert info["geometry_type"] == GEOMETRY_TYPES[table]
    assert info["crs"] == "EPSG:4326"
    assert info["fid_column"] == "fid"
    gdal = pyogrio.read_dataframe(filled.path, layer=table)
    ours = frames[table]
    spec = TABLES[table]
    assert gdal[spec.id_column].tolist() == ours[spec.id_column].tolist()
    assert gdal.geometry.geom_equals(ours.geometry).all()
    for name in spec.attribute_names:
        expected = ours[name].astype(object).where(ours[name].notna(), None).tolist()
        got = gdal[name].astype(object).where(gdal[name].notna(), None).tolist()
        assert got == expected, name
    assert set(gdal.columns) >= {"extra", "created_at", "updated_at", "source_file"}


def test_gdal_reads_audit_and_imports(filled: Store) -> None:
    audit = pyogrio.read_dataframe(filled.path, layer="audit")
    imports = pyogrio.read_dataframe(filled.path, layer="imports")
    assert len(audit) == sum(filled.counts().values())
    assert sorted(imports["table_name"]) == sorted(TABLES)


def test_spatial_filter_uses_the_rtree(store: Store) -> None:
    frame = finds(200)
    store.upsert("finds", frame, user="tester")
    box = (37.2, 47.2, 37.6, 47.7)
    inside = frame[frame.geometry.intersects(shapely.box(*box))]
    assert 0 < len(inside) < len(frame)
    assert pyogrio.read_info(store.path, layer="finds")["capabilities"]["fast_spatial_filter"]
    got = pyogrio.read_dataframe(store.path, layer="finds", bbox=box)
    assert sorted(got["find_id"]) == sorted(inside["find_id"])


def test_rtree_matches_table_after_updates(store: Store) -> None:
    frame = finds(50)
    store.upsert("finds", frame, user="tester")
    moved = frame.copy()
    moved.loc[:9, "geometry"] = shapely.points(range(10), range(10))
    moved.loc[10, "geometry"] = shapely.Point()
    store.upsert("finds", moved, user="tester")
    conn = sqlite3.connect(store.path)
    rtree = dict(conn.execute("SELECT id, minx FROM rtree_finds_geom").fetchall())
    fids = dict(conn.execute("SELECT find_id, fid FROM finds").fetchall())
    triggers = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rtree_finds_%'"
    ).fetchone()[0]
    conn.close()
    assert triggers == 7
    assert len(rtree) == 49  # the empty point is not indexed
    for i in range(10):
        assert rtree[fids[f"F{i}"]] == pytest.approx(i, abs=1e-5)
    got = pyogrio.read_dataframe(store.path, layer="finds", bbox=(-0.5, -0.5, 9.5, 9.5))
    assert sorted(got["find_id"]) == sorted(f"F{i}" for i in range(10))


def test_triggers_keep_the_rtree_for_other_writers(store: Store) -> None:
    """QGIS edits through GDAL: the standard triggers (our SQL functions) index its rows."""
    store.upsert("finds", finds(3), user="tester")
    gdal = pyogrio.read_dataframe(store.path, layer="finds")
    gdal["find_id"] = ["G1", "G2", "G3"]
    gdal["geometry"] = shapely.points([10, 11, 12], [20, 21, 22])
    pyogrio.write_dataframe(gdal, store.path, layer="finds", append=True)
    got = pyogrio.read_dataframe(store.path, layer="finds", bbox=(9.5, 19.5, 11.5, 21.5))
    assert sorted(got["find_id"]) == ["G1", "G2"]
    assert sorted(store.read("finds")["find_id"]) == ["F0", "F1", "F2", "G1", "G2", "G3"]


def test_contents_extent_follows_writes(store: Store) -> None:
    frame = finds(30)
    store.upsert("finds", frame, user="tester")
    conn = sqlite3.connect(store.path)
    query = "SELECT min_x, min_y, max_x, max_y, last_change FROM gpkg_contents WHERE table_name = ?"
    *extent, changed = conn.execute(query, ("finds",)).fetchone()
    assert extent == pytest.approx(list(frame.total_bounds))
    assert changed.endswith("Z") and len(changed) == len("2024-01-01T00:00:00.000Z")
    assert conn.execute(query, ("strikes",)).fetchone()[:4] == (None, None, None, None)
    conn.close()
    info = pyogrio.read_info(store.path, layer="finds")
    assert info["total_bounds"] == pytest.approx(tuple(frame.total_bounds))


def test_store_is_one_file(filled: Store) -> None:
    folder = filled.path.parent
    filled.close()
    assert sorted(p.name for p in folder.iterdir()) == ["project.gpkg"]


def test_init_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "exists.gpkg"
    path.write_text("keep me")
    with pytest.raises(StoreError, match="already exists"):
        init_store(path)
    assert path.read_text() == "keep me"


def test_init_needs_the_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        init_store(tmp_path / "missing" / "project.gpkg")


def test_geopandas_reads_the_store(filled: Store) -> None:
    frame = gpd.read_file(filled.path, layer="hazard_areas")
    assert frame.crs.to_epsg() == 4326
    assert (frame.geom_type == "MultiPolygon").all()
