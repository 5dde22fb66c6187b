"""GeoJSON (RFC 7946): the exchange format's polygon tables, and any table.

Read and written with the standard ``json`` module, not GDAL, so that every feature's
problem is reported with its number and coordinates are written at full precision.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from remnant.errors import FormatError
from remnant.io.files import atomic_write_text
from remnant.io.raw import RawTable, canonical_frame
from remnant.records.frame import extra_columns
from remnant.records.schema import CRS, TableSpec


def read_geojson(path: str | Path, spec: TableSpec) -> RawTable:
    """Read a FeatureCollection; properties as JSON values, geometry per feature.

    Raises
    ------
    FormatError
        Not JSON, or not a FeatureCollection.
    """
    features = _load_features(path)
    props: list[dict[str, Any]] = []
    geoms: list[shapely.Geometry | None] = []
    problems: dict[int, str] = {}
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems[number] = "not a GeoJSON Feature"
            props.append({})
            geoms.append(None)
            continue
        props.append(feature.get("properties") or {})
        geom, why = _read_geometry(feature.get("geometry"))
        geoms.append(geom)
        if why:
            problems[number] = why
    frame = pd.DataFrame(props, dtype=object) if props else pd.DataFrame()
    frame = canonical_frame(frame, spec)
    geometry = gpd.GeoSeries(geoms, crs=CRS)
    rows = np.arange(1, len(frame) + 1)
    return RawTable(str(path), spec, frame, geometry, rows, "feature", problems)


def _load_features(path: str | Path) -> list[Any]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise FormatError(f"{path}: not a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise FormatError(f"{path}: FeatureCollection has no 'features' list")
    return features


def _read_geometry(raw: Any) -> tuple[shapely.Geometry | None, str]:
    if raw is None:
        return None, "feature has no geometry"
    try:
        return shape(raw), ""
    except (
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        shapely.errors.GEOSException,
    ) as exc:
        return None, f"unreadable geometry: {exc or type(exc).__name__}"


def write_geojson(frame: gpd.GeoDataFrame, spec: TableSpec, path: str | Path) -> None:
    """Write a canonical frame as an RFC 7946 FeatureCollection, atomically."""
    names = list(spec.attribute_names) + extra_columns(frame.columns, spec)
    columns = [frame[n].tolist() if n in frame.columns else [None] * len(frame) for n in names]
    features = []
    for i, geom in enumerate(frame.geometry):
        props = {n: _json_value(col[i]) for n, col in zip(names, columns, strict=True)}
        geometry = None if geom is None else mapping(geom)
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    atomic_write_text(path, text + "\n")


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
