"""The project store: one GeoPackage file holding the records, their imports and audit.

:func:`init_store` creates a store, :func:`open_store` opens (and if needed upgrades)
one; both return a :class:`Store`. Every write is one transaction
(:meth:`Store.transaction`): several tables may be written in it, and an exception,
or a process killed mid-import, leaves the store exactly as it was.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    Row,
    Select,
    Table,
    func,
    insert,
    inspect,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError

from remnant.errors import StoreError
from remnant.records.schema import table_spec
from remnant.store import gpkg_meta, migrate, types, writer
from remnant.store.convert import checked_frame, from_python, to_frame
from remnant.store.engine import WRITE, create_store_engine
from remnant.store.schema import EXTRA, FEATURE_TABLES, FID, GEOMETRY, audit, imports, remnant_store
from remnant.store.writer import Progress, WriteContext, WriteResult

SQLITE_MAGIC = b"SQLite format 3\x00"

ID_BATCH = 500
"""Ids per query when reading records by id: under SQLite's limit of 999 bound variables."""


def default_user() -> str:
    """The OS login name, recorded as the user of a write when none is given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError) as exc:
        raise StoreError("cannot tell the OS login name; pass user= to the write") from exc


@contextmanager
def _errors(path: Path) -> Iterator[None]:
    """Turn database errors into :class:`StoreError` naming the store file."""
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(f"{path}: {exc.orig}") from exc


class Transaction:
    """One write transaction on a store; obtained from :meth:`Store.transaction`.

    Attributes
    ----------
    user : str
        Recorded in ``imports`` and ``audit``.
    note : str or None
        Recorded in ``imports``.
    results : dict of str to WriteResult
        What the transaction did so far, by table.
    """

    def __init__(self, conn: Connection, path: Path, user: str, note: str | None):
        self._conn: Connection | None = conn
        self._path = path
        self.user = user
        self.note = note
        self.results: dict[str, WriteResult] = {}

    def upsert(
        self,
        table: str,
        frame: gpd.GeoDataFrame,
        *,
        source_file: str | None = None,
        sha256: str | None = None,
        progress: Progress | None = None,
    ) -> WriteResult:
        """Insert the new records of ``frame``, update the changed ones, by id.

        Parameters
        ----------
        table : str
            One of :data:`remnant.records.schema.TABLES`.
        frame : geopandas.GeoDataFrame
            Canonical frame of that table (:func:`remnant.records.frame.to_canonical`).
        source_file : str, optional
            The file the records came from, kept with them and in ``imports``.
        sha256 : str, optional
            Hex digest of that file, kept in ``imports``.
        progress : callable, optional
            ``progress(done_rows, total_rows)``, called after each chunk.

        Returns
        -------
        WriteResult
            Inserted, updated and unchanged record counts.

        Raises
        ------
        StoreError
            The frame cannot be stored (no id, duplicate ids, wrong geometry or CRS),
            the transaction is over, or the database refused the write.
        ValueError
            ``table`` is not a table of the exchange format.
        """
        conn = self._live()
        spec = table_spec(table)
        checked = checked_frame(frame, spec)
        # a savepoint: a failed upsert leaves nothing behind, even if the caller goes on
        with _errors(self._path), conn.begin_nested():
            at = gpkg_meta.now()
            import_id = self._start_import(conn, table, at, source_file, sha256)
            context = WriteContext(at, self.user, source_file, import_id)
            result = writer.upsert(conn, spec, checked, context, progress)
            counts = {"inserted": result.inserted, "updated": result.updated}
            conn.execute(
                update(imports)
                .where(imports.c.id == import_id)
                .values(**counts, unchanged=result.unchanged)
            )
        self.results[table] = self.results.get(table, WriteResult()) + result
        return result

    def _start_import(
        self, conn: Connection, table: str, at: str, source_file: str | None, sha256: str | None
    ) -> int:
        row: dict[str, Any] = {
            "at": at,
            "user": self.user,
            "table_name": table,
            "source_file": source_file,
        }
        row.update(sha256=sha256, inserted=0, updated=0, unchanged=0, note=self.note)
        (import_id,) = conn.execute(insert(imports).values(**row)).inserted_primary_key or (None,)
        if import_id is None:
            raise StoreError("the database returned no id for the new imports row")
        return int(import_id)

    def _live(self) -> Connection:
        if self._conn is None:
            raise StoreError("this transaction is over; open a new one with store.transaction()")
        return self._conn

    def _end(self) -> None:
        self._conn = None


class Store:
    """An open project store. Use :func:`init_store` or :func:`open_store` to get one.

    Parameters
    ----------
    path : pathlib.Path
        The GeoPackage file.
    engine : sqlalchemy.Engine
        Its engine, from :func:`remnant.store.engine.create_store_engine`.
    """

    def __init__(self, path: Path, engine: Engine):
        self._path = path
        self._engine: Engine | None = engine

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    @contextmanager
    def transaction(
        self, user: str | None = None, note: str | None = None
    ) -> Iterator[Transaction]:
        """Open a write transaction: committed if the block ends, rolled back if it raises.

        Parameters
        ----------
        user : str, optional
            Who writes; the OS login name by default.
        note : str, optional
            Free text kept in ``imports`` with each file written.

        Yields
        ------
        Transaction
            Call :meth:`Transaction.upsert` on it, for one or several tables.
        """
        with _errors(self._path), self._live().connect() as conn:
            conn.execution_options(**WRITE)
            with conn.begin():
                tx = Transaction(conn, self._path, user or default_user(), note)
                try:
                    yield tx
                finally:
                    tx._end()

    def upsert(
        self,
        table: str,
        frame: gpd.GeoDataFrame,
        *,
        source_file: str | None = None,
        sha256: str | None = None,
        user: str | None = None,
        note: str | None = None,
        progress: Progress | None = None,
    ) -> WriteResult:
        """Upsert one table in its own transaction; see :meth:`Transaction.upsert`."""
        with self.transaction(user=user, note=note) as tx:
            return tx.upsert(
                table, frame, source_file=source_file, sha256=sha256, progress=progress
            )

    def read(self, table: str, *, ids: Collection[str] | None = None) -> gpd.GeoDataFrame:
        """Records of ``table`` as its canonical frame, in the order first written.

        Parameters
        ----------
        table : str
            One of :data:`remnant.records.schema.TABLES`.
        ids : collection of str, optional
            Read only the records with these ids (ids not stored are ignored), by
            :data:`ID_BATCH` ids per query; all records by default. The spec's columns
            and their dtypes are those of a full read; the extra columns are those the
            returned records carry.

        Returns
        -------
        geopandas.GeoDataFrame
            The canonical frame of ``table`` (:func:`remnant.records.frame.to_canonical`).

        Raises
        ------
        StoreError
            The store is closed or the database refused the read.
        TypeError
            ``ids`` is a single string rather than a collection of ids.
        ValueError
            ``table`` is not a table of the exchange format.
        """
        if isinstance(ids, str):
            raise TypeError(f"ids: expected a collection of record ids, not the string {ids!r}")
        spec = table_spec(table)
        t = FEATURE_TABLES[table]
        names = spec.attribute_names
        geometry = type_coerce(t.c[GEOMETRY], LargeBinary)
        query: Select[Any] = select(t.c[FID], *(t.c[n] for n in names), geometry, t.c[EXTRA])
        query = query.order_by(t.c[FID])
        with self._read() as conn:
            if ids is None:
                rows = conn.execute(query).all()
            else:
                rows = _rows_with_ids(conn, query, t.c[spec.id_column], ids)
            dialect = conn.dialect
        columns = list(zip(*rows, strict=True)) if rows else [()] * (len(names) + 3)
        shapes = types.bulk_decode(columns[-2], dialect)
        return to_frame(dict(zip(names, columns[1:-2], strict=True)), shapes, columns[-1], spec)

    def counts(self) -> dict[str, int]:
        """Number of records in each table of the exchange format."""
        with self._read() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for name, t in FEATURE_TABLES.items()
            }

    def ids(self, table: str) -> set[str]:
        """The record ids of ``table``."""
        spec = table_spec(table)
        with self._read() as conn:
            return set(conn.execute(select(FEATURE_TABLES[table].c[spec.id_column])).scalars())

    def audit(
        self, limit: int | None = None, *, record: tuple[str, str] | None = None
    ) -> pd.DataFrame:
        """The audit trail, newest first; ``changes`` parsed from JSON (``None`` for inserts).

        Parameters
        ----------
        limit : int, optional
            Return only the ``limit`` newest rows.
        record : (str, str), optional
            Only the rows of one record, ``(table, record_id)`` (read through the
            trail's index on them, not the whole trail).
        """
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if record is not None:
            query = query.where(audit.c.table_name == record[0], audit.c.record_id == record[1])
        frame = self._frame(audit, query)
        frame["changes"] = [None if c is None else json.loads(c) for c in frame["changes"]]
        return frame

    def last_import_id(self) -> int:
        """The id of the newest ``imports`` row: remember it to ask :meth:`changed_since` later.

        Returns
        -------
        int
            The largest ``imports.id``; 0 for a store that was never written to.

        Raises
        ------
        StoreError
            The store is closed or the database refused the read.
        """
        with self._read() as conn:
            return int(conn.execute(select(func.max(imports.c.id))).scalar() or 0)

    def changed_since(self, import_id: int, until: int | None = None) -> dict[str, list[str]]:
        """Ids of the records inserted or updated by the imports after ``import_id``.

        Read from the ``audit`` trail, which Remnant writes with every upsert. Edits
        made outside Remnant (in QGIS, say) leave no audit row and so are not seen
        here: a known limit; a full read sees them.

        Parameters
        ----------
        import_id : int
            An ``imports.id``, e.g. an earlier :meth:`last_import_id`; 0 for every
            change ever made.
        until : int, optional
            The last import to count (a :meth:`last_import_id` read before): imports
            after it are left for the next call, so that a reader that remembers
            ``until`` neither misses nor reads twice an import that lands meanwhile.
            Default: every import after ``import_id``.

        Returns
        -------
        dict of str to list of str
            For every table of :data:`remnant.records.schema.TABLES` (an empty list if
            none changed), the changed record ids, each once, in order of first change.

        Raises
        ------
        StoreError
            The store is closed or the database refused the read.
        """
        query = (
            select(audit.c.table_name, audit.c.record_id)
            .where(audit.c.import_id > import_id)
            .order_by(audit.c.id)
        )
        if until is not None:
            query = query.where(audit.c.import_id <= until)
        changed: dict[str, dict[str, None]] = {name: {} for name in FEATURE_TABLES}
        with self._read() as conn:
            for table, record_id in conn.execute(query):
                changed[table][record_id] = None
        return {table: list(ids) for table, ids in changed.items()}

    def imports(self) -> pd.DataFrame:
        """One row per file written, oldest first."""
        return self._frame(imports, select(imports).order_by(imports.c.id))

    def close(self) -> None:
        """Close the store's connections; the store cannot be used afterwards."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._engine is not None else "closed"
        return f"Store({str(self._path)!r}, {state})"

    def _live(self) -> Engine:
        if self._engine is None:
            raise StoreError(f"{self._path}: the store is closed")
        return self._engine

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with _errors(self._path), self._live().connect() as conn:
            yield conn

    def _frame(self, table: Table, query: Select[Any]) -> pd.DataFrame:
        """Rows of a bookkeeping table: ``Int64`` for integers, text as ``str``/``None``."""
        with self._read() as conn:
            rows = conn.execute(query).all()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(table.columns)
        kinds = ["int" if isinstance(c.type, Integer) else "str" for c in table.columns]
        return pd.DataFrame(
            {
                c.name: pd.Series(
                    from_python(values, kind), dtype="Int64" if kind == "int" else object
                )
                for c, values, kind in zip(table.columns, columns, kinds, strict=True)
            }
        )


def _rows_with_ids(
    conn: Connection, query: Select[Any], key: ColumnElement[Any], ids: Collection[str]
) -> list[Row[Any]]:
    """Rows of ``query`` whose ``key`` is in ``ids``, :data:`ID_BATCH` ids per query.

    Each id is asked once; the rows come sorted by the query's first column.
    """
    wanted = list(dict.fromkeys(ids))
    rows = [
        row
        for start in range(0, len(wanted), ID_BATCH)
        for row in conn.execute(query.where(key.in_(wanted[start : start + ID_BATCH])))
    ]
    return sorted(rows, key=lambda row: row[0])


def init_store(path: str | Path) -> Store:
    """Create a new, empty project store at ``path``: a GeoPackage QGIS opens directly.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to create (conventionally ``*.gpkg``); it must not exist yet.

    Returns
    -------
    Store
        The open store, stamped with the newest schema revision.

    Raises
    ------
    StoreError
        The file exists already, its folder does not, or it cannot be written.
    """
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path}: already exists; open it with open_store() or choose a new file")
    if not path.parent.is_dir():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    engine = create_store_engine(path)
    try:
        with _errors(path), engine.connect() as conn:
            conn.execution_options(**WRITE)
            with conn.begin():
                migrate.upgrade(conn)
    except BaseException:
        engine.dispose()
        path.unlink(missing_ok=True)
        raise
    return Store(path, engine)


def open_store(path: str | Path) -> Store:
    """Open an existing project store, upgrading its schema if it is older than this software.

    Parameters
    ----------
    path : str or pathlib.Path
        A store made by :func:`init_store`.

    Returns
    -------
    Store
        The open store.

    Raises
    ------
    StoreError
        ``path`` is not a file, not a SQLite database, not a GeoPackage, not a Remnant
        store, or has a newer schema than this software.
    """
    path = Path(path)
    _check_file(path)
    engine = create_store_engine(path)
    try:
        with _errors(path), engine.connect() as conn:
            with conn.begin():
                revision = _check_store(conn, path)
            if revision != migrate.head():
                _upgrade(conn, path)
    except BaseException:
        engine.dispose()
        raise
    return Store(path, engine)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    if not path.is_file():
        raise StoreError(f"{path}: not a file")
    with path.open("rb") as stream:
        head = stream.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not a SQLite database, so not a GeoPackage project store")


def _check_store(conn: Connection, path: Path) -> str:
    """Check ``conn`` is a Remnant store this software can open; return its revision."""
    application_id = conn.exec_driver_sql("PRAGMA application_id").scalar_one()
    if application_id != gpkg_meta.APPLICATION_ID:
        raise StoreError(f"{path}: a SQLite database but not a GeoPackage (application_id)")
    if not _is_remnant(conn):
        raise StoreError(f"{path}: a GeoPackage but not a Remnant project store")
    revision = migrate.current(conn)
    if revision is None:
        raise StoreError(f"{path}: a Remnant store without a schema revision (alembic_version)")
    if not migrate.known(revision):
        raise StoreError(
            f"{path}: written by a newer Remnant (schema revision {revision!r}; this software "
            f"knows up to {migrate.head()!r}); upgrade Remnant to open it"
        )
    return revision


def _is_remnant(conn: Connection) -> bool:
    if not inspect(conn).has_table(remnant_store.name):
        return False
    query = select(remnant_store.c.value).where(remnant_store.c.key == "application")
    return conn.execute(query).scalar() == "remnant"


def _upgrade(conn: Connection, path: Path) -> None:
    """Upgrade the schema to head in one write transaction (re-checked under the lock)."""
    conn.execution_options(**WRITE)
    with conn.begin():
        if _check_store(conn, path) != migrate.head():
            migrate.upgrade(conn)
