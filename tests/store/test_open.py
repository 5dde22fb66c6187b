"""open_store: a clear StoreError naming the path for anything that is not a Remnant store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from remnant.errors import StoreError
from remnant.store import Store, init_store, open_store


def expect(path: Path, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        open_store(path)
    assert str(path) in str(caught.value)


def test_no_such_file(tmp_path: Path) -> None:
    expect(tmp_path / "missing.gpkg", "no such file")
    assert not (tmp_path / "missing.gpkg").exists()  # and none was created


def test_a_folder(tmp_path: Path) -> None:
    expect(tmp_path, "not a file")


@pytest.mark.parametrize("content", [b"", b"find_id,date\nF1,2023-01-01\n", bytes(range(256))])
def test_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "finds.gpkg"
    path.write_bytes(content)
    expect(path, "not a SQLite database")
    assert path.read_bytes() == content


def test_plain_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "plain.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE finds (find_id TEXT)")
    conn.commit()
    conn.close()
    expect(path, "not a GeoPackage")


def test_foreign_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "other.gpkg"
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="finds")
    before = path.read_bytes()
    expect(path, "a GeoPackage but not a Remnant project store")
    assert path.read_bytes() == before


def test_newer_schema(store: Store) -> None:
    store.close()
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
    conn.commit()
    conn.close()
    expect(store.path, "newer Remnant .*'f00dcafe'.*upgrade Remnant")


def test_store_without_revision(store: Store) -> None:
    store.close()
    conn = sqlite3.connect(store.path)
    conn.execute("DELETE FROM alembic_version")
    conn.commit()
    conn.close()
    expect(store.path, "without a schema revision")


def test_open_a_store(filled: Store) -> None:
    counts = filled.counts()
    filled.close()
    with open_store(str(filled.path)) as store:
        assert store.counts() == counts
        assert store.path == filled.path


def test_init_then_open_by_string_path(tmp_path: Path) -> None:
    path = str(tmp_path / "p.gpkg")
    init_store(path).close()
    with open_store(path) as store:
        assert store.counts()["finds"] == 0
