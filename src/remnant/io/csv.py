"""CSV: the exchange format's point tables (``strikes.csv``, ``finds.csv``, ...).

UTF-8 with a header row; a BOM (as Excel writes) is accepted. Coordinates are the
``lon``/``lat`` columns.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from remnant.errors import FormatError
from remnant.io.files import atomic_write_text
from remnant.io.raw import RawTable, canonical_frame
from remnant.records.frame import extra_columns
from remnant.records.schema import TableSpec


def read_csv(path: str | Path, spec: TableSpec) -> RawTable:
    """Read a CSV table as text, columns renamed to canonical names.

    Raises
    ------
    FormatError
        The file is not UTF-8 CSV, or has no header.
    """
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FormatError(f"{path}: not a readable CSV file: {exc}") from exc
    frame = canonical_frame(frame, spec)
    rows = np.arange(2, len(frame) + 2)
    return RawTable(str(path), spec, frame.reset_index(drop=True), None, rows, "row")


def write_csv(frame: gpd.GeoDataFrame, spec: TableSpec, path: str | Path) -> None:
    """Write a canonical frame as exchange-format CSV, atomically."""
    out = pd.DataFrame(index=frame.index)
    for name in spec.names:
        if name == "lon":
            out[name] = frame.geometry.x
        elif name == "lat":
            out[name] = frame.geometry.y
        else:
            out[name] = frame[name] if name in frame.columns else None
    for name in extra_columns(frame.columns, spec):
        out[name] = frame[name]
    atomic_write_text(path, out.to_csv(index=False, lineterminator="\n"))
