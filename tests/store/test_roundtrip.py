"""What goes into the store comes back out exactly: the canonical frame, extras included."""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remnant.records.frame import empty_frame
from remnant.records.schema import TABLES
from remnant.store import Store, init_store, open_store

from .conftest import canonical


def assert_same(got: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    """Equal frames: columns, dtypes, values; geometries equal (Polygon read as MultiPolygon)."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.tolist() == expected.dtypes.tolist()
    assert_geodataframe_equal(got, expected, check_geom_type=False)


@pytest.mark.parametrize("table", list(TABLES))
def test_round_trip(filled: Store, frames: dict, table: str) -> None:
    assert_same(filled.read(table), frames[table])


def test_round_trip_after_reopening(filled: Store, frames: dict) -> None:
    filled.close()
    with open_store(filled.path) as again:
        for table, frame in frames.items():
            assert_same(again.read(table), frame)


def test_polygons_come_back_as_multipolygons(filled: Store) -> None:
    read = filled.read("hazard_areas")
    assert (read.geom_type == "MultiPolygon").all()
    assert read.geometry.iloc[0].equals(shapely.box(37, 48, 37.2, 48.2))


def test_points_keep_full_precision(filled: Store, frames: dict) -> None:
    got = filled.read("strikes").geometry
    assert shapely.equals_exact(got.values, frames["strikes"].geometry.values, tolerance=0).all()


def test_empty_table_reads_as_empty_frame(store: Store) -> None:
    for table, spec in TABLES.items():
        assert_geodataframe_equal(store.read(table), empty_frame(spec))


def test_extra_columns_of_several_imports_are_united(store: Store) -> None:
    first = canonical("hazard_areas", {"area_id": ["H1"], "status": ["confirmed"], "a": ["1"]},
                      [shapely.box(0, 0, 1, 1)])  # fmt: skip
    second = canonical("hazard_areas", {"area_id": ["H2"], "status": ["cleared"], "b": ["2"]},
                       [shapely.box(1, 1, 2, 2)])  # fmt: skip
    store.upsert("hazard_areas", first, user="tester")
    store.upsert("hazard_areas", second, user="tester")
    read = store.read("hazard_areas")
    assert read[["area_id", "a", "b"]].to_dict("records") == [
        {"area_id": "H1", "a": "1", "b": None},
        {"area_id": "H2", "a": None, "b": "2"},
    ]


def test_missing_geometry_is_null(store: Store) -> None:
    frame = canonical("accidents", {"accident_id": ["X"], "date": ["2023-01-01"]}, [None])
    store.upsert("accidents", frame, user="tester")
    assert store.read("accidents").geometry.iloc[0] is None


TEXT = st.one_of(st.none(), st.text(max_size=12))
FLOAT = st.one_of(st.just(np.nan), st.floats(allow_nan=False, allow_infinity=False, width=64))
INT = st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62))


@st.composite
def finds_frames(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(min_value=1, max_value=8))
    ids = draw(st.lists(st.text(min_size=1, max_size=10), min_size=n, max_size=n, unique=True))
    lon = draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n))
    lat = draw(st.lists(st.floats(-90, 90), min_size=n, max_size=n))
    data = {
        "find_id": ids,
        "date": draw(st.lists(TEXT, min_size=n, max_size=n)),
        "item": draw(st.lists(TEXT, min_size=n, max_size=n)),
        "quantity": pd.array(draw(st.lists(INT, min_size=n, max_size=n)), dtype="Int64"),
        "activity_id": draw(st.lists(TEXT, min_size=n, max_size=n)),
        "note": draw(st.lists(TEXT, min_size=n, max_size=n)),
    }
    return canonical("finds", data, list(shapely.points(lon, lat)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=finds_frames())
def test_any_finds_round_trip_and_reimport_unchanged(frame: gpd.GeoDataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder, init_store(Path(folder) / "p.gpkg") as store:
        store.upsert("finds", frame, user="hypothesis")
        assert_same(store.read("finds"), frame)
        again = store.upsert("finds", frame, user="hypothesis")
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(frame))


def test_float_edge_values(store: Store) -> None:
    values = [0.0, -0.0, 1e-300, 1.7976931348623157e308, np.nan, 0.1 + 0.2]
    frame = canonical(
        "strikes",
        {"strike_id": [f"S{i}" for i in range(6)], "date": ["2020"] * 6, "carrier": ["M26"] * 6,
         "location_error_m": values},
        [shapely.Point(i, i) for i in range(6)],
    )  # fmt: skip
    store.upsert("strikes", frame, user="tester")
    got = store.read("strikes")["location_error_m"].to_numpy()
    np.testing.assert_array_equal(got, np.array(values))
