"""GeoPackage: any table of the exchange format as a layer of the same name.

This module reads and writes GeoPackage *exchange files* through GDAL (pyogrio);
the project store, also a GeoPackage, lives in :mod:`remnant.store`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio

from remnant.errors import FormatError
from remnant.io.files import atomic_path
from remnant.io.raw import RawTable, canonical_frame, table_for_name
from remnant.records.frame import extra_columns
from remnant.records.schema import CRS, TableSpec


def list_tables(path: str | Path) -> list[tuple[str, TableSpec]]:
    """The layers of a GeoPackage that are exchange-format tables, with their specs."""
    try:
        layers = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        raise FormatError(f"{path}: not a readable GeoPackage: {exc}") from exc
    found = []
    for name, _geometry_type in layers:
        spec = table_for_name(str(name))
        if spec is not None:
            found.append((str(name), spec))
    return found


def read_gpkg(path: str | Path, spec: TableSpec, layer: str | None = None) -> RawTable:
    """Read one layer; reprojected to EPSG:4326 (with a warning) if it is in another CRS."""
    layer = layer or spec.name
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except pyogrio.errors.DataLayerError as exc:
        raise FormatError(f"{path}: no layer {layer!r}: {exc}") from exc
    if frame.crs is None:
        raise FormatError(f"{path}, layer {layer}: no coordinate reference system declared")
    if not frame.crs.equals(CRS):
        warnings.warn(
            f"{path}, layer {layer}: reprojected from {frame.crs.to_string()} to {CRS}",
            stacklevel=2,
        )
        frame = frame.to_crs(CRS)
    geometry = frame.geometry
    attrs = frame.drop(columns=frame.geometry.name)
    attrs = canonical_frame(attrs, spec)
    rows = np.arange(1, len(attrs) + 1)
    return RawTable(f"{path}:{layer}", spec, attrs, geometry, rows, "feature", path=str(path))


def write_gpkg(frame: gpd.GeoDataFrame, spec: TableSpec, path: str | Path) -> None:
    """Write a canonical frame as layer ``spec.name`` of a GeoPackage.

    A new file is written atomically; into an existing file the layer is replaced.
    """
    names = list(spec.attribute_names) + extra_columns(frame.columns, spec)
    out = gpd.GeoDataFrame(frame[names], geometry=frame.geometry, crs=CRS)
    kwargs = {"layer": spec.name, "driver": "GPKG"}
    if Path(path).exists():
        pyogrio.write_dataframe(out, path, **kwargs)
        return
    with atomic_path(path) as tmp:
        tmp.unlink()
        pyogrio.write_dataframe(out, tmp, **kwargs)
