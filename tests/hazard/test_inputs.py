"""Records to model arrays: the projection, carriers and items as the slower spellings gave them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from remnant.catalogue import load_catalogue
from remnant.catalogue.model import CatalogueError
from remnant.hazard.inputs import _item_index, _project, carriers_of

CRS = "EPSG:32637"


def test_projected_points_are_to_crs_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(36.0, 40.0, 500), rng.uniform(46.0, 50.0, 500)
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    x, y = _project(points, CRS)
    projected = points.to_crs(CRS)
    assert np.array_equal(x, projected.x.to_numpy()) and np.array_equal(y, projected.y.to_numpy())
    assert x.min() > 100_000.0  # metres, not degrees


def test_a_missing_or_empty_point_projects_to_nan_and_the_rest_do_not_move() -> None:
    geoms = [shapely.Point(37.0, 48.0), None, shapely.Point(), shapely.Point(38.0, 47.5)]
    points = gpd.GeoSeries(geoms, crs="EPSG:4326")
    x, y = _project(points, CRS)
    assert np.isnan(x[1:3]).all() and np.isnan(y[1:3]).all()
    whole = _project(gpd.GeoSeries([geoms[0], geoms[3]], crs="EPSG:4326"), CRS)
    assert np.array_equal(x[[0, 3]], whole[0]) and np.array_equal(y[[0, 3]], whole[1])


def test_points_already_in_the_crs_are_kept() -> None:
    points = gpd.GeoSeries(gpd.points_from_xy([500_000.0], [5_400_000.0]), crs=CRS)
    assert _project(points, CRS) == (np.array([500_000.0]), np.array([5_400_000.0]))


def test_a_polygon_among_points_is_refused_naming_its_position() -> None:
    geoms = [shapely.Point(37.0, 48.0), shapely.box(37.0, 48.0, 37.1, 48.1)]
    with pytest.raises(ValueError, match="not a point at position 1: Polygon"):
        _project(gpd.GeoSeries(geoms, crs="EPSG:4326"), CRS)


def test_points_without_a_crs_are_refused() -> None:
    with pytest.raises(ValueError, match="without a CRS"):
        _project(gpd.GeoSeries([shapely.Point(37.0, 48.0)]), CRS)


def test_carriers_are_the_catalogue_s_for_every_spelling() -> None:
    catalogue = load_catalogue()
    values = ["M864", "m-864", "9M55K", "M864", "m 864"]
    assert carriers_of(catalogue, values) == [catalogue.carrier(v) for v in values]
    assert {c.id for c in carriers_of(catalogue, values)} == {"M864", "9M55K"}


def test_the_first_unknown_carrier_is_the_one_refused() -> None:
    with pytest.raises(CatalogueError, match="XYZ-1"):
        carriers_of(load_catalogue(), ["M864", "XYZ-1", "QQQ-2"])


def test_items_are_indexed_by_the_catalogue_s_id_and_missing_ones_are_0() -> None:
    catalogue = load_catalogue()
    items = ("", "M42", "M77", "fragments")
    values = pd.Series(["m42", None, "M 42", "", np.nan, "fragments", "M77"], dtype=object)
    assert _item_index(values, catalogue, items).tolist() == [1, 0, 1, 0, 0, 3, 2]
    assert _item_index(pd.Series([], dtype=object), catalogue, items).tolist() == []
