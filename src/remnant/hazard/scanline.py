"""Grid cells whose centres lie inside polygons, by scanline (even-odd rule).

A fast replacement for testing every candidate centre with ``shapely.contains_xy``
(:mod:`remnant.hazard.search`): for each row of a window, the horizontal line through
the row's cell centres, ``y_r = top - (row + 0.5)·cell``, is intersected with the edges
of all rings of a geometry, the crossings are sorted, and the cells whose centre
``x_c = x0 + (col + 0.5)·cell`` lies strictly between crossings ``2k`` and ``2k + 1``
are inside (even-odd rule over all rings, so holes and the parts of a MultiPolygon
need no special case) [1]_ [2]_. Edges are bucketed by the rows they cross, so one
geometry costs O(edges + crossings + cells), not O(cells × edges) [3]_.

Edge crossings follow the half-open rule of PNPOLY [2]_: edge ``(x1, y1)-(x2, y2)``
crosses row line ``y`` when ``(y1 > y) != (y2 > y)``, so a vertex exactly on the line
is counted once and a horizontal edge never. For a valid (OGC) polygon or
MultiPolygon the even-odd interior is the polygon's interior, and the cells match
``shapely.contains_xy`` at every centre farther than about 1e-9 m from the boundary
(the crossing abscissa is rounded to a few ulps of the coordinates, ~1e-9 m at UTM
northings). Centres on the boundary are ambiguous (``shapely.contains_xy`` puts them
all out); the rule used here is that of the half-open scanline: a centre exactly at a
crossing is out (the test ``x_a < x_c < x_b`` is strict), and any other centre on the
boundary — on a horizontal edge, or at a vertex whose two edges both run south — takes
the side of the point just north of it: it is in when the interior lies north.

The module has three layers: :func:`polygon_rings` flattens shapely geometries into
coordinate arrays (:class:`Rings`); :func:`fill_cells` is the numba kernel for one
geometry and one window; :func:`cells_inside` runs it over many geometries.

References
----------
.. [1] Foley, J. D., van Dam, A., Feiner, S. K. and Hughes, J. F. (1990) *Computer
   Graphics: Principles and Practice*, 2nd ed., Addison-Wesley, §3.6 "Filling
   polygons" (scan-line algorithm, odd-parity rule).
   https://archive.org/details/computergraphics00fole
.. [2] Franklin, W. R. (2006) *PNPOLY — Point Inclusion in Polygon Test* (the
   half-open crossing test ``(yi > y) != (yj > y)``; multiple components and holes
   by even-odd). https://wrfranklin.org/Research/Short_Notes/pnpoly.html
.. [3] Haines, E. (1994) "Point in polygon strategies", *Graphics Gems IV*,
   pp. 24-46 (crossings test, edge bucketing). https://erich.realtimerendering.com/ptinpoly/
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import shapely

from remnant.hazard.grid import Grid
from remnant.hazard.tiles import csr_offsets

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Window = tuple[int, int, int, int]
"""``(row0, col0, nrows, ncols)``: top-left cell and size of a window. [cells]"""

_POLYGONAL = [int(shapely.GeometryType.POLYGON), int(shapely.GeometryType.MULTIPOLYGON)]
_SMALL_SORT = 16
"""Crossings on a row up to which insertion sort is used instead of quicksort. [-]"""


@dataclass(frozen=True)
class Rings:
    """The rings of polygonal geometries as flat coordinate arrays.

    Ring ``j`` has vertices ``x[ring_offsets[j]:ring_offsets[j + 1]]`` (and ``y``),
    closed as shapely gives them (last vertex = first); geometry ``i`` owns rings
    ``geom_offsets[i]`` to ``geom_offsets[i + 1] - 1``: for each of its polygons the
    exterior, then the holes. Missing and empty geometries own no rings.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n_vertices,)
        Vertex coordinates in the grid CRS, all rings concatenated. [m]
    ring_offsets : ndarray of int64, shape (n_rings + 1,)
        Start of each ring in ``x`` and ``y``. [-]
    geom_offsets : ndarray of int64, shape (n + 1,)
        Start of each geometry's rings in ``ring_offsets``. [-]
    bounds : ndarray of float64, shape (n, 4)
        ``(xmin, ymin, xmax, ymax)`` of each geometry; NaN when missing or empty. [m]
    """

    x: FloatArray
    y: FloatArray
    ring_offsets: IntArray
    geom_offsets: IntArray
    bounds: FloatArray

    def concat(self, other: Rings) -> Rings:
        """These geometries followed by ``other``'s."""
        return Rings(
            x=np.concatenate([self.x, other.x]),
            y=np.concatenate([self.y, other.y]),
            ring_offsets=np.concatenate(
                [self.ring_offsets, other.ring_offsets[1:] + self.ring_offsets[-1]]
            ),
            geom_offsets=np.concatenate(
                [self.geom_offsets, other.geom_offsets[1:] + self.geom_offsets[-1]]
            ),
            bounds=np.concatenate([self.bounds, other.bounds]),
        )

    def __len__(self) -> int:
        return len(self.geom_offsets) - 1


def polygon_rings(geometries: npt.ArrayLike) -> Rings:
    """Return the rings of polygons and multipolygons as flat arrays.

    Vectorised with shapely 2 (``get_parts``, ``get_rings``, ``get_coordinates``);
    no Python loop over the geometries. Z coordinates are dropped.

    Parameters
    ----------
    geometries : array_like of shapely.Polygon, shapely.MultiPolygon or None
        The geometries, in the grid's projected CRS; ``None`` and empty geometries
        give no rings. [m]

    Returns
    -------
    Rings
        Coordinates and offsets, in the order of ``geometries``.

    Raises
    ------
    ValueError
        A geometry is neither a Polygon nor a MultiPolygon.
    """
    geoms = np.asarray(geometries, dtype=object).ravel()
    type_id = shapely.get_type_id(geoms)
    bad = np.flatnonzero((type_id >= 0) & ~np.isin(type_id, _POLYGONAL))
    if bad.size:
        raise ValueError(f"geometries {bad[:10].tolist()} are not Polygon or MultiPolygon")
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    ring_offsets = csr_offsets(np.bincount(vertex_ring, minlength=len(rings)))
    geom_offsets = csr_offsets(np.bincount(part_owner[ring_part], minlength=len(geoms)))
    return Rings(
        x=np.ascontiguousarray(xy[:, 0], dtype=np.float64),
        y=np.ascontiguousarray(xy[:, 1], dtype=np.float64),
        ring_offsets=ring_offsets,
        geom_offsets=geom_offsets,
        bounds=shapely.bounds(geoms).astype(np.float64).reshape(len(geoms), 4),
    )


# --- numba kernel -------------------------------------------------------------------


@numba.njit(cache=True)
def _span(v: float, lo: int, hi: int) -> int:
    """``floor(v)`` clipped to ``[lo, hi]``, safe for NaN and huge ``v``. [-]"""
    if not v > lo:
        return lo
    if v >= hi:
        return hi
    return math.floor(v)


@numba.njit(cache=True)
def _crosses(y1: float, y2: float, r: int, top: float, cell: float) -> bool:
    """Whether edge ``y1-y2`` crosses the centre line of row ``r`` (half-open). [-]"""
    yr = top - (r + 0.5) * cell
    return (y1 > yr) != (y2 > yr)


@numba.njit(cache=True)
def _edge_rows(
    y1: float, y2: float, top: float, cell: float, r_lo: int, r_hi: int
) -> tuple[int, int]:
    """Rows ``[a, b)`` within ``[r_lo, r_hi)`` whose centre line the edge crosses.

    A conservative range from the division, trimmed with the exact test of
    :func:`_crosses` (the rows crossed are contiguous).
    """
    ylo, yhi = min(y1, y2), max(y1, y2)
    a = _span((top - yhi) / cell - 0.5, r_lo, r_hi)
    b = _span((top - ylo) / cell - 0.5 + 2.0, r_lo, r_hi)
    while a < b and not _crosses(y1, y2, a, top, cell):
        a += 1
    while b > a and not _crosses(y1, y2, b - 1, top, cell):
        b -= 1
    return a, b


@numba.njit(cache=True)
def _row_range(
    y: FloatArray, v_lo: int, v_hi: int, top: float, cell: float, row0: int, nrows: int
) -> tuple[int, int]:
    """Rows ``[r_lo, r_hi)`` of the window that vertices ``v_lo:v_hi`` may cross."""
    ymin, ymax = np.inf, -np.inf
    for k in range(v_lo, v_hi):
        ymin = min(ymin, y[k])
        ymax = max(ymax, y[k])
    if not ymax >= ymin:  # no vertices, or NaN
        return row0, row0
    r_lo = _span((top - ymax) / cell - 0.5, row0, row0 + nrows)
    r_hi = _span((top - ymin) / cell - 0.5 + 2.0, row0, row0 + nrows)
    return r_lo, r_hi


@numba.njit(cache=True)
def _crossings(
    x: FloatArray,
    y: FloatArray,
    ring_offsets: IntArray,
    ring_lo: int,
    ring_hi: int,
    top: float,
    cell: float,
    r_lo: int,
    r_hi: int,
) -> tuple[IntArray, FloatArray]:
    """Sorted x of the crossings of each row ``r_lo ≤ r < r_hi``, in CSR form.

    Row ``r``'s crossings are ``xs[starts[r - r_lo]:starts[r - r_lo + 1]]``: a first
    scan of the edges counts them per row, a second one stores them.
    """
    starts = np.zeros(r_hi - r_lo + 1, dtype=np.int64)
    rings = (x, y, ring_offsets, ring_lo, ring_hi)
    _scan_edges(*rings, top, cell, r_lo, r_hi, starts[1:], np.empty(0), False)
    starts = np.cumsum(starts)
    xs = np.empty(starts[-1], dtype=np.float64)
    _scan_edges(*rings, top, cell, r_lo, r_hi, starts[:-1].copy(), xs, True)
    _sort_rows(starts, xs)
    return starts, xs


@numba.njit(cache=True)
def _scan_edges(
    x: FloatArray,
    y: FloatArray,
    ring_offsets: IntArray,
    ring_lo: int,
    ring_hi: int,
    top: float,
    cell: float,
    r_lo: int,
    r_hi: int,
    at: IntArray,
    xs: FloatArray,
    store: bool,
) -> None:
    """For each crossing of row ``r``: ``xs[at[r - r_lo]] = x`` if ``store``, then ``+= 1``.

    Each ring is closed implicitly (edge last → first vertex), a no-op for shapely's
    closed rings. The crossing is computed from the lower end of the edge, so an edge
    shared by two rings gives the same x both times.
    """
    for j in range(ring_lo, ring_hi):
        v_lo, v_hi = ring_offsets[j], ring_offsets[j + 1]
        for k in range(v_lo, v_hi):
            i = k - 1 if k > v_lo else v_hi - 1
            if y[i] <= y[k]:
                x1, y1, x2, y2 = x[i], y[i], x[k], y[k]
            else:
                x1, y1, x2, y2 = x[k], y[k], x[i], y[i]
            a, b = _edge_rows(y1, y2, top, cell, r_lo, r_hi)
            for r in range(a, b):
                if store:
                    yr = top - (r + 0.5) * cell
                    xs[at[r - r_lo]] = x1 + (yr - y1) * (x2 - x1) / (y2 - y1)
                at[r - r_lo] += 1


@numba.njit(cache=True)
def _sort_rows(starts: IntArray, xs: FloatArray) -> None:
    """Sort each row's segment of ``xs`` in place (insertion sort when short)."""
    for r in range(len(starts) - 1):
        s, e = starts[r], starts[r + 1]
        if e - s > _SMALL_SORT:
            xs[s:e].sort()
            continue
        for k in range(s + 1, e):
            v = xs[k]
            m = k - 1
            while m >= s and xs[m] > v:
                xs[m + 1] = xs[m]
                m -= 1
            xs[m + 1] = v


@numba.njit(cache=True)
def _first_col_after(xa: float, x0: float, cell: float, lo: int, hi: int) -> int:
    """Smallest column in ``[lo, hi]`` whose centre is ``> xa`` (``hi`` if none)."""
    c = _span((xa - x0) / cell - 0.5 + 1.0, lo, hi)
    while c > lo and x0 + (c - 1 + 0.5) * cell > xa:
        c -= 1
    while c < hi and not x0 + (c + 0.5) * cell > xa:
        c += 1
    return c


@numba.njit(cache=True)
def _first_col_from(xb: float, x0: float, cell: float, lo: int, hi: int) -> int:
    """Smallest column in ``[lo, hi]`` whose centre is ``≥ xb`` (``hi`` if none)."""
    c = _span((xb - x0) / cell - 0.5, lo, hi)
    while c > lo and x0 + (c - 1 + 0.5) * cell >= xb:
        c -= 1
    while c < hi and x0 + (c + 0.5) * cell < xb:
        c += 1
    return c


@numba.njit(cache=True)
def _emit(
    starts: IntArray,
    xs: FloatArray,
    r_lo: int,
    x0: float,
    cell: float,
    row0: int,
    col0: int,
    ncols: int,
    out: IntArray,
) -> int:
    """Write the cells between crossing pairs to ``out``; return how many there are."""
    n, cap = 0, len(out)
    for k in range(len(starts) - 1):
        base = (r_lo + k - row0) * ncols - col0
        for p in range(starts[k], starts[k + 1] - 1, 2):
            c_a = _first_col_after(xs[p], x0, cell, col0, col0 + ncols)
            c_b = _first_col_from(xs[p + 1], x0, cell, c_a, col0 + ncols)
            for c in range(c_a, min(c_b, c_a + max(cap - n, 0))):
                out[n + c - c_a] = base + c
            n += c_b - c_a
    return n


@numba.njit(cache=True)
def fill_cells(
    x: FloatArray,
    y: FloatArray,
    ring_offsets: IntArray,
    ring_lo: int,
    ring_hi: int,
    x0: float,
    top: float,
    cell: float,
    row0: int,
    col0: int,
    nrows: int,
    ncols: int,
    out: IntArray,
) -> int:
    """Find the cells of a window whose centres lie inside one geometry (numba).

    The geometry is rings ``ring_lo ≤ j < ring_hi`` of ``ring_offsets`` (for a
    :class:`Rings`, ``geom_offsets[i]`` and ``geom_offsets[i + 1]``), all taken
    together under the even-odd rule (module docstring). The cells are written to
    ``out`` as flat window indices ``(row - row0)·ncols + (col - col0)``, ascending;
    only the first ``len(out)`` are written, so an empty ``out`` only counts.

    An index buffer rather than a window mask: a geometry is usually much smaller than
    the window, the cost stays O(edges + crossings + cells) instead of O(window), the
    count-only call needs no memory, and a mask is one ``mask.flat[out[:n]] = True``
    away. Scratch memory is O(rows crossed + crossings).

    Parameters
    ----------
    x, y : ndarray of float64
        Vertex coordinates of all rings (:attr:`Rings.x`, :attr:`Rings.y`). [m]
    ring_offsets : ndarray of int64
        Start of each ring in ``x`` and ``y`` (:attr:`Rings.ring_offsets`). [-]
    ring_lo, ring_hi : int
        The geometry's rings, ``ring_lo ≤ j < ring_hi``. [-]
    x0 : float
        Left edge of the grid (:attr:`Grid.x0`). [m]
    top : float
        Top edge of the grid (:attr:`Grid.top`). [m]
    cell : float
        Side of a cell. [m]
    row0, col0 : int
        Top-left cell of the window, in grid indices (may lie outside the grid). [cells]
    nrows, ncols : int
        Size of the window. [cells]
    out : ndarray of int64
        Buffer for the flat window indices of the cells. [cells]

    Returns
    -------
    int
        Number of cells inside, which may exceed ``len(out)``. [cells]
    """
    v_lo, v_hi = ring_offsets[ring_lo], ring_offsets[ring_hi]
    r_lo, r_hi = _row_range(y, v_lo, v_hi, top, cell, row0, nrows)
    if r_hi <= r_lo or ncols <= 0:
        return 0
    starts, xs = _crossings(x, y, ring_offsets, ring_lo, ring_hi, top, cell, r_lo, r_hi)
    return _emit(starts, xs, r_lo, x0, cell, row0, col0, ncols, out)


@numba.njit(cache=True)
def _count_all(
    x: FloatArray,
    y: FloatArray,
    ring_offsets: IntArray,
    geom_offsets: IntArray,
    ids: IntArray,
    frame: FloatArray,
    window: IntArray,
) -> IntArray:
    """Number of window cells inside each geometry ``ids[k]``. [cells]"""
    x0, top, cell = frame[0], frame[1], frame[2]
    row0, col0, nrows, ncols = window[0], window[1], window[2], window[3]
    none = np.empty(0, dtype=np.int64)
    counts = np.empty(len(ids), dtype=np.int64)
    for k in range(len(ids)):
        lo, hi = geom_offsets[ids[k]], geom_offsets[ids[k] + 1]
        counts[k] = fill_cells(
            x, y, ring_offsets, lo, hi, x0, top, cell, row0, col0, nrows, ncols, none
        )
    return counts


@numba.njit(cache=True)
def _fill_all(
    x: FloatArray,
    y: FloatArray,
    ring_offsets: IntArray,
    geom_offsets: IntArray,
    ids: IntArray,
    frame: FloatArray,
    window: IntArray,
    nx: int,
    offsets: IntArray,
    cells: IntArray,
) -> None:
    """Fill ``cells[offsets[k]:offsets[k + 1]]`` with grid flat indices of ``ids[k]``."""
    x0, top, cell = frame[0], frame[1], frame[2]
    row0, col0, nrows, ncols = window[0], window[1], window[2], window[3]
    for k in range(len(ids)):
        lo, hi = geom_offsets[ids[k]], geom_offsets[ids[k] + 1]
        seg = cells[offsets[k] : offsets[k + 1]]
        fill_cells(x, y, ring_offsets, lo, hi, x0, top, cell, row0, col0, nrows, ncols, seg)
        for m in range(len(seg)):
            seg[m] = (row0 + seg[m] // ncols) * nx + col0 + seg[m] % ncols


# --- Python driver ------------------------------------------------------------------


def _clip_window(grid: Grid, window: Window | None) -> Window:
    """The window cut to the grid; ``nrows`` or ``ncols`` 0 when they do not meet."""
    if window is None:
        return 0, 0, grid.ny, grid.nx
    row0, col0, nrows, ncols = (int(v) for v in window)
    if nrows < 0 or ncols < 0:
        raise ValueError(f"window size must be non-negative, got {nrows} × {ncols}")
    r0, c0 = min(max(row0, 0), grid.ny), min(max(col0, 0), grid.nx)
    r1, c1 = min(max(row0 + nrows, 0), grid.ny), min(max(col0 + ncols, 0), grid.nx)
    return r0, c0, r1 - r0, c1 - c0


def _touching(bounds: FloatArray, grid: Grid, window: Window) -> IntArray:
    """Geometries whose bounds meet the window's cells (a superset of those inside)."""
    row0, col0, nrows, ncols = window
    xmin, xmax = grid.x0 + col0 * grid.cell, grid.x0 + (col0 + ncols) * grid.cell
    ymax, ymin = grid.top - row0 * grid.cell, grid.top - (row0 + nrows) * grid.cell
    hit = (bounds[:, 0] <= xmax) & (bounds[:, 2] >= xmin)
    hit &= (bounds[:, 1] <= ymax) & (bounds[:, 3] >= ymin)
    return np.flatnonzero(hit).astype(np.int64)


def cells_inside(
    geometries: npt.ArrayLike | Rings, grid: Grid, window: Window | None = None
) -> tuple[IntArray, IntArray]:
    """Return every (geometry, cell) pair where the cell's centre is inside the geometry.

    Scanline with the even-odd rule (:func:`fill_cells`); matches
    ``shapely.contains_xy`` at every centre not within ~1e-9 m of the boundary (module
    docstring gives the rule on the boundary). Two passes in numba, count then fill,
    so memory is the output plus per-geometry scratch; no Python object per geometry.

    Parameters
    ----------
    geometries : array_like of shapely.Polygon, shapely.MultiPolygon or None, or Rings
        The geometries in the grid CRS, or their :func:`polygon_rings` (to reuse over
        many windows). [m]
    grid : Grid
        The hazard grid.
    window : tuple of int, optional
        ``(row0, col0, nrows, ncols)`` of the cells to consider (e.g. a tile from
        :meth:`Grid.tile_window`); cut to the grid. Default the whole grid. [cells]

    Returns
    -------
    geom_index : ndarray of int64
        Index of the geometry in ``geometries``, ascending. [-]
    flat_cell_index : ndarray of int64
        ``row·grid.nx + col`` of the cell; ascending within each geometry. [cells]

    Raises
    ------
    ValueError
        A geometry that is not polygonal, or a window of negative size.
    """
    rings = geometries if isinstance(geometries, Rings) else polygon_rings(geometries)
    win = _clip_window(grid, window)
    ids = _touching(rings.bounds, grid, win) if win[2] and win[3] else np.empty(0, np.int64)
    frame = np.array([grid.x0, grid.top, grid.cell], dtype=np.float64)
    win_a = np.array(win, dtype=np.int64)
    args = (rings.x, rings.y, rings.ring_offsets, rings.geom_offsets, ids, frame, win_a)
    counts = _count_all(*args)
    offsets = csr_offsets(counts)
    cells = np.empty(offsets[-1], dtype=np.int64)
    _fill_all(*args, grid.nx, offsets, cells)
    return np.repeat(ids, counts), cells
