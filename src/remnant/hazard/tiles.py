"""The study grid, each strike's window on it, and which tiles each thing touches.

A strike's window is the square of cells meeting ``±n_sigma·σ_max`` around its
point (docs/model.md §1). The grid covers every window, snapped to multiples of the
cell size (:meth:`Grid.covering`), so no strike loses mass off its edge. Tiles
(:data:`~remnant.hazard.grid.TILE` cells square) are the unit of work: for each tile
the strikes whose windows meet it, the polygons whose bounds meet it and the points
inside it are listed in CSR form (``offsets``, ``index``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.grid import TILE, Grid

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Csr:
    """Lists of item indices per tile: items of tile ``t`` are ``index[offsets[t]:offsets[t+1]]``.

    Parameters
    ----------
    offsets : ndarray of int64, shape (tiles + 1,)
    index : ndarray of int64
        Item indices, ascending within each tile.
    """

    offsets: IntArray
    index: IntArray

    def of(self, tile: int) -> IntArray:
        """Return the items of ``tile``."""
        return self.index[self.offsets[tile] : self.offsets[tile + 1]]

    @property
    def counts(self) -> IntArray:
        """Number of items per tile."""
        return np.diff(self.offsets)

    def appended(self, later: Csr) -> Csr:
        """These lists with ``later``'s (over the same tiles) after each tile's own.

        ``later``'s items, all numbered after these, keep every list ascending: the
        lists of points extended with new points, as :func:`tiles_of_points` would
        make them from all the points, in one copy of the index instead of a sort.
        """
        at = np.repeat(self.offsets[1:], later.counts)
        return Csr(self.offsets + later.offsets, np.insert(self.index, at, later.index))


def windows(x: FloatArray, y: FloatArray, half: FloatArray, grid: Grid) -> IntArray:
    """Return each window's cells ``(row0, col0, nrows, ncols)``, shape (n, 4).

    The window of point ``(x, y)`` holds every cell meeting the square of half-side
    ``half`` around it (the same rule as :func:`remnant.hazard.footprint._window`).

    Parameters
    ----------
    x, y : ndarray
        Centres in the grid's CRS. [m]
    half : ndarray
        Half-side of each square. [m]
    grid : Grid
    """
    (r_top, c_left) = grid.cell_of(x - half, y + half)
    (r_bottom, c_right) = grid.cell_of(x + half, y - half)
    return np.stack([r_top, c_left, r_bottom - r_top + 1, c_right - c_left + 1], axis=1)


def study_grid(boxes: FloatArray, cell: float, crs: str) -> Grid:
    """Return the grid covering every box ``(xmin, ymin, xmax, ymax)`` (shape (n, 4)).

    Raises
    ------
    ValueError
        No box: nothing to study.
    """
    if len(boxes) == 0:
        raise ValueError("nothing to estimate: no strike and no evidence")
    lo = boxes[:, :2].min(axis=0)
    hi = boxes[:, 2:].max(axis=0)
    return Grid.covering(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), cell, crs)


def tiles_of_windows(win: IntArray, grid: Grid, key: IntArray | None = None) -> Csr:
    """Return, per tile, the windows (rows of ``win``) that meet it.

    Parameters
    ----------
    win : ndarray of int64, shape (n, 4)
        ``(row0, col0, nrows, ncols)`` of each window; may reach outside the grid.
    grid : Grid
    key : ndarray of int64, shape (n,), optional
        Order of the windows within a tile (ties by index), e.g. the strikes' days;
        default their index.
    """
    n_rows, n_cols = grid.n_tiles
    return _tile_ranges(*_window_tiles(win, grid), n_rows, n_cols, key)


def _window_tiles(
    win: IntArray, grid: Grid
) -> tuple[IntArray, IntArray, IntArray, IntArray, BoolArray]:
    """Each window's tile rows ``r0…r1`` and columns ``c0…c1``, and whether it meets the grid.

    The tiles its cells lie in once clipped to the grid: the one rule of
    :func:`tiles_of_windows` and :func:`windows_meeting`.
    """
    r0 = np.clip(win[:, 0], 0, grid.ny - 1) // TILE
    r1 = np.clip(win[:, 0] + win[:, 2] - 1, 0, grid.ny - 1) // TILE
    c0 = np.clip(win[:, 1], 0, grid.nx - 1) // TILE
    c1 = np.clip(win[:, 1] + win[:, 3] - 1, 0, grid.nx - 1) // TILE
    inside = (win[:, 0] + win[:, 2] > 0) & (win[:, 0] < grid.ny)
    inside &= (win[:, 1] + win[:, 3] > 0) & (win[:, 1] < grid.nx)
    return r0, r1, c0, c1, inside


def tiles_of_boxes(bounds: FloatArray, grid: Grid) -> Csr:
    """Return, per tile, the boxes ``(xmin, ymin, xmax, ymax)`` (shape (n, 4)) meeting it.

    A box with NaN bounds (an empty geometry) meets no tile.
    """
    n_rows, n_cols = grid.n_tiles
    finite = np.all(np.isfinite(bounds), axis=1)
    b = np.where(finite[:, np.newaxis], bounds, 0.0)
    (r_top, c_left) = grid.cell_of(b[:, 0], b[:, 3])
    (r_bottom, c_right) = grid.cell_of(b[:, 2], b[:, 1])
    inside = finite & (r_bottom >= 0) & (r_top < grid.ny) & (c_right >= 0) & (c_left < grid.nx)
    r0 = np.clip(r_top, 0, grid.ny - 1) // TILE
    r1 = np.clip(r_bottom, 0, grid.ny - 1) // TILE
    c0 = np.clip(c_left, 0, grid.nx - 1) // TILE
    c1 = np.clip(c_right, 0, grid.nx - 1) // TILE
    return _tile_ranges(r0, r1, c0, c1, inside, n_rows, n_cols)


def tiles_of_points(row: IntArray, col: IntArray, grid: Grid) -> Csr:
    """Return, per tile, the points (cells ``row, col``) inside it; outside points are dropped."""
    n_rows, n_cols = grid.n_tiles
    inside = (row >= 0) & (row < grid.ny) & (col >= 0) & (col < grid.nx)
    tile = (row // TILE) * n_cols + col // TILE
    idx = np.flatnonzero(inside)
    order = idx[np.argsort(tile[idx], kind="stable")]
    counts = np.bincount(tile[order], minlength=n_rows * n_cols)
    return Csr(csr_offsets(counts), order.astype(np.int64))


def _tile_ranges(
    r0: IntArray,
    r1: IntArray,
    c0: IntArray,
    c1: IntArray,
    inside: npt.NDArray[np.bool_],
    n_rows: int,
    n_cols: int,
    key: IntArray | None = None,
) -> Csr:
    """CSR of items covering the tile rectangles ``[r0, r1] × [c0, c1]`` (inclusive)."""
    items = np.flatnonzero(inside)
    nr, nc = (r1 - r0 + 1)[items], (c1 - c0 + 1)[items]
    per = nr * nc
    owner = np.repeat(items, per)
    local = np.arange(int(per.sum()), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
    tile = (np.repeat(r0[items], per) + local // np.repeat(nc, per)) * n_cols + (
        np.repeat(c0[items], per) + local % np.repeat(nc, per)
    )
    order = np.lexsort((owner, tile) if key is None else (owner, key[owner], tile))
    counts = np.bincount(tile[order], minlength=n_rows * n_cols)
    return Csr(csr_offsets(counts), owner[order].astype(np.int64))


def csr_offsets(counts: npt.ArrayLike) -> IntArray:
    """CSR offsets ``[0, c0, c0 + c1, …]`` of per-row counts. [-]"""
    n = np.asarray(counts, dtype=np.int64)
    out = np.zeros(n.size + 1, dtype=np.int64)
    np.cumsum(n, out=out[1:])
    return out


def coarse_corner_tiles(cr: IntArray, cc: IntArray, factor: int, grid: Grid) -> IntArray:
    """Row-major tile under each corner of the coarse cells ``(cr, cc)``, shape ``(4, n)``.

    A coarse cell of ``factor × factor`` fine cells covers fine rows ``cr·f … (cr+1)·f − 1``
    (and so for columns), which may straddle two tile rows and two tile columns.
    """
    n_rows, n_cols = grid.n_tiles
    return np.stack([
        np.minimum((cr * factor + dr) // TILE, n_rows - 1) * n_cols
        + np.minimum((cc * factor + dc) // TILE, n_cols - 1)
        for dr in (0, factor - 1)
        for dc in (0, factor - 1)
    ])  # fmt: skip


def coarse_cells_meeting(
    tiles: IntArray, factor: int, tile_cols: int, shape: tuple[int, int]
) -> IntArray:
    """Row-major indices of the coarse cells (of ``shape``) that meet ``tiles``, ascending.

    The cells :func:`coarse_corner_tiles` puts in a tile at one of their corners, found
    from each tile's block of coarse rows and columns instead of from every cell of
    the coarse grid (a country's grid has 1.3 M of them, a day's records 60 tiles).
    ``tile_cols`` is the grid's tiles across (``Grid.n_tiles[1]``).
    """
    tr, tc = np.divmod(np.asarray(tiles, dtype=np.int64), tile_cols)
    r0 = tr * TILE // factor
    r1 = np.minimum(((tr + 1) * TILE - 1) // factor, shape[0] - 1)
    c0 = tc * TILE // factor
    c1 = np.minimum(((tc + 1) * TILE - 1) // factor, shape[1] - 1)
    rows, cols = np.maximum(r1 - r0 + 1, 0), np.maximum(c1 - c0 + 1, 0)
    k = run_rows(0, rows * cols)  # each cell's place in its tile's block
    per = np.repeat(cols, rows * cols)  # ≥ 1 wherever a block has cells
    cr = np.repeat(r0, rows * cols) + k // per
    cc = np.repeat(c0, rows * cols) + k % per
    return np.unique(cr * shape[1] + cc)


def run_rows(starts: npt.ArrayLike, counts: npt.ArrayLike) -> IntArray:
    """The rows of runs ``starts[i], …, starts[i] + counts[i] − 1``, one run after another.

    A ragged table's rows for some of its groups (``starts`` their offsets), or, with
    ``starts`` 0, each row's position within its group.
    """
    n = np.asarray(counts, dtype=np.int64)
    first = np.cumsum(n) - n
    local = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(first, n)
    return np.repeat(np.broadcast_to(np.asarray(starts, dtype=np.int64), n.shape), n) + local


def unique_rows(*columns: npt.NDArray[np.generic]) -> tuple[IntArray, IntArray]:
    """The distinct rows of ``columns``: the first index of each, and each row's number.

    Rows are numbered in lexicographic order, as ``numpy.unique(numpy.column_stack(
    columns), axis=0, return_index=True, return_inverse=True)`` numbers them, but by
    one stable ``lexsort`` of the columns instead of a sort of the rows as records:
    twice as fast on a million rows.
    """
    n = len(columns[0])
    order = np.lexsort(columns[::-1])  # lexsort's last key sorts first
    new = np.zeros(n, dtype=bool)
    new[:1] = True
    for column in columns:
        ordered = column[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    number = np.empty(n, dtype=np.int64)
    number[order] = np.cumsum(new) - 1
    return order[new].astype(np.int64), number


def coarse_cells_around(
    tiles: IntArray, factor: int, grid: Grid, shape: tuple[int, int]
) -> tuple[IntArray, IntArray]:
    """The coarse cells meeting ``tiles`` and the tile under each of their corners.

    :func:`coarse_cells_meeting` and :func:`coarse_corner_tiles` of those cells (shape
    ``(4, n)``): a coarse cell's sums are complete only where all four are visited.
    """
    flat = coarse_cells_meeting(tiles, factor, grid.n_tiles[1], shape)
    cr, cc = np.divmod(flat, shape[1])
    return flat, coarse_corner_tiles(cr, cc, factor, grid)


def windows_meeting(win: IntArray, tiles: IntArray, boxes: IntArray, grid: Grid) -> BoolArray:
    """Which windows ``(row0, col0, nrows, ncols)`` meet one of ``tiles`` and one of ``boxes``.

    ``boxes`` are cell rectangles ``[row0, row1) × [col0, col1)``, shape ``(k, 4)``.
    A window meets the tiles its cells clipped to the grid lie in (as
    :func:`tiles_of_windows` lists them), and a box where both ranges overlap.
    """
    marked = np.zeros(grid.n_tiles[0] * grid.n_tiles[1], dtype=bool)
    marked[tiles] = True
    win = np.asarray(win, dtype=np.int64).reshape(-1, 4)
    return np.asarray(
        _windows_meeting(win, _window_tiles(win, grid), marked, grid.n_tiles[1],
                         np.asarray(boxes, dtype=np.int64).reshape(-1, 4)),
        dtype=bool,
    )  # fmt: skip


@numba.njit(cache=True)
def _windows_meeting(
    win: IntArray,
    spans: tuple[IntArray, IntArray, IntArray, IntArray, BoolArray],
    tiles: npt.NDArray[np.bool_],
    tile_cols: int,
    boxes: IntArray,
) -> npt.NDArray[np.bool_]:
    """:func:`windows_meeting` over the ``tiles`` marked, in one pass (numba).

    ``spans`` are the windows' tiles (:func:`_window_tiles`).
    """
    t_r0, t_r1, t_c0, t_c1, inside = spans
    out = np.zeros(len(win), dtype=np.bool_)
    for s in range(len(win)):
        if not inside[s]:
            continue
        r0, c0 = win[s, 0], win[s, 1]
        r1, c1 = r0 + win[s, 2], c0 + win[s, 3]
        near = False
        for tr in range(t_r0[s], t_r1[s] + 1):
            for tc in range(t_c0[s], t_c1[s] + 1):
                near = near or tiles[tr * tile_cols + tc]
        if not near:
            continue
        for b in range(len(boxes)):
            if r0 < boxes[b, 1] and boxes[b, 0] < r1 and c0 < boxes[b, 3] and boxes[b, 2] < c1:
                out[s] = True
                break
    return out
