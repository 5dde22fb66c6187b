"""The store's tables as SQLAlchemy Core metadata, built from :data:`records.schema.TABLES`.

One feature table per exchange-format table:

``fid``
    ``INTEGER PRIMARY KEY AUTOINCREMENT``: the row id GeoPackage requires of a
    feature table (OGC 12-128r18, req. 29) and the key of its R-tree. A ``TEXT``
    primary key would leave the R-tree keyed on SQLite's implicit rowid, which
    ``VACUUM`` may renumber.
``geom``
    The geometry: ``POINT`` for point tables, ``MULTIPOLYGON`` for polygon tables.
the id column (``find_id``, ...)
    ``TEXT NOT NULL UNIQUE``: the record id, the key every import upserts on.
the spec's attribute columns
    ``id``/``str``/``enum``/``date`` as ``TEXT`` (dates hold ISO text as given),
    ``int`` as ``INTEGER``, ``float`` as ``DOUBLE`` (8 bytes in GeoPackage and
    PostgreSQL alike).
``extra``
    The user's extra columns of the record as a JSON object (``NULL`` if none).
``created_at``, ``updated_at``, ``source_file``
    When Remnant first wrote the record and last changed it (UTC ISO 8601), and the
    file that last changed it. Nullable, so that a feature added in QGIS saves.

Plus ``imports`` (one row per file written: who, when, file, its SHA-256, counts
of inserted / updated / unchanged records, the transaction's note), ``audit`` (one
row per record inserted or updated; ``changes`` is ``NULL`` for an insert, whose
values are the record itself and its file is in ``imports``, and for an update a
JSON object ``{column: [old, new]}`` of the changed columns only, the geometry as
full-precision WKT and extra columns by their own names) and ``remnant_store``
(key/value facts marking the file as a Remnant store).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from remnant.records.schema import TABLES, TableSpec
from remnant.store.types import Geometry

FID = "fid"
GEOMETRY = "geom"
EXTRA = "extra"
BOOKKEEPING = ("created_at", "updated_at", "source_file")

GEOMETRY_TYPES = {"point": "POINT", "polygon": "MULTIPOLYGON"}
"""GeoPackage geometry type of each ``TableSpec.geometry``."""

metadata = MetaData()


def _sql_type(kind: str) -> TypeEngine[Any]:
    """SQL type of a column kind of :mod:`remnant.records.schema`."""
    if kind == "int":
        return Integer()
    if kind == "float":
        return Double()
    return Text()


def _feature_table(spec: TableSpec) -> Table:
    attributes = [
        Column(name, _sql_type(spec.column(name).kind))
        for name in spec.attribute_names
        if name != spec.id_column
    ]
    return Table(
        spec.name,
        metadata,
        Column(FID, Integer, primary_key=True, autoincrement=True),
        Column(GEOMETRY, Geometry(GEOMETRY_TYPES[spec.geometry])),
        Column(spec.id_column, Text, nullable=False, unique=True),
        *attributes,
        Column(EXTRA, Text),
        Column("created_at", Text),
        Column("updated_at", Text),
        Column("source_file", Text),
        sqlite_autoincrement=True,
        comment=spec.description,
    )


FEATURE_TABLES: dict[str, Table] = {name: _feature_table(spec) for name, spec in TABLES.items()}
"""The feature table of each exchange-format table, by name."""

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("source_file", Text),
    Column("sha256", Text),
    Column("inserted", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("note", Text),
    sqlite_autoincrement=True,
    comment="one row per file written to the store",
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("source_file", Text),
    Column("changes", Text),
    Column("import_id", Integer, ForeignKey("imports.id")),
    Index("ix_audit_record", "table_name", "record_id"),
    sqlite_autoincrement=True,
    comment="one row per record inserted or updated",
)

remnant_store = Table(
    "remnant_store",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    comment="facts that mark the file as a Remnant project store",
)

ATTRIBUTE_TABLES = (imports, audit)
"""Tables registered in ``gpkg_contents`` as attributes, so QGIS lists them."""


def attribute_names(spec: TableSpec) -> tuple[str, ...]:
    """Spec columns stored as columns, id first: the canonical frame's attributes."""
    return spec.attribute_names


def compared_names(spec: TableSpec) -> tuple[str, ...]:
    """Columns that decide whether a re-imported record changed, in stored order."""
    return (*spec.attribute_names, GEOMETRY, EXTRA)
