"""Which tiles of an estimate a re-run must redraw (docs/model.md §8).

Re-running the estimate after an import of new records changes a few strikes a lot
(the new finds and searches touch them) and every other strike of the same carrier
types a little (the learned failure rate moves by a hair). Pass 2 — the raster — is
redrawn only where it can change by more than a tolerance: a tile is *stale* when

- a strike meeting it is new, or its kernel table row (day, type, window) differs, or
  a change of its components or moments could move its density in some cell of its
  window by more than ``tol`` relative (:func:`_changed_strikes`);
- the set of strikes meeting it, or of searches, differs (a strike gone, a window
  moved, a search added or edited);
- the unrecorded attacks' items in a cell of one of its coarse cells moved by more
  than ``tol`` relative and more than :data:`FLOOR` (their expected number moves
  with every new record, a hair everywhere);
- the failure-rate variance of a strike's type moved by more than ``tol`` (its
  tiles), or the unrecorded attacks' clustering or variance did, by enough to move a
  cell's variance by :data:`FLOOR` (those cells), or the carrier types are not the
  same list (every tile);
- and every tile when the grid or the assumptions (the interval's level among
  them) changed. The day alone redraws nothing: it only chooses which records count,
  and those are compared above.

Each strike is compared with the values it had when its tiles were last drawn
(:class:`DrawnState`), not with the previous run, so that a drift of many small
updates redraws its tiles once it adds up to ``tol``. Every cell of the updated raster
is then within about ``tol`` (relative, or :data:`FLOOR` items) of a full redraw in
its expected count.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from remnant.errors import FormatError
from remnant.hazard.grid import Grid
from remnant.hazard.kernels import mix64
from remnant.hazard.mixture import (
    ACROSS,
    ALONG,
    COEF_W,
    COEF_X,
    COS,
    CROSS,
    K0,
    K1,
    NORM,
    SIN,
    WEIGHT,
    WITHIN,
    X,
    Y,
)
from remnant.hazard.tiles import coarse_cells_around, coarse_corner_tiles, csr_offsets, run_rows
from remnant.io.arrays import read_arrays, write_arrays

if TYPE_CHECKING:
    from remnant.hazard.estimate import Estimate

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
HashArray = npt.NDArray[np.uint64]

TOLERANCE = 0.01
"""Default relative change below which a tile is not redrawn: 1 % of a cell's expected
count, far inside the estimate's own uncertainty (its 90 % intervals span tens of per
cent). [-]"""

FLOOR = 1e-4
"""Change of the unrecorded attacks' items in a cell below which it is not redrawn,
whatever its relative size: 1e-4 items in a cell moves its ``p_any`` by at most
1e-4. [items]"""

STATE_FORMAT = 6
"""Version of the saved :class:`DrawnState`; a state of another version is ignored."""

_WIDTHS = (ALONG, ACROSS, WITHIN, CROSS, NORM)
_TURN = (SIN, COS)
_SHARE = (WEIGHT, COEF_W, COEF_X)


@dataclass(frozen=True)
class DrawnState:
    """What every tile of a raster was drawn from, to tell which tiles a re-run changes.

    Parameters
    ----------
    key : str
        The grid and assumptions of the estimate (JSON); a re-run with another key
        redraws everything.
    ids : ndarray of str
        Strike ids (recorded and pseudo).
    table : ndarray of int64, shape (strikes, 6)
        Each strike's kernel row: day, type, window ``(row0, col0, nrows, ncols)``.
    comp_offsets : ndarray of int64, shape (strikes + 1,)
    comps : ndarray, shape (components, 12)
        The packed components (:mod:`.mixture`).
    mean, rel_var : ndarray, shape (strikes,)
        The moments pass 2 drew each strike with (:class:`.accumulate.Moments`).
    type_var : ndarray, shape (strikes,)
        The failure-rate variance ``V_t`` of its type it was drawn with.
    types : ndarray of str
    shared : ndarray, shape (2,)
        Background relative variance and background clustering.
    background : ndarray, shape (coarse rows, coarse cols)
        Unrecorded attacks' items per coarse cell. [items]
    tile_strikes, tile_searches : ndarray of uint64, shape (tiles,)
        A hash of the strikes and of the searches meeting each tile.
    """

    key: str
    ids: npt.NDArray[np.str_]
    table: IntArray
    comp_offsets: IntArray
    comps: FloatArray
    mean: FloatArray
    rel_var: FloatArray
    type_var: FloatArray
    types: npt.NDArray[np.str_]
    shared: FloatArray
    background: FloatArray
    tile_strikes: HashArray
    tile_searches: HashArray

    def save(self, path: str | Path) -> Path:
        """Write the state as one state file (:mod:`remnant.io.arrays`), atomically.

        Not an ``.npz``: NumPy checks a CRC over every member both ways and copies
        each into memory on reading, 0.17 s of a country's daily update for 52 MB
        that :func:`~remnant.io.arrays.read_arrays` maps in a millisecond.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_arrays({"format": STATE_FORMAT, "state": self}, target)

    @classmethod
    def load(cls, path: str | Path) -> DrawnState | None:
        """The state saved at ``path``; None if there is none or it is of another format."""
        try:
            saved = read_arrays(path)
        except (OSError, FormatError):
            return None
        ok = isinstance(saved, dict) and saved.get("format") == STATE_FORMAT
        state = saved.get("state") if ok else None
        return state if isinstance(state, cls) else None


def state_key(est: Estimate) -> str:
    """The grid and assumptions an estimate was drawn on (JSON)."""
    g = est.grid
    return json.dumps(
        {
            "grid": [g.crs, g.x0, g.y0, g.cell, g.nx, g.ny],
            "config": repr(est.config),
        },
        sort_keys=True,
    )


def drawn_state(est: Estimate) -> DrawnState:
    """The state of a raster drawn whole from ``est``."""
    k = est._kernel
    m = k.moments
    table = k.strikes.table
    return DrawnState(
        key=state_key(est),
        ids=np.asarray(est.strikes.ids, dtype=np.str_),
        table=table[:, :K0].copy(),
        comp_offsets=np.concatenate([table[:, K0], table[-1:, K1]]).astype(np.int64)
        if len(table)
        else np.zeros(1, dtype=np.int64),
        comps=k.strikes.comps.copy(),
        mean=m.mean.copy(),
        rel_var=m.rel_var.copy(),
        type_var=m.type_rel_var[table[:, 1]].astype(np.float64),
        types=np.asarray(est.strikes.types, dtype=np.str_),
        shared=np.array([m.background_rel_var, m.background_cluster]),
        background=np.asarray(k.background, dtype=np.float64).copy(),
        tile_strikes=_tile_hashes(k.strikes.tile_offsets, k.strikes.tile_index, _hash_ids(est)),
        tile_searches=_tile_hashes(
            k.searches.tile_offsets, k.searches.tile_index, _search_hashes(est)
        ),
    )


def stale_tiles(
    previous: DrawnState | None, now: DrawnState, est: Estimate, tol: float = TOLERANCE
) -> tuple[BoolArray, npt.NDArray[np.bool_]]:
    """Tiles of ``est``'s grid to redraw, and the strikes found changed (module doc).

    ``now`` is ``drawn_state(est)``.

    Returns
    -------
    tiles : ndarray of bool, shape (tiles,)
        Row-major over the grid's tiles.
    changed : ndarray of bool, shape (strikes,)
        Strikes of ``est`` drawn anew (their values become the reference).
    """
    n_tiles = len(now.tile_strikes)
    n = len(now.ids)
    if previous is None or previous.key != now.key or len(previous.tile_strikes) != n_tiles:
        return np.ones(n_tiles, dtype=bool), np.ones(n, dtype=bool)
    changed = _changed_strikes(previous, now, est.config.n_sigma, tol)
    k = est._kernel
    ts_off, ts_idx = k.strikes.tile_offsets, k.strikes.tile_index
    stale = np.zeros(n_tiles, dtype=bool)
    owner_tile = np.repeat(np.arange(n_tiles), np.diff(ts_off))
    stale[owner_tile[changed[ts_idx]]] = True
    stale |= now.tile_strikes != previous.tile_strikes
    stale |= now.tile_searches != previous.tile_searches
    scale = 0.0
    if _moved(previous.shared, now.shared, tol).any():
        rel = np.abs(now.shared - previous.shared) / np.maximum(np.abs(previous.shared), 1e-300)
        scale = float(rel.max())
    stale |= _background_tiles(
        previous.background, now.background, est.grid, _factor(est), tol, scale
    )
    if previous.types.tolist() != now.types.tolist():
        stale[:] = True
    return stale, changed


def advanced_state(
    previous: DrawnState | None,
    now: DrawnState,
    est: Estimate,
    tiles: BoolArray,
    changed: BoolArray,
) -> DrawnState:
    """The state after drawing ``tiles`` of ``est`` (``now`` its :func:`drawn_state`).

    Changed strikes, and those new, take their values of ``now``; the others keep the
    ones they were drawn with.
    """
    if previous is None or tiles.all():
        return now
    src = _sources(previous, now)
    keep = ~changed & (src >= 0)
    j = src[keep]
    per_strike = {}
    for name in ("table", "mean", "rel_var", "type_var"):
        values = getattr(now, name).copy()
        values[keep] = getattr(previous, name)[j]
        per_strike[name] = values
    counts = np.diff(now.comp_offsets)
    counts[keep] = np.diff(previous.comp_offsets)[j]
    offsets = csr_offsets(counts)
    comps = np.empty((int(offsets[-1]), now.comps.shape[1]))
    comps[run_rows(offsets[:-1][keep], counts[keep])] = previous.comps[
        run_rows(previous.comp_offsets[j], counts[keep])
    ]
    comps[run_rows(offsets[:-1][~keep], counts[~keep])] = now.comps[
        run_rows(now.comp_offsets[:-1][~keep], counts[~keep])
    ]
    background = previous.background.copy()
    drawn = _coarse_of_tiles(tiles, est.grid, background.shape, _factor(est))
    background[drawn] = now.background[drawn]
    return dataclasses.replace(
        now,
        **per_strike,
        comp_offsets=offsets,
        comps=comps,
        shared=previous.shared,
        background=background,
    )


# -- comparisons ------------------------------------------------------------------------


def _changed_strikes(previous: DrawnState, now: DrawnState, clip: float, tol: float) -> BoolArray:
    """Strikes whose drawing may differ by more than ``tol`` in some cell of their window.

    Within ``clip`` sigmas of a component, a shift ``δ`` moves its density by up to
    ``clip·δ/σ`` (relative) and a width change ``δσ/σ`` by up to ``clip²·δσ/σ``, so
    those are held to ``tol·σ/clip`` and ``tol/clip²``; a weight, the mean and the
    variances to ``tol`` relative.
    """
    src = _sources(previous, now)
    changed = src < 0
    j = np.where(changed, 0, src)
    changed |= (now.table != previous.table[j]).any(axis=1)
    n_now = np.diff(now.comp_offsets)
    n_old = np.diff(previous.comp_offsets)[j]
    changed |= n_now != n_old
    same = np.flatnonzero(~changed)
    if same.size == 0:
        return changed
    changed[same] |= _moved(previous.mean[j[same]], now.mean[same], tol)
    for now_v, old_v in ((now.rel_var, previous.rel_var), (now.type_var, previous.type_var)):
        changed[same] |= np.abs(now_v[same] - old_v[j[same]]) > tol * np.maximum(
            old_v[j[same]], 1e-3
        )
    changed[same] |= _components_moved(
        previous.comps, previous.comp_offsets[j[same]], now.comps, now.comp_offsets[same],
        n_now[same], tol, clip,
    )  # fmt: skip
    return changed


@numba.vectorize(["boolean(float64, float64, float64)"], cache=True)
def _moved(old: float, new: float, tol: float) -> bool:
    """Relative change above ``tol`` (against the larger magnitude; 0 to 0 is none).

    A ufunc: element by element on arrays, and on single values in the kernels.
    """
    return abs(new - old) > tol * max(abs(old), abs(new))


@numba.njit(cache=True)
def _components_moved(
    a: FloatArray, a_at: IntArray, b: FloatArray, b_at: IntArray, counts: IntArray,
    tol: float, clip: float,
) -> npt.NDArray[np.bool_]:  # fmt: skip
    """Per strike, whether one of its components moved beyond :func:`_changed_strikes`' bounds.

    Strike ``i``'s ``counts[i]`` components are the rows of ``a`` from ``a_at[i]`` then
    and of ``b`` from ``b_at[i]`` now. One pass over the rows, none copied (a country's
    330,000 components: 0.4 s of gathering and comparing columns in numpy before).
    """
    out = np.zeros(len(counts), dtype=np.bool_)
    shape_tol = tol / clip**2
    for i in range(len(counts)):
        for k in range(counts[i]):
            u, v = a[a_at[i] + k], b[b_at[i] + k]
            sigma = min(u[ALONG], u[ACROSS])
            far = max(abs(u[X] - v[X]), abs(u[Y] - v[Y])) > tol * sigma / clip
            for c in _WIDTHS:
                far |= _moved(u[c], v[c], shape_tol)
            for c in _TURN:
                far |= abs(u[c] - v[c]) > shape_tol
            for c in _SHARE:
                far |= _moved(u[c], v[c], tol)
            if far:
                out[i] = True
                break
    return out


def _sources(previous: DrawnState, now: DrawnState) -> IntArray:
    """Index in ``previous`` of each strike of ``now`` (by id), ``-1`` for a new one.

    Strikes are kept in their order from run to run (new pseudo-strikes after the
    others, some gone): where the ids agree place by place, a strike is its own
    source; only those after the first that differ are looked up (the ids are unique,
    so none of them can be one of the agreeing).
    """
    n = min(len(previous.ids), len(now.ids))
    differ = np.flatnonzero(previous.ids[:n] != now.ids[:n])
    same = int(differ[0]) if differ.size else n
    out = np.full(len(now.ids), -1, dtype=np.int64)
    out[:same] = np.arange(same)
    if same < len(now.ids):
        old = {key: same + i for i, key in enumerate(previous.ids[same:].tolist())}
        out[same:] = [old.get(key, -1) for key in now.ids[same:].tolist()]
    return out


def _factor(est: Estimate) -> int:
    return int(est._kernel.factor)


def _background_tiles(
    old: FloatArray, new: FloatArray, grid: Grid, factor: int, tol: float, scale: float
) -> BoolArray:
    """Tiles holding a coarse cell whose unrecorded items moved by more than ``tol``.

    ``scale`` is the relative change of the background's variance coefficients (0 if
    below ``tol``): it moves a cell's variance by about ``scale`` times its items.
    """
    rows, cols = grid.n_tiles
    if old.shape != new.shape:
        return np.ones(rows * cols, dtype=bool)
    per_cell = float(factor * factor)
    moved = _moved(old, new, tol) & (np.abs(new - old) / per_cell > FLOOR)
    moved |= new / per_cell * scale > FLOOR
    if not moved.any():
        return np.zeros(rows * cols, dtype=bool)
    cr, cc = np.nonzero(moved)
    out = np.zeros(rows * cols, dtype=bool)
    out[coarse_corner_tiles(cr, cc, factor, grid).ravel()] = True
    return out


def _coarse_of_tiles(
    tiles: BoolArray, grid: Grid, shape: tuple[int, ...], factor: int
) -> npt.NDArray[np.bool_]:
    """Coarse cells lying wholly inside the drawn tiles.

    Among those meeting them (:func:`.tiles.coarse_cells_around`), not every cell of
    a country's coarse grid.
    """
    drawn = np.asarray(tiles, dtype=bool)
    cells = (int(shape[0]), int(shape[1]))
    flat, corners = coarse_cells_around(np.flatnonzero(drawn), factor, grid, cells)
    out = np.zeros(cells, dtype=bool)
    out.ravel()[flat[drawn[corners].all(axis=0)]] = True
    return out


# -- hashes -----------------------------------------------------------------------------


def _hash_ids(est: Estimate) -> HashArray:
    """One hash per strike id (pandas' SipHash with its fixed key: the same in every run)."""
    ids = np.asarray(est.strikes.ids, dtype=object)
    return np.asarray(pd.util.hash_array(ids, categorize=False), dtype=np.uint64)


def _search_hashes(est: Estimate) -> HashArray:
    """One hash per search: its rings, day and ``log(1 − p)`` values (numba, 10⁵ searches)."""
    k = est._kernel
    s = k.searches
    return _polygon_hashes(
        s.x.view(np.uint64), s.y.view(np.uint64), s.ring_offsets, s.geom_offsets,
        np.asarray(k.search_day, dtype=np.int64).view(np.uint64),
        np.ascontiguousarray(k.search_log_keep, dtype=np.float64).reshape(len(k.search_day), -1)
        .view(np.uint64),
    )  # fmt: skip


@numba.njit(cache=True)
def _polygon_hashes(
    x: HashArray, y: HashArray, ring_off: IntArray, geom_off: IntArray, day: HashArray,
    keep: HashArray,
) -> HashArray:  # fmt: skip
    n = len(geom_off) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = mix64(np.uint64(0), day[i])
        for j in range(keep.shape[1]):
            h = mix64(h, keep[i, j])
        for r in range(geom_off[i], geom_off[i + 1]):
            h = mix64(h, np.uint64(ring_off[r + 1] - ring_off[r]))
            for v in range(ring_off[r], ring_off[r + 1]):
                h = mix64(mix64(h, x[v]), y[v])
        out[i] = h
    return out


def _tile_hashes(offsets: IntArray, index: IntArray, item_hash: HashArray) -> HashArray:
    """Per tile, the sum (mod 2⁶⁴) of its items' hashes mixed with their count."""
    n_tiles = len(offsets) - 1
    out = np.zeros(n_tiles, dtype=np.uint64)
    if len(index):
        owner = np.repeat(np.arange(n_tiles), np.diff(offsets))
        with np.errstate(over="ignore"):
            np.add.at(out, owner, item_hash[index])
    counts = np.diff(offsets).astype(np.uint64)
    with np.errstate(over="ignore"):
        return out * np.uint64(0x9E3779B97F4A7C15) + counts
