"""Every validation rule rejects its bad row, with the right row, column and reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from remnant.io import read_tables
from remnant.records.validate import ValidationContext, validate

STRIKES_HEADER = (
    "strike_id,date,lon,lat,location_error_m,carrier,carrier_count,heading_deg,source_type,source"
)
GOOD_STRIKES = [
    "s1,2023-05-01,36.10,49.90,100,M864,3,,verified,",
    "s2,2023-05-02,36.20,49.95,,9M55K,,45,geolocated,https://example.org/a",
    "s3,2023-05-03T14:30:00Z,36.15,49.92,1000,RBK-500-ShOAB,1,,reported,",
    "s4,2023-05-04,36.30,49.85,,M26,6,,,",
    "s5,2023-05-05,36.25,49.88,,unknown,,,,",
]


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check(path: Path, catalogue, today, **kw):
    (raw,) = read_tables(path)
    return validate(raw, ValidationContext(catalogue=catalogue, today=today, **kw))


def _only(result, row: int):
    found = [p for p in result.problems if p.row == row]
    assert found, f"no problem reported for row {row}: {result.problems}"
    return found


def test_good_strikes_are_accepted_and_canonical(tmp_path, catalogue, today):
    result = _check(
        _write(tmp_path, "strikes.csv", [STRIKES_HEADER, *GOOD_STRIKES]), catalogue, today
    )
    assert result.problems == []
    frame = result.frame
    assert list(frame["strike_id"]) == ["s1", "s2", "s3", "s4", "s5"]
    assert frame["date"].iloc[2] == "2023-05-03T14:30:00Z"
    assert frame["carrier_count"].dtype == "Int64"
    assert frame.crs == "EPSG:4326"
    assert frame.geometry.iloc[0].x == pytest.approx(36.10)


@pytest.mark.parametrize(
    ("bad_row", "column", "reason"),
    [
        (
            "s9,2023-05-01,36.1,49.9,,M846,,,,",
            "carrier",
            "unknown carrier 'M846'; did you mean 'M864'?",
        ),
        ("s9,2023-05-01,36.1,49.9,,M864,-2,,,", "carrier_count", "negative count"),
        ("s9,2023-05-01,36.1,49.9,,M864,three,,,", "carrier_count", "not a number"),
        ("s9,2023-05-01,36.1,49.9,,M864,2.5,,,", "carrier_count", "not a whole number"),
        ("s9,2023-05-01,36.1,49.9,-5,M864,,,,", "location_error_m", "must be at least 0"),
        ("s9,2023-05-01,36.1,49.9,,M864,,400,,", "heading_deg", "must be at most 360"),
        ("s9,2023-05-01,36.1,49.9,,M864,,,rumour,", "source_type", "not one of verified"),
        ("s9,2023-13-01,36.1,49.9,,M864,,,,", "date", "not an ISO 8601 date"),
        ("s9,01/05/2023,36.1,49.9,,M864,,,,", "date", "not an ISO 8601 date"),
        ("s9,2031-01-01,36.1,49.9,,M864,,,,", "date", "date in the future"),
        ("s9,,36.1,49.9,,M864,,,,", "date", "required value missing"),
        ("s9,2023-05-01,36.1,,,M864,,,,", "lat", "required value missing"),
        ("s9,2023-05-01,200.0,49.9,,M864,,,,", "lon", "longitude out of range"),
        ("s9,2023-05-01,49.9,136.1,,M864,,,,", "lat", "are lon and lat swapped?"),
        ("s9,2023-05-01,49.9,36.1,,M864,,,,", "lon", "lon and lat look swapped"),
        (
            "s1,2023-05-01,36.1,49.9,,M864,,,,",
            "strike_id",
            "duplicate id 's1' in the file; first at row 2",
        ),
    ],
)
def test_each_rule_rejects_its_row(tmp_path, catalogue, today, bad_row, column, reason):
    lines = [STRIKES_HEADER, *GOOD_STRIKES, bad_row]
    result = _check(_write(tmp_path, "strikes.csv", lines), catalogue, today)
    bad_line = len(lines)  # header is row 1, as a spreadsheet shows it
    problems = _only(result, bad_line)
    assert len(problems) == 1, problems  # one reason, reported once
    assert problems[0].column == column and reason in problems[0].reason, problems
    assert all(p.file.endswith("strikes.csv") for p in problems)
    assert list(result.rejected) == [bad_line]
    assert len(result.frame) == len(GOOD_STRIKES)


def test_every_bad_row_is_reported_not_only_the_first(tmp_path, catalogue, today):
    lines = [
        STRIKES_HEADER,
        *GOOD_STRIKES,
        "s6,2023-05-01,36.1,49.9,,M846,,,,",
        "s7,yesterday,36.1,49.9,,M864,-1,,,",
        "s8,2023-05-01,36.1,95,,M864,,,,",
    ]
    result = _check(_write(tmp_path, "strikes.csv", lines), catalogue, today)
    assert sorted({p.row for p in result.problems}) == [7, 8, 9]
    assert {(p.row, p.column) for p in result.problems} >= {
        (7, "carrier"),
        (8, "date"),
        (8, "carrier_count"),
        (9, "lat"),
    }
    assert str(result.problems[0]).startswith(
        str(tmp_path / "strikes.csv") + ", row 7, column carrier"
    )


def test_missing_required_column_is_a_file_problem(tmp_path, catalogue, today):
    path = _write(tmp_path, "strikes.csv", ["strike_id,date,lon,lat", "a,2023-01-01,36,49"])
    result = _check(path, catalogue, today)
    assert [(p.row, p.column, p.reason) for p in result.problems] == [
        (None, "carrier", "required column missing from the file")
    ]
    assert len(result.frame) == 0


def test_aliases_and_extra_columns_are_kept(tmp_path, catalogue, today):
    path = _write(
        tmp_path,
        "finds.csv",
        [
            "Find ID,Date,Longitude,Latitude,Item,Qty,team_note",
            "f1,2024-01-02,36.1,49.9,m-42,2,under a tree",
        ],
    )
    result = _check(path, catalogue, today)
    assert result.problems == []
    row = result.frame.iloc[0]
    assert row["item"] == "M42" and row["quantity"] == 2 and row["team_note"] == "under a tree"


def _activity(fid: str, coords, **props) -> dict:
    base = {
        "activity_id": fid,
        "type": "clearance",
        "start_date": "2024-03-01",
        "end_date": "2024-03-10",
    }
    base.update(props)
    return {
        "type": "Feature",
        "properties": base,
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }


SQUARE = [[36.0, 49.0], [36.01, 49.0], [36.01, 49.01], [36.0, 49.01], [36.0, 49.0]]
BOWTIE = [[36.0, 49.0], [36.01, 49.01], [36.01, 49.0], [36.0, 49.01], [36.0, 49.0]]


def _geojson(tmp_path: Path, name: str, features: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_polygon_rules(tmp_path, catalogue, today):
    features = [
        _activity("a1", SQUARE),
        _activity("a2", BOWTIE),
        _activity("a3", SQUARE, start_date="2024-03-10", end_date="2024-03-01"),
        _activity("a4", SQUARE, type="demining"),
        _activity("a5", SQUARE, detection_probability=1.5),
        {
            "type": "Feature",
            "properties": {
                "activity_id": "a6",
                "type": "clearance",
                "start_date": "2024-03-01",
                "end_date": "2024-03-02",
            },
            "geometry": {"type": "Point", "coordinates": [36.0, 49.0]},
        },
        _activity("a1", SQUARE),
    ]
    result = _check(_geojson(tmp_path, "activities.geojson", features), catalogue, today)
    by_row = {p.row: p for p in result.problems}
    assert list(result.frame["activity_id"]) == ["a1"]
    assert by_row[2].reason.startswith("invalid polygon: Self-intersection")
    assert by_row[2].unit == "feature" and "feature 2" in str(by_row[2])
    assert (by_row[3].column, by_row[3].reason) == (
        "end_date",
        "end_date before start_date (2024-03-10)",
    )
    assert by_row[4].column == "type" and "not one of" in by_row[4].reason
    assert by_row[5].column == "detection_probability" and "at most 1" in by_row[5].reason
    assert "geometry is Point" in by_row[6].reason
    assert "duplicate id 'a1'" in by_row[7].reason and "first at feature 1" in by_row[7].reason


def test_invalid_polygon_repaired_only_when_asked(tmp_path, catalogue, today):
    path = _geojson(tmp_path, "activities.geojson", [_activity("a2", BOWTIE)])
    result = _check(path, catalogue, today, repair=True)
    assert result.problems == []
    assert [w.reason.split(" (")[0] for w in result.warnings] == ["repaired invalid polygon"]
    geom = result.frame.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(0.5 * 0.01 * 0.01)


def test_finds_naming_unknown_activity_warn(tmp_path, catalogue, today):
    path = _write(
        tmp_path,
        "finds.csv",
        ["find_id,date,lon,lat,item,activity_id", "f1,2024-01-02,36.1,49.9,M77,A-404"],
    )
    result = _check(path, catalogue, today, known_activity_ids=frozenset({"A-1"}))
    assert result.problems == [] and len(result.frame) == 1
    assert result.warnings[0].column == "activity_id"


def test_unknown_item_suggests_closest(tmp_path, catalogue, today):
    path = _write(
        tmp_path, "finds.csv", ["find_id,date,lon,lat,item", "f1,2024-01-02,36.1,49.9,M-77x"]
    )
    result = _check(path, catalogue, today)
    assert result.problems[0].column == "item"
    assert "did you mean 'M77'?" in result.problems[0].reason


def test_accident_counts_cannot_be_negative(tmp_path, catalogue, today):
    path = _write(
        tmp_path,
        "accidents.csv",
        ["accident_id,date,lon,lat,item,killed,injured", "x1,2024-01-02,36.1,49.9,,0,-1"],
    )
    result = _check(path, catalogue, today)
    assert [(p.row, p.column, p.reason) for p in result.problems] == [
        (2, "injured", "negative count; must be at least 0")
    ]


def test_no_false_swap_alarm_on_a_spread_out_file(tmp_path, catalogue, today):
    rng = np.random.default_rng(3)
    rows = [
        f"s{i},2023-05-01,{lon:.5f},{lat:.5f},,M864,,,,"
        for i, (lon, lat) in enumerate(
            zip(rng.uniform(30, 38, 50), rng.uniform(46, 51, 50), strict=True)
        )
    ]
    result = _check(_write(tmp_path, "strikes.csv", [STRIKES_HEADER, *rows]), catalogue, today)
    assert result.problems == []
