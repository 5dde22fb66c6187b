"""Write a synthetic world to a folder: the records, and the truth kept apart.

Layout::

    out/strikes.csv  activities.geojson  finds.csv  accidents.csv  hazard_areas.geojson
    out/truth/submunitions.parquet  strikes.parquet  settlements.parquet  parameters.json

The records are exactly the exchange format (written by :func:`remnant.io.write_table`);
the truth is for tests and benchmarks and must not be imported as records. Every file
is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from remnant.io import write_table
from remnant.simulate.world import World

FILES = {
    "strikes": "strikes.csv",
    "activities": "activities.geojson",
    "finds": "finds.csv",
    "accidents": "accidents.csv",
    "hazard_areas": "hazard_areas.geojson",
}
"""Exchange-format file of each table."""

TRUTH_DIR = "truth"


def write_world(world: World, out: Path) -> dict[str, Path]:
    """Write the tables of ``world`` and, under ``out/truth/``, its ground truth.

    Parameters
    ----------
    world : World
    out : Path
        Folder, created if missing; files already there are replaced.

    Returns
    -------
    dict of str to Path
        Path of each file: the table names (``strikes``, ...), then
        ``truth/submunitions``, ``truth/strikes``, ``truth/settlements`` and
        ``truth/parameters``.
    """
    out = Path(out)
    (out / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, filename in FILES.items():
        paths[name] = out / filename
        with _atomic(paths[name]) as tmp:
            write_table(world.tables[name], name, tmp)
    truth = world.truth
    frames = {
        "submunitions": truth.submunitions,
        "strikes": truth.strikes,
        "settlements": truth.settlements,
    }
    for name, frame in frames.items():
        paths[f"{TRUTH_DIR}/{name}"] = out / TRUTH_DIR / f"{name}.parquet"
        with _atomic(paths[f"{TRUTH_DIR}/{name}"]) as tmp:
            _write_parquet(frame, tmp)
    paths[f"{TRUTH_DIR}/parameters"] = out / TRUTH_DIR / "parameters.json"
    with _atomic(paths[f"{TRUTH_DIR}/parameters"]) as tmp:
        tmp.write_text(
            json.dumps(truth.parameters, indent=2, default=_jsonable) + "\n", encoding="utf-8"
        )
    return paths


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet through pyarrow, categoricals as dictionaries, zstd-compressed."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def _jsonable(value: object) -> object:
    """JSON form of the few non-JSON values parameters may hold (tuples, numbers)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it onto ``path``."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
