"""The square raster grid of the hazard estimate, its tiles and its CRS.

A :class:`Grid` is a north-up raster of square cells in a projected metre CRS. Row 0
is the top (northernmost) row and column 0 the left (westernmost) column, as in
GeoTIFF and rasterio; ``(x0, y0)`` is the *lower-left* corner of the grid. The grid is
cut into tiles of :data:`TILE` × :data:`TILE` cells (docs/model.md §8).

References
----------
.. [1] Snyder, J. P. (1987) *Map Projections — A Working Manual*, USGS Professional
   Paper 1395, pp. 57-64 (UTM zones). https://doi.org/10.3133/pp1395
.. [2] rasterio, "Georeferencing" (affine transform convention).
   https://rasterio.readthedocs.io/en/stable/topics/georeferencing.html
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TILE = 256
"""Side of a tile. [cells]"""

Affine = tuple[float, float, float, float, float, float]
"""The six coefficients ``(a, b, c, d, e, f)`` of ``x = a·col + b·row + c``,
``y = d·col + e·row + f`` (rasterio / affine order)."""


@dataclass(frozen=True)
class Grid:
    """A north-up grid of square cells in a projected metre CRS.

    Row 0 is at the top (north) and column 0 at the left (west), as in GeoTIFF;
    cell ``(row, col)`` spans ``x0 + col·cell ≤ x < x0 + (col + 1)·cell`` and
    ``top - (row + 1)·cell < y ≤ top - row·cell`` with ``top = y0 + ny·cell``.

    Parameters
    ----------
    crs : str
        CRS of the coordinates, e.g. ``EPSG:32637``; must be in metres.
    x0, y0 : float
        Lower-left (south-west) corner of the grid. [m]
    cell : float
        Side of a cell. [m]
    nx, ny : int
        Number of columns and rows. [cells]
    """

    crs: str
    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not self.cell > 0:
            raise ValueError(f"cell must be positive, got {self.cell!r}")
        if self.nx < 1 or self.ny < 1:
            raise ValueError(f"nx and ny must be at least 1, got {self.nx!r}, {self.ny!r}")

    @property
    def top(self) -> float:
        """Northing of the top edge of row 0. [m]"""
        return self.y0 + self.ny * self.cell

    @property
    def transform(self) -> Affine:
        """Affine transform from ``(col, row)`` to ``(x, y)`` of cell corners.

        Same order as rasterio's ``Affine``: ``(cell, 0, x0, 0, -cell, top)``.
        """
        return (self.cell, 0.0, self.x0, 0.0, -self.cell, self.top)

    @property
    def n_tiles(self) -> tuple[int, int]:
        """Number of tile rows and tile columns. [tiles]"""
        return -(-self.ny // TILE), -(-self.nx // TILE)

    def cell_of(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return the ``(row, col)`` of the cells holding points ``(x, y)``.

        Indices are not clipped: a point outside the grid gets a row or column
        outside ``[0, ny)`` / ``[0, nx)`` (negative or too large).

        Parameters
        ----------
        x, y : array_like of float
            Easting and northing in :attr:`crs`. [m]

        Returns
        -------
        row, col : ndarray of int64
            Cell indices, broadcast to the shape of ``x`` and ``y``.
        """
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        col = np.floor((xa - self.x0) / self.cell).astype(np.int64)
        row = np.floor((self.top - ya) / self.cell).astype(np.int64)
        row, col = np.broadcast_arrays(row, col)
        return row, col

    def centres(
        self, rows: npt.ArrayLike, cols: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Return the ``(x, y)`` of the centres of cells ``(rows, cols)``.

        Parameters
        ----------
        rows, cols : array_like of int
            Cell indices (outside the grid allowed). [cells]

        Returns
        -------
        x, y : ndarray of float64
            Easting and northing of the centres. [m]
        """
        r = np.asarray(rows, dtype=np.float64)
        c = np.asarray(cols, dtype=np.float64)
        x = self.x0 + (c + 0.5) * self.cell
        y = self.top - (r + 0.5) * self.cell
        x, y = np.broadcast_arrays(x, y)
        return x, y

    @classmethod
    def covering(
        cls, xmin: float, ymin: float, xmax: float, ymax: float, cell: float, crs: str
    ) -> Grid:
        """Return the smallest grid snapped to multiples of ``cell`` holding a box.

        The left edge is ``⌊xmin / cell⌋·cell`` and the top edge ``⌈ymax / cell⌉·cell``,
        so grids of the same cell size built over different boxes share cell edges;
        every point of the box, edges included, falls in a cell of the grid under the
        half-open convention of :meth:`cell_of` (a box edge on the bottom edge of a
        row adds one more row below).

        Parameters
        ----------
        xmin, ymin, xmax, ymax : float
            The box. [m]
        cell : float
            Side of a cell. [m]
        crs : str
            CRS of the box.
        """
        if not (xmax >= xmin and ymax >= ymin):
            raise ValueError(f"empty box: ({xmin}, {ymin}, {xmax}, {ymax})")
        if not cell > 0:
            raise ValueError(f"cell must be positive, got {cell!r}")
        x0 = math.floor(xmin / cell) * cell
        top = math.ceil(ymax / cell) * cell
        nx = math.floor((xmax - x0) / cell) + 1
        ny = math.floor((top - ymin) / cell) + 1
        return cls(crs=crs, x0=x0, y0=top - ny * cell, cell=cell, nx=nx, ny=ny)

    def tile_of(
        self, row: npt.ArrayLike, col: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return the ``(tile_row, tile_col)`` of cells ``(row, col)``.

        Parameters
        ----------
        row, col : array_like of int
            Cell indices. [cells]
        """
        r = np.asarray(row, dtype=np.int64)
        c = np.asarray(col, dtype=np.int64)
        return r // TILE, c // TILE

    def tile_window(self, tile_row: int, tile_col: int) -> tuple[int, int, int, int]:
        """Return the cells of a tile as ``(row0, col0, nrows, ncols)``.

        The last tile row and column are clipped to the grid.

        Raises
        ------
        ValueError
            The tile is outside the grid.
        """
        n_rows, n_cols = self.n_tiles
        if not (0 <= tile_row < n_rows and 0 <= tile_col < n_cols):
            raise ValueError(
                f"tile ({tile_row}, {tile_col}) outside the grid's {n_rows} × {n_cols} tiles"
            )
        row0, col0 = tile_row * TILE, tile_col * TILE
        return row0, col0, min(TILE, self.ny - row0), min(TILE, self.nx - col0)


def choose_crs(lon: npt.ArrayLike, lat: npt.ArrayLike) -> str:
    """Return the WGS 84 / UTM zone CRS of the median point, as ``EPSG:326zz``/``327zz``.

    The zone is ``⌊(lon + 180) / 6⌋ + 1`` of the median longitude, north (326zz) when
    the median latitude is ≥ 0, else south (327zz) [1]_. The Norway and Svalbard zone
    exceptions are not applied (a standard zone is still a valid metre CRS there).

    Parameters
    ----------
    lon, lat : array_like of float
        Longitudes and latitudes of the points (WGS 84). [°]

    Raises
    ------
    ValueError
        No points, or a median outside ``[-180, 180]`` × ``[-80, 84]`` (UTM's range).
    """
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    if lon_a.size == 0 or lat_a.size == 0:
        raise ValueError("choose_crs needs at least one point")
    mlon, mlat = float(np.median(lon_a)), float(np.median(lat_a))
    if not (-180.0 <= mlon <= 180.0 and -80.0 <= mlat <= 84.0):
        raise ValueError(f"median point ({mlon}, {mlat}) is outside UTM's range")
    zone = min(math.floor((mlon + 180.0) / 6.0) + 1, 60)
    return f"EPSG:{(32600 if mlat >= 0 else 32700) + zone}"
