"""The SQLAlchemy engine of a store file, with the per-connection setup SQLite needs.

Each new DBAPI connection gets:

* ``isolation_level = None`` so that :mod:`sqlite3` stops issuing its own ``BEGIN``
  (its legacy mode starts no transaction before DDL nor ``SELECT``); SQLAlchemy's
  ``begin`` event then emits ``BEGIN`` itself, so a migration's DDL and an import's
  read-compare-write are each one real transaction;
* ``journal_mode = DELETE`` (a rollback journal: the store stays one file, and a
  killed process leaves a hot journal the next connection rolls back) and
  ``synchronous = FULL`` (the journal is on disk before the database is changed);
* ``foreign_keys = ON`` and a busy timeout for a second process writing the store;
* a page cache of up to :data:`CACHE_KIB` (SQLite's default of 2 MiB makes a
  million-record import spill and re-read index pages: 41 s instead of 32 s);
* the GeoPackage SQL functions the R-tree triggers call (:mod:`remnant.store.gpkg`).

A connection whose execution options carry ``remnant_begin="IMMEDIATE"`` takes the
write lock at ``BEGIN``, so a concurrent writer waits instead of failing mid-import.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from remnant.store import gpkg

BUSY_TIMEOUT_MS = 30_000
"""How long a connection waits for another process's write lock. [ms]"""

CACHE_KIB = 131_072
"""Upper bound of each connection's page cache; memory is taken only as pages are read. [KiB]"""

WRITE = {"remnant_begin": "IMMEDIATE"}
"""Execution options of a writing connection."""

_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}


def create_store_engine(path: Path) -> Engine:
    """Create the engine of the store file at ``path`` (the file is not checked here).

    Parameters
    ----------
    path : pathlib.Path
        The GeoPackage file.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose connections are set up as described in this module.
    """
    engine = create_engine(URL.create("sqlite+pysqlite", database=str(path)))
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    for pragma in (
        "journal_mode = DELETE",
        "synchronous = FULL",
        "foreign_keys = ON",
        f"busy_timeout = {BUSY_TIMEOUT_MS}",
        f"cache_size = -{CACHE_KIB}",
    ):
        dbapi_connection.execute(f"PRAGMA {pragma}").fetchall()
    gpkg.register_functions(dbapi_connection)


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("remnant_begin", "DEFERRED")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"unknown BEGIN mode {mode!r}; valid: {', '.join(sorted(_BEGIN_MODES))}")
    conn.exec_driver_sql(f"BEGIN {mode}")
