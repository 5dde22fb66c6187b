"""Canonical frames to stored values and back, vectorised column by column.

Stored values are plain Python objects the DBAPI binds directly: ``str``, ``int``,
``float`` or ``None`` (pandas ``NA`` and NaN become ``None``, i.e. SQL NULL), the
geometry as a bound blob (:mod:`remnant.store.types`), the extra columns as one JSON
object per record. Reading reverses each step and ends with
:func:`remnant.records.frame.to_canonical`, so a frame read back is exactly the
canonical frame that was written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from remnant.errors import StoreError
from remnant.records.frame import extra_columns, to_canonical
from remnant.records.schema import CRS, TableSpec

_POINT, _POLYGON, _MULTIPOLYGON = 0, 3, 6
_ALLOWED_TYPES = {"point": {_POINT}, "polygon": {_POLYGON, _MULTIPOLYGON}}


def to_python(series: pd.Series, kind: str) -> list[Any]:
    """Values of a canonical column as Python scalars, ``None`` where missing."""
    if kind == "int":
        masked: Any = series.array  # pandas' Int64 array: NA becomes None, values int
        return masked.to_numpy(dtype=object, na_value=None).tolist()
    if kind == "float":
        values = series.to_numpy(dtype="float64")
        out = values.astype(object)
        out[np.isnan(values)] = None
        return out.tolist()
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values.tolist()


def from_python(values: Sequence[Any], kind: str) -> pd.Series:
    """A column of stored values as a Series of the canonical dtype of ``kind``."""
    if kind == "int":
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "float":
        return pd.Series(np.array(values, dtype="float64"))
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, dtype=object)


def extra_records(frame: pd.DataFrame, spec: TableSpec) -> list[dict[str, Any]] | None:
    """Each record's extra columns as ``{name: value}``; ``None`` if the frame has none."""
    names = extra_columns(frame.columns, spec)
    if not names:
        return None
    columns = [to_python(frame[name], "str") for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def extra_frame(stored: Sequence[str | None]) -> dict[str, list[Any]]:
    """Expand stored JSON objects into columns, in order of first appearance."""
    records = [None if s is None else json.loads(s) for s in stored]
    names: dict[str, None] = {}
    for record in records:
        if record:
            names.update(dict.fromkeys(record))
    return {n: [None if r is None else r.get(n) for r in records] for n in names}


def to_frame(
    columns: dict[str, Sequence[Any]],
    geometry: np.ndarray,
    extra: Sequence[str | None],
    spec: TableSpec,
) -> gpd.GeoDataFrame:
    """Build the canonical frame of ``spec`` from stored columns, geometries and extras."""
    data: dict[str, Any] = {n: from_python(v, spec.column(n).kind) for n, v in columns.items()}
    data.update({n: from_python(v, "str") for n, v in extra_frame(extra).items()})
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=CRS))
    return to_canonical(frame, spec)


def checked_frame(frame: pd.DataFrame, spec: TableSpec) -> gpd.GeoDataFrame:
    """Return ``frame`` in canonical form, ready to store, or raise :class:`StoreError`.

    Checks what the store relies on: a geometry in EPSG:4326 of the table's kind,
    an id on every record, no id twice. Polygons become MultiPolygons.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
        raise StoreError(f"{spec.name}: expected a GeoDataFrame with a geometry column")
    if frame.crs is None or frame.crs != CRS:
        raise StoreError(f"{spec.name}: geometry must be in {CRS}, not {frame.crs}")
    if spec.id_column not in frame.columns:
        raise StoreError(f"{spec.name}: no {spec.id_column!r} column")
    out = to_canonical(frame, spec)
    _check_ids(out[spec.id_column], spec)
    out[out.geometry.name] = _checked_geometry(out.geometry.to_numpy(), out[spec.id_column], spec)
    return out


def _check_ids(ids: pd.Series, spec: TableSpec) -> None:
    missing = ids.isna()
    if missing.any():
        rows = (np.flatnonzero(missing.to_numpy()) + 1)[:10].tolist()
        raise StoreError(
            f"{spec.name}: {int(missing.sum())} record(s) without {spec.id_column}, rows {rows}"
        )
    twice = ids[ids.duplicated()].unique()
    if len(twice):
        shown = ", ".join(map(repr, twice[:10]))
        raise StoreError(
            f"{spec.name}: {len(twice)} {spec.id_column} value(s) appear more than once: {shown}"
        )


def _checked_geometry(geoms: np.ndarray, ids: pd.Series, spec: TableSpec) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    wrong = (types >= 0) & ~np.isin(types, list(_ALLOWED_TYPES[spec.geometry]))
    if wrong.any():
        shown = ", ".join(map(repr, ids[wrong].head(10).tolist()))
        raise StoreError(f"{spec.name}: geometry must be {spec.geometry}; wrong for {shown}")
    if spec.geometry == "point":
        return geoms
    polygons = types == _POLYGON
    out = geoms.copy()
    out[polygons] = shapely.multipolygons(geoms[polygons][:, None])
    out[polygons & shapely.is_empty(geoms)] = shapely.MultiPolygon()
    return out
