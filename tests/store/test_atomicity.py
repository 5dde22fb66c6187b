"""Every write is one transaction: an exception or a killed process leaves the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

from remnant.errors import StoreError
from remnant.store import Store, open_store

from .conftest import content_hash, finds, integrity

HELPER = Path(__file__).with_name("import_until_killed.py")


class Boom(Exception):
    pass


def test_exception_in_transaction_rolls_everything_back(filled: Store, frames: dict) -> None:
    before, counts = content_hash(filled.path), filled.counts()
    changed = frames["finds"].copy()
    changed.loc[0, "item"] = "M85"
    with pytest.raises(Boom), filled.transaction(user="tester") as tx:
        tx.upsert("finds", finds(50, offset=100), source_file="more.csv")
        tx.upsert("finds", changed, source_file="changed.csv")
        tx.upsert("strikes", frames["strikes"], source_file="strikes.csv")
        assert tx.results["finds"].inserted == 50
        raise Boom
    assert filled.counts() == counts
    assert content_hash(filled.path) == before


def test_failed_upsert_leaves_nothing_even_if_caught(store: Store) -> None:
    """An upsert is a savepoint: a failure inside it leaves no partial chunks behind."""
    bad = finds(30)
    bad.loc[25, "geometry"] = shapely.Point(float("nan"), 1.0)  # fine for the store...
    calls = []

    def fail_on_second_chunk(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise Boom

    with store.transaction(user="tester") as tx:
        tx.upsert("finds", finds(5, offset=500))
        with pytest.raises(Boom):
            import remnant.store.writer as writer

            writer.CHUNK_ROWS, saved = 10, writer.CHUNK_ROWS
            try:
                tx.upsert("finds", bad, progress=fail_on_second_chunk)
            finally:
                writer.CHUNK_ROWS = saved
    assert store.ids("finds") == {f"F{i}" for i in range(500, 505)}
    assert len(store.audit()) == 5
    assert len(store.imports()) == 1


def test_rtree_triggers_survive_a_failed_upsert(store: Store) -> None:
    with pytest.raises(Boom), store.transaction(user="tester") as tx:
        tx.upsert("finds", finds(5))
        raise Boom
    import sqlite3

    conn = sqlite3.connect(store.path)
    count = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rtree_finds%'"
    ).fetchone()[0]
    conn.close()
    assert count == 7


def test_sigkill_mid_import_leaves_the_store_as_it_was(filled: Store) -> None:
    path, counts = filled.path, filled.counts()
    filled.close()
    before, size = content_hash(path), path.stat().st_size
    process = subprocess.Popen(
        [sys.executable, str(HELPER), str(path), "300000", "512"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for expected in ("chunk 10000 300000", "chunk 20000 300000"):
            line = process.stdout.readline()  # printed once the chunk's rows are written
            assert line.startswith(expected), line + process.stderr.read()
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
        process.stdout.close()
        process.stderr.close()
    journal = Path(f"{path}-journal")
    assert journal.stat().st_size > 0  # a hot journal: the killed import had begun
    assert path.stat().st_size > size  # changing the database file itself
    with open_store(path) as store:
        assert store.counts() == counts
    assert not journal.exists()  # rolled back and deleted by the first reader
    assert integrity(path) == ["ok"]
    assert content_hash(path) == before


def test_a_second_writer_waits_for_the_first(
    filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("remnant.store.engine.BUSY_TIMEOUT_MS", 100)
    with open_store(filled.path) as other, filled.transaction(user="first") as tx:
        tx.upsert("finds", finds(3, offset=900))
        with pytest.raises(StoreError, match="database is locked"):
            other.upsert("finds", finds(3, offset=950), user="second")
    assert filled.counts()["finds"] == 7
