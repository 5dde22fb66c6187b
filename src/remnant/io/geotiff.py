"""GeoTIFF: the hazard estimate as ``estimate.tif`` (exchange format, "Estimate output").

Four float32 bands in spec order, each named by its description, in a projected metre
CRS, NaN as no data outside the studied area; tiled 256 × 256 with DEFLATE and the
floating-point predictor, and internal overviews (average) for fast display in GIS.

References
----------
.. [1] GDAL, "GTiff -- GeoTIFF File Format" (creation options TILED, COMPRESS,
   PREDICTOR, BIGTIFF). https://gdal.org/en/stable/drivers/raster/gtiff.html
.. [2] rasterio, "Overviews". https://rasterio.readthedocs.io/en/stable/topics/overviews.html
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.crs import CRS as RioCRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioIOError
from rasterio.io import DatasetReader, DatasetWriter
from rasterio.transform import Affine
from rasterio.windows import Window

from remnant.errors import FormatError
from remnant.hazard.grid import TILE, Grid
from remnant.io.files import atomic_path

ESTIMATE_BANDS = ("expected_remaining", "p_any", "lower_90", "upper_90")
"""Band names of ``estimate.tif``, in the order of the exchange-format spec."""

BAND_UNITS = {
    "expected_remaining": "items",
    "p_any": "probability",
    "lower_90": "items",
    "upper_90": "items",
}
"""The ``unit`` tag of each band."""

CREATION_OPTIONS = {
    "tiled": True,
    "blockxsize": TILE,
    "blockysize": TILE,
    "compress": "deflate",
    "predictor": 3,
    "BIGTIFF": "IF_SAFER",
}
"""GTiff creation options [1]_; ``predictor=3`` is the floating-point predictor."""

_GDAL_TAGS = frozenset({"AREA_OR_POINT"})
"""Dataset tags GDAL adds by itself, left out of the metadata read back."""


def write_estimate(
    path: str | Path,
    grid: Grid,
    bands: Mapping[str, npt.ArrayLike],
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write the hazard estimate as a GeoTIFF, atomically.

    Bands are written one window of whole tile rows at a time, converted to float32
    per window, so memory beyond the inputs stays at one strip of 256 rows. Overviews
    at factors 2, 4, 8, ... (until the smallest is under 256 cells on its long side)
    are built with ``average`` resampling, NaN cells left out: for
    ``expected_remaining`` (a count per cell) the average is the mean count per cell of
    the coarser pixel, the right picture of a density; sum it over cells, not over
    overview pixels, for totals.

    Parameters
    ----------
    path : path
        The GeoTIFF to write; replaced if it exists.
    grid : Grid
        The grid of the arrays; its CRS must be projected, in metres.
    bands : mapping of str to array_like
        One ``(grid.ny, grid.nx)`` array per name of :data:`ESTIMATE_BANDS`, NaN outside
        the studied area. [items] or, for ``p_any``, [probability]
    metadata : mapping of str to str, optional
        Dataset-level tags, e.g. ``as_of``, ``cell_size_m``, ``software_version``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        A band is missing, unknown or of the wrong shape; or the CRS is geographic or
        not in metres.
    """
    crs = _metre_crs(grid.crs)
    arrays = _checked_bands(grid, bands)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **_profile(grid, crs)) as dst:
        for index, name in enumerate(ESTIMATE_BANDS, start=1):
            dst.set_band_description(index, name)
            dst.set_band_unit(index, BAND_UNITS[name])
            dst.update_tags(index, unit=BAND_UNITS[name])
            _write_band(dst, index, arrays[name])
        dst.update_tags(**dict(metadata or {}))
        _build_overviews(dst, grid)
    return Path(path)


def read_estimate(path: str | Path) -> tuple[Grid, dict[str, np.ndarray], dict[str, str]]:
    """Read an ``estimate.tif`` written by :func:`write_estimate` (or to the same spec).

    Parameters
    ----------
    path : path
        The GeoTIFF.

    Returns
    -------
    grid : Grid
        The grid of the file.
    bands : dict of str to ndarray
        The float32 ``(ny, nx)`` arrays by band name (the band description), in
        :data:`ESTIMATE_BANDS` order; NaN where no data.
    metadata : dict of str to str
        The dataset-level tags (GDAL's own ``AREA_OR_POINT`` left out).

    Raises
    ------
    FormatError
        The file cannot be opened, a band is missing, the CRS is not projected in
        metres, or the cells are not square and north up.
    """
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise FormatError(f"{path}: not a readable GeoTIFF: {exc}") from exc
    with src:
        grid = _grid_of(path, src)
        index = _band_index(path, src)
        bands = {name: _read_band(src, index[name]) for name in ESTIMATE_BANDS}
        tags = {k: v for k, v in src.tags().items() if k not in _GDAL_TAGS}
    return grid, bands, tags


def _metre_crs(crs: str) -> RioCRS:
    """Return ``crs`` as a rasterio CRS; ValueError unless projected in metres."""
    try:
        parsed = RioCRS.from_user_input(crs)
    except CRSError as exc:
        raise ValueError(f"grid CRS {crs!r} is not a valid CRS: {exc}") from exc
    if not parsed.is_projected:
        raise ValueError(f"grid CRS {crs!r} is geographic; estimate.tif needs a metre CRS")
    unit, factor = parsed.linear_units_factor
    if factor != 1.0:
        raise ValueError(f"grid CRS {crs!r} is in {unit}; estimate.tif needs metres")
    return parsed


def _checked_bands(grid: Grid, bands: Mapping[str, npt.ArrayLike]) -> dict[str, np.ndarray]:
    """The arrays by name, without copies; ValueError listing every problem."""
    problems = [f"missing band {name!r}" for name in ESTIMATE_BANDS if name not in bands]
    problems += [f"unknown band {name!r}" for name in bands if name not in ESTIMATE_BANDS]
    arrays = {name: np.asarray(bands[name]) for name in ESTIMATE_BANDS if name in bands}
    shape = (grid.ny, grid.nx)
    problems += [
        f"band {name!r} has shape {a.shape}, the grid needs {shape}"
        for name, a in arrays.items()
        if a.shape != shape
    ]
    if problems:
        raise ValueError(
            "cannot write estimate: " + "; ".join(problems) + f" (bands: {ESTIMATE_BANDS})"
        )
    return arrays


def _profile(grid: Grid, crs: RioCRS) -> dict[str, object]:
    return {
        "driver": "GTiff",
        "width": grid.nx,
        "height": grid.ny,
        "count": len(ESTIMATE_BANDS),
        "dtype": "float32",
        "crs": crs,
        "transform": Affine(*grid.transform),
        "nodata": np.nan,
        **CREATION_OPTIONS,
    }


def _write_band(dst: DatasetWriter, index: int, values: np.ndarray) -> None:
    """Write one band a strip of whole tile rows at a time, as float32."""
    ny, nx = values.shape
    for row0 in range(0, ny, TILE):
        rows = min(TILE, ny - row0)
        strip = values[row0 : row0 + rows].astype(np.float32, copy=False)
        dst.write(strip, indexes=index, window=Window(0, row0, nx, rows))


def overview_factors(nx: int, ny: int) -> list[int]:
    """Return the overview factors 2, 4, 8, ... down to the first under one tile.

    Parameters
    ----------
    nx, ny : int
        Size of the full-resolution raster. [cells]
    """
    factors: list[int] = []
    factor = 2
    while max(nx, ny) / (factor // 2) > TILE:
        factors.append(factor)
        factor *= 2
    return factors


def _build_overviews(dst: DatasetWriter, grid: Grid) -> None:
    factors = overview_factors(grid.nx, grid.ny)
    if factors:
        dst.build_overviews(factors, Resampling.average)
        dst.update_tags(ns="rio_overview", resampling="average")


def _grid_of(path: str | Path, src: DatasetReader) -> Grid:
    """The Grid of an open dataset; FormatError unless projected, metre, square, north up."""
    if src.crs is None or not src.crs.is_projected:
        raise FormatError(f"{path}: CRS {src.crs} is not projected; estimate.tif needs metres")
    unit, factor = src.crs.linear_units_factor
    if factor != 1.0:
        raise FormatError(f"{path}: CRS {src.crs} is in {unit}; estimate.tif needs metres")
    t = src.transform
    if t.b != 0 or t.d != 0 or t.a <= 0 or t.e != -t.a:
        raise FormatError(f"{path}: cells are not square and north up (transform {tuple(t)})")
    return Grid(
        crs=src.crs.to_string(),
        x0=t.c,
        y0=t.f - src.height * t.a,
        cell=t.a,
        nx=src.width,
        ny=src.height,
    )


def _band_index(path: str | Path, src: DatasetReader) -> dict[str, int]:
    """Band numbers by description; FormatError naming every missing band."""
    index = {d: i for i, d in enumerate(src.descriptions, start=1) if d}
    missing = [name for name in ESTIMATE_BANDS if name not in index]
    if missing:
        found = [d for d in src.descriptions if d]
        raise FormatError(f"{path}: missing band(s) {missing} (band descriptions: {found})")
    return index


def _read_band(src: DatasetReader, index: int) -> np.ndarray:
    values = src.read(index, out_dtype=np.float32)
    nodata = src.nodatavals[index - 1]
    if nodata is not None and not np.isnan(nodata):
        values[values == nodata] = np.nan
    return values
