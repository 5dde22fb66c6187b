"""The tables of the exchange format, version 1, as data.

One :class:`TableSpec` per table of ``shared/spec/exchange-format.md``; every other
room (validation, the formats in :mod:`remnant.io`, the store, the simulator) reads
the columns, their kinds and their rules from here rather than spelling them again.

Canonical in-memory form of a table: a :class:`geopandas.GeoDataFrame` in EPSG:4326
whose columns are the spec's columns in spec order (point tables without ``lon`` and
``lat``, which live in the geometry), then any extra columns the user brought, then
``geometry``. Dates are ISO 8601 strings: ``YYYY-MM-DD`` for a date, or
``YYYY-MM-DDTHH:MM:SSZ`` (UTC) for a time. Missing optional values are ``None``/NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "str", "float", "int", "date", "enum"]
GeometryKind = Literal["point", "polygon"]

CRS = "EPSG:4326"
"""Coordinates of every exchange file: WGS84, longitude then latitude."""


@dataclass(frozen=True)
class Column:
    """One column (CSV) or property (GeoJSON, GeoPackage) of a table.

    Parameters
    ----------
    name : str
        Canonical name, as in the exchange format.
    kind : str
        ``id``, ``str``, ``float``, ``int``, ``date`` or ``enum``.
    required : bool
        A row without a value here is rejected.
    choices : tuple of str, optional
        The allowed values of an ``enum``.
    minimum, maximum : float, optional
        Inclusive bounds of a number.
    unit : str, optional
        Unit of a number, e.g. ``m``.
    ref : str, optional
        ``carrier`` or ``item``: the value must be a catalogue id of that kind.
    description : str
        Meaning, from the exchange format.
    """

    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    ref: Literal["carrier", "item"] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A table of the exchange format.

    Parameters
    ----------
    name : str
        Table name; also the file stem (``strikes.csv``) and GeoPackage layer name.
    id_column : str
        The column holding the record id.
    geometry : str
        ``point`` (lon/lat columns in CSV) or ``polygon`` (Polygon or MultiPolygon).
    columns : tuple of Column
        Attribute columns in spec order; for point tables ``lon`` and ``lat`` are
        among them (they are the geometry in every format but CSV).
    native_format : str
        The file format the spec names for the table: ``csv`` or ``geojson``.
    date_columns_ordered : tuple of str
        ``(start, end)`` where the end must not precede the start.
    """

    name: str
    id_column: str
    geometry: GeometryKind
    columns: tuple[Column, ...]
    native_format: Literal["csv", "geojson"]
    date_columns_ordered: tuple[str, str] | None = None
    description: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        return self._by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        """All column names in spec order, ``lon``/``lat`` included."""
        return tuple(c.name for c in self.columns)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Column names of the canonical frame: ``lon``/``lat`` excluded."""
        return tuple(c.name for c in self.columns if c.name not in ("lon", "lat"))

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the required columns."""
        return tuple(c.name for c in self.columns if c.required)


SOURCE_TYPES = ("verified", "geolocated", "reported")
ACTIVITY_TYPES = (
    "non_technical_survey",
    "technical_survey",
    "clearance",
    "battle_area_clearance",
    "eod_spot_task",
)
METHODS = ("manual", "mechanical", "visual", "detector_dogs", "drone", "mixed")
NTS_OUTCOMES = ("no_evidence", "indirect_evidence", "direct_evidence")
HAZARD_STATUSES = ("suspected", "confirmed", "in_progress", "cancelled", "reduced", "cleared")

_LON = Column(
    "lon", "float", True, minimum=-180, maximum=180, unit="degree", description="longitude, WGS84"
)
_LAT = Column(
    "lat", "float", True, minimum=-90, maximum=90, unit="degree", description="latitude, WGS84"
)

STRIKES = TableSpec(
    name="strikes",
    id_column="strike_id",
    geometry="point",
    native_format="csv",
    description="recorded attacks with cluster munitions",
    columns=(
        Column("strike_id", "id", True),
        Column("date", "date", True, description="date (or time) of the attack"),
        _LON,
        _LAT,
        Column(
            "location_error_m",
            "float",
            minimum=0,
            unit="m",
            description="1-sigma uncertainty of the reported point",
        ),
        Column(
            "carrier",
            "str",
            True,
            ref="carrier",
            description="catalogue id of the carrier, or 'unknown'",
        ),
        Column(
            "carrier_count", "int", minimum=1, description="number of carriers fired in this attack"
        ),
        Column(
            "heading_deg",
            "float",
            minimum=0,
            maximum=360,
            unit="degree",
            description="direction of fire, degrees from north",
        ),
        Column("source_type", "enum", choices=SOURCE_TYPES),
        Column("source", "str", description="free text or URL"),
    ),
)

ACTIVITIES = TableSpec(
    name="activities",
    id_column="activity_id",
    geometry="polygon",
    native_format="geojson",
    date_columns_ordered=("start_date", "end_date"),
    description="survey and clearance work",
    columns=(
        Column("activity_id", "id", True),
        Column("type", "enum", True, choices=ACTIVITY_TYPES),
        Column("method", "enum", choices=METHODS),
        Column("start_date", "date", True),
        Column("end_date", "date", True),
        Column("depth_cm", "float", minimum=0, unit="cm", description="search depth"),
        Column(
            "detection_probability",
            "float",
            minimum=0,
            maximum=1,
            description="per-item probability that an item inside was found",
        ),
        Column("organisation", "str", description="operator"),
        Column("outcome", "enum", choices=NTS_OUTCOMES, description="for NTS"),
    ),
)

FINDS = TableSpec(
    name="finds",
    id_column="find_id",
    geometry="point",
    native_format="csv",
    description="explosive ordnance found",
    columns=(
        Column("find_id", "id", True),
        Column("date", "date", True),
        _LON,
        _LAT,
        Column(
            "item",
            "str",
            True,
            ref="item",
            description="catalogue id of the submunition or item, or evidence",
        ),
        Column("quantity", "int", minimum=1, description="default 1"),
        Column("activity_id", "str", description="the activity that found it"),
    ),
)

ACCIDENTS = TableSpec(
    name="accidents",
    id_column="accident_id",
    geometry="point",
    native_format="csv",
    description="explosive ordnance accidents (no personal data)",
    columns=(
        Column("accident_id", "id", True),
        Column("date", "date", True),
        _LON,
        _LAT,
        Column("item", "str", ref="item"),
        Column("killed", "int", minimum=0),
        Column("injured", "int", minimum=0),
    ),
)

HAZARD_AREAS = TableSpec(
    name="hazard_areas",
    id_column="area_id",
    geometry="polygon",
    native_format="geojson",
    description="suspected and confirmed hazardous areas (SHA / CHA)",
    columns=(
        Column("area_id", "id", True),
        Column("status", "enum", True, choices=HAZARD_STATUSES),
        Column("evidence", "str", description="free text"),
    ),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (STRIKES, ACTIVITIES, FINDS, ACCIDENTS, HAZARD_AREAS)
}
"""Every table of the exchange format, by name, in the order they are imported."""


def table_spec(name: str) -> TableSpec:
    """Return the spec of table ``name``; ``ValueError`` names the valid tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; valid tables: {', '.join(TABLES)}") from None
