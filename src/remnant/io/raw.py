"""What a format reader hands to validation: values as read, names made canonical."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from remnant.errors import FormatError
from remnant.records.schema import TABLES, TableSpec

ALIASES: dict[str, str] = {
    "latitude": "lat",
    "y": "lat",
    "longitude": "lon",
    "long": "lon",
    "lng": "lon",
    "x": "lon",
    "qty": "quantity",
    "count": "quantity",
    "organization": "organisation",
    "operator": "organisation",
    "start": "start_date",
    "end": "end_date",
    "heading": "heading_deg",
    "location_error": "location_error_m",
}
"""Incoming column names (normalised) that mean a canonical column."""


@dataclass
class RawTable:
    """One table as read from a file, before validation.

    Parameters
    ----------
    file : str
        The path as the user gave it, for messages.
    spec : TableSpec
        The table it holds.
    frame : pandas.DataFrame
        Values as read (text for CSV, JSON values for GeoJSON), columns renamed to
        canonical names; extra columns keep their own names.
    geometry : geopandas.GeoSeries, optional
        Geometry per row (GeoJSON, GeoPackage); ``None`` when the file is CSV and
        coordinates are in ``lon``/``lat``.
    row_numbers : numpy.ndarray
        Row (CSV, as a spreadsheet shows it: the header is row 1) or feature
        number (GeoJSON, GeoPackage: first feature is 1) of each row.
    unit : str
        ``row`` or ``feature``: what ``row_numbers`` count.
    geometry_problems : dict
        Feature number → why its geometry could not be read at all.
    path : str
        The file on disk (``file`` may add a layer name to it).
    """

    file: str
    spec: TableSpec
    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None
    row_numbers: np.ndarray
    unit: str = "row"
    geometry_problems: dict[int, str] = field(default_factory=dict)
    path: str = ""

    def __post_init__(self) -> None:
        self.path = self.path or self.file

    def __len__(self) -> int:
        return len(self.frame)


def normalise_name(name: str) -> str:
    """Lower-case, trimmed, spaces and hyphens as underscores."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def canonical_columns(names: list[str], spec: TableSpec) -> dict[str, str]:
    """Map incoming column names to canonical ones; unknown names are kept as they are.

    Raises
    ------
    FormatError
        When two incoming columns would map to the same canonical name.
    """
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in names:
        norm = normalise_name(name)
        target = norm if norm in spec.names else ALIASES.get(norm, norm)
        target = target if target in spec.names else str(name)
        if target in taken:
            raise FormatError(
                f"columns {taken[target]!r} and {name!r} both mean {target!r}; keep one"
            )
        taken[target] = str(name)
        mapping[str(name)] = target
    return mapping


def canonical_frame(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Rename ``frame``'s columns to canonical names; missing values become ``None``."""
    frame = frame.rename(columns=canonical_columns([str(c) for c in frame.columns], spec))
    return frame.astype(object).where(frame.notna(), None)


def table_for_name(name: str) -> TableSpec | None:
    """The table a file or layer name stands for (``finds.csv``, ``finds-2024.csv``)."""
    stem = normalise_name(Path(name).name.split(".")[0])
    for table in TABLES.values():
        if stem == table.name or re.match(rf"^{table.name}(_|$)", stem):
            return table
    return None
