"""The exchange-format tables of a synthetic world, as canonical GeoDataFrames."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from remnant.records.frame import to_canonical
from remnant.records.schema import (
    ACCIDENTS,
    ACTIVITIES,
    CRS,
    FINDS,
    HAZARD_AREAS,
    STRIKES,
)
from remnant.simulate.accidents import AccidentRows
from remnant.simulate.activities import Activities
from remnant.simulate.attacks import Attacks
from remnant.simulate.finds import FindRows
from remnant.simulate.hazard_areas import HazardRows
from remnant.simulate.ids import numbered
from remnant.simulate.reporting import Reports
from remnant.simulate.timeline import iso

ID_PREFIX = {
    "non_technical_survey": "NTS",
    "technical_survey": "TS",
    "clearance": "CL",
    "battle_area_clearance": "BAC",
    "eod_spot_task": "EOD",
}
"""Prefix of activity ids by type: ``NTS-000001``, ``BAC-000012``, ..."""


def activity_ids(activities: Activities) -> np.ndarray:
    """Id of each activity: its type's prefix, numbered in date order within the type."""
    ids = np.empty(len(activities), dtype=object)
    order = np.lexsort((np.arange(len(activities)), activities.start))
    for kind, prefix in ID_PREFIX.items():
        rows = order[activities.type[order] == kind]
        ids[rows] = numbered(prefix, len(rows))
    return ids


def _frame(data: dict[str, np.ndarray], geometry: gpd.GeoSeries) -> gpd.GeoDataFrame:
    """A GeoDataFrame keeping text columns as object (pandas would copy them to ``str``)."""
    columns = {
        k: pd.Series(v, dtype=object) if np.asarray(v).dtype == object else v
        for k, v in data.items()
    }
    return gpd.GeoDataFrame(columns, geometry=geometry)


def _points(lon: np.ndarray, lat: np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=CRS)


def strikes_frame(reports: Reports, attacks: Attacks) -> gpd.GeoDataFrame:
    """``strikes``: one row per record."""
    data = dict(reports.columns)
    data["date"] = iso(attacks.day[reports.strike])
    frame = _frame(data, _points(reports.lon, reports.lat))
    return to_canonical(frame, STRIKES)


def activities_frame(
    activities: Activities, ids: np.ndarray, outcome: np.ndarray
) -> gpd.GeoDataFrame:
    """``activities``: one polygon per activity, in date order."""
    order = np.lexsort((ids, activities.start))
    data = {
        "activity_id": ids[order],
        "type": activities.type[order],
        "method": activities.method[order],
        "start_date": iso(activities.start[order]),
        "end_date": iso(activities.end[order]),
        "depth_cm": activities.depth_cm[order],
        "detection_probability": activities.written_probability[order],
        "organisation": activities.organisation[order],
        "outcome": outcome[order],
    }
    geometry = gpd.GeoSeries(activities.polygon[order], crs=CRS)
    return to_canonical(_frame(data, geometry), ACTIVITIES)


def finds_frame(rows: FindRows, activity_id: np.ndarray) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """``finds``, in record order; also the record order of ``rows``."""
    order = rows.order()
    data = {
        "find_id": numbered("F", len(rows), 7),
        "date": iso(rows.day[order]),
        "item": rows.item[order],
        "quantity": rows.quantity[order],
        "activity_id": activity_id[rows.activity[order]],
    }
    frame = _frame(data, _points(rows.lon[order], rows.lat[order]))
    return to_canonical(frame, FINDS), order


def accidents_frame(rows: AccidentRows, accident_id: np.ndarray) -> gpd.GeoDataFrame:
    """``accidents``, in date order."""
    data = {
        "accident_id": accident_id,
        "date": iso(rows.day),
        "item": rows.item,
        "killed": rows.killed,
        "injured": rows.injured,
    }
    return to_canonical(_frame(data, _points(rows.lon, rows.lat)), ACCIDENTS)


def hazard_areas_frame(rows: HazardRows) -> gpd.GeoDataFrame:
    """``hazard_areas``: SHA and CHA polygons."""
    data = {"area_id": numbered("HA", len(rows)), "status": rows.status, "evidence": rows.evidence}
    geometry = gpd.GeoSeries(rows.polygon, crs=CRS)
    return to_canonical(_frame(data, geometry), HAZARD_AREAS)
