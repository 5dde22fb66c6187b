"""The project store: a single-file GeoPackage that QGIS opens, one layer per table.

Written through SQLAlchemy 2 over the stdlib :mod:`sqlite3`, its schema under Alembic
migrations, every write one transaction with an audit trail::

    store = init_store("project.gpkg")          # or open_store("project.gpkg")
    with store.transaction(user="analyst", note="June batch") as tx:
        tx.upsert("strikes", strikes, source_file="strikes.csv")
        tx.upsert("finds", finds, source_file="finds.csv")
    store.read("finds")                         # the canonical frame
"""

from remnant.store.repository import Store, Transaction, init_store, open_store
from remnant.store.writer import CHUNK_ROWS, Progress, WriteResult

__all__ = [
    "CHUNK_ROWS",
    "Progress",
    "Store",
    "Transaction",
    "WriteResult",
    "init_store",
    "open_store",
]
