"""The land of the synthetic world: a box, a moving front line and settlements.

Everything is computed in a projected metre CRS (UTM 37N by default) and converted
to WGS84 with pyproj at the end. The front runs north-south; its base shape is a sum
of three sines (a wiggly polyline with a vertex every kilometre), and the whole line
shifts east or west with time. The signed east-west offset from the front stands in
for the distance to it (exact for a straight north-south front; a fair proxy for a
gently bending one), which keeps every test vectorised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
from scipy.spatial import cKDTree

from remnant.simulate.config import RegionConfig
from remnant.simulate.timeline import NEVER, schedule

_MAX_POPULATION = 1.5e6
"""Largest settlement (Kharkiv had about 1.4 million people before 2022). [people]"""
_ACCESS_STEP_DAYS = 7
"""Time step on which :func:`first_accessible_day` scans the front's movement. [day]"""


@dataclass(frozen=True)
class Settlements:
    """Cities, towns and villages.

    Parameters
    ----------
    x, y : numpy.ndarray
        Centre, projected. [m]
    population : numpy.ndarray
        Inhabitants before the war. [people]
    radius_m : numpy.ndarray
        Radius of the built-up area. [m]
    """

    x: np.ndarray
    y: np.ndarray
    population: np.ndarray
    radius_m: np.ndarray


@dataclass(frozen=True)
class Region:
    """The box, the front line and the settlements, in a projected metre CRS.

    Parameters
    ----------
    crs : str
        The projected CRS of every ``x, y``.
    bounds : tuple of float
        ``(xmin, ymin, xmax, ymax)`` of the box. [m]
    front_y, front_x : numpy.ndarray
        Vertices of the front line at its reference position. [m]
    shift_day, shift_m : numpy.ndarray
        When and how far east (positive) the whole line stands. [day], [m]
    settlements : Settlements
    """

    crs: str
    bounds: tuple[float, float, float, float]
    front_y: np.ndarray
    front_x: np.ndarray
    shift_day: np.ndarray
    shift_m: np.ndarray
    settlements: Settlements

    @property
    def area_km2(self) -> float:
        """Area of the box. [km²]"""
        xmin, ymin, xmax, ymax = self.bounds
        return (xmax - xmin) * (ymax - ymin) / 1e6


def box_size_km(n_strikes: int, config: RegionConfig) -> tuple[float, float]:
    """Width and height of the box that keeps attack density plausible. [km]

    The base box is kept while ``n_strikes`` over its area stays below
    ``max_strike_density_per_km2``; beyond, the area grows in proportion, widening
    up to ``max_width_km`` and then lengthening along the front only.
    """
    base = config.width_km * config.height_km
    area = max(base, n_strikes / config.max_strike_density_per_km2)
    scale = math.sqrt(area / base)
    width = min(config.width_km * scale, max(config.max_width_km, config.width_km))
    return width, area / width


def build_region(n_strikes: int, config: RegionConfig, rng: np.random.Generator) -> Region:
    """Draw the box, its front line and its settlements.

    Parameters
    ----------
    n_strikes : int
        Number of attacks the box must hold (sets its size).
    config : RegionConfig
    rng : numpy.random.Generator

    Returns
    -------
    Region
    """
    width, height = box_size_km(n_strikes, config)
    to_m = pyproj.Transformer.from_crs("EPSG:4326", config.crs, always_xy=True)
    cx, cy = to_m.transform(config.centre_lon, config.centre_lat)
    half_w, half_h = width * 500.0, height * 500.0
    bounds = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    front_y, front_x = _front_line(bounds, config, rng)
    shift_day, shift_km = schedule(config.front_shift_km)
    settlements = _settlements(bounds, config, rng)
    return Region(config.crs, bounds, front_y, front_x, shift_day, shift_km * 1e3, settlements)


def _front_line(
    bounds: tuple[float, float, float, float], config: RegionConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    xmin, ymin, xmax, ymax = bounds
    y = np.arange(ymin, ymax + 1000.0, 1000.0)
    x = np.full_like(y, 0.5 * (xmin + xmax))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=len(config.front_wavelengths_km))
    for k, (wavelength, phase) in enumerate(zip(config.front_wavelengths_km, phases, strict=True)):
        amplitude = config.front_wiggle_km * 1e3 / 2**k
        x += amplitude * np.sin(2.0 * np.pi * y / (wavelength * 1e3) + phase)
    return y, x


def _settlements(
    bounds: tuple[float, float, float, float], config: RegionConfig, rng: np.random.Generator
) -> Settlements:
    xmin, ymin, xmax, ymax = bounds
    area_km2 = (xmax - xmin) * (ymax - ymin) / 1e6
    n = max(int(rng.poisson(config.settlement_density_per_km2 * area_km2)), 1)
    x = rng.uniform(xmin, xmax, size=n)
    y = rng.uniform(ymin, ymax, size=n)
    pareto = rng.pareto(config.population_pareto_shape, size=n) + 1.0
    population = np.minimum(np.floor(config.min_population * pareto), _MAX_POPULATION)
    population = population.astype(np.int64)
    radius = config.radius_per_sqrt_population_m * np.sqrt(population)
    return Settlements(x, y, population, radius)


def front_x(region: Region, y: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """Easting of the front line at northing ``y`` on day ``days``. [m]"""
    base = np.interp(y, region.front_y, region.front_x)
    return base + np.interp(days, region.shift_day, region.shift_m)


def front_offset(
    region: Region, x: np.ndarray, y: np.ndarray, days: np.ndarray | int
) -> np.ndarray:
    """Signed east-west distance from the front, negative to the west. [m]"""
    return np.asarray(x) - front_x(region, y, days)


def first_accessible_day(
    region: Region,
    x: np.ndarray,
    y: np.ndarray,
    from_day: np.ndarray,
    until_day: int,
    buffer_m: float,
) -> np.ndarray:
    """First day on or after ``from_day`` when a point lies ``buffer_m`` west of the front.

    Scans the front's movement on a weekly grid, so the day returned may be up to a
    week late. Points never accessible by ``until_day`` get :data:`NEVER`.

    Parameters
    ----------
    region : Region
    x, y : numpy.ndarray
        Points. [m]
    from_day : numpy.ndarray
        Earliest day for each point. [day]
    until_day : int
        Last day considered. [day]
    buffer_m : float
        Distance that must separate the point from the front. [m]

    Returns
    -------
    numpy.ndarray
        Day numbers, int64. [day]
    """
    from_day = np.broadcast_to(np.asarray(from_day, dtype=np.int64), np.shape(x))
    out = np.full(np.shape(x), NEVER, dtype=np.int64)
    if out.size == 0:
        return out
    grid = np.arange(int(from_day.min()), until_day + _ACCESS_STEP_DAYS, _ACCESS_STEP_DAYS)
    if grid.size == 0:
        return out
    shift = np.interp(grid, region.shift_day, region.shift_m)
    need = np.asarray(x) - np.interp(y, region.front_y, region.front_x) + buffer_m
    for lo in range(0, out.size, 20_000):
        sl = slice(lo, lo + 20_000)
        ok = (grid[None, :] >= from_day[sl, None]) & (shift[None, :] > need[sl, None])
        first = np.argmax(ok, axis=1)
        out[sl] = np.where(ok.any(axis=1), np.maximum(grid[first], from_day[sl]), NEVER)
    return np.where(out <= until_day, out, NEVER)


def distance_to_settlement_edge(region: Region, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from each point to the edge of the nearest settlement, 0 inside. [m]

    The nearest settlement is the one with the nearest centre (a close
    approximation when built-up areas are small against their spacing).
    """
    s = region.settlements
    tree = cKDTree(np.column_stack([s.x, s.y]))
    dist, idx = tree.query(np.column_stack([x, y]), k=1)
    return np.maximum(np.asarray(dist) - s.radius_m[idx], 0.0)


def transformer(region: Region, to_lonlat: bool = True) -> pyproj.Transformer:
    """The pyproj transformer between the region's CRS and WGS84 (lon, lat order)."""
    if to_lonlat:
        return pyproj.Transformer.from_crs(region.crs, "EPSG:4326", always_xy=True)
    return pyproj.Transformer.from_crs("EPSG:4326", region.crs, always_xy=True)


def to_lonlat(region: Region, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points to WGS84. [degree]"""
    lon, lat = transformer(region).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def to_metres(region: Region, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 points to the region's CRS. [m]"""
    x, y = transformer(region, False).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)
