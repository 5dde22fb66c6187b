"""Incremental reads: which records changed since an import, and reading only those."""

from __future__ import annotations

import random
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from sqlalchemy import Engine, event

from remnant.records.frame import empty_frame
from remnant.records.schema import TABLES
from remnant.store import Store
from remnant.store.repository import ID_BATCH

from .conftest import canonical, finds

NOTHING = {table: [] for table in TABLES}


def assert_rows(got: gpd.GeoDataFrame, full: gpd.GeoDataFrame, positions: list[int]) -> None:
    """``got`` is exactly the rows of the full read at ``positions``, as a fresh frame."""
    expected = full.iloc[positions].reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.tolist() == expected.dtypes.tolist()
    assert_geodataframe_equal(got, expected)
    assert shapely.equals_exact(got.geometry.values, expected.geometry.values, tolerance=0).all()


@pytest.fixture
def parameter_counts() -> Iterator[list[int]]:
    """Number of bound parameters of every SELECT run while the test runs."""
    counts: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            counts.append(len(parameters or ()))

    event.listen(Engine, "before_cursor_execute", count)
    yield counts
    event.remove(Engine, "before_cursor_execute", count)


def test_a_new_store_has_no_import_and_no_change(store: Store) -> None:
    assert store.last_import_id() == 0
    assert store.changed_since(0) == NOTHING


def test_after_a_first_import_every_record_changed(filled: Store, frames: dict) -> None:
    assert filled.last_import_id() == filled.imports()["id"].max() == len(TABLES)
    expected = {table: frame[TABLES[table].id_column].tolist() for table, frame in frames.items()}
    assert filled.changed_since(0) == expected
    assert filled.changed_since(filled.last_import_id()) == NOTHING


def test_a_second_import_lists_its_inserts_and_updates_only(filled: Store) -> None:
    first = filled.last_import_id()
    second = pd.concat([finds(), finds(2, offset=10)], ignore_index=True)
    second.loc[1, "item"] = "M85"
    result = filled.upsert("finds", gpd.GeoDataFrame(second, crs="EPSG:4326"), user="tester")
    assert (result.inserted, result.updated, result.unchanged) == (2, 1, 3)
    assert filled.last_import_id() == first + 1
    assert filled.changed_since(first) == {**NOTHING, "finds": ["F1", "F10", "F11"]}


def test_changes_up_to_an_import_leave_the_later_ones(filled: Store) -> None:
    """``until``: an import read before a later one lands counts, the later one does not."""
    first = filled.last_import_id()
    filled.upsert("finds", gpd.GeoDataFrame(finds(2, offset=10), crs="EPSG:4326"), user="tester")
    second = filled.last_import_id()
    filled.upsert("finds", gpd.GeoDataFrame(finds(1, offset=20), crs="EPSG:4326"), user="tester")
    assert filled.changed_since(first, until=second) == {**NOTHING, "finds": ["F10", "F11"]}
    assert filled.changed_since(second) == {**NOTHING, "finds": ["F20"]}
    assert filled.changed_since(first) == {**NOTHING, "finds": ["F10", "F11", "F20"]}


def test_each_id_once_in_order_of_first_change(filled: Store, frames: dict) -> None:
    first = filled.last_import_id()
    areas = frames["hazard_areas"]
    changed = areas.copy()
    changed.loc[1, "status"] = "cleared"  # H2 changes first
    filled.upsert("hazard_areas", changed, user="tester")
    changed.loc[0, "district"] = "Balakliia"  # then H1
    changed.loc[1, "status"] = "suspected"  # and H2 again
    filled.upsert("hazard_areas", changed, user="tester")
    filled.upsert("finds", finds(), user="tester")  # unchanged: an import, no change
    assert filled.changed_since(first) == {**NOTHING, "hazard_areas": ["H2", "H1"]}


def test_read_by_id_returns_those_records_in_stored_order(filled: Store) -> None:
    for table in TABLES:
        full = filled.read(table)
        ids = full[TABLES[table].id_column].tolist()
        assert_rows(filled.read(table, ids=ids[::-1]), full, list(range(len(ids))))
        assert_rows(filled.read(table, ids={ids[-1], "nowhere"}), full, [len(ids) - 1])


def test_read_by_id_of_unicode_ids_and_duplicates(filled: Store) -> None:
    full = filled.read("strikes")
    assert_rows(filled.read("strikes", ids=["Ш-3", "S1", "Ш-3"]), full, [0, 2])


def test_read_of_no_id_or_unknown_ids_is_an_empty_frame(filled: Store) -> None:
    for ids in ([], ["nowhere", "F1 "]):
        assert_geodataframe_equal(filled.read("finds", ids=ids), empty_frame(TABLES["finds"]))


def test_read_by_id_in_batches(store: Store, parameter_counts: list[int]) -> None:
    store.upsert("finds", finds(3 * ID_BATCH + 3), user="tester")
    full = store.read("finds")
    positions = list(range(0, len(full), 2))  # more than 2 batches of ids
    ids = [*full["find_id"].iloc[positions], *(f"unknown{i}" for i in range(ID_BATCH))]
    random.Random(7).shuffle(ids)
    parameter_counts.clear()
    got = store.read("finds", ids=ids)
    assert_rows(got, full, positions)
    assert len(parameter_counts) == int(np.ceil(len(ids) / ID_BATCH)) >= 3
    assert max(parameter_counts) <= ID_BATCH


def test_read_by_id_has_the_extra_columns_of_its_records(store: Store) -> None:
    first = canonical("hazard_areas", {"area_id": ["H1"], "status": ["confirmed"], "a": ["1"]},
                      [shapely.box(0, 0, 1, 1)])  # fmt: skip
    second = canonical("hazard_areas", {"area_id": ["H2"], "status": ["cleared"]},
                       [shapely.box(1, 1, 2, 2)])  # fmt: skip
    store.upsert("hazard_areas", first, user="tester")
    store.upsert("hazard_areas", second, user="tester")
    full = store.read("hazard_areas")
    assert_rows(store.read("hazard_areas", ids=["H1", "H2"]), full, [0, 1])
    only_h2 = store.read("hazard_areas", ids=["H2"])
    assert "a" in full.columns and "a" not in only_h2.columns  # H2 carries no extra column
    assert_rows(only_h2, full.drop(columns="a"), [1])


def test_read_refuses_a_single_id_string(filled: Store) -> None:
    with pytest.raises(TypeError, match="collection of record ids"):
        filled.read("finds", ids="F1")


def test_read_by_id_of_an_unknown_table(filled: Store) -> None:
    with pytest.raises(ValueError, match="nowhere"):
        filled.read("nowhere", ids=["F1"])
