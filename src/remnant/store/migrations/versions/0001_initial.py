"""Initial store: the five exchange-format tables, imports, audit, as a GeoPackage.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The columns are spelled out here (not read from ``remnant.records.schema``) so that
this revision keeps creating what version 1 of the store was, whatever the records
become; ``tests/store/test_migrations.py`` checks they match the current models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from remnant.store import gpkg_meta
from remnant.store.types import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT, _INT, _REAL = sa.Text, sa.Integer, sa.Double

FEATURES = {
    "strikes": (
        "POINT",
        "strike_id",
        "recorded attacks with cluster munitions",
        [("date", _TEXT), ("location_error_m", _REAL), ("carrier", _TEXT),
         ("carrier_count", _INT), ("heading_deg", _REAL), ("source_type", _TEXT),
         ("source", _TEXT)],
    ),
    "activities": (
        "MULTIPOLYGON",
        "activity_id",
        "survey and clearance work",
        [("type", _TEXT), ("method", _TEXT), ("start_date", _TEXT), ("end_date", _TEXT),
         ("depth_cm", _REAL), ("detection_probability", _REAL), ("organisation", _TEXT),
         ("outcome", _TEXT)],
    ),
    "finds": (
        "POINT",
        "find_id",
        "explosive ordnance found",
        [("date", _TEXT), ("item", _TEXT), ("quantity", _INT), ("activity_id", _TEXT)],
    ),
    "accidents": (
        "POINT",
        "accident_id",
        "explosive ordnance accidents (no personal data)",
        [("date", _TEXT), ("item", _TEXT), ("killed", _INT), ("injured", _INT)],
    ),
    "hazard_areas": (
        "MULTIPOLYGON",
        "area_id",
        "suspected and confirmed hazardous areas (SHA / CHA)",
        [("status", _TEXT), ("evidence", _TEXT)],
    ),
}  # fmt: skip

ATTRIBUTES = {
    "imports": "one row per file written to the store",
    "audit": "one row per record inserted or updated",
}


def _create_feature_table(name, geometry_type, id_column, columns):
    op.create_table(
        name,
        sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("geom", Geometry(geometry_type)),
        sa.Column(id_column, sa.Text, nullable=False, unique=True),
        *(sa.Column(column, kind()) for column, kind in columns),
        sa.Column("extra", sa.Text),
        sa.Column("created_at", sa.Text),
        sa.Column("updated_at", sa.Text),
        sa.Column("source_file", sa.Text),
        sqlite_autoincrement=True,
    )


def _create_bookkeeping_tables():
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("source_file", sa.Text),
        sa.Column("sha256", sa.Text),
        sa.Column("inserted", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("source_file", sa.Text),
        sa.Column("changes", sa.Text),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_record", "audit", ["table_name", "record_id"])


def _create_marker():
    marker = op.create_table(
        "remnant_store",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(marker, [{"key": "application", "value": "remnant"}])


def _register_geopackage(bind):
    for name, (geometry_type, _, description, _) in FEATURES.items():
        gpkg_meta.register_features(bind, name, "geom", geometry_type, description)
        gpkg_meta.create_rtree(bind, name, "geom", "fid")
    for name, description in ATTRIBUTES.items():
        gpkg_meta.register_attributes(bind, name, description)


def upgrade() -> None:
    bind = op.get_bind()
    geopackage = bind.dialect.name == "sqlite"
    if geopackage:
        gpkg_meta.set_header(bind)
        gpkg_meta.create_core(bind)
    for name, (geometry_type, id_column, _, columns) in FEATURES.items():
        _create_feature_table(name, geometry_type, id_column, columns)
    _create_bookkeeping_tables()
    _create_marker()
    if geopackage:
        _register_geopackage(bind)


def downgrade() -> None:
    bind = op.get_bind()
    geopackage = bind.dialect.name == "sqlite"
    if geopackage:
        for name in FEATURES:
            gpkg_meta.drop_rtree(bind, name, "geom")
        for name in [*FEATURES, *ATTRIBUTES]:
            gpkg_meta.unregister(bind, name)
    op.drop_table("remnant_store")
    op.drop_index("ix_audit_record", table_name="audit")
    op.drop_table("audit")
    op.drop_table("imports")
    for name in reversed(FEATURES):
        op.drop_table(name)
