"""Which points lie in which polygons, and which of them a search found.

Millions of points against up to 10⁵ polygons, without a Python loop over either:
points are bucketed once on a lon/lat grid and sorted by cell; a polygon's bounding
box covers a few grid columns, and within one column its cells are a contiguous run
of the sorted points, found with two ``searchsorted``. The candidate (polygon, point)
pairs are then tested with :func:`shapely.contains_xy` in batches of bounded size.
Tests run in WGS84 on the exact coordinates and polygons that are written out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

CELL_DEG = 0.01
"""Grid cell of the point index, about 0.7 km × 1.1 km at 49° N. [degree]"""

BATCH_PAIRS = 4_000_000
"""Most candidate pairs tested at once (bounds temporary memory)."""


@dataclass(frozen=True)
class PointIndex:
    """Points sorted by grid cell, for fast polygon queries.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        The points. [degree]
    order : numpy.ndarray
        Point indices sorted by cell key.
    keys : numpy.ndarray
        Sorted cell keys (``column * n_rows + row``).
    origin : tuple of float
        Lower-left corner of cell (0, 0). [degree]
    n_rows : int
        Rows of the grid.
    """

    lon: np.ndarray
    lat: np.ndarray
    order: np.ndarray
    keys: np.ndarray
    origin: tuple[float, float]
    n_rows: int

    @classmethod
    def build(cls, lon: np.ndarray, lat: np.ndarray) -> PointIndex:
        """Index points given in degrees."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if lon.size == 0:
            return cls(lon, lat, np.empty(0, np.int64), np.empty(0, np.int64), (0.0, 0.0), 1)
        origin = (float(lon.min()) - CELL_DEG, float(lat.min()) - CELL_DEG)
        col = np.floor((lon - origin[0]) / CELL_DEG).astype(np.int64)
        row = np.floor((lat - origin[1]) / CELL_DEG).astype(np.int64)
        n_rows = int(row.max()) + 2
        keys = col * n_rows + row
        order = np.argsort(keys, kind="stable")
        return cls(lon, lat, order, keys[order], origin, n_rows)

    def __len__(self) -> int:
        return len(self.lon)

    def candidates(self, polygons: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield batches of (polygon, point) index pairs whose cells overlap.

        Every pair with the point inside the polygon's bounding box is yielded once,
        in a deterministic order; some pairs outside it are yielded too.
        """
        if len(self) == 0 or len(polygons) == 0:
            return
        poly, lo, hi = self._column_runs(polygons)
        counts = hi - lo
        ends = np.cumsum(counts)
        cuts = np.searchsorted(ends, np.arange(BATCH_PAIRS, ends[-1], BATCH_PAIRS), "right")
        edges = np.unique(np.concatenate([[0], cuts, [len(counts)]]))
        for a, b in itertools.pairwise(edges):
            c = counts[a:b]
            first = np.repeat(lo[a:b] - (np.cumsum(c) - c), c)
            yield np.repeat(poly[a:b], c), self.order[first + np.arange(int(c.sum()))]

    def _column_runs(self, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each polygon and grid column of its bounding box, the run of points."""
        bounds = shapely.bounds(polygons)
        c0, r0 = self._cell(bounds[:, 0], bounds[:, 1])
        c1, r1 = self._cell(bounds[:, 2], bounds[:, 3])
        r0, r1 = np.clip(r0, 0, self.n_rows - 1), np.clip(r1, 0, self.n_rows - 1)
        n_cols = np.maximum(c1 - c0 + 1, 0)
        poly = np.repeat(np.arange(len(polygons)), n_cols)
        col = (
            np.repeat(c0, n_cols)
            + np.arange(int(n_cols.sum()))
            - np.repeat(np.cumsum(n_cols) - n_cols, n_cols)
        )
        lo = np.searchsorted(self.keys, col * self.n_rows + r0[poly], side="left")
        hi = np.searchsorted(self.keys, col * self.n_rows + r1[poly], side="right")
        return poly, lo, hi

    def _cell(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col = np.floor((lon - self.origin[0]) / CELL_DEG).astype(np.int64)
        row = np.floor((lat - self.origin[1]) / CELL_DEG).astype(np.int64)
        return col, row


def pairs_inside(
    index: PointIndex, polygons: np.ndarray, point_day: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (polygon, point) pair with the point inside and dated before the polygon.

    Parameters
    ----------
    index : PointIndex
    polygons : numpy.ndarray of shapely.Polygon
        In WGS84.
    point_day : numpy.ndarray
        Day each point came to be (its attack). [day]
    start : numpy.ndarray
        Start day of each polygon's activity; only earlier points count. [day]

    Returns
    -------
    polygon, point : numpy.ndarray
        Index pairs, int64, sorted by polygon then point.
    """
    found = list(_inside_batches(index, polygons, point_day, start))
    if not found:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    poly = np.concatenate([f[0] for f in found])
    point = np.concatenate([f[1] for f in found])
    order = np.lexsort((point, poly))
    return poly[order], point[order]


def _inside_batches(
    index: PointIndex, polygons: np.ndarray, point_day: np.ndarray, start: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of inside pairs, in a deterministic order."""
    shapely.prepare(polygons)
    for poly, point in index.candidates(polygons):
        keep = point_day[point] < start[poly]
        poly, point = poly[keep], point[keep]
        inside = shapely.contains_xy(polygons[poly], index.lon[point], index.lat[point])
        yield poly[inside], point[inside]


@dataclass(frozen=True)
class Detections:
    """Points an activity found: one row per (activity, point) success.

    Parameters
    ----------
    activity : numpy.ndarray
        Index of the activity.
    point : numpy.ndarray
        Index of the point (dud or aim point).
    day : numpy.ndarray
        Day of the find, within the activity's dates. [day]
    """

    activity: np.ndarray
    point: np.ndarray
    day: np.ndarray

    def __len__(self) -> int:
        return len(self.activity)

    @classmethod
    def empty(cls) -> Detections:
        """No detection."""
        z = np.empty(0, np.int64)
        return cls(z, z, z)

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        """Join detections of several stages."""
        if not parts:
            return cls.empty()
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("activity", "point", "day"))
        )

    def shifted(self, by: int) -> Detections:
        """The same detections with activity indices offset by ``by``."""
        return Detections(self.activity + by, self.point, self.day)


def detect(
    index: PointIndex,
    polygons: np.ndarray,
    point_day: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    probability: np.ndarray,
    rng: np.random.Generator,
) -> Detections:
    """Draw which points inside each polygon its activity found, and when.

    Each (activity, point) pair inside, the point dated before the activity started,
    is found independently with the activity's probability, on a day drawn uniformly
    within the activity's dates. Pairs are drawn batch by batch, so the memory held
    is that of the successes, not of every pair inside.

    Parameters
    ----------
    index : PointIndex
        The points (duds or aim points).
    polygons : numpy.ndarray of shapely.Polygon
        Activity polygons in WGS84.
    point_day : numpy.ndarray
        Day each point came to be. [day]
    start, end : numpy.ndarray
        Dates of each activity. [day]
    probability : numpy.ndarray
        Per-item detection probability of each activity. [-]
    rng : numpy.random.Generator

    Returns
    -------
    Detections
    """
    parts = []
    for act, point in _inside_batches(index, polygons, point_day, start):
        hit = rng.random(len(act)) < probability[act]
        act, point = act[hit], point[hit]
        span = end[act] - start[act] + 1
        found = start[act] + np.floor(rng.random(len(act)) * span).astype(np.int64)
        parts.append(Detections(act, point, found))
    return Detections.concat(parts)
