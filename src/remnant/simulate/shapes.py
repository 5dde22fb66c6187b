"""Polygons of the synthetic world, built many at once in metres, then put in WGS84."""

from __future__ import annotations

import numpy as np
import shapely

from remnant.simulate.geography import Region, transformer

_VERTICES = 24
"""Vertices of a rough circle."""
_ROUGHNESS = 0.12
"""Largest relative bend of a rough circle's radius (keeps it star-shaped, valid)."""


def rough_circles(
    x: np.ndarray, y: np.ndarray, radius: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Irregular round polygons, as drawn by hand around a place.

    The radius varies with the angle by two random harmonics of total amplitude at
    most ``_ROUGHNESS``; every polygon is star-shaped about its centre, hence valid.

    Parameters
    ----------
    x, y : numpy.ndarray
        Centres. [m]
    radius : numpy.ndarray
        Mean radii. [m]
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shapely.Polygon
    """
    n = len(x)
    theta = np.linspace(0.0, 2.0 * np.pi, _VERTICES, endpoint=False)
    amp = rng.uniform(-_ROUGHNESS / 2, _ROUGHNESS / 2, size=(n, 2))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 2))
    bend = amp[:, :1] * np.cos(2 * theta + phase[:, :1]) + amp[:, 1:] * np.cos(
        3 * theta + phase[:, 1:]
    )
    r = np.asarray(radius, float)[:, None] * (1.0 + bend)
    ring = np.stack([x[:, None] + r * np.sin(theta), y[:, None] + r * np.cos(theta)], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    return np.asarray(shapely.polygons(ring), dtype=object).reshape(n)


def rectangles(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Axis-aligned rectangles (grid-aligned survey boxes). [m]"""
    return np.asarray(shapely.box(x0, y0, x1, y1), dtype=object).reshape(len(x0))


def squares(x: np.ndarray, y: np.ndarray, side: float) -> np.ndarray:
    """Squares of side ``side`` centred on the points. [m]"""
    h = side / 2.0
    return rectangles(x - h, y - h, x + h, y + h)


def hull_buffers(
    x: np.ndarray, y: np.ndarray, group: np.ndarray, n_groups: int, distance: float
) -> np.ndarray:
    """Convex hull of each group of points, buffered by ``distance``. [m]

    Parameters
    ----------
    x, y : numpy.ndarray
        Points. [m]
    group : numpy.ndarray
        Group of each point, ``0 <= group < n_groups``; every group must have a point.
    n_groups : int
    distance : float
        Buffer distance (CMRS fade-out). [m]

    Returns
    -------
    numpy.ndarray of shapely.Polygon
    """
    order = np.argsort(group, kind="stable")
    coords = np.column_stack([x[order], y[order]])
    points = shapely.multipoints(coords, indices=group[order])
    hull = shapely.convex_hull(points)
    return np.asarray(shapely.buffer(hull, distance, quad_segs=4), dtype=object).reshape(n_groups)


def to_wgs84(region: Region, polygons: np.ndarray) -> np.ndarray:
    """Reproject polygons to WGS84 (lon, lat), exterior rings anticlockwise (RFC 7946)."""
    if len(polygons) == 0:
        return np.empty(0, dtype=object)
    tr = transformer(region)

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    projected = shapely.transform(polygons, project)
    return np.asarray(shapely.orient_polygons(projected), dtype=object)
