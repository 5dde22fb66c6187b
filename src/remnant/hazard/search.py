"""Search activities thin the items of earlier strikes (docs/model.md §2).

An activity *a* (a searched polygon) with detection probability ``p_a`` that ended on
day ``t_a`` removes each item of a strike dated before ``t_a`` lying inside its
polygon independently with probability ``p_a`` — Poisson thinning [1]_ [2]_. For a
strike *s* the survival in cell *c* is

    S_sc = Π_{a : t_a > t_s, c ∈ a} (1 − p_a),

the expected fraction of its items found is ``e_s = Σ_c w_sc (1 − S_sc)`` and the
mass still on the ground is ``w_sc · S_sc``. A cell belongs to a polygon when its
*centre* lies strictly inside it (docs/model.md §2).

The module works in three steps: :func:`detection_probabilities` fills in ``p_a``;
:func:`rasterise_activities` turns the polygons into CSR lists of cells with a
bounding-box index (:class:`ActivityCells`); :func:`survival_window` evaluates
``S_sc`` on a strike's window, in log space (:func:`log_keep`).

References
----------
.. [1] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley — Poisson processes,
   thinning. https://doi.org/10.1002/9781119115151
.. [2] Remnant reference notes, ``statistics.md``, "Conjugacy that makes large models
   cheap": items missed by a search of detection probability p are Poisson with mean
   θ·(1 − p)·a, independent of the k found given θ (Poisson thinning).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from remnant.hazard.grid import Grid
from remnant.records.defaults import DETECTION_PROBABILITY, DETECTION_PROBABILITY_BY_TYPE

LOG_KEEP_MIN = -50.0
"""Floor of ``log(1 − p)``, used for ``p = 1``. [-]

A complete search (``p = 1``) would give ``log 0 = −∞``; the floor keeps sums over
many activities finite while ``exp(−50) ≈ 2e-22`` is zero for any count of items a
strike can leave (at most ~1e5)."""

CANDIDATE_BATCH = 4_000_000
"""Cell centres tested against polygons per call of ``shapely.contains_xy``; bounds
the memory of :func:`rasterise_activities` (about 100 MB per batch). [cells]"""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _lookup(values: Sequence[Any], table: dict[str, float], field: str) -> FloatArray:
    """Map each value through ``table``; NaN where missing, ``ValueError`` if unknown."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if _is_missing(value):
            continue
        if value not in table:
            raise ValueError(f"unknown {field} {value!r}; valid: {sorted(table)}")
        out[i] = table[value]
    return out


def detection_probabilities(
    types: npt.ArrayLike, methods: npt.ArrayLike, given: npt.ArrayLike
) -> FloatArray:
    """Return each activity's per-item detection probability.

    The record's ``detection_probability`` when given, else the default of its
    ``method`` (:data:`~remnant.records.defaults.DETECTION_PROBABILITY`), else the
    default of its ``type`` (:data:`~remnant.records.defaults.DETECTION_PROBABILITY_BY_TYPE`).

    Parameters
    ----------
    types, methods : array_like of str or None
        Activity type and search method; ``None`` or NaN when missing.
    given : array_like of float or None
        The record's detection probability; ``None`` or NaN when missing. [-]

    Returns
    -------
    ndarray of float64
        Detection probability of each activity, in ``[0, 1]``. [-]

    Raises
    ------
    ValueError
        Arrays of different lengths, an unknown method or type, a given value
        outside ``[0, 1]``, or an activity with neither value, method nor type.
    """
    t = np.asarray(types, dtype=object).ravel()
    m = np.asarray(methods, dtype=object).ravel()
    p = np.asarray(given, dtype=np.float64).ravel()
    if not (t.size == m.size == p.size):
        raise ValueError(f"lengths differ: {t.size} types, {m.size} methods, {p.size} given")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("detection_probability must lie in [0, 1]")
    p = np.where(np.isnan(p), _lookup(list(m), DETECTION_PROBABILITY, "method"), p)
    p = np.where(np.isnan(p), _lookup(list(t), DETECTION_PROBABILITY_BY_TYPE, "type"), p)
    if np.any(np.isnan(p)):
        raise ValueError(f"no detection probability for activities {np.flatnonzero(np.isnan(p))}")
    return p


def log_keep(p: npt.ArrayLike) -> FloatArray:
    """Return ``log(1 − p)``, floored at :data:`LOG_KEEP_MIN` (so ``p = 1`` is finite).

    Parameters
    ----------
    p : array_like of float
        Per-item detection probabilities, in ``[0, 1]``. [-]

    Returns
    -------
    ndarray of float64
        Log of the probability that an item is missed. [-]
    """
    keep = 1.0 - np.asarray(p, dtype=np.float64)
    if np.any((keep < 0) | (keep > 1) | np.isnan(keep)):
        raise ValueError("detection probabilities must lie in [0, 1]")
    out = np.full(keep.shape, LOG_KEEP_MIN)
    np.log(keep, out=out, where=keep > math.exp(LOG_KEEP_MIN))
    return out


@dataclass(frozen=True)
class ActivityCells:
    """The grid cells of each activity, in CSR form, with a bounding-box index.

    The cells of activity ``i`` are ``indices[offsets[i]:offsets[i + 1]]``, flat
    indices ``row·nx + col`` in row-major order. ``bbox`` holds
    ``(row_min, row_max, col_min, col_max)`` of those cells (inclusive); an activity
    without cells has ``row_min > row_max`` and never touches a window.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n + 1,)
        Start of each activity's cells in ``indices``. [-]
    indices : ndarray of int64
        Flat cell indices. [cells]
    bbox : ndarray of int64, shape (n, 4)
        Bounding box of each activity's cells. [cells]
    nx, ny : int
        Shape of the grid the cells index. [cells]
    """

    offsets: IntArray
    indices: IntArray
    bbox: IntArray
    nx: int
    ny: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def cells(self, i: int) -> IntArray:
        """Return the flat cell indices of activity ``i``. [cells]"""
        return self.indices[self.offsets[i] : self.offsets[i + 1]]

    def activities_touching(self, row0: int, col0: int, nrows: int, ncols: int) -> IntArray:
        """Return the activities whose cell bounding box meets a window.

        Parameters
        ----------
        row0, col0 : int
            Top-left cell of the window (may lie outside the grid). [cells]
        nrows, ncols : int
            Size of the window. [cells]

        Returns
        -------
        ndarray of int64
            Indices of the activities, ascending; a superset of those with a cell
            in the window.
        """
        b = self.bbox
        hit = (b[:, 0] < row0 + nrows) & (b[:, 1] >= row0)
        hit &= (b[:, 2] < col0 + ncols) & (b[:, 3] >= col0)
        return np.flatnonzero(hit).astype(np.int64)


def _candidate_ranges(
    polygons: npt.NDArray[np.object_], grid: Grid
) -> tuple[IntArray, IntArray, IntArray]:
    """Candidate cells of each polygon: centres within its bounds, clipped to the grid.

    Returns the first row, the first column and the stacked ``(n_rows, n_cols)``.
    """
    bounds = shapely.bounds(polygons)
    finite = np.all(np.isfinite(bounds), axis=1)
    b = np.where(finite[:, np.newaxis], bounds, 0.0)
    c_lo = np.maximum(np.ceil((b[:, 0] - grid.x0) / grid.cell - 0.5), 0)
    c_hi = np.minimum(np.floor((b[:, 2] - grid.x0) / grid.cell - 0.5), grid.nx - 1)
    r_lo = np.maximum(np.ceil((grid.top - b[:, 3]) / grid.cell - 0.5), 0)
    r_hi = np.minimum(np.floor((grid.top - b[:, 1]) / grid.cell - 0.5), grid.ny - 1)
    n_cols = np.where(finite, np.maximum(c_hi - c_lo + 1, 0), 0).astype(np.int64)
    n_rows = np.where(finite, np.maximum(r_hi - r_lo + 1, 0), 0).astype(np.int64)
    return r_lo.astype(np.int64), c_lo.astype(np.int64), np.stack([n_rows, n_cols])


def _cells_inside(
    polygons: npt.NDArray[np.object_], grid: Grid, batch: int
) -> tuple[IntArray, IntArray]:
    """Activity and flat cell index of every cell centre inside a polygon."""
    r_lo, c_lo, (n_rows, n_cols) = _candidate_ranges(polygons, grid)
    starts = np.concatenate([[0], np.cumsum(n_rows * n_cols)])
    owners, cells = [], []
    for k0 in range(0, int(starts[-1]), batch):
        k1 = min(k0 + batch, int(starts[-1]))
        a = _owners(starts, k0, k1)
        local = np.arange(k0, k1, dtype=np.int64) - starts[a]
        row, col = r_lo[a] + local // n_cols[a], c_lo[a] + local % n_cols[a]
        x, y = grid.centres(row, col)
        inside = shapely.contains_xy(polygons[a], x, y)
        owners.append(a[inside])
        cells.append(row[inside] * grid.nx + col[inside])
    empty = np.empty(0, dtype=np.int64)
    return np.concatenate([empty, *owners]), np.concatenate([empty, *cells])


def _owners(starts: IntArray, k0: int, k1: int) -> IntArray:
    """Activity of each candidate ``k0 ≤ k < k1``, by repetition (no search per item).

    The candidates of activity ``i`` are ``starts[i] ≤ k < starts[i + 1]``.
    """
    first = int(np.searchsorted(starts, k0, side="right")) - 1
    last = int(np.searchsorted(starts, k1 - 1, side="right")) - 1
    lengths = np.diff(np.clip(starts[first : last + 2], k0, k1)).astype(np.int64)
    return np.repeat(np.arange(first, last + 1, dtype=np.int64), lengths)


def _bboxes(offsets: IntArray, indices: IntArray, nx: int) -> IntArray:
    """``(row_min, row_max, col_min, col_max)`` of each activity's cells."""
    n = len(offsets) - 1
    bbox = np.tile(np.array([np.iinfo(np.int64).max, -1, np.iinfo(np.int64).max, -1]), (n, 1))
    full = np.flatnonzero(np.diff(offsets) > 0)
    if full.size:
        rows, cols = indices // nx, indices % nx
        at = offsets[full]
        bbox[full, 0] = np.minimum.reduceat(rows, at)
        bbox[full, 1] = np.maximum.reduceat(rows, at)
        bbox[full, 2] = np.minimum.reduceat(cols, at)
        bbox[full, 3] = np.maximum.reduceat(cols, at)
    return bbox


def rasterise_activities(
    polygons_m: npt.ArrayLike, grid: Grid, *, batch: int = CANDIDATE_BATCH
) -> ActivityCells:
    """Return the grid cells whose centres lie inside each activity polygon.

    Candidate cells come from each polygon's bounds; ``shapely.contains_xy`` keeps
    the centres strictly inside (a centre on the boundary is out; docs/model.md §2
    assigns cells by centre). Cells outside the grid are dropped; a missing or empty
    polygon gets no cells.

    Parameters
    ----------
    polygons_m : array_like of shapely.Geometry or None
        Activity polygons in the grid's projected CRS. [m]
    grid : Grid
        The hazard grid.
    batch : int
        Cell centres tested per call to shapely (memory bound). [cells]

    Returns
    -------
    ActivityCells
        CSR cell lists and bounding boxes, in the order of ``polygons_m``.
    """
    polygons = np.asarray(polygons_m, dtype=object).ravel()
    shapely.prepare(polygons)
    owners, cells = _cells_inside(polygons, grid, batch)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owners, minlength=len(polygons)))])
    offsets = offsets.astype(np.int64)
    bbox = _bboxes(offsets, cells, grid.nx)
    return ActivityCells(offsets=offsets, indices=cells, bbox=bbox, nx=grid.nx, ny=grid.ny)


def survival_window(
    row0: int,
    col0: int,
    shape: tuple[int, int],
    strike_day: float,
    activities: ActivityCells,
    days: npt.ArrayLike,
    log_keep: npt.ArrayLike,
    grid: Grid,
) -> FloatArray:
    """Return the survival ``S_sc`` of a strike's items over its window.

    ``S_sc = Π (1 − p_a)`` over the activities that ended after the strike
    (``days[a] > strike_day``) and hold cell *c* (docs/model.md §2; Poisson
    thinning [1]_). Computed as ``exp(Σ log_keep)``.

    Parameters
    ----------
    row0, col0 : int
        Top-left cell of the window (may lie outside the grid). [cells]
    shape : tuple of int
        ``(nrows, ncols)`` of the window, as the strike's mass array. [cells]
    strike_day : float
        Day of the strike, on the scale of ``days``. [d]
    activities : ActivityCells
        From :func:`rasterise_activities` on ``grid``.
    days : array_like, shape (n,)
        Day each activity ended (e.g. days since 1970-01-01). [d]
    log_keep : array_like of float, shape (n,)
        ``log(1 − p_a)`` of each activity, see :func:`log_keep`. [-]
    grid : Grid
        The hazard grid.

    Returns
    -------
    ndarray of float64, shape ``shape``
        Probability that an item of the strike in each cell is still there; 1 for
        cells no later activity holds (including cells outside the grid). [-]
    """
    if (activities.nx, activities.ny) != (grid.nx, grid.ny):
        raise ValueError("activities were rasterised on a grid of another shape")
    nrows, ncols = shape
    ids = activities.activities_touching(row0, col0, nrows, ncols)
    ids = ids[np.asarray(days)[ids] > strike_day]
    cells, weights = _gather(activities, ids, np.asarray(log_keep, dtype=np.float64))
    row, col = cells // grid.nx - row0, cells % grid.nx - col0
    inside = (row >= 0) & (row < nrows) & (col >= 0) & (col < ncols)
    flat = row[inside] * ncols + col[inside]
    log_s = np.bincount(flat, weights=weights[inside], minlength=nrows * ncols)
    return np.exp(log_s).reshape(nrows, ncols)


def _gather(
    activities: ActivityCells, ids: IntArray, values: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Cells of activities ``ids`` (concatenated) and each one's activity value."""
    starts = activities.offsets[ids]
    lengths = activities.offsets[ids + 1] - starts
    total = int(lengths.sum())
    first = np.cumsum(lengths) - lengths
    positions = np.repeat(starts - first, lengths) + np.arange(total)
    return activities.indices[positions], np.repeat(values[ids], lengths)


def exposure(mass: npt.ArrayLike, survival: npt.ArrayLike) -> float:
    """Return the expected fraction of a strike's items found, ``Σ_c w_sc (1 − S_sc)``.

    Parameters
    ----------
    mass : array_like of float
        Cell mass ``w_sc`` of the strike's density (sums to 1 on its window). [-]
    survival : array_like of float
        ``S_sc`` on the same window, from :func:`survival_window`. [-]

    Returns
    -------
    float
        ``e_s`` of docs/model.md §2, the thinning factor of the Gamma update. [-]
    """
    w, s = _same_shape(mass, survival)
    return float(np.sum(w * (1.0 - s)))


def remaining_mass(mass: npt.ArrayLike, survival: npt.ArrayLike) -> FloatArray:
    """Return the strike's mass still on the ground per cell, ``w_sc · S_sc``. [-]

    Parameters
    ----------
    mass, survival : array_like of float
        As in :func:`exposure`. [-]
    """
    w, s = _same_shape(mass, survival)
    return w * s


def _same_shape(mass: npt.ArrayLike, survival: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    w = np.asarray(mass, dtype=np.float64)
    s = np.asarray(survival, dtype=np.float64)
    if w.shape != s.shape:
        raise ValueError(f"mass {w.shape} and survival {s.shape} differ in shape")
    return w, s
