"""The canonical in-memory table: column order and dtypes, shared by every room.

A canonical frame is a :class:`geopandas.GeoDataFrame` in EPSG:4326 with

* the spec's attribute columns in spec order (``lon``/``lat`` excluded: they are the
  point geometry), then the user's extra columns (kept, never dropped), then
  ``geometry``;
* dtypes: ``id``, ``str``, ``enum`` and ``date`` columns hold Python ``str`` or
  ``None`` (object dtype); ``int`` columns pandas ``Int64`` (nullable); ``float``
  columns ``float64`` with NaN for missing; extra columns hold ``str`` or ``None``;
* dates as ISO 8601 text, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` (UTC);
* the record id as the first column (not the index); a default RangeIndex.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd

from remnant.records.schema import CRS, TableSpec


def canonical_dtype(kind: str) -> str:
    """Return the pandas dtype of a column kind."""
    return {"int": "Int64", "float": "float64"}.get(kind, "object")


def _as_text(values: pd.Series) -> pd.Series:
    """Values as Python ``str`` (kept, not copied, when they already are) or ``None``."""
    out = values.astype(object)
    missing = out.isna()
    out = out.where(missing, out.map(lambda v: v if type(v) is str else str(v)))
    return out.where(~missing, None)


def to_canonical(frame: pd.DataFrame, spec: TableSpec) -> gpd.GeoDataFrame:
    """Order the columns and set the dtypes of ``frame`` as the canonical form.

    Missing spec columns are added empty; extra columns are kept, as text, after
    the spec's. The frame must already have a ``geometry`` column in EPSG:4326.
    """
    columns: dict[str, pd.Series] = {}
    n = len(frame)
    for col in spec.columns:
        if col.name in ("lon", "lat"):
            continue
        if col.name in frame.columns:
            values = frame[col.name]
        else:
            values = pd.Series([None] * n, index=frame.index, dtype=object)
        dtype = canonical_dtype(col.kind)
        if dtype == "object":
            columns[col.name] = _as_text(values)
        elif dtype == "Int64":
            columns[col.name] = pd.to_numeric(values).astype("Int64")
        else:
            columns[col.name] = pd.to_numeric(values).astype("float64")
    for name in extra_columns(frame.columns, spec):
        columns[name] = _as_text(frame[name])
    out = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(frame.geometry.values, crs=CRS))
    return out.reset_index(drop=True)


def extra_columns(names: Iterable[str], spec: TableSpec) -> list[str]:
    """Names in ``names`` that are not the spec's columns nor the geometry."""
    known = set(spec.names) | {"geometry"}
    return [n for n in names if n not in known]


def empty_frame(spec: TableSpec) -> gpd.GeoDataFrame:
    """A canonical frame with no rows (a copy: made once per table, 20 ms each time)."""
    if spec.name not in _EMPTY:
        base = pd.DataFrame({"geometry": gpd.GeoSeries([], crs=CRS)})
        _EMPTY[spec.name] = to_canonical(gpd.GeoDataFrame(base, geometry="geometry", crs=CRS), spec)
    return _EMPTY[spec.name].copy()


_EMPTY: dict[str, gpd.GeoDataFrame] = {}
""":func:`empty_frame`'s frames, by table."""
