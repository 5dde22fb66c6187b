"""Validation: raw rows as read from a file → canonical records, or reasons why not.

Every rule is checked on every row, and every rejected value is reported with its
file, row (or feature) number, column and reason: a user fixes a file once, not once
per error. Rules follow what real files get wrong (exchange format, "Common rules";
GICHD's IMSMA data-quality checks): values missing or of the wrong type, numbers out
of range, unknown catalogue ids (with the closest id suggested), impossible or future
dates, end before start, duplicate ids, coordinates out of range or with longitude
and latitude swapped, and invalid polygons (repaired only on request).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from remnant.catalogue import Catalogue
from remnant.errors import Problem
from remnant.io.raw import RawTable, normalise_name
from remnant.records.coordinates import swapped_outliers
from remnant.records.frame import empty_frame, to_canonical
from remnant.records.lifecycle import transition_problem
from remnant.records.schema import CRS, Column, TableSpec

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class ValidationContext:
    """What validation checks against, beyond the row itself.

    Parameters
    ----------
    catalogue : Catalogue
        Known carrier and item ids.
    today : datetime.date
        Dates after this day are rejected as in the future.
    repair : bool
        Repair invalid polygons (``shapely.make_valid``) instead of rejecting them.
    known_activity_ids : frozenset of str, optional
        Activity ids known to the store or the same import; a find naming another
        activity gets a warning (it may arrive later), not a rejection.
    area_statuses : mapping of str to (str, str or None), optional
        Status and evidence of each hazard area in the store: a row that changes an
        area's status is checked against its life (:mod:`remnant.records.lifecycle`).
    """

    catalogue: Catalogue
    today: date
    repair: bool = False
    known_activity_ids: frozenset[str] | None = None
    area_statuses: Mapping[str, tuple[str, str | None]] | None = None


@dataclass
class Validated:
    """The outcome of validating one raw table.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The accepted rows, canonical.
    problems : list of Problem
        Every reason a row was rejected.
    warnings : list of Problem
        Legal but dubious values (accepted), and repairs made.
    rejected : numpy.ndarray
        Row numbers of the rejected rows.
    """

    frame: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rejected: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


class _Collector:
    """Collects problems against a raw table, keeping track of rejected rows."""

    def __init__(self, raw: RawTable):
        self.raw = raw
        self.bad = np.zeros(len(raw), dtype=bool)
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def reject(
        self,
        mask: np.ndarray,
        column: str | None,
        reason: str | Callable[[int], str],
        values: pd.Series | None = None,
        *,
        warn: bool = False,
    ) -> None:
        """Record ``reason`` for every row where ``mask`` holds."""
        for i in np.flatnonzero(mask):
            why = reason(int(i)) if callable(reason) else reason
            value = None if values is None or values.iloc[i] is None else str(values.iloc[i])
            row = int(self.raw.row_numbers[i])
            problem = Problem(self.raw.file, row, column, why, value, self.raw.unit)
            (self.warnings if warn else self.problems).append(problem)
            if not warn:
                self.bad[i] = True


def validate(raw: RawTable, context: ValidationContext) -> Validated:
    """Validate a raw table against its spec and ``context``.

    Returns the accepted rows as a canonical frame, and every problem found.
    """
    found = _Collector(raw)
    missing = [c for c in raw.spec.required if c not in _provided_columns(raw)]
    if missing:
        for name in missing:
            found.problems.append(
                Problem(raw.file, None, name, "required column missing from the file")
            )
        return Validated(empty_frame(raw.spec), found.problems, [], raw.row_numbers.copy())
    values = {c.name: _check_column(raw, c, found, context) for c in _value_columns(raw)}
    _check_ids(raw, found)
    _check_date_order(raw.spec, values, found)
    geometry = _check_geometry(raw, values, found, context)
    _check_references(raw, found, context)
    _check_lifecycle(raw, values, found, context)
    keep = ~found.bad
    data = {name: series[keep] for name, series in values.items()}
    for name in _extra_names(raw):
        data[name] = _text(raw.frame[name])[keep]
    frame = gpd.GeoDataFrame(data, geometry=geometry[keep].values, crs=CRS)
    rejected = raw.row_numbers[found.bad]
    order = _reading_order(raw.spec)
    problems, warnings = sorted(found.problems, key=order), sorted(found.warnings, key=order)
    return Validated(to_canonical(frame, raw.spec), problems, warnings, rejected)


def _reading_order(spec: TableSpec) -> Callable[[Problem], tuple[int, int]]:
    """Sort key: by row, then by column in spec order (whole-row problems first)."""
    position = {name: i for i, name in enumerate(spec.names)}
    return lambda p: (p.row or 0, -1 if p.column is None else position.get(p.column, len(position)))


def _provided_columns(raw: RawTable) -> set[str]:
    cols = set(raw.frame.columns)
    if raw.geometry is not None:
        cols |= {"lon", "lat"}
    return cols


def _value_columns(raw: RawTable) -> list[Column]:
    skip = {"lon", "lat"} if raw.geometry is not None else set()
    return [c for c in raw.spec.columns if c.name not in skip]


def _extra_names(raw: RawTable) -> list[str]:
    return [str(c) for c in raw.frame.columns if c not in raw.spec.names]


def _text(series: pd.Series) -> pd.Series:
    """Values as stripped text; empty text and missing values as ``None``."""
    present = series.notna().to_numpy()
    out = pd.Series(np.full(len(series), None, dtype=object), index=series.index)
    out[present] = series[present].astype(str).str.strip().to_numpy(dtype=object)
    return out.where(out != "", None)


def _map_unique(text: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """``fn`` applied once per distinct value (catalogue look-ups on a million rows)."""
    lookup = {v: fn(v) for v in pd.unique(text.dropna())}
    return text.map(lookup).astype(object).where(text.notna(), None)


def _check_column(
    raw: RawTable, column: Column, found: _Collector, context: ValidationContext
) -> pd.Series:
    """Parse one column, reject bad values; return the parsed column."""
    given = raw.frame[column.name] if column.name in raw.frame.columns else None
    text = _text(given) if given is not None else pd.Series([None] * len(raw), dtype=object)
    absent = text.isna().to_numpy()
    if column.required:
        found.reject(absent, column.name, "required value missing")
    parse = _PARSERS[column.kind]
    return parse(text, absent, column, found, context)


def _parse_text(
    text: pd.Series, absent: np.ndarray, column: Column, found: _Collector, ctx: ValidationContext
) -> pd.Series:
    if column.ref is None:
        return text
    catalogue = ctx.catalogue
    ref = column.ref
    resolved = _map_unique(text, lambda v: catalogue.resolve(v, ref))
    unknown = ~absent & resolved.isna().to_numpy()
    noun = "carrier" if column.ref == "carrier" else "item"

    def why(i: int) -> str:
        hint = catalogue.suggest(str(text.iloc[i]), column.ref)  # type: ignore[arg-type]
        tip = f"; did you mean {hint!r}?" if hint else f"; see `remnant catalogue` for {noun} ids"
        return f"unknown {noun} {text.iloc[i]!r}{tip}"

    found.reject(unknown, column.name, why, text)
    return resolved


def _parse_enum(
    text: pd.Series, absent: np.ndarray, column: Column, found: _Collector, ctx: ValidationContext
) -> pd.Series:
    choices = column.choices or ()
    norm = _map_unique(text, normalise_name)
    bad = ~absent & ~norm.isin(choices).to_numpy()

    def why(i: int) -> str:
        hint = difflib.get_close_matches(str(norm.iloc[i]), choices, n=1, cutoff=0.6)
        tip = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"not one of {', '.join(choices)}{tip}"

    found.reject(bad, column.name, why, text)
    return norm.where(~bad, None)


def _parse_number(
    text: pd.Series, absent: np.ndarray, column: Column, found: _Collector, ctx: ValidationContext
) -> pd.Series:
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers.to_numpy()))
    nan = numbers.isna().to_numpy()
    found.reject(~absent & nan, column.name, "not a number", text)
    ok = ~nan
    if column.kind == "int":
        fractional = ok & (np.floor(numbers.to_numpy()) != numbers.to_numpy())
        found.reject(fractional, column.name, "not a whole number", text)
        ok &= ~fractional
    if column.name not in ("lon", "lat"):  # coordinates: _check_lon_lat, with swap hints
        _check_range(numbers, ok, column, found, text)
    return numbers


def _check_range(
    numbers: pd.Series, ok: np.ndarray, column: Column, found: _Collector, text: pd.Series
) -> None:
    arr = numbers.to_numpy()
    lo, hi = column.minimum, column.maximum
    if lo is not None:
        floor = f"must be at least {lo:g}"

        def why(i: int) -> str:
            negative = column.kind == "int" and arr[i] < 0
            return f"negative count; {floor}" if negative else floor

        found.reject(ok & (arr < lo), column.name, why, text)
    if hi is not None:
        found.reject(ok & (arr > hi), column.name, f"must be at most {hi:g}", text)


def _parse_date(
    text: pd.Series, absent: np.ndarray, column: Column, found: _Collector, ctx: ValidationContext
) -> pd.Series:
    out = pd.Series([None] * len(text), index=text.index, dtype=object)
    day_only = text.str.match(_DATE_ONLY).fillna(False).to_numpy(dtype=bool)
    timed = ~day_only & text.str.match(_ISO_TIME).fillna(False).to_numpy(dtype=bool)
    days = pd.to_datetime(text.where(day_only), format="%Y-%m-%d", errors="coerce")
    times = pd.to_datetime(text.where(timed), format="ISO8601", errors="coerce", utc=True)
    out[day_only & days.notna().to_numpy()] = days.dt.strftime("%Y-%m-%d")
    out[timed & times.notna().to_numpy()] = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    bad = ~absent & out.isna().to_numpy()
    reason = "not an ISO 8601 date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)"
    found.reject(bad, column.name, reason, text)
    future = (out.fillna("0000").str.slice(0, 10) > ctx.today.isoformat()).to_numpy(dtype=bool)
    found.reject(future, column.name, f"date in the future (today is {ctx.today})", text)
    return out.where(~bad & ~future, None)


_PARSERS = {
    "id": _parse_text,
    "str": _parse_text,
    "enum": _parse_enum,
    "float": _parse_number,
    "int": _parse_number,
    "date": _parse_date,
}


def _check_ids(raw: RawTable, found: _Collector) -> None:
    name = raw.spec.id_column
    if name not in raw.frame.columns:
        return
    ids = _text(raw.frame[name])
    dup = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    if not dup.any():
        return
    first_row = pd.Series(raw.row_numbers, index=ids.index).groupby(ids).transform("first")
    unit = raw.unit

    def why(i: int) -> str:
        return f"duplicate id {ids.iloc[i]!r} in the file; first at {unit} {first_row.iloc[i]}"

    found.reject(dup, name, why, ids)


def _check_date_order(spec: TableSpec, values: dict[str, pd.Series], found: _Collector) -> None:
    if spec.date_columns_ordered is None:
        return
    start_name, end_name = spec.date_columns_ordered
    start, end = values[start_name], values[end_name]
    both = start.notna() & end.notna()
    # ISO text compares in time order on its first 10 characters (the day).
    before = both & (end.fillna("").str.slice(0, 10) < start.fillna("").str.slice(0, 10))
    found.reject(
        before.to_numpy(dtype=bool),
        end_name,
        lambda i: f"{end_name} before {start_name} ({start.iloc[i]})",
        end,
    )


def _check_geometry(
    raw: RawTable, values: dict[str, pd.Series], found: _Collector, ctx: ValidationContext
) -> gpd.GeoSeries:
    if raw.geometry is None:
        return _points_from_columns(raw, values, found)
    geometry = raw.geometry.reset_index(drop=True)
    for number, why in raw.geometry_problems.items():
        found.reject(raw.row_numbers == number, None, why)
    if raw.spec.geometry == "point":
        return _check_points(raw, geometry, found)
    return _check_polygons(raw, geometry, found, ctx)


def _points_from_columns(
    raw: RawTable, values: dict[str, pd.Series], found: _Collector
) -> gpd.GeoSeries:
    lon, lat = values["lon"].to_numpy(), values["lat"].to_numpy()
    _check_lon_lat(lon, lat, found, raw.frame.get("lon"), raw.frame.get("lat"))
    ok = np.isfinite(lon) & np.isfinite(lat)
    points = shapely.points(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    return gpd.GeoSeries(np.where(ok, points, None), crs=CRS)


def _check_lon_lat(
    lon: np.ndarray,
    lat: np.ndarray,
    found: _Collector,
    lon_text: pd.Series | None = None,
    lat_text: pd.Series | None = None,
) -> None:
    """Reject coordinates out of range, and points whose lon/lat look swapped."""
    lat_out = np.abs(lat) > 90
    swap_hint = lat_out & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    found.reject(
        swap_hint, "lat", "latitude out of range [-90, 90]; are lon and lat swapped?", lat_text
    )
    found.reject(lat_out & ~swap_hint, "lat", "latitude out of range [-90, 90]", lat_text)
    found.reject(np.abs(lon) > 180, "lon", "longitude out of range [-180, 180]", lon_text)
    in_range = np.isfinite(lon) & np.isfinite(lat) & ~lat_out & (np.abs(lon) <= 180)
    swapped, as_given, if_swapped = swapped_outliers(lon, lat, in_range)

    def why(i: int) -> str:
        return (
            f"lon and lat look swapped: as given the point lies {as_given[i]:,.0f} km from "
            f"the file's other records, swapped {if_swapped[i]:,.0f} km"
        )

    found.reject(swapped, "lon", why, lon_text)


def _check_points(raw: RawTable, geometry: gpd.GeoSeries, found: _Collector) -> gpd.GeoSeries:
    present = geometry.notna().to_numpy()
    kind = geometry.geom_type.to_numpy()
    wrong = present & (kind != "Point")
    found.reject(wrong, None, lambda i: f"geometry is {kind[i]}; {raw.spec.name} need Point")
    ok = present & ~wrong & ~geometry.is_empty.to_numpy()
    found.reject(present & ~wrong & ~ok, None, "empty geometry")
    lon = np.where(ok, shapely.get_x(np.where(ok, geometry.values, None)), np.nan)
    lat = np.where(ok, shapely.get_y(np.where(ok, geometry.values, None)), np.nan)
    _check_lon_lat(lon, lat, found)
    return geometry


def _check_polygons(
    raw: RawTable, geometry: gpd.GeoSeries, found: _Collector, ctx: ValidationContext
) -> gpd.GeoSeries:
    present = geometry.notna().to_numpy()
    kind = geometry.geom_type.to_numpy()
    wrong = present & ~np.isin(kind, ["Polygon", "MultiPolygon"])
    need = f"{raw.spec.name} need Polygon or MultiPolygon"
    found.reject(wrong, None, lambda i: f"geometry is {kind[i]}; {need}")
    ok = present & ~wrong
    empty = ok & geometry.is_empty.to_numpy()
    found.reject(empty, None, "empty polygon")
    ok &= ~empty
    _check_polygon_range(geometry, ok, found)
    return _check_validity(geometry, ok, found, ctx)


def _check_polygon_range(geometry: gpd.GeoSeries, ok: np.ndarray, found: _Collector) -> None:
    bounds = np.full((len(geometry), 4), np.nan)
    bounds[ok] = shapely.bounds(geometry.values[ok])
    outside = ok & (
        (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
    )
    reason = "coordinates outside WGS84 longitude/latitude range (projected coordinates?)"
    found.reject(outside, None, reason)


def _check_validity(
    geometry: gpd.GeoSeries, ok: np.ndarray, found: _Collector, ctx: ValidationContext
) -> gpd.GeoSeries:
    invalid = ok & ~shapely.is_valid(np.where(ok, geometry.values, None))
    reasons = {int(i): shapely.is_valid_reason(geometry.values[i]) for i in np.flatnonzero(invalid)}
    if not ctx.repair:
        found.reject(
            invalid, None, lambda i: f"invalid polygon: {reasons[i]}; import with --repair to fix"
        )
        return geometry
    out = geometry.copy()
    for i in reasons:
        out.iloc[i] = _repair_polygon(geometry.values[i])
    found.reject(invalid, None, lambda i: f"repaired invalid polygon ({reasons[i]})", warn=True)
    return out


def _repair_polygon(geom: shapely.Geometry) -> shapely.Geometry:
    """``make_valid``, keeping only the polygonal parts, as one MultiPolygon."""
    fixed = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
    polygons = [p for g in parts for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(polygons)


def _check_references(raw: RawTable, found: _Collector, ctx: ValidationContext) -> None:
    """Warn about a find naming an activity that is neither stored nor imported with it."""
    if ctx.known_activity_ids is None or "activity_id" not in raw.frame.columns:
        return
    if raw.spec.name != "finds":
        return
    ids = _text(raw.frame["activity_id"])
    unknown = (ids.notna() & ~ids.isin(ctx.known_activity_ids)).to_numpy()
    reason = "activity_id names no known activity (accepted; import the activity too)"
    found.reject(unknown, "activity_id", reason, ids, warn=True)


def _check_lifecycle(
    raw: RawTable, values: dict[str, pd.Series], found: _Collector, ctx: ValidationContext
) -> None:
    """Reject a hazard area whose new status may not follow its stored one."""
    if raw.spec.name != "hazard_areas" or not ctx.area_statuses:
        return
    ids, status = values["area_id"], values["status"]
    evidence = values.get("evidence", pd.Series([None] * len(raw), index=ids.index))
    reasons: dict[int, str] = {}
    for i, (area, new, text) in enumerate(zip(ids, status, evidence, strict=True)):
        stored = ctx.area_statuses.get(str(area)) if isinstance(area, str) else None
        if stored is None or not isinstance(new, str):
            continue
        why = transition_problem(stored[0], new, _given(text) and text != stored[1])
        if why is not None:
            reasons[i] = f"{why} (stored: {stored[0]})"
    mask = np.zeros(len(raw), dtype=bool)
    mask[list(reasons)] = True
    found.reject(mask, "status", lambda i: reasons[i], status)


def _given(text: object) -> bool:
    return isinstance(text, str) and bool(text.strip())
