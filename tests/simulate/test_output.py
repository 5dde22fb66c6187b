"""The files of :func:`write_world` are exactly the exchange format; the truth is apart."""

from __future__ import annotations

import csv
import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from remnant.io import read_tables
from remnant.records.schema import TABLES
from remnant.records.validate import Validated, ValidationContext, validate
from remnant.simulate.output import FILES

AS_OF = date(2025, 6, 30)
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def test_the_record_files_and_only_them_sit_at_the_top(written):
    top = sorted(p.name for p in written["strikes"].parent.iterdir())
    assert top == sorted([*FILES.values(), "truth"])
    assert sorted(p.name for p in written["truth/submunitions"].parent.iterdir()) == [
        "parameters.json", "settlements.parquet", "strikes.parquet", "submunitions.parquet",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def read_back(written, catalogue) -> dict[str, Validated]:
    """Each file read and validated as a user's file would be."""
    context = ValidationContext(catalogue, today=AS_OF)
    return {name: validate(read_tables(written[name])[0], context) for name in TABLES}


@pytest.mark.parametrize("name", list(TABLES))
def test_every_file_validates_without_a_problem(name, read_back, world):
    result = read_back[name]
    assert result.problems == []
    assert len(result.frame) == len(world.tables[name]) > 0


def test_geojson_properties_are_the_spec(written):
    for name in ("activities", "hazard_areas"):
        features = json.loads(written[name].read_text(encoding="utf-8"))["features"]
        assert {tuple(f["properties"]) for f in features} == {TABLES[name].attribute_names}


@pytest.mark.parametrize("name", [n for n, f in FILES.items() if f.endswith(".csv")])
def test_csv_header_is_the_spec_in_order(name, written):
    with written[name].open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == list(TABLES[name].names)


@pytest.mark.parametrize("name", list(TABLES))
def test_ids_enums_dates_and_geometry_follow_the_rules(name, read_back):
    spec = TABLES[name]
    frame = read_back[name].frame
    assert frame[spec.id_column].is_unique
    for col in spec.columns:
        values = frame[col.name].dropna() if col.name in frame else pd.Series([], dtype=object)
        if col.kind == "enum":
            assert set(values) <= set(col.choices or ()), col.name
        if col.kind == "date":
            assert values.str.fullmatch(ISO_DATE).all(), col.name
            assert (values <= AS_OF.isoformat()).all(), col.name
        if col.kind in ("int", "float") and col.minimum is not None:
            assert (values.astype(float) >= col.minimum).all(), col.name
        if col.kind in ("int", "float") and col.maximum is not None:
            assert (values.astype(float) <= col.maximum).all(), col.name
    geometry = frame.geometry.to_numpy()
    assert shapely.is_valid(geometry).all()
    kinds = {"point": {"Point"}, "polygon": {"Polygon", "MultiPolygon"}}[spec.geometry]
    assert set(shapely.get_type_id(geometry).tolist()) <= {
        {"Point": 0, "Polygon": 3, "MultiPolygon": 6}[k] for k in kinds
    }
    if spec.date_columns_ordered:
        start, end = spec.date_columns_ordered
        assert (frame[start] <= frame[end]).all()


def test_geojson_polygons_are_anticlockwise(written):
    for name in ("activities", "hazard_areas"):
        features = json.loads(written[name].read_text(encoding="utf-8"))["features"]
        rings = [np.asarray(f["geometry"]["coordinates"][0]) for f in features]
        assert all(shapely.LinearRing(r).is_ccw for r in rings), name


def test_truth_files_round_trip(written, world):
    sub = pq.read_table(written["truth/submunitions"]).to_pandas()
    assert len(sub) == len(world.truth.submunitions)
    assert sub["lon"].dtype == np.float32
    assert (sub["lon"].to_numpy() == world.truth.submunitions["lon"].to_numpy()).all()
    assert (
        sub["found_by"].astype(object).equals(world.truth.submunitions["found_by"].astype(object))
    )
    strikes = pq.read_table(written["truth/strikes"]).to_pandas()
    pd.testing.assert_frame_equal(strikes, world.truth.strikes)
    parameters = json.loads(written["truth/parameters"].read_text(encoding="utf-8"))
    assert parameters["seed"] == 11 and parameters["as_of"] == AS_OF.isoformat()
    assert set(parameters["failure_rate"]) >= set(world.truth.strikes["carrier"])
    assert parameters["counts"] == {n: len(f) for n, f in world.tables.items()}


def test_rewriting_replaces_files_and_leaves_no_temporary(written, world):
    from remnant.simulate import write_world

    folder = written["strikes"].parent
    before = written["finds"].read_bytes()
    write_world(world, folder)
    assert written["finds"].read_bytes() == before
    assert not [p for p in folder.rglob(".*") if p.is_file()]
