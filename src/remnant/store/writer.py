"""Upsert of a canonical frame into its table, chunk by chunk, with its audit trail.

For each chunk (:data:`CHUNK_ROWS` records): convert the columns to stored values
(vectorised), read the stored records with the same ids in one query, then sort
every record into *insert* (new id), *update* (a compared value differs) or
*unchanged*; write inserts and updates with ``executemany``, and one ``audit`` row
per insert or update. It all runs on the caller's connection, in the caller's
transaction (:meth:`remnant.store.Transaction.upsert` wraps it in a savepoint).

Compared values are the spec's columns, the geometry (by its WKB, whatever the
blob header) and the extra columns. Extra columns merge: a re-import sets the extra
columns it brings and keeps those it does not (they are the user's, never dropped);
a missing key and a ``None`` value are the same.

On a GeoPackage the R-tree triggers are suspended during the upsert and the index
is written from the bounds computed here (as GDAL does when it loads a layer): the
triggers would call a Python function five times per record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import (
    Connection,
    LargeBinary,
    Table,
    bindparam,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.sql.dml import UpdateBase

from remnant.errors import StoreError
from remnant.records.schema import TableSpec
from remnant.store import gpkg_meta, types
from remnant.store.convert import extra_records, to_python
from remnant.store.schema import EXTRA, FEATURE_TABLES, FID, GEOMETRY, audit

CHUNK_ROWS = 10_000
"""Records converted, compared and written per step."""

Progress = Callable[[int, int], None]
"""``progress(done_rows, total_rows)``, called after each chunk."""

_AUDIT_KEYS = tuple(c.name for c in audit.columns if c.name != "id")
_TAIL_INSERT = (EXTRA, "created_at", "updated_at", "source_file")
_TAIL_UPDATE = (EXTRA, "updated_at", "source_file")


@dataclass(frozen=True)
class WriteResult:
    """What one upsert did to one table.

    Parameters
    ----------
    inserted : int
        Records whose id was new.
    updated : int
        Records whose id existed and of which at least one value changed.
    unchanged : int
        Records identical to the stored ones: not written, not audited.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )

    @property
    def total(self) -> int:
        """Records in the frame."""
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True)
class WriteContext:
    """Who writes, when, from which file, under which ``imports`` row."""

    at: str
    user: str
    source_file: str | None
    import_id: int


@dataclass
class _Chunk:
    """Stored values of a chunk: one tuple per record, in :func:`compared` order."""

    ids: list[str]
    values: list[tuple[Any, ...]]
    extras: list[dict[str, Any]] | None
    bounds: np.ndarray


@dataclass
class _Plan:
    """What to write for a chunk: rows as tuples in statement order."""

    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    fids: list[int] = field(default_factory=list)
    written: list[int] = field(default_factory=list)
    unchanged: int = 0


def compared(spec: TableSpec) -> tuple[str, ...]:
    """Stored columns compared on re-import, in table order: geometry, id, attributes."""
    return (GEOMETRY, *spec.attribute_names)


def upsert(
    conn: Connection,
    spec: TableSpec,
    frame: gpd.GeoDataFrame,
    context: WriteContext,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
) -> WriteResult:
    """Insert new records of a checked canonical frame and update changed ones.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the writing transaction.
    spec : TableSpec
        The table.
    frame : geopandas.GeoDataFrame
        Canonical frame, checked by :func:`remnant.store.convert.checked_frame`.
    context : WriteContext
        User, time, source file and ``imports`` row of the audit rows.
    progress : callable, optional
        ``progress(done_rows, total_rows)`` after each chunk.
    chunk_rows : int, optional
        Records per chunk; :data:`CHUNK_ROWS` by default.

    Returns
    -------
    WriteResult
        Counts of inserted, updated and unchanged records.
    """
    table, step = FEATURE_TABLES[spec.name], chunk_rows or CHUNK_ROWS
    result, total, boxes = WriteResult(), len(frame), []
    with _spatial_index(conn, spec.name) as indexed:
        next_fid = _next_fid(conn, table)
        for start in range(0, total, step):
            chunk = _convert(frame.iloc[start : start + step], spec, conn)
            plan = _plan(chunk, _stored(conn, table, spec, chunk.ids), spec, context, next_fid)
            next_fid += len(plan.inserts)
            _execute(conn, table, spec, plan)
            boxes.append(chunk.bounds[plan.written])
            if indexed:
                gpkg_meta.index_boxes(conn, spec.name, GEOMETRY, plan.fids, boxes[-1])
            result += WriteResult(len(plan.inserts), len(plan.updates), plan.unchanged)
            if progress is not None:
                progress(min(start + step, total), total)
        if conn.dialect.name == "sqlite" and result.inserted + result.updated:
            gpkg_meta.touch(conn, spec.name, _union(boxes))
    return result


@contextmanager
def _spatial_index(conn: Connection, table: str) -> Iterator[bool]:
    """Suspend the R-tree triggers of ``table``; yield whether the caller must index."""
    saved = (
        gpkg_meta.suspend_rtree(conn, table, GEOMETRY) if conn.dialect.name == "sqlite" else None
    )
    yield saved is not None
    if saved is not None:
        gpkg_meta.restore_rtree(conn, saved)


def _next_fid(conn: Connection, table: Table) -> int:
    """First unused ``fid``: above every fid ever used (``AUTOINCREMENT`` semantics)."""
    highest = conn.execute(select(func.max(table.c[FID]))).scalar() or 0
    if conn.dialect.name == "sqlite":
        query = "SELECT seq FROM sqlite_sequence WHERE name = ?"
        sequence = conn.exec_driver_sql(query, (table.name,)).scalar() or 0
        highest = max(highest, sequence)
    return int(highest) + 1


def _convert(frame: gpd.GeoDataFrame, spec: TableSpec, conn: Connection) -> _Chunk:
    geometry = frame.geometry.to_numpy()
    columns = [types.bulk_encode(geometry, conn.dialect)]
    columns += [to_python(frame[n], spec.column(n).kind) for n in spec.attribute_names]
    values = list(zip(*columns, strict=True))
    return _Chunk(columns[1], values, extra_records(frame, spec), shapely.bounds(geometry))


def _stored(
    conn: Connection, table: Table, spec: TableSpec, ids: list[str]
) -> dict[str, tuple[int, tuple[Any, ...], str | None]]:
    """Stored ``(fid, compared values, extra)`` of the records with these ids."""
    columns = [
        type_coerce(table.c[n], LargeBinary) if n == GEOMETRY else table.c[n]
        for n in compared(spec)
    ]
    query = select(table.c[FID], *columns, table.c[EXTRA]).where(table.c[spec.id_column].in_(ids))
    return {row[2]: (row[0], tuple(row[1:-1]), row[-1]) for row in conn.execute(query)}


def _plan(
    chunk: _Chunk,
    stored: dict[str, tuple[int, tuple[Any, ...], str | None]],
    spec: TableSpec,
    context: WriteContext,
    next_fid: int,
) -> _Plan:
    names, plan = compared(spec), _Plan()
    for i, (record_id, values) in enumerate(zip(chunk.ids, chunk.values, strict=True)):
        new_extra = None if chunk.extras is None else chunk.extras[i]
        if record_id not in stored:
            fid = next_fid + len(plan.inserts)
            tail = (_dump(new_extra), context.at, context.at, context.source_file)
            plan.inserts.append((fid, *values, *tail))
            plan.audit.append(_audit_row(spec, record_id, "insert", None, context))
        else:
            fid, old_values, old_extra = stored[record_id]
            changes, extra = _changes(names, old_values, values, old_extra, new_extra)
            if not changes:
                plan.unchanged += 1
                continue
            plan.updates.append((*values, extra, context.at, context.source_file, fid))
            plan.audit.append(_audit_row(spec, record_id, "update", changes, context))
        plan.fids.append(fid)
        plan.written.append(i)
    return plan


def _changes(
    names: Sequence[str],
    old: tuple[Any, ...],
    new: tuple[Any, ...],
    old_extra: str | None,
    new_extra: dict[str, Any] | None,
) -> tuple[dict[str, list[Any]], str | None]:
    """``{column: [old, new]}`` of the changed values, and the merged extra JSON."""
    changes: dict[str, list[Any]] = {}
    if old != new:
        for name, a, b in zip(names, old, new, strict=True):
            if name == GEOMETRY:
                if not types.same_geometry(a, b):
                    changes[name] = [types.to_text(a), types.to_text(b)]
            elif a != b:
                changes[name] = [a, b]
    if new_extra is None:
        return changes, old_extra
    before = json.loads(old_extra) if old_extra else {}
    merged = {**before, **new_extra}
    changes.update({k: [before.get(k), v] for k, v in merged.items() if before.get(k) != v})
    return changes, _dump(merged)


def _dump(extra: dict[str, Any] | None) -> str | None:
    return None if extra is None else json.dumps(extra, ensure_ascii=False)


def _audit_row(
    spec: TableSpec,
    record_id: str,
    action: str,
    changes: dict[str, Any] | None,
    context: WriteContext,
) -> tuple[Any, ...]:
    text = None if changes is None else json.dumps(changes, ensure_ascii=False)
    return (context.at, context.user, action, spec.name, record_id, context.source_file, text,
            context.import_id)  # fmt: skip


def _execute(conn: Connection, table: Table, spec: TableSpec, plan: _Plan) -> None:
    names = compared(spec)
    executemany(conn, insert(table), (FID, *names, *_TAIL_INSERT), plan.inserts)
    statement = update(table).where(table.c[FID] == bindparam("_fid"))
    executemany(conn, statement, (*names, *_TAIL_UPDATE, "_fid"), plan.updates)
    executemany(conn, insert(audit), _AUDIT_KEYS, plan.audit)


def executemany(
    conn: Connection, statement: UpdateBase, keys: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Execute ``statement`` once per row; each row holds bind-ready values in ``keys`` order.

    On a positional (``qmark``) driver such as :mod:`sqlite3` the compiled SQL goes
    straight to ``cursor.executemany`` (no per-row work in SQLAlchemy); on other
    drivers the rows become dicts for SQLAlchemy's own ``executemany``.
    """
    if not rows:
        return
    if conn.dialect.paramstyle != "qmark":
        conn.execute(statement, [dict(zip(keys, row, strict=True)) for row in rows])
        return
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
    if tuple(compiled.positiontup or ()) != tuple(keys):
        raise StoreError(f"internal: parameter order {compiled.positiontup} is not {keys}")
    conn.exec_driver_sql(str(compiled), rows)


def _union(bounds: list[np.ndarray]) -> tuple[float, float, float, float] | None:
    """Union of ``[minx, miny, maxx, maxy]`` rows (NaN rows ignored)."""
    boxes = np.concatenate([b.reshape(-1, 4) for b in bounds]) if bounds else np.empty((0, 4))
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    if boxes.size == 0:
        return None
    return (*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist())
