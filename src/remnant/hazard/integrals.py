"""Pass 1 over the tiles: what the evidence update needs from the geometry.

For every strike *s* (docs/model.md §2):

- its exposure ``e_s = Σ_c w_sc (1 − S_sc)``, the expected fraction of its items
  found so far, accumulated tile by tile;
- for every evidence point *j* in its window and dated on or after it, the weight
  ``ω_js = w_s(c_j) · S_s(c_j; t_s, t_j) · compat(item_j, type_s)``: the strike's
  density at the point's cell, times the chance that an item of it there survived
  the searches between the strike and the find, times the item's compatibility with
  the strike's carrier. Responsibilities are ``E[Λ_s] ω_js`` normalised over the
  sources (:mod:`remnant.hazard.evidence`);
- for every hazard area *A* its remaining mass ``m_sA = Σ_{c ∈ A} w_sc S_sc``.

For the background of unrecorded attacks (docs/model.md §4): the density ``ḡ`` at
each evidence point (with the survival of the searches before it), and, per coarse
cell, the mean chance ``1 − S_c`` that an item was found there. None of these depends
on the expected counts, so the evidence update iterates on plain arrays without
touching the grid again. Tiles run in parallel (numba ``prange``); each writes only
its own slices of the outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.grid import TILE
from remnant.hazard.kernels import log_survival, tile_events, weighted_sums
from remnant.hazard.mixture import (
    C0,
    DAY,
    K0,
    K1,
    NC,
    NR,
    R0,
    TYPE,
    cell_mass,
    holds,
    mean_axes,
    point_mass,
)
from remnant.hazard.scanline import fill_cells

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NEVER = np.iinfo(np.int64).max // 4
"""A day after every search. [day]"""


@dataclass(frozen=True)
class GridArgs:
    """The grid as plain numbers for the kernels: ``x0, top, cell, nx, ny, tile columns``."""

    x0: float
    top: float
    cell: float
    nx: int
    ny: int
    tile_cols: int


@dataclass(frozen=True)
class PolygonArgs:
    """Polygons as kernel arrays (:class:`~remnant.hazard.scanline.Rings`) with a tile CSR."""

    x: FloatArray
    y: FloatArray
    ring_offsets: IntArray
    geom_offsets: IntArray
    tile_offsets: IntArray
    tile_index: IntArray


@dataclass(frozen=True)
class Integrals:
    """What pass 1 gives the evidence update.

    Parameters
    ----------
    exposure : ndarray, shape (strikes,)
        ``e_s``. [-]
    searched : ndarray, shape (coarse rows, coarse cols)
        Mean over the fine cells of each coarse cell of ``1 − S_c``, the chance that
        an item there was found by some search (docs/model.md §4). [-]
    pair_evidence, pair_strike : ndarray of int64
        The (evidence, strike) pairs with a positive weight.
    pair_weight : ndarray of float64
        ``ω_js`` of each pair. [-]
    evidence_background : ndarray, shape (evidence,)
        ``ω_j,bg = ḡ(c_j) S(c_j; −∞, t_j)``. [-]
    area_strike_area, area_strike : ndarray of int64
        The (hazard area, strike) pairs with a positive remaining mass.
    area_mass : ndarray of float64
        ``m_sA`` of each pair. [-]
    area_cells : ndarray, shape (areas,)
        Cells of each area. [cells]
    """

    exposure: FloatArray
    searched: FloatArray
    pair_evidence: IntArray
    pair_strike: IntArray
    pair_weight: FloatArray
    evidence_background: FloatArray
    area_strike_area: IntArray
    area_strike: IntArray
    area_mass: FloatArray
    area_cells: IntArray


# -- the candidate (evidence, strike) pairs --------------------------------------------


@numba.njit(cache=True)
def _pairs(
    te_off: IntArray,
    te_idx: IntArray,
    ts_off: IntArray,
    ts_idx: IntArray,
    ev_row: IntArray,
    ev_col: IntArray,
    ev_day: IntArray,
    strikes: IntArray,
    offsets: IntArray,
    out: IntArray,
    fill: bool,
) -> None:
    """Count (``fill`` false) or list the strikes that may explain each evidence point."""
    for t in range(len(te_off) - 1):
        for k in range(te_off[t], te_off[t + 1]):
            j = te_idx[k]
            n = offsets[j]
            for m in range(ts_off[t], ts_off[t + 1]):
                s = ts_idx[m]
                if holds(strikes, s, ev_row[j], ev_col[j]) and strikes[s, DAY] <= ev_day[j]:
                    if fill:
                        out[n] = s
                    n += 1
            if not fill:
                out[j] = n


def candidate_pairs(
    tile_evidence: tuple[IntArray, IntArray],
    tile_strikes: tuple[IntArray, IntArray],
    ev_row: IntArray,
    ev_col: IntArray,
    ev_day: IntArray,
    strikes: IntArray,
) -> tuple[IntArray, IntArray]:
    """Return CSR ``(offsets, strike)``: per evidence point, the strikes that may explain it.

    A strike may explain a point when the point's cell is in its window and the
    strike is dated on or before it.
    """
    n_ev = len(ev_row)
    counts = np.zeros(n_ev, dtype=np.int64)
    zero = np.zeros(n_ev + 1, dtype=np.int64)
    args = (*tile_evidence, *tile_strikes, ev_row, ev_col, ev_day, strikes)
    _pairs(*args, zero, counts, False)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = np.empty(offsets[-1], dtype=np.int64)
    _pairs(*args, offsets, out, True)
    return offsets, out


# -- pass 1 ---------------------------------------------------------------------------


@numba.njit(parallel=True, cache=True)
def _pass(
    tiles: IntArray,
    g: tuple[float, float, float, int, int, int],
    strikes: IntArray,
    comps: FloatArray,
    clip: float,
    kmax: int,
    ts_off: IntArray,
    ts_idx: IntArray,
    act: tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    a_day: IntArray,
    a_lk: FloatArray,
    ev: tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray],
    pair_off: IntArray,
    pair_strike: IntArray,
    compat: FloatArray,
    area: tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    area_slot: IntArray,
    bg: FloatArray,
    factor: int,
    exposure_part: FloatArray,
    coarse_searched: FloatArray,
    pair_weight: FloatArray,
    ev_bg: FloatArray,
    area_mass: FloatArray,
    area_cells: IntArray,
) -> None:
    x0, top, cell, nx, ny, tile_cols = g
    ax, ay, a_ring, a_geom, ta_off, ta_idx = act
    te_off, te_idx, ev_row, ev_col, ev_day, ev_item = ev
    hx, hy, h_ring, h_geom, th_off, th_idx = area
    for it in numba.prange(len(tiles)):
        t = tiles[it]
        row0, col0 = (t // tile_cols) * TILE, (t % tile_cols) * TILE
        nrows, ncols = min(TILE, ny - row0), min(TILE, nx - col0)
        start, ev_day_c, ev_cum = tile_events(
            ta_idx[ta_off[t] : ta_off[t + 1]], ax, ay, a_ring, a_geom, a_day, a_lk,
            x0, top, cell, row0, col0, nrows, ncols,
        )  # fmt: skip
        searched = np.flatnonzero(start[1:] > start[:-1])
        for c in searched:
            found = 1.0 - math.exp(log_survival(start, ev_day_c, ev_cum, c, -NEVER, NEVER))
            coarse_searched[(row0 + c // ncols) // factor, (col0 + c % ncols) // factor] += found
        rows = np.empty((kmax, TILE))
        cols = np.empty((kmax, TILE))
        for m in range(ts_off[t], ts_off[t + 1]):
            s = ts_idx[m]
            ra, rb = max(strikes[s, R0], row0), min(strikes[s, R0] + strikes[s, NR], row0 + nrows)
            ca, cb = max(strikes[s, C0], col0), min(strikes[s, C0] + strikes[s, NC], col0 + ncols)
            if ra >= rb or ca >= cb:
                continue
            mean_axes(strikes, comps, s, ra, rb, ca, cb, clip, x0, top, cell, rows, cols)
            e = 0.0
            for c in searched:
                r, q = row0 + c // ncols, col0 + c % ncols
                if r < ra or r >= rb or q < ca or q >= cb:
                    continue
                w = cell_mass(strikes, comps, s, r, q, r - ra, q - ca, rows, cols, clip,
                              x0, top, cell)  # fmt: skip
                ls = log_survival(start, ev_day_c, ev_cum, c, strikes[s, DAY], NEVER)
                e += w * (1.0 - math.exp(ls))
            exposure_part[m] = e
        for k in range(te_off[t], te_off[t + 1]):
            j = te_idx[k]
            r, q = ev_row[j], ev_col[j]
            c = (r - row0) * ncols + (q - col0)
            gb = bg[r // factor, q // factor] / (factor * factor)
            ev_bg[j] = gb * math.exp(log_survival(start, ev_day_c, ev_cum, c, -NEVER, ev_day[j]))
            for p in range(pair_off[j], pair_off[j + 1]):
                s = pair_strike[p]
                w = point_mass(strikes, comps, s, r, q, clip, x0, top, cell)
                ls = log_survival(start, ev_day_c, ev_cum, c, strikes[s, DAY], ev_day[j])
                pair_weight[p] = w * math.exp(ls) * compat[ev_item[j], strikes[s, TYPE]]
        buf = np.empty(nrows * ncols, dtype=np.int64)
        n_st = ts_off[t + 1] - ts_off[t]
        for k in range(th_off[t], th_off[t + 1]):
            h = th_idx[k]
            n = fill_cells(hx, hy, h_ring, h_geom[h], h_geom[h + 1], x0, top, cell,
                           row0, col0, nrows, ncols, buf)  # fmt: skip
            area_cells[k] = n
            for m in range(n_st):
                s = ts_idx[ts_off[t] + m]
                tot = 0.0
                for i in range(n):
                    c = buf[i]
                    r, q = row0 + c // ncols, col0 + c % ncols
                    if not holds(strikes, s, r, q):
                        continue
                    w = point_mass(strikes, comps, s, r, q, clip, x0, top, cell)
                    ls = log_survival(start, ev_day_c, ev_cum, c, strikes[s, DAY], NEVER)
                    tot += w * math.exp(ls)
                area_mass[area_slot[k] + m] = tot


# -- the driver -----------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceArgs:
    """Evidence points as kernel arrays: cell, day, item, with the item × type weights."""

    row: IntArray
    col: IntArray
    day: IntArray
    item: IntArray
    compat: FloatArray


@dataclass(frozen=True)
class StrikeSet:
    """Strikes as kernel tables (:func:`remnant.hazard.mixture.pack`) with their tile CSR."""

    table: IntArray
    comps: FloatArray
    clip: float
    tile_offsets: IntArray
    tile_index: IntArray

    @property
    def kmax(self) -> int:
        """Most components of one strike."""
        t = self.table
        return int(max(1, (t[:, K1] - t[:, K0]).max(initial=1)))


def integrate(
    grid: GridArgs,
    strikes: StrikeSet,
    searches: PolygonArgs,
    search_day: IntArray,
    search_log_keep: FloatArray,
    evidence: EvidenceArgs,
    tile_evidence: tuple[IntArray, IntArray],
    areas: PolygonArgs,
    background: FloatArray,
    factor: int,
) -> Integrals:
    """Run pass 1 over every tile and reduce its partial sums (module docstring).

    Parameters
    ----------
    grid : GridArgs
    strikes : StrikeSet
    searches : PolygonArgs
        Search polygons with their tile CSR.
    search_day, search_log_keep : ndarray
        Day each search ended [day] and its ``log(1 − p)`` [-].
    evidence : EvidenceArgs
    tile_evidence : tuple of ndarray
        CSR ``(offsets, evidence)`` of the points in each tile.
    areas : PolygonArgs
        Hazard areas with their tile CSR.
    background : ndarray, shape (coarse rows, coarse cols)
        ``ḡ`` per coarse cell (sums to 1 over the grid). [-]
    factor : int
        Fine cells per coarse cell side. [-]
    """
    ts_off, ts_idx = strikes.tile_offsets, strikes.tile_index
    n_tiles = len(ts_off) - 1
    pair_off, pair_strike = candidate_pairs(
        tile_evidence, (ts_off, ts_idx), evidence.row, evidence.col, evidence.day, strikes.table
    )
    n_st = np.diff(ts_off)
    th_off = areas.tile_offsets
    per_entry = np.repeat(n_st, np.diff(th_off))
    area_slot = np.concatenate([[0], np.cumsum(per_entry)]).astype(np.int64)
    out = _Parts(
        exposure=np.zeros(len(ts_idx)),
        searched=np.zeros_like(background),
        pair_weight=np.zeros(len(pair_strike)),
        evidence_background=np.zeros(len(evidence.row)),
        area_mass=np.zeros(int(area_slot[-1])),
        area_cells=np.zeros(len(areas.tile_index), dtype=np.int64),
    )
    _pass(
        np.arange(n_tiles, dtype=np.int64),
        (grid.x0, grid.top, grid.cell, grid.nx, grid.ny, grid.tile_cols),
        strikes.table, strikes.comps, strikes.clip, strikes.kmax, ts_off, ts_idx,
        polygon_tuple(searches), search_day, search_log_keep,
        (*tile_evidence, evidence.row, evidence.col, evidence.day, evidence.item),
        pair_off, pair_strike, evidence.compat,
        polygon_tuple(areas), area_slot, background, factor,
        out.exposure, out.searched, out.pair_weight, out.evidence_background,
        out.area_mass, out.area_cells,
    )  # fmt: skip
    return _reduce(
        out, len(strikes.table), ts_off, ts_idx, pair_off, pair_strike, areas, area_slot, factor
    )


def polygon_tuple(
    p: PolygonArgs,
) -> tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray]:
    """The polygon arrays in the order the kernels take them."""
    return (p.x, p.y, p.ring_offsets, p.geom_offsets, p.tile_offsets, p.tile_index)


@dataclass(frozen=True)
class _Parts:
    """The per-tile outputs of pass 1, before they are summed."""

    exposure: FloatArray  # per (tile, strike) entry
    searched: FloatArray  # per coarse cell
    pair_weight: FloatArray  # per candidate pair
    evidence_background: FloatArray  # per evidence point
    area_mass: FloatArray  # per (tile, area, strike) slot
    area_cells: IntArray  # per (tile, area) entry


def _reduce(
    out: _Parts,
    n_strikes: int,
    ts_off: IntArray,
    ts_idx: IntArray,
    pair_off: IntArray,
    pair_strike: IntArray,
    areas: PolygonArgs,
    area_slot: IntArray,
    factor: int,
) -> Integrals:
    """Sum the per-tile parts; keep the pairs with a positive weight."""
    n_areas = len(areas.geom_offsets) - 1
    pair_ev = np.repeat(np.arange(len(pair_off) - 1, dtype=np.int64), np.diff(pair_off))
    keep = out.pair_weight > 0.0
    th_off, th_idx = areas.tile_offsets, areas.tile_index
    n_st = np.diff(ts_off)
    entry_tile = np.repeat(np.arange(len(th_off) - 1), np.diff(th_off))
    per_entry = n_st[entry_tile]
    slot_area = np.repeat(th_idx, per_entry)
    local = np.arange(int(area_slot[-1])) - np.repeat(area_slot[:-1], per_entry)
    slot_strike = ts_idx[np.repeat(ts_off[entry_tile], per_entry) + local]
    mass = out.area_mass
    a_keep = mass > 0.0
    return Integrals(
        exposure=np.minimum(weighted_sums(ts_idx, out.exposure, n_strikes), 1.0),
        searched=out.searched / factor**2,
        pair_evidence=pair_ev[keep],
        pair_strike=pair_strike[keep],
        pair_weight=out.pair_weight[keep],
        evidence_background=out.evidence_background,
        area_strike_area=slot_area[a_keep],
        area_strike=slot_strike[a_keep],
        area_mass=mass[a_keep],
        area_cells=np.bincount(th_idx, out.area_cells, n_areas).astype(np.int64),
    )
