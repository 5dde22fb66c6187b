"""Helper of test_atomicity.py, run as a subprocess: a long import that gets SIGKILLed.

    python import_until_killed.py STORE ROWS CACHE_KIB

Opens STORE with a page cache of CACHE_KIB (small, so that SQLite spills changed
pages into the database file mid-transaction), upserts ROWS new finds in one
transaction and prints ``chunk DONE TOTAL`` after each chunk, flushed.
"""

import sys

import geopandas as gpd
import numpy as np
import pandas as pd

from remnant.records.frame import to_canonical
from remnant.records.schema import CRS, TABLES
from remnant.store import engine, open_store


def main(path: str, rows: int, cache_kib: int) -> None:
    engine.CACHE_KIB = cache_kib
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame(
        {
            "find_id": [f"K{i}" for i in range(rows)],
            "date": "2024-02-02",
            "item": "M77",
            "quantity": pd.array(np.ones(rows, dtype=int), dtype="Int64"),
        },
        geometry=gpd.points_from_xy(rng.uniform(36, 38, rows), rng.uniform(47, 49, rows)),
        crs=CRS,
    )
    frame = to_canonical(frame, TABLES["finds"])
    with open_store(path) as store:
        store.upsert(
            "finds",
            frame,
            source_file="big.csv",
            user="killed",
            progress=lambda done, total: print(f"chunk {done} {total}", flush=True),
        )
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
