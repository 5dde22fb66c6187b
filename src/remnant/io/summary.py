"""Summary tables and run records: CSV for people and spreadsheets, JSON for programs.

Both written atomically (:func:`remnant.io.files.atomic_path`): a reader never sees
half a table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant.io.files import atomic_path, atomic_write_text


def write_summary_csv(frame: pd.DataFrame, path: str | Path, *, digits: int = 6) -> Path:
    """Write a summary table as UTF-8 CSV, floats to ``digits`` significant digits.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its columns become the header.
    path : path
        The file to write.
    digits : int
        Significant digits of floating-point columns.
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=f"%.{digits}g", encoding="utf-8")
    return Path(path)


def read_summary_csv(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_summary_csv`."""
    return pd.read_csv(path, encoding="utf-8")


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write a run record as indented JSON (NumPy numbers become plain numbers)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=_plain, ensure_ascii=False) + "\n")
    return Path(path)


def read_json(path: str | Path) -> dict[str, Any]:
    """Read a record written by :func:`write_json`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
