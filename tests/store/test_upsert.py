"""Re-imports update by id and never duplicate; every change is audited."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from remnant.errors import StoreError
from remnant.store import Store, WriteResult

from .conftest import canonical, finds


def test_reimport_is_idempotent(filled: Store, frames: dict) -> None:
    counts, audit, imports = filled.counts(), filled.audit(), filled.imports()
    for table, frame in frames.items():
        result = filled.upsert(table, frame, source_file=f"{table}.csv", user="tester")
        assert result == WriteResult(inserted=0, updated=0, unchanged=len(frame))
    assert filled.counts() == counts
    pd.testing.assert_frame_equal(filled.audit(), audit)
    assert len(filled.imports()) == len(imports) + len(frames)  # the files were still read


def test_counts_and_ids(filled: Store, frames: dict) -> None:
    assert filled.counts() == {table: len(frame) for table, frame in frames.items()}
    assert filled.ids("strikes") == {"S1", "S2", "Ш-3"}


def test_changed_values_are_updates_with_a_diff(store: Store) -> None:
    frame = finds(5)
    store.upsert("finds", frame, source_file="v1.csv", user="alice")
    changed = frame.copy()
    changed.loc[1, "item"] = "M85"
    changed.loc[2, "quantity"] = pd.NA
    changed.loc[3, "geometry"] = shapely.Point(1, 2)
    result = store.upsert("finds", changed, source_file="v2.csv", user="bob")
    assert result == WriteResult(inserted=0, updated=3, unchanged=2)
    updates = store.audit(limit=3).sort_values("record_id")
    assert updates["action"].tolist() == ["update"] * 3
    assert updates["user"].tolist() == ["bob"] * 3
    assert updates["source_file"].tolist() == ["v2.csv"] * 3
    changes = dict(zip(updates["record_id"], updates["changes"], strict=True))
    assert changes["F1"] == {"item": [frame.loc[1, "item"], "M85"]}
    assert changes["F2"] == {"quantity": [int(frame.loc[2, "quantity"]), None]}
    old_point = shapely.to_wkt(frame.geometry[3], rounding_precision=-1)
    assert changes["F3"] == {"geom": [old_point, "POINT (1 2)"]}
    assert store.read("finds")["item"].tolist()[1] == "M85"


def test_inserts_are_audited_without_values(store: Store) -> None:
    store.upsert("finds", finds(3), source_file="finds.csv", user="alice")
    audit = store.audit()
    assert audit["action"].tolist() == ["insert"] * 3
    assert audit["record_id"].tolist() == ["F2", "F1", "F0"]  # newest first
    assert audit["changes"].tolist() == [None] * 3
    assert audit["at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()


def test_new_and_existing_records_mix(store: Store) -> None:
    store.upsert("finds", finds(4), user="tester")
    more = pd.concat([finds(4), finds(3, offset=10)], ignore_index=True)
    result = store.upsert("finds", gpd.GeoDataFrame(more, crs="EPSG:4326"), user="tester")
    assert result == WriteResult(inserted=3, updated=0, unchanged=4)
    assert store.counts()["finds"] == 7


def test_imports_rows(store: Store) -> None:
    store.upsert("finds", finds(4), source_file="a.csv", sha256="ab" * 32, user="u", note="n")
    store.upsert("finds", finds(6), source_file="b.csv", user="u")
    imports = store.imports()
    columns = ["source_file", "table_name", "inserted", "updated", "unchanged"]
    assert imports[columns].to_numpy().tolist() == [
        ["a.csv", "finds", 4, 0, 0],
        ["b.csv", "finds", 2, 0, 4],
    ]
    assert imports["sha256"].tolist() == ["ab" * 32, None]
    assert imports["note"].tolist() == ["n", None]
    audit = store.audit()
    assert audit["import_id"].value_counts().to_dict() == {1: 4, 2: 2}


def test_extra_columns_merge_and_are_never_dropped(store: Store) -> None:
    def areas(**extra: list) -> gpd.GeoDataFrame:
        data = {"area_id": ["H1"], "status": ["suspected"], **extra}
        return canonical("hazard_areas", data, [shapely.box(0, 0, 1, 1)])

    store.upsert("hazard_areas", areas(a=["1"], b=["2"]), user="tester")
    assert store.upsert("hazard_areas", areas(), user="tester").unchanged == 1
    assert store.upsert("hazard_areas", areas(b=["2"]), user="tester").unchanged == 1
    assert store.upsert("hazard_areas", areas(b=["3"], c=["4"]), user="tester").updated == 1
    read = store.read("hazard_areas")
    assert read[["a", "b", "c"]].to_dict("records") == [{"a": "1", "b": "3", "c": "4"}]
    assert store.audit(limit=1)["changes"][0] == {"b": ["2", "3"], "c": [None, "4"]}


def test_bookkeeping_columns(store: Store) -> None:
    import sqlite3

    store.upsert("finds", finds(2), source_file="one.csv", user="tester")
    changed = finds(2)
    changed.loc[0, "item"] = "M85"
    store.upsert("finds", changed, source_file="two.csv", user="tester")
    conn = sqlite3.connect(store.path)
    rows = conn.execute(
        "SELECT find_id, created_at < updated_at, source_file FROM finds ORDER BY fid"
    ).fetchall()
    conn.close()
    assert rows == [("F0", 1, "two.csv"), ("F1", 0, "one.csv")]


def test_several_tables_in_one_transaction(store: Store, frames: dict) -> None:
    with store.transaction(user="tester", note="batch") as tx:
        first = tx.upsert("strikes", frames["strikes"], source_file="strikes.csv")
        tx.upsert("finds", frames["finds"], source_file="finds.csv")
        tx.upsert("finds", frames["finds"], source_file="finds.csv")
    assert first.inserted == 3
    assert tx.results == {
        "strikes": WriteResult(3, 0, 0),
        "finds": WriteResult(4, 0, 4),
    }
    with pytest.raises(StoreError, match="transaction is over"):
        tx.upsert("finds", frames["finds"])


def test_progress_is_reported_per_chunk(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("remnant.store.writer.CHUNK_ROWS", 10)
    calls: list[tuple[int, int]] = []
    result = store.upsert("finds", finds(25), user="tester", progress=lambda *a: calls.append(a))
    assert result.inserted == 25
    assert calls == [(10, 25), (20, 25), (25, 25)]
    assert store.read("finds")["find_id"].tolist() == [f"F{i}" for i in range(25)]
    assert len(store.audit()) == 25


def test_progress_callback_of_upsert(store: Store) -> None:
    calls: list[tuple[int, int]] = []
    store.upsert("finds", finds(3), user="tester", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(3, 3)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(find_id=["F0", "F0", "F2", "F3"]), "appear more than once: 'F0'"),
        (lambda f: f.assign(find_id=["F0", None, "F2", "F3"]), "without find_id, rows \\[2\\]"),
        (lambda f: f.set_geometry(shapely.buffer(f.geometry.values, 1)), "must be point"),
        (lambda f: f.to_crs(3857), "must be in EPSG:4326"),
        (lambda f: f.drop(columns="find_id"), "no 'find_id' column"),
        (lambda f: pd.DataFrame(f.drop(columns="geometry")), "expected a GeoDataFrame"),
        (lambda f: gpd.GeoDataFrame(f.drop(columns="geometry")), "expected a GeoDataFrame"),
    ],
)
def test_frames_the_store_refuses(store: Store, change, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        store.upsert("finds", change(finds(4)), user="tester")
    assert store.counts()["finds"] == 0
    assert store.imports().empty


def test_unknown_table(store: Store) -> None:
    with pytest.raises(ValueError, match="valid tables: strikes"):
        store.upsert("mines", finds(1), user="tester")


def test_polygon_table_refuses_points(store: Store) -> None:
    frame = canonical("hazard_areas", {"area_id": ["H"], "status": ["suspected"]},
                      [shapely.Point(0, 0)])  # fmt: skip
    with pytest.raises(StoreError, match="geometry must be polygon; wrong for 'H'"):
        store.upsert("hazard_areas", frame, user="tester")


def test_default_user_is_the_login(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "field-officer")
    store.upsert("finds", finds(1))
    assert store.audit()["user"].tolist() == ["field-officer"]
    assert store.imports()["user"].tolist() == ["field-officer"]


def test_closed_store(store: Store) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.counts()
    assert "closed" in repr(store)


def test_an_empty_frame_writes_nothing_but_its_import(store: Store) -> None:
    assert store.upsert("finds", finds(0), source_file="none.csv", user="u") == WriteResult()
    assert store.counts()["finds"] == 0
    assert store.audit().empty
    assert store.imports()["source_file"].tolist() == ["none.csv"]
