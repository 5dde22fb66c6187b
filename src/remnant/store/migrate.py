"""Alembic, configured in code: the store's migration history and how to apply it.

No ``alembic.ini`` is needed at run time: :func:`alembic_config` points Alembic at
``remnant/store/migrations`` and hands it the caller's connection, so a migration
runs inside the caller's transaction. To write the next revision against a store
file, autogenerate it from a connection (then review it, and keep the GeoPackage
registration and R-tree of any new feature table by hand, as ``0001`` does)::

    from alembic import command
    with store_engine.begin() as conn:
        command.revision(alembic_config(conn), message="...", autogenerate=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from remnant.store.types import Geometry

MIGRATIONS = Path(__file__).parent / "migrations"

_NOT_MODELLED = ("gpkg_", "rtree_", "sqlite_")
"""Prefixes of tables kept outside the SQLAlchemy metadata (GeoPackage, R-tree, SQLite)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the store's migrations, run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def heads() -> tuple[str, ...]:
    """The head revisions of the migration history (one, unless it has branched)."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def head() -> str:
    """The single head revision: the schema this software writes."""
    (only,) = heads()
    return only


def known(revision: str) -> bool:
    """Whether ``revision`` is in this software's migration history."""
    script = ScriptDirectory.from_config(alembic_config())
    return any(r.revision == revision for r in script.walk_revisions())


def current(conn: Connection) -> str | None:
    """The revision the store at ``conn`` is stamped with, or ``None``."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the store at ``conn`` to ``revision``, in the caller's transaction."""
    command.upgrade(alembic_config(conn), revision)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate filter: leave GeoPackage, R-tree and SQLite tables alone."""
    return not (type_ == "table" and name is not None and name.startswith(_NOT_MODELLED))


def compare_type(
    context: Any, inspected: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Autogenerate type comparison: a geometry column compares by its geometry type name.

    SQLite reflects a ``POINT`` column by its type affinity (``INTEGER``), so the
    declared name is read from ``PRAGMA table_info``.
    """
    if not isinstance(metadata_type, Geometry):
        return None
    if context.connection.dialect.name == "sqlite":
        table, name = metadata_column.table.name, metadata_column.name
        info = context.connection.exec_driver_sql(f'PRAGMA table_info("{table}")').all()
        declared = next((row[2] for row in info if row[1] == name), "")
    else:
        declared = getattr(inspected_type, "geometry_type", None) or str(inspected_type)
    return str(declared).upper() != metadata_type.geometry_type
