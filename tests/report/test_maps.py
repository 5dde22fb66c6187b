"""The estimate's map (:func:`remnant.report.maps.plot_estimate`), drawn from a real GeoTIFF."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from remnant.hazard.grid import Grid
from remnant.io.geotiff import write_estimate
from remnant.report.maps import plot_estimate

GRID = Grid(crs="EPSG:32637", x0=400_000.0, y0=5_500_000.0, cell=25.0, nx=600, ny=500)


def _raster(path: Path) -> Path:
    rows, cols = np.mgrid[0 : GRID.ny, 0 : GRID.nx]
    expected = 5.0 * np.exp(-((rows - 200.0) ** 2 + (cols - 300.0) ** 2) / (2 * 15.0**2))
    bands = {
        "expected_remaining": expected,
        "p_any": 1.0 - np.exp(-expected),
        "lower_90": np.zeros_like(expected),
        "upper_90": np.ceil(3 * expected),
    }
    return write_estimate(path, GRID, bands)


def _points(xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    to_lonlat = pyproj.Transformer.from_crs(GRID.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(*np.array(xy).T)
    return gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs="EPSG:4326")


def test_the_map_lays_out_with_records_beyond_the_raster(tmp_path: Path) -> None:
    # a strike 40 km off the raster once widened the axes, and the scale bar,
    # drawn before the limits were set, then sat outside them: the layout collapsed
    raster = _raster(tmp_path / "estimate.tif")
    top = GRID.y0 + GRID.ny * GRID.cell
    tables = {
        "strikes": _points([(407_500.0, top - 5_000.0), (360_000.0, GRID.y0 - 40_000.0)]),
        "finds": _points([(407_400.0, top - 5_100.0), (407_600.0, top - 4_900.0)]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        out = plot_estimate(raster, tables, tmp_path / "estimate.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
