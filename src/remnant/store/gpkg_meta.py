"""The GeoPackage metadata tables: what makes a SQLite file a GeoPackage QGIS opens.

SQLite-only, called from the migrations: the file header (``application_id``,
``user_version``), the mandatory tables ``gpkg_spatial_ref_sys`` (with its three
mandatory rows), ``gpkg_contents``, ``gpkg_geometry_columns`` and ``gpkg_extensions``,
the registration of feature and attribute tables, the R-tree spatial index (virtual
table and the standard triggers, spelled as GDAL 3.12 writes them) and the extents
kept in ``gpkg_contents``. Every statement runs on the caller's connection, inside
the caller's transaction.

References
----------
OGC GeoPackage Encoding Standard 1.3.1, OGC 12-128r18: clause 1.1 (core), 2.1
(features), 2.4 (attributes), Annex C (table definitions), Annex F.3 (RTree).
https://www.geopackage.org/spec131/
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, text

APPLICATION_ID = 0x47504B47
"""``GPKG`` in ASCII, in the SQLite header."""

USER_VERSION = 10300
"""GeoPackage 1.3 (the 12-128r18 family); read by every GDAL since 2.4, and QGIS."""

RTREE_EXTENSION = "gpkg_rtree_index"
RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_CORE_DDL = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL,
        geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
        z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
)

_SPATIAL_REF_SYS = (
    ("Undefined Cartesian SRS", -1, "NONE", -1, "undefined",
     "undefined Cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined",
     "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT,
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
)  # fmt: skip

_RTREE_ROW = 'VALUES (NEW."{i}", ST_MinX(NEW."{g}"), ST_MaxX(NEW."{g}"), ST_MinY(NEW."{g}"), ST_MaxY(NEW."{g}"))'  # noqa: E501
_HAS = '(NEW."{g}" NOTNULL AND NOT ST_IsEmpty(NEW."{g}"))'
_HAS_NOT = '(NEW."{g}" ISNULL OR ST_IsEmpty(NEW."{g}"))'
_RTREE_TRIGGERS = {
    "insert": f'AFTER INSERT ON "{{t}}" WHEN {_HAS} BEGIN INSERT OR REPLACE INTO "{{r}}" {_RTREE_ROW}; END',  # noqa: E501
    "update6": f'AFTER UPDATE OF "{{g}}" ON "{{t}}" WHEN OLD."{{i}}" = NEW."{{i}}" AND {_HAS} AND (OLD."{{g}}" NOTNULL AND NOT ST_IsEmpty(OLD."{{g}}")) BEGIN UPDATE "{{r}}" SET minx = ST_MinX(NEW."{{g}}"), maxx = ST_MaxX(NEW."{{g}}"), miny = ST_MinY(NEW."{{g}}"), maxy = ST_MaxY(NEW."{{g}}") WHERE id = NEW."{{i}}"; END',  # noqa: E501
    "update7": f'AFTER UPDATE OF "{{g}}" ON "{{t}}" WHEN OLD."{{i}}" = NEW."{{i}}" AND {_HAS} AND (OLD."{{g}}" ISNULL OR ST_IsEmpty(OLD."{{g}}")) BEGIN INSERT INTO "{{r}}" {_RTREE_ROW}; END',  # noqa: E501
    "update2": f'AFTER UPDATE OF "{{g}}" ON "{{t}}" WHEN OLD."{{i}}" = NEW."{{i}}" AND {_HAS_NOT} BEGIN DELETE FROM "{{r}}" WHERE id = OLD."{{i}}"; END',  # noqa: E501
    "update5": f'AFTER UPDATE ON "{{t}}" WHEN OLD."{{i}}" != NEW."{{i}}" AND {_HAS} BEGIN DELETE FROM "{{r}}" WHERE id = OLD."{{i}}"; INSERT OR REPLACE INTO "{{r}}" {_RTREE_ROW}; END',  # noqa: E501
    "update4": f'AFTER UPDATE ON "{{t}}" WHEN OLD."{{i}}" != NEW."{{i}}" AND {_HAS_NOT} BEGIN DELETE FROM "{{r}}" WHERE id IN (OLD."{{i}}", NEW."{{i}}"); END',  # noqa: E501
    "delete": 'AFTER DELETE ON "{t}" WHEN OLD."{g}" NOT NULL BEGIN DELETE FROM "{r}" WHERE id = OLD."{i}"; END',  # noqa: E501
}
"""The R-tree triggers of GeoPackage 1.4 / GDAL 3.12 (update6/7 fix 1.3's update1/3)."""


def now() -> str:
    """The current UTC time as GeoPackage writes it, ``YYYY-MM-DDTHH:MM:SS.SSSZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def set_header(conn: Connection) -> None:
    """Write ``application_id`` and ``user_version`` in the SQLite header."""
    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.exec_driver_sql(f"PRAGMA user_version = {USER_VERSION}")


def create_core(conn: Connection) -> None:
    """Create the mandatory GeoPackage tables and spatial reference systems."""
    for ddl in _CORE_DDL:
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
        "organization_coordsys_id, definition, description) VALUES (?, ?, ?, ?, ?, ?)",
        list(_SPATIAL_REF_SYS),
    )


def register_features(
    conn: Connection, table: str, column: str, geometry_type: str, description: str
) -> None:
    """Register ``table`` as a feature table with one 2D geometry column in EPSG:4326."""
    conn.execute(
        text(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change, srs_id) VALUES (:t, 'features', :t, :d, :now, 4326)"
        ),
        {"t": table, "d": description, "now": now()},
    )
    conn.execute(
        text(
            "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, "
            "srs_id, z, m) VALUES (:t, :c, :g, 4326, 0, 0)"
        ),
        {"t": table, "c": column, "g": geometry_type},
    )


def register_attributes(conn: Connection, table: str, description: str) -> None:
    """Register ``table`` as an attributes table (no geometry), so QGIS lists it."""
    conn.execute(
        text(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change) VALUES (:t, 'attributes', :t, :d, :now)"
        ),
        {"t": table, "d": description, "now": now()},
    )


def create_rtree(conn: Connection, table: str, column: str, fid: str) -> None:
    """Create the R-tree spatial index of ``table.column``, its triggers and extension row."""
    rtree = f"rtree_{table}_{column}"
    conn.exec_driver_sql(f'CREATE VIRTUAL TABLE "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    for suffix, body in _RTREE_TRIGGERS.items():
        sql = body.format(t=table, g=column, i=fid, r=rtree)
        conn.exec_driver_sql(f'CREATE TRIGGER "{rtree}_{suffix}" {sql}')
    conn.execute(
        text(
            "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, "
            "scope) VALUES (:t, :c, :e, :d, 'write-only')"
        ),
        {"t": table, "c": column, "e": RTREE_EXTENSION, "d": RTREE_DEFINITION},
    )


def drop_rtree(conn: Connection, table: str, column: str) -> None:
    """Drop the R-tree of ``table.column``: triggers, virtual table and extension row."""
    rtree = f"rtree_{table}_{column}"
    for suffix in _RTREE_TRIGGERS:
        conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{rtree}_{suffix}"')
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{rtree}"')
    conn.execute(
        text("DELETE FROM gpkg_extensions WHERE table_name = :t AND column_name = :c"),
        {"t": table, "c": column},
    )


def unregister(conn: Connection, table: str) -> None:
    """Remove ``table`` from ``gpkg_geometry_columns`` and ``gpkg_contents``."""
    for meta in ("gpkg_geometry_columns", "gpkg_contents"):
        conn.execute(text(f"DELETE FROM {meta} WHERE table_name = :t"), {"t": table})


def touch(conn: Connection, table: str, bounds: tuple[float, float, float, float] | None) -> None:
    """Record a write to ``table``: ``last_change`` and the extent grown to ``bounds``.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        Connection inside the writing transaction.
    table : str
        A registered table.
    bounds : tuple of float or None
        ``(min_x, min_y, max_x, max_y)`` of the geometries just written, or ``None``.
        The extent only grows: an update moving a feature inward leaves it a little
        larger than needed, as GDAL does; it stays a valid (informative) extent.
    """
    params: dict[str, object] = {"t": table, "now": now()}
    if bounds is None or not all(math.isfinite(b) for b in bounds):
        conn.execute(
            text("UPDATE gpkg_contents SET last_change = :now WHERE table_name = :t"), params
        )
        return
    params.update(zip(("x0", "y0", "x1", "y1"), bounds, strict=True))
    conn.execute(
        text(
            "UPDATE gpkg_contents SET last_change = :now, "
            "min_x = min(coalesce(min_x, :x0), :x0), min_y = min(coalesce(min_y, :y0), :y0), "
            "max_x = max(coalesce(max_x, :x1), :x1), max_y = max(coalesce(max_y, :y1), :y1) "
            "WHERE table_name = :t"
        ),
        params,
    )


def suspend_rtree(conn: Connection, table: str, column: str) -> list[str] | None:
    """Drop the R-tree triggers of ``table.column`` and return their SQL to restore them.

    For a bulk write that maintains the index itself (:func:`index_boxes`), as GDAL
    does when it loads a layer. Call it inside a transaction or savepoint, so that a
    failure restores the triggers with everything else. ``None`` if the table has no
    R-tree (a user may have dropped it).
    """
    rtree = f"rtree_{table}_{column}"
    exists = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :r"), {"r": rtree}
    ).first()
    if exists is None:
        return None
    triggers = conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
        {"t": table},
    ).all()
    saved = [sql for name, sql in triggers if name.startswith(f"{rtree}_")]
    for name, _ in triggers:
        if name.startswith(f"{rtree}_"):
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return saved


def restore_rtree(conn: Connection, saved: list[str]) -> None:
    """Recreate the triggers :func:`suspend_rtree` dropped."""
    for sql in saved:
        conn.exec_driver_sql(sql)


def index_boxes(
    conn: Connection, table: str, column: str, fids: list[int], bounds: np.ndarray
) -> None:
    """Set the R-tree entries of ``fids`` to ``bounds`` (``[minx, miny, maxx, maxy]`` rows).

    A row with a NaN bound (empty or missing geometry) is removed from the index.
    """
    rtree = f"rtree_{table}_{column}"
    boxes = np.asarray(bounds, dtype="float64").reshape(-1, 4)
    present = np.isfinite(boxes).all(axis=1)
    ids = np.asarray(fids, dtype="int64")
    gone = ids[~present].tolist()
    if gone:
        conn.exec_driver_sql(f'DELETE FROM "{rtree}" WHERE id = ?', [(i,) for i in gone])
    kept = boxes[present][:, [0, 2, 1, 3]]
    rows = list(zip(ids[present].tolist(), *kept.T.tolist(), strict=True))
    if rows:
        conn.exec_driver_sql(f'INSERT OR REPLACE INTO "{rtree}" VALUES (?, ?, ?, ?, ?)', rows)
