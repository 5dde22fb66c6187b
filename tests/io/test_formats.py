"""Each format writes what it reads: canonical frame → file → raw → validated frame."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from remnant.errors import FormatError
from remnant.io import read_tables, write_table
from remnant.records.frame import to_canonical
from remnant.records.schema import ACTIVITIES, FINDS
from remnant.records.validate import ValidationContext, validate


def _finds() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "find_id": ["f1", "f2", "f3"],
            "date": ["2024-01-02", "2024-01-03T08:15:00Z", "2024-02-01"],
            "item": ["M42", "9N210", "fragments"],
            "quantity": pd.array([1, None, 12], dtype="Int64"),
            "activity_id": ["A1", None, "A1"],
            "team_note": ["ліс, під деревом", None, "x"],
        },
        geometry=[Point(36.123456789012345, 49.98765432109876), Point(-0.5, 0.25), Point(36, 49)],
        crs="EPSG:4326",
    )
    return to_canonical(frame, FINDS)


def _activities() -> gpd.GeoDataFrame:
    square = Polygon([(36, 49), (36.01, 49), (36.01, 49.01), (36, 49.01)])
    two = MultiPolygon([square, shapely.affinity.translate(square, 0.05, 0)])
    frame = gpd.GeoDataFrame(
        {
            "activity_id": ["A1", "A2"],
            "type": ["clearance", "non_technical_survey"],
            "method": ["manual", None],
            "start_date": ["2024-01-01", "2023-11-01"],
            "end_date": ["2024-01-20", "2023-11-01"],
            "depth_cm": [20.0, np.nan],
            "detection_probability": [np.nan, 0.1],
            "organisation": ["HALO", "FSD"],
            "outcome": [None, "no_evidence"],
        },
        geometry=[square, two],
        crs="EPSG:4326",
    )
    return to_canonical(frame, ACTIVITIES)


def _round_trip(frame, table, path, catalogue, today):
    write_table(frame, table, path)
    (raw,) = read_tables(path, table if path.suffix == ".gpkg" else None)
    result = validate(raw, ValidationContext(catalogue=catalogue, today=today))
    assert result.problems == []
    return result.frame


@pytest.mark.parametrize("suffix", [".csv", ".geojson", ".gpkg"])
def test_point_table_round_trips_losslessly(tmp_path, catalogue, today, suffix):
    original = _finds()
    back = _round_trip(original, "finds", tmp_path / f"finds{suffix}", catalogue, today)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(original.drop(columns="geometry"))
    )
    assert shapely.equals_exact(back.geometry.values, original.geometry.values, 0).all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_polygon_table_round_trips_losslessly(tmp_path, catalogue, today, suffix):
    original = _activities()
    back = _round_trip(original, "activities", tmp_path / f"activities{suffix}", catalogue, today)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(original.drop(columns="geometry"))
    )
    assert back.geometry.geom_equals(original.geometry).all()


def test_geojson_is_rfc7946_and_full_precision(tmp_path):
    path = tmp_path / "finds.geojson"
    write_table(_finds(), "finds", path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    assert data["features"][0]["geometry"]["coordinates"] == [36.123456789012345, 49.98765432109876]
    assert data["features"][1]["properties"]["quantity"] is None


def test_gpkg_layer_reads_in_gdal_with_crs(tmp_path):
    path = tmp_path / "exchange.gpkg"
    write_table(_finds(), "finds", path)
    write_table(_activities(), "activities", path)
    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert layers == {"finds": "Point", "activities": "MultiPolygon"}
    back = pyogrio.read_dataframe(path, layer="activities")
    assert back.crs.to_epsg() == 4326


def test_unreadable_files_say_why(tmp_path):
    bad = tmp_path / "finds.csv"
    bad.write_bytes(b"find_id,date\n\xff\xfe,2024\n")
    with pytest.raises(FormatError, match=r"finds.csv: not UTF-8"):
        read_tables(bad)
    notjson = tmp_path / "activities.geojson"
    notjson.write_text("{not json")
    with pytest.raises(FormatError, match=r"activities.geojson: not JSON"):
        read_tables(notjson)
    with pytest.raises(FormatError, match="cannot tell the table"):
        read_tables(_touch(tmp_path / "data.csv"))
    with pytest.raises(FormatError, match="unknown file format"):
        read_tables(_touch(tmp_path / "finds.xlsx"))
    with pytest.raises(FormatError, match="no such file"):
        read_tables(tmp_path / "missing.csv")


def _touch(path):
    path.write_text("a\n1\n")
    return path


def test_table_known_from_file_name(tmp_path):
    path = tmp_path / "finds_2024-kharkiv.csv"
    path.write_text("find_id,date,lon,lat,item\nf,2024-01-01,36,49,M42\n")
    (raw,) = read_tables(path)
    assert raw.spec.name == "finds"
