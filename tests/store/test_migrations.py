"""The schema is under Alembic: one head, stamped by init_store, applied by open_store."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Double, MetaData

from remnant.errors import StoreError
from remnant.store import Store, init_store, migrate, open_store
from remnant.store.engine import WRITE, create_store_engine
from remnant.store.schema import metadata
from remnant.store.types import Geometry

from .conftest import content_hash, integrity

SECOND_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("finds", sa.Column("depth_cm", sa.Double))


def downgrade():
    op.drop_column("finds", "depth_cm")
"""


def revision_of(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def test_history_has_one_head() -> None:
    assert migrate.heads() == ("0001",)
    assert migrate.head() == "0001"


def test_init_stamps_the_head(store: Store) -> None:
    assert revision_of(store.path) == migrate.head()


def test_migrations_match_the_models(store: Store) -> None:
    """What ``alembic check`` does: autogenerate finds nothing between migrations and models."""
    engine = create_store_engine(store.path)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": migrate.include_name,
                "compare_type": migrate.compare_type,
                "target_metadata": metadata,
            },
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_downgrade_and_upgrade_again(store: Store) -> None:
    store.close()
    engine = create_store_engine(store.path)
    with engine.connect() as conn:
        conn.execution_options(**WRITE)
        with conn.begin():
            migrate.upgrade(conn, "head")  # already there: nothing to do
            command.downgrade(migrate.alembic_config(conn), "base")
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
            assert not tables & {"finds", "audit", "rtree_finds_geom", "remnant_store"}
        with conn.begin():
            migrate.upgrade(conn)
    engine.dispose()
    with open_store(store.path) as again:
        assert again.counts()["finds"] == 0
    assert integrity(store.path) == ["ok"]


@pytest.fixture
def newer_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This software's migrations plus a revision 0002 (a column added to finds)."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0002_test.py").write_text(SECOND_REVISION)
    monkeypatch.setattr(migrate, "MIGRATIONS", folder)
    return folder


def test_open_upgrades_an_older_store(filled: Store, newer_migrations: Path) -> None:
    path, counts = filled.path, filled.counts()
    filled.close()
    assert revision_of(path) == "0001"
    with open_store(path) as store:
        assert store.counts() == counts
    assert revision_of(path) == "0002"
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(finds)")]
    conn.close()
    assert "depth_cm" in columns


def test_a_failed_upgrade_leaves_the_store_as_it_was(filled: Store, newer_migrations: Path) -> None:
    (newer_migrations / "versions" / "0002_test.py").write_text(
        SECOND_REVISION.replace('op.add_column("finds"', 'op.add_column("no_such_table"')
    )
    path = filled.path
    filled.close()
    before = content_hash(path)
    with pytest.raises(StoreError, match="no such table"):
        open_store(path)
    assert content_hash(path) == before
    assert revision_of(path) == "0001"


def test_a_newer_store_is_refused_by_older_software(
    tmp_path: Path, newer_migrations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.gpkg"
    init_store(path).close()
    assert revision_of(path) == "0002"
    monkeypatch.undo()  # back to this software's migrations
    with pytest.raises(StoreError, match="newer Remnant"):
        open_store(path)


def test_the_model_check_sees_differences(store: Store) -> None:
    """The check above is not vacuous: a changed geometry type or a new column shows."""
    changed = MetaData()
    for table in metadata.sorted_tables:
        copy = table.to_metadata(changed)
        if table.name == "finds":
            copy.c["geom"].type = Geometry("MULTIPOINT")
            copy.append_column(Column("depth_cm", Double()))
    engine = create_store_engine(store.path)
    with engine.connect() as conn:
        opts = {"include_name": migrate.include_name, "compare_type": migrate.compare_type}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), changed)
    engine.dispose()
    kinds = sorted((d[0][0], d[0][3]) if isinstance(d, list) else (d[0], d[3].name) for d in diff)
    assert kinds == [("add_column", "depth_cm"), ("modify_type", "geom")]
