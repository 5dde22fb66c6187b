"""The handover record of released land (IMAS 08.30)."""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import shapely

from remnant.report.handover import NO_OWNER, handover_record, write_handover_html
from remnant.survey.compliance import units_to_inspect
from remnant.survey.standard import load_standard

AREA = shapely.box(37.0, 48.0, 37.002, 48.002)  # about 149 m × 222 m


def _frames():
    area = gpd.GeoDataFrame({"area_id": ["HA-7"], "status": ["cleared"]}, geometry=[AREA],
                            crs="EPSG:4326")  # fmt: skip
    activities = gpd.GeoDataFrame(
        {"activity_id": ["BAC-1", "TS-9", "FAR-1"],
         "type": ["battle_area_clearance", "technical_survey", "clearance"],
         "method": ["manual", "manual", "mechanical"],
         "organisation": ["<script>alert(1)</script>", "Operator B", "Elsewhere"],
         "start_date": pd.to_datetime(["2024-05-02", "2024-03-01", "2024-01-01"], utc=True),
         "end_date": pd.to_datetime(["2024-06-30", "2024-03-05", "2024-01-02"], utc=True),
         "depth_cm": [20.0, None, 10.0]},
        geometry=[AREA, shapely.box(37.001, 48.001, 37.01, 48.01), shapely.box(38, 49, 38.1, 49.1)],
        crs="EPSG:4326",
    )  # fmt: skip
    finds = gpd.GeoDataFrame(
        {"item": ["M77", "M77", "fragments", "M42"], "quantity": [3, None, 5, 1]},
        geometry=[shapely.Point(37.0005, 48.0005), shapely.Point(37.001, 48.001),
                  shapely.Point(37.0015, 48.0002), shapely.Point(37.5, 48.5)],
        crs="EPSG:4326",
    )  # fmt: skip
    return area, activities, finds


def test_the_record_holds_the_work_the_items_and_the_residual_risk(tmp_path):
    area, activities, finds = _frames()
    standard = load_standard()
    record = handover_record(area, activities, finds, {"expected_items": 0.02, "p_any": 0.019},
                             standard, "2025-06-30")  # fmt: skip
    assert list(record.activities["activity_id"]) == ["TS-9", "BAC-1"]  # by date; FAR-1 apart
    assert dict(zip(record.items["item"], record.items["quantity"], strict=True)) == {
        "M77": 4, "fragments": 5,
    }  # fmt: skip
    local = area.to_crs(area.estimate_utm_crs()).area.iloc[0]
    assert math.isclose(record.area_m2, local)
    qc = standard.quality_control
    units = math.ceil(local / qc.unit_area_m2.value)
    assert record.qc_units == units
    assert record.qc_inspect == units_to_inspect(units, qc.confidence.value, qc.acceptable.value)
    assert record.owner == NO_OWNER
    page = write_handover_html(record, tmp_path / "h" / "HA-7.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "2024-03-01 – 2024-06-30" in page
    assert "<td>1.90%</td>" in page and "5.00% — within" in page
    assert NO_OWNER in page


def test_a_residual_above_the_tolerable_is_said(tmp_path):
    area, activities, finds = _frames()
    record = handover_record(area, activities, finds, {"expected_items": 0.3, "p_any": 0.26},
                             load_standard(), "2025-06-30", owner="Village council")  # fmt: skip
    page = write_handover_html(record, tmp_path / "HA-7.html").read_text(encoding="utf-8")
    assert "<td>26.00%</td>" in page and "5.00% — ABOVE" in page and "Village council" in page
