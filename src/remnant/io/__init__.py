"""File formats at the edge: one module per format, ``read_*`` / ``write_*``.

:func:`read_tables` and :func:`write_table` dispatch on the file suffix; the core
never parses files.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from remnant.errors import FormatError
from remnant.io.csv import read_csv, write_csv
from remnant.io.geojson import read_geojson, write_geojson
from remnant.io.gpkg import list_tables, read_gpkg, write_gpkg
from remnant.io.raw import RawTable, table_for_name
from remnant.records.schema import TableSpec, table_spec

FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
"""File suffix → format name."""

__all__ = [
    "FORMATS",
    "RawTable",
    "format_of",
    "read_csv",
    "read_geojson",
    "read_gpkg",
    "read_tables",
    "write_csv",
    "write_geojson",
    "write_gpkg",
    "write_table",
]


def format_of(path: str | Path) -> str:
    """The format of ``path`` from its suffix; ``FormatError`` names the valid ones."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        valid = ", ".join(sorted(FORMATS))
        raise FormatError(f"{path}: unknown file format; valid suffixes: {valid}")
    return fmt


def read_tables(path: str | Path, table: str | None = None) -> list[RawTable]:
    """Read every exchange-format table in ``path``.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.geojson`` or ``.gpkg`` file.
    table : str, optional
        The table the file holds; by default known from the file name (``finds.csv``,
        ``finds_2024.csv``) or, in a GeoPackage, from the layer names.
    """
    if not Path(path).is_file():
        raise FormatError(f"{path}: no such file")
    fmt = format_of(path)
    if fmt == "gpkg":
        layers = list_tables(path)
        if table is not None:
            layers = [(n, s) for n, s in layers if s.name == table] or [(table, table_spec(table))]
        if not layers:
            raise FormatError(f"{path}: no layer named after a table (strikes, finds, ...)")
        return [read_gpkg(path, spec, layer) for layer, spec in layers]
    spec = _spec_for(path, table)
    return [read_csv(path, spec) if fmt == "csv" else read_geojson(path, spec)]


def _spec_for(path: str | Path, table: str | None) -> TableSpec:
    if table is not None:
        return table_spec(table)
    spec = table_for_name(Path(path).name)
    if spec is None:
        raise FormatError(
            f"{path}: cannot tell the table from the file name; name it strikes.csv, "
            "finds.csv, accidents.csv, activities.geojson or hazard_areas.geojson, "
            "or pass --table"
        )
    return spec


def write_table(frame: gpd.GeoDataFrame, table: str, path: str | Path) -> None:
    """Write a canonical frame of ``table`` to ``path`` in the format of its suffix."""
    spec = table_spec(table)
    writer = {"csv": write_csv, "geojson": write_geojson, "gpkg": write_gpkg}[format_of(path)]
    writer(frame, spec, path)
