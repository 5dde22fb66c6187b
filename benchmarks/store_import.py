"""Time to upsert N finds into a fresh project store, and to re-import them unchanged.

The baseline is ``pyogrio.write_dataframe`` of the same frame to a fresh GeoPackage
(GDAL, C++, no comparison, no audit), measured in the same run.

    .venv/bin/python benchmarks/store_import.py            # 1,000,000 finds
    .venv/bin/python benchmarks/store_import.py --rows 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from remnant.records.frame import to_canonical
from remnant.records.schema import CRS, TABLES
from remnant.store import init_store, open_store

ITEMS = np.array(["M42", "M77", "9N210", "ShOAB-0.5", "unknown_submunition", "fragments"])


def make_finds(rows: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2022-03-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D")
    frame = gpd.GeoDataFrame(
        {
            "find_id": np.char.add("F", np.arange(rows).astype(str)).astype(object),
            "date": days.strftime("%Y-%m-%d").astype(object),
            "item": ITEMS[rng.integers(0, len(ITEMS), rows)].astype(object),
            "quantity": pd.array(rng.integers(1, 4, rows), dtype="Int64"),
            "activity_id": np.char.add("A", rng.integers(0, 5000, rows).astype(str)).astype(object),
        },
        geometry=gpd.points_from_xy(rng.uniform(36.0, 38.5, rows), rng.uniform(47.0, 49.5, rows)),
        crs=CRS,
    )
    return to_canonical(frame, TABLES["finds"])


def timed(label: str, action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    print(f"{label:<38} {seconds:8.2f} s   {result if result is not None else ''}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    frame = make_finds(rows)
    print(f"{rows:,} finds")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = timed(
            "baseline pyogrio.write_dataframe",
            lambda: pyogrio.write_dataframe(frame, folder / "baseline.gpkg", layer="finds"),
        )
        with init_store(folder / "store.gpkg") as store:
            first = timed(
                "store upsert (all new)", lambda: store.upsert("finds", frame, user="bench")
            )
        with open_store(folder / "store.gpkg") as store:
            again = timed("store re-import (all unchanged)", lambda: store.upsert("finds", frame))
            read = timed("store read", lambda: len(store.read("finds")))
        size = (folder / "store.gpkg").stat().st_size / 1e6
    print(f"ratio upsert / baseline: {first / baseline:.1f}x; re-import / baseline: "
          f"{again / baseline:.1f}x; read {read:.1f} s; store file {size:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
