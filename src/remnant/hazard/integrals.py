"""Pass 1 over the tiles: what the evidence update needs from the geometry.

For every strike *s* (docs/model.md §2):

- its exposure ``e_s = Σ_c w_sc (1 − S_sc)``, the expected fraction of its items
  found so far, accumulated tile by tile;
- for every evidence point *j* in its window and dated on or after it, the weight
  ``ω_js = w_s(c_j) L_s(c_j) / Z_s · S_s(c_j; t_s, t_j) · compat(item_j, type_s)``:
  the strike's density at the point's cell (as non-technical surveys without
  evidence have moved it, ``L`` and ``Z`` as in :class:`Integrals`), times the
  chance that an item of it there survived the searches between the strike and the
  find, times the item's compatibility with the strike's carrier. Responsibilities
  are ``E[Λ_s] ω_js`` normalised over the sources (:mod:`remnant.hazard.evidence`);
- for every hazard area *A* its remaining mass ``m_sA = Σ_{c ∈ A} w_sc S_sc L_sc``
  (divided by ``Z_s`` where it is used).

For the background of unrecorded attacks (docs/model.md §5): the density ``ḡ`` at
each evidence point (with the survival of the searches before it), and, per coarse
cell, the mean chance ``1 − S_c`` that an item was found there. None of these depends
on the expected counts, so the evidence update iterates on plain arrays without
touching the grid again. Tiles run in parallel (numba ``prange``); each writes only
its own slices of the outputs.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.grid import TILE
from remnant.hazard.kernels import (
    NEVER,
    NOTICE,
    SEARCH,
    advance,
    log_survival,
    tile_events,
    tile_searches,
    tile_survival,
    weighted_sums,
)
from remnant.hazard.mixture import (
    C0,
    DAY,
    K0,
    K1,
    NC,
    NORM,
    NR,
    R0,
    TYPE,
    WEIGHT,
    mean_axes,
    oriented_row,
    point_mass,
)
from remnant.hazard.scanline import fill_cells
from remnant.hazard.tiles import coarse_cells_meeting, csr_offsets, run_rows

if TYPE_CHECKING:
    from remnant.hazard.components import Components

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
        ``e_s = Σ_c w'_sc (1 − S_sc)``, with ``w' = w L / Z`` the strike's density once
        non-technical surveys without evidence have moved it (docs/model.md §2). [-]
    notice_norm : ndarray, shape (strikes,)
        ``Z_s = Σ_c w_sc L_sc``: the share of the strike's prior density where those
        surveys leave it. [-]
    component_exposure : ndarray, shape (components,)
        The exposure of each component alone (not weighted), in the order of the
        strikes' components. [-]
    last_exposure : ndarray, shape (strikes,)
        The exposure of each strike's last component alone (not weighted): of its
        prior component, or of its carriers not located (:mod:`.components`). [-]
    component_notice, component_found : ndarray, shape (components,)
        The sums they come from, ``Σ_c w_kc (1 − L_c)`` and ``Σ_c w_kc (1 − S_c L_c)``
        over each component's cells: they add up over tiles, so that an update can
        redo them on a few tiles (:mod:`.update`). [-]
    searched : ndarray, shape (coarse rows, coarse cols)
        Mean over the fine cells of each coarse cell of ``1 − S_c``, the chance that
        an item there was found by some search (docs/model.md §5). [-]
    notice : ndarray, shape (coarse rows, coarse cols)
        Mean of ``1 − L_c``: the chance that a survey without evidence would have
        noticed an attack there. [-]
    pair_evidence, pair_strike : ndarray of int64
        The (evidence, strike) pairs with a positive weight.
    pair_weight : ndarray of float64
        ``ω_js`` of each pair. [-]
    evidence_background : ndarray, shape (evidence,)
        ``ω_j,bg = ḡ(c_j) S(c_j; −∞, t_j)``. [-]

        ``searched``, ``notice`` and ``evidence_background`` depend on the searches and
        the evidence alone: a pass 1 over some strikes only leaves them empty (shape
        ``(0, 0)`` and ``(0,)``), for a caller that keeps the whole run's.
    area_strike_area, area_strike : ndarray of int64
        The (hazard area, strike) pairs with a positive remaining mass.
    area_mass : ndarray of float64
        ``m_sA = Σ_{c ∈ A} w_sc S_sc L_sc`` of each pair, on the strike's prior
        density (divide by ``Z_s`` for its share). [-]
    area_cells : ndarray, shape (areas,)
        Cells of each area. [cells]
    """

    exposure: FloatArray
    component_exposure: FloatArray
    last_exposure: FloatArray
    notice_norm: FloatArray
    component_notice: FloatArray
    component_found: FloatArray
    searched: FloatArray
    notice: FloatArray
    pair_evidence: IntArray
    pair_strike: IntArray
    pair_weight: FloatArray
    evidence_background: FloatArray
    area_strike_area: IntArray
    area_strike: IntArray
    area_mass: FloatArray
    area_cells: IntArray


# -- the candidate (evidence, strike) pairs --------------------------------------------


@numba.njit(parallel=True, cache=True)
def _pairs(
    tiles: IntArray,
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
    """Count (``fill`` false) or list the strikes that may explain each point of ``tiles``.

    A tile's points are sorted by row once; each strike, in the tile's order, visits
    only the points in its window's rows (found by binary search), and appends itself
    to those its window and day admit. A point's strikes come out in the tile's
    order. Tiles run in parallel: a point lies in one tile, so each writes only its
    own entries.
    """
    for it in numba.prange(len(tiles)):
        t = tiles[it]
        lo, hi = te_off[t], te_off[t + 1]
        if hi == lo or ts_off[t + 1] == ts_off[t]:
            continue
        pts = te_idx[lo:hi]
        rows = ev_row[pts]
        order = np.argsort(rows)
        sorted_rows = rows[order]
        at = np.zeros(hi - lo, dtype=np.int64)
        for m in range(ts_off[t], ts_off[t + 1]):
            s = ts_idx[m]
            c0, c1 = strikes[s, C0], strikes[s, C0] + strikes[s, NC]
            a = np.searchsorted(sorted_rows, strikes[s, R0])
            b = np.searchsorted(sorted_rows, strikes[s, R0] + strikes[s, NR])
            for q in range(a, b):
                i = order[q]
                j = pts[i]
                if c0 <= ev_col[j] < c1 and strikes[s, DAY] <= ev_day[j]:
                    if fill:
                        out[offsets[j] + at[i]] = s
                    at[i] += 1
        if not fill:
            for i in range(hi - lo):
                out[pts[i]] = at[i]


def candidate_pairs(
    tile_evidence: tuple[IntArray, IntArray],
    tile_strikes: tuple[IntArray, IntArray],
    ev_row: IntArray,
    ev_col: IntArray,
    ev_day: IntArray,
    strikes: IntArray,
    tiles: IntArray | None = None,
) -> tuple[IntArray, IntArray]:
    """Return CSR ``(offsets, strike)``: per evidence point, the strikes that may explain it.

    A strike may explain a point when the point's cell is in its window and the
    strike is dated on or before it. With ``tiles``, only the points in those tiles
    are given any (a pass over a few tiles: the other points' pairs would weigh 0).
    """
    offsets = np.zeros(len(ev_row) + 1, dtype=np.int64)  # the counts first, from [1]
    every = np.arange(len(tile_evidence[0]) - 1, dtype=np.int64)
    visit = every if tiles is None else np.asarray(tiles, dtype=np.int64)
    args = (visit, *tile_evidence, *tile_strikes, ev_row, ev_col, ev_day, strikes)
    _pairs(*args, offsets, offsets[1:], False)
    np.cumsum(offsets, out=offsets)  # one array of a million points, not five
    out = np.empty(offsets[-1], dtype=np.int64)
    _pairs(*args, offsets, out, True)
    return offsets, out


INTEGRAL_PARTS = {
    "all": (True, True, True, True),
    "base": (True, True, False, True),
    "strikes": (True, True, False, False),
    "areas": (True, False, True, False),
    "strikes and areas": (True, True, True, False),
    "grid": (False, True, False, True),
}
"""What each ``parts`` of :func:`integrate` computes: exposures, evidence weights,
hazard areas, and the grid's own sums (the coarse cells' search coverage and the
evidence's background weights, which do not depend on the strikes: a pass over some
strikes for a caller that keeps its earlier values skips them, and ``grid`` computes
them alone, with the evidence pass that gives the background weights)."""

FAST = {"reassoc", "contract"}
"""Floating-point freedoms for sums over cells: reordering (vector lanes) and fused
multiply-add; no assumption about NaN, infinities or signed zeros."""


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
    want: tuple[bool, bool, bool, bool],
    exposure_slot: IntArray,
    exposure_part: FloatArray,
    coarse_searched: FloatArray,
    coarse_notice: FloatArray,
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
        events = tile_searches(
            ta_idx[ta_off[t] : ta_off[t + 1]], ax, ay, a_ring, a_geom, a_day,
            x0, top, cell, row0, col0, nrows, ncols,
        )  # fmt: skip
        clock = tile_survival(events, a_day, a_lk, nrows * ncols)
        found, notice = clock[5], clock[6]
        searched_row = np.zeros(nrows, dtype=np.bool_)
        noticed_row = np.zeros(nrows, dtype=np.bool_)
        for c in range(nrows * ncols):
            if notice[c] > 0.0:
                noticed_row[c // ncols] = True
            if found[c] > 0.0:
                searched_row[c // ncols] = True
                if not want[3]:
                    continue
                cr, cc = (row0 + c // ncols) // factor, (col0 + c % ncols) // factor
                coarse_searched[cr, cc] += 1.0 - math.exp(clock[3][c, SEARCH])
                coarse_notice[cr, cc] += notice[c]
        # the hazard areas' cells in this tile, as a CSR over the tile's areas
        a_ids = th_idx[th_off[t] : th_off[t + 1] if want[2] else th_off[t]]
        a_off, a_cell = _tile_areas(
            a_ids, hx, hy, h_ring, h_geom, x0, top, cell, row0, col0, nrows, ncols
        )
        for q in range(len(a_ids)):
            area_cells[th_off[t] + q] = a_off[q + 1] - a_off[q]
        rows = np.empty((kmax, TILE))
        cols = np.empty((kmax, TILE))
        spans = np.empty((kmax, 4), dtype=np.int64)
        pos = 0
        for m in range(ts_off[t], ts_off[t + 1]):  # strikes in day order
            s = ts_idx[m]
            pos = advance(clock, pos, strikes[s, DAY])
            ra, rb = max(strikes[s, R0], row0), min(strikes[s, R0] + strikes[s, NR], row0 + nrows)
            ca, cb = max(strikes[s, C0], col0), min(strikes[s, C0] + strikes[s, NC], col0 + ncols)
            if ra >= rb or ca >= cb:
                continue
            mean_axes(strikes, comps, s, ra, rb, ca, cb, clip, x0, top, cell, rows, cols)
            for k in range(strikes[s, K1] - strikes[s, K0]):
                spans[k, 0], spans[k, 1] = span(rows[k], rb - ra)
                spans[k, 2], spans[k, 3] = span(cols[k], cb - ca)
            box = (ra, rb, ca, cb, row0, col0, ncols)
            if want[0]:
                _exposure(
                    strikes, comps, s, box, rows, cols, spans, clip, g, found, notice,
                    (searched_row, noticed_row), exposure_part[2 * exposure_slot[m] :],
                )  # fmt: skip
            for q in range(len(a_ids)):
                slot = area_slot[th_off[t] + q] + (m - ts_off[t])
                area_mass[slot] = _area_mass(
                    strikes, comps, s, box, rows, cols, spans, clip, g, clock[4],
                    a_cell[a_off[q] : a_off[q + 1]],
                )  # fmt: skip
        if want[1] and te_off[t + 1] > te_off[t]:
            start, ev_day_c, ev_cum = tile_events(events, a_day, a_lk, nrows * ncols)
            _evidence_weights(
                t, te_off, te_idx, ev_row, ev_col, ev_day, ev_item, pair_off, pair_strike,
                compat, strikes, comps, clip, g, row0, col0, ncols, (start, ev_day_c, ev_cum),
                bg, factor, pair_weight, ev_bg, want[3],
            )  # fmt: skip


@numba.njit(cache=True)
def _tile_areas(
    ids: IntArray, hx: FloatArray, hy: FloatArray, h_ring: IntArray, h_geom: IntArray,
    x0: float, top: float, cell: float, row0: int, col0: int, nrows: int, ncols: int,
) -> tuple[IntArray, IntArray]:  # fmt: skip
    """Local cells of each area of ``ids`` in the tile, CSR ``(offsets, cells)``."""
    buf = np.empty(nrows * ncols, dtype=np.int64)
    counts = np.zeros(len(ids) + 1, dtype=np.int64)
    for q in range(len(ids)):
        h = ids[q]
        counts[q + 1] = fill_cells(hx, hy, h_ring, h_geom[h], h_geom[h + 1], x0, top, cell,
                                   row0, col0, nrows, ncols, buf[:0])  # fmt: skip
    offsets = np.cumsum(counts)
    cells = np.empty(offsets[-1], dtype=np.int64)
    for q in range(len(ids)):
        h = ids[q]
        fill_cells(hx, hy, h_ring, h_geom[h], h_geom[h + 1], x0, top, cell, row0, col0,
                   nrows, ncols, cells[offsets[q] : offsets[q + 1]])  # fmt: skip
    return offsets, cells


@numba.njit(cache=True)
def _exposure(
    strikes: IntArray, comps: FloatArray, s: int,
    box: tuple[int, int, int, int, int, int, int], rows: FloatArray, cols: FloatArray,
    spans: IntArray, clip: float, g: tuple[float, float, float, int, int, int],
    found: FloatArray, notice: FloatArray,
    flags: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]], out: FloatArray,
) -> None:  # fmt: skip
    """``Σ_c w_kc (1 − L_c)`` and ``Σ_c w_kc (1 − S_c L_c)`` of each component *k* in this tile.

    Written to ``out[2k]`` and ``out[2k + 1]``; ``notice = 1 − L`` and
    ``found = 1 − S·L`` for this strike's day (:func:`~remnant.hazard.kernels.advance`).
    An isotropic component's mass is separable, so each row with a search is a dot
    product; ``flags`` mark the rows with any search, and with any survey without
    evidence. The masses are not weighted by ``π_k``. ``spans`` holds each isotropic
    component's cut window in the box, ``[row_lo, row_hi, col_lo, col_hi)`` from its
    corner (:func:`span` of its axes).
    """
    searched_row, noticed_row = flags
    ra, rb, ca, cb, row0, col0, ncols = box
    x0, top, cell = g[0], g[1], g[2]
    k0, k1 = strikes[s, K0], strikes[s, K1]
    masses = np.empty(cb - ca)
    for k in range(k0, k1):
        kk = k - k0
        acc_l, acc_sl = 0.0, 0.0
        if comps[k, NORM] > 0.0:
            for r in range(ra, rb):
                if not searched_row[r - row0]:
                    continue
                base = (r - row0) * ncols - col0
                oriented_row(comps, k, r, ca, cb, clip, x0, top, cell, masses)
                if noticed_row[r - row0]:
                    acc_l += _dot(masses, notice, base + ca, cb - ca)
                acc_sl += _dot(masses, found, base + ca, cb - ca)
        else:  # only the component's own cut window: a site is far smaller than its strike
            r_lo, r_hi, c_lo, c_hi = spans[kk, 0], spans[kk, 1], spans[kk, 2], spans[kk, 3]
            for r in range(ra + r_lo, ra + r_hi):
                if not searched_row[r - row0]:
                    continue
                base = (r - row0) * ncols - col0 + ca + c_lo
                w = rows[kk, r - ra]
                if noticed_row[r - row0]:
                    acc_l += w * _dot(cols[kk, c_lo:], notice, base, c_hi - c_lo)
                acc_sl += w * _dot(cols[kk, c_lo:], found, base, c_hi - c_lo)
        out[2 * kk] = acc_l
        out[2 * kk + 1] = acc_sl


@numba.njit(cache=True)
def span(a: FloatArray, n: int) -> tuple[int, int]:
    """``[first, last + 1)`` of the nonzero entries of ``a[:n]``; ``(0, 0)`` if none."""
    first = 0
    while first < n and a[first] == 0.0:
        first += 1
    if first == n:
        return 0, 0
    last = n - 1
    while a[last] == 0.0:
        last -= 1
    return first, last + 1


@numba.njit(cache=True, fastmath=FAST)
def _dot(a: FloatArray, b: FloatArray, offset: int, n: int) -> float:
    """``Σ_i a[i] b[offset + i]`` for ``i < n``, vectorised (the order of the sum is free)."""
    total = 0.0
    for i in range(n):
        total += a[i] * b[offset + i]
    return total


@numba.njit(cache=True)
def _area_mass(
    strikes: IntArray, comps: FloatArray, s: int,
    box: tuple[int, int, int, int, int, int, int], rows: FloatArray, cols: FloatArray,
    spans: IntArray, clip: float, g: tuple[float, float, float, int, int, int],
    s_now: FloatArray, cells: IntArray,
) -> float:  # fmt: skip
    """``Σ_{c ∈ A} w_sc S_sc`` over an area's cells of this tile inside the window.

    The area's cells come row by row in runs (:func:`~remnant.hazard.scanline.fill_cells`
    writes them ascending): each run of an isotropic component is one dot product.
    """
    ra, rb, ca, cb, row0, col0, ncols = box
    x0, top, cell = g[0], g[1], g[2]
    k0, k1 = strikes[s, K0], strikes[s, K1]
    masses = np.empty(TILE)
    total = 0.0
    i, n = 0, len(cells)
    while i < n:
        j = i
        while j + 1 < n and cells[j + 1] == cells[j] + 1 and cells[j + 1] % ncols != 0:
            j += 1
        r = row0 + cells[i] // ncols
        lo = max(col0 + cells[i] % ncols, ca)
        hi = min(col0 + cells[j] % ncols + 1, cb)
        i = j + 1
        if r < ra or r >= rb or lo >= hi:
            continue
        base = (r - row0) * ncols - col0
        for k in range(k0, k1):
            if comps[k, NORM] > 0.0:
                oriented_row(comps, k, r, lo, hi, clip, x0, top, cell, masses)
                total += comps[k, WEIGHT] * _dot(masses, s_now, base + lo, hi - lo)
                continue
            kk = k - k0
            w = rows[kk, r - ra]
            if w == 0.0:
                continue
            c_lo, c_hi = spans[kk, 2] + ca, spans[kk, 3] + ca  # the component's cut columns
            a, b = max(lo, c_lo), min(hi, c_hi)
            if a < b:
                total += comps[k, WEIGHT] * w * _dot(cols[kk, a - ca :], s_now, base + a, b - a)
    return total


@numba.njit(cache=True)
def _evidence_weights(
    t: int, te_off: IntArray, te_idx: IntArray, ev_row: IntArray, ev_col: IntArray,
    ev_day: IntArray, ev_item: IntArray, pair_off: IntArray, pair_strike: IntArray,
    compat: FloatArray, strikes: IntArray, comps: FloatArray, clip: float,
    g: tuple[float, float, float, int, int, int], row0: int, col0: int, ncols: int,
    sv: tuple[IntArray, IntArray, FloatArray], bg: FloatArray,
    factor: int, pair_weight: FloatArray, ev_bg: FloatArray, background: bool,
) -> None:  # fmt: skip
    """``ω_js`` of every pair of the tile's evidence, and ``ω_j,bg`` if ``background``."""
    x0, top, cell = g[0], g[1], g[2]
    start, ev_day_c, ev_cum = sv[0], sv[1], sv[2]
    for k in range(te_off[t], te_off[t + 1]):
        j = te_idx[k]
        r, q = ev_row[j], ev_col[j]
        c = (r - row0) * ncols + (q - col0)
        if background:
            gb = bg[r // factor, q // factor] / (factor * factor)
            ev_bg[j] = gb * math.exp(log_survival(start, ev_day_c, ev_cum, c, -NEVER, ev_day[j]))
        for p in range(pair_off[j], pair_off[j + 1]):
            s = pair_strike[p]
            w = point_mass(strikes, comps, s, r, q, clip, x0, top, cell)
            day = strikes[s, DAY]
            ls = log_survival(start, ev_day_c, ev_cum, c, day, ev_day[j], SEARCH)
            ls += log_survival(start, ev_day_c, ev_cum, c, day, NEVER, NOTICE)
            pair_weight[p] = w * math.exp(ls) * compat[ev_item[j], strikes[s, TYPE]]


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
    *,
    parts: str = "all",
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
    parts : {"all", "base", "strikes", "areas"}
        What to compute: ``all``; ``base``, all but the hazard areas' masses (the
        costliest part, needed only once the strikes' components are final);
        ``strikes``, the exposures and evidence weights of these strikes only, on the
        tiles their windows meet (``searched``, ``notice`` and ``evidence_background``
        then are empty, for a caller that keeps its earlier values); ``areas``, the
        hazard areas' masses and cells (with the exposures they are normalised by).
    """
    if parts not in INTEGRAL_PARTS:
        raise ValueError(f"unknown parts {parts!r}; valid: {sorted(INTEGRAL_PARTS)}")
    ts_off = strikes.tile_offsets
    n_tiles = len(ts_off) - 1
    want = INTEGRAL_PARTS[parts]
    busy = np.diff(ts_off) > 0
    if parts == "areas":
        busy &= np.diff(areas.tile_offsets) > 0
    tiles = np.flatnonzero(busy) if parts in ("strikes", "areas") else np.arange(n_tiles)
    args = (grid, strikes, searches, search_day, search_log_keep, evidence, tile_evidence)
    sums = tile_sums(*args, areas, background, factor, tiles, want)
    return reduce_sums(sums, strikes)


@dataclass(frozen=True)
class Sums:
    """Pass 1 over some tiles, not yet reduced: every part adds up over tiles.

    Parameters
    ----------
    component_notice, component_found : ndarray, shape (components,)
        ``Σ w (1 − L)`` and ``Σ w (1 − S L)`` of each component over the tiles. [-]
    pair_offsets : ndarray of int64, shape (evidence + 1,)
        CSR of each evidence point's candidate pairs.
    pair_strike : ndarray of int64
        The strike of each candidate pair.
    pair_weight : ndarray
        ``ω_js Z_s`` (not yet divided by ``Z_s``), for the points in the tiles (0
        elsewhere). [-]
    area_strike_area, area_strike : ndarray of int64
        (hazard area, strike) of each positive mass, once per tile.
    area_mass : ndarray
        ``Σ_{c ∈ A} w S L`` over one tile's cells. [-]
    area_cells : ndarray of int64, shape (areas,)
        Cells of each area in the tiles.
    searched, notice, evidence_background
        As in :class:`Integrals`, complete where the tiles cover; empty when the
        grid's own sums were not wanted (:data:`INTEGRAL_PARTS`).
    """

    component_notice: FloatArray
    component_found: FloatArray
    pair_offsets: IntArray
    pair_strike: IntArray
    pair_weight: FloatArray
    area_strike_area: IntArray
    area_strike: IntArray
    area_mass: FloatArray
    area_cells: IntArray
    searched: FloatArray
    notice: FloatArray
    evidence_background: FloatArray


def tile_sums(
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
    tiles: IntArray,
    want: tuple[bool, bool, bool, bool] = (True, True, True, True),
) -> Sums:
    """Pass 1 of ``strikes`` on ``tiles`` only (ascending): the sums, not reduced.

    ``want``: exposures, evidence weights, hazard areas, the grid's own sums
    (:data:`INTEGRAL_PARTS`).
    """
    ts_off, ts_idx = strikes.tile_offsets, strikes.tile_index
    pair_off, pair_strike = candidate_pairs(
        tile_evidence, (ts_off, ts_idx), evidence.row, evidence.col, evidence.day,
        strikes.table, tiles,
    )  # fmt: skip
    n_st = np.diff(ts_off)
    th_off = areas.tile_offsets
    per_entry = np.repeat(n_st, np.diff(th_off))
    area_slot = csr_offsets(per_entry)
    per_strike = strikes.table[:, K1] - strikes.table[:, K0]
    exposure_slot = csr_offsets(per_strike[ts_idx])
    grid_shape = background.shape if want[3] else (0, 0)  # the grid's sums, or none
    out = _Parts(
        exposure=np.zeros(2 * int(exposure_slot[-1])),
        searched=np.zeros(grid_shape),
        notice=np.zeros(grid_shape),
        pair_weight=np.zeros(len(pair_strike)),
        evidence_background=np.zeros(len(evidence.row) if want[3] else 0),
        area_mass=np.zeros(int(area_slot[-1])),
        area_cells=np.zeros(len(areas.tile_index), dtype=np.int64),
    )
    _pass(
        np.asarray(tiles, dtype=np.int64),
        (grid.x0, grid.top, grid.cell, grid.nx, grid.ny, grid.tile_cols),
        strikes.table, strikes.comps, strikes.clip, strikes.kmax, ts_off, ts_idx,
        polygon_tuple(searches), search_day, search_log_keep,
        (*tile_evidence, evidence.row, evidence.col, evidence.day, evidence.item),
        pair_off, pair_strike, evidence.compat,
        polygon_tuple(areas), area_slot, background, factor, want, exposure_slot,
        out.exposure, out.searched, out.notice, out.pair_weight, out.evidence_background,
        out.area_mass, out.area_cells,
    )  # fmt: skip
    k_count = np.diff(exposure_slot)
    comp = run_rows(strikes.table[ts_idx, K0], k_count)
    n_comps = len(strikes.comps)
    entry_tile = np.repeat(np.arange(len(th_off) - 1), np.diff(th_off))
    slot_area = np.repeat(areas.tile_index, per_entry)
    slot_strike = ts_idx[run_rows(ts_off[entry_tile], per_entry)]
    positive = out.area_mass > 0.0
    n_areas = len(areas.geom_offsets) - 1
    return Sums(
        component_notice=weighted_sums(comp, out.exposure[0::2], n_comps),
        component_found=weighted_sums(comp, out.exposure[1::2], n_comps),
        pair_offsets=pair_off,
        pair_strike=pair_strike,
        pair_weight=out.pair_weight,
        area_strike_area=slot_area[positive],
        area_strike=slot_strike[positive],
        area_mass=out.area_mass[positive],
        area_cells=np.bincount(areas.tile_index, out.area_cells, n_areas).astype(np.int64),
        searched=_coarse_means(out.searched, tiles, grid, factor),
        notice=_coarse_means(out.notice, tiles, grid, factor),
        evidence_background=out.evidence_background,
    )


def _coarse_means(sums: FloatArray, tiles: IntArray, grid: GridArgs, factor: int) -> FloatArray:
    """Coarse sums over fine cells made means, in place, where ``tiles`` reach (0 elsewhere).

    Only the coarse cells meeting the tiles (:func:`.tiles.coarse_cells_meeting`) are
    divided: a day's dozen tiles leave the rest of a country's 41 MB grid as it is,
    its pages untouched, where a division of the whole grid would write two new ones.
    """
    if sums.size == 0:
        return sums
    if len(tiles) >= -(-grid.ny // TILE) * grid.tile_cols:  # every tile: the whole grid
        sums /= factor**2
        return sums
    at = coarse_cells_meeting(tiles, factor, grid.tile_cols, (sums.shape[0], sums.shape[1]))
    sums.reshape(-1)[at] /= factor**2
    return sums


def strike_exposures(
    component_notice: FloatArray, component_found: FloatArray, weight: FloatArray,
    k0: IntArray, k1: IntArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:  # fmt: skip
    """``e_s``, each component's exposure, the last component's and ``Z_s`` from the sums.

    ``weight`` the components' weights; strike *s* owns components ``k0[s]:k1[s]``.
    """
    n = len(k0)
    owner = np.repeat(np.arange(n), k1 - k0)
    notice = np.minimum(weighted_sums(owner, weight * component_notice, n), 1.0 - 1e-12)
    norm = 1.0 - notice  # Z_s: the mass where the strike may still have fallen
    found = weighted_sums(owner, weight * component_found, n)
    comp = np.clip(
        (component_found - component_notice) / np.maximum(1.0 - component_notice, 1e-12),
        0.0, 1.0,
    )  # fmt: skip
    last = np.where(k1 > k0, comp[np.maximum(k1 - 1, 0)], 0.0)
    return np.clip((found - notice) / norm, 0.0, 1.0), comp, last, norm


def pair_points(offsets: IntArray) -> IntArray:
    """The evidence point of each candidate pair, from the pairs' CSR ``offsets``."""
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def kept_pairs(sums: Sums) -> npt.NDArray[np.bool_]:
    """The candidate pairs above :data:`PAIR_FLOOR` of their point's largest."""
    off = sums.pair_offsets
    pair_ev = pair_points(off)
    return sums.pair_weight > PAIR_FLOOR * _segment_max(sums.pair_weight, off)[pair_ev]


def merged_areas(
    area: IntArray, strike: IntArray, mass: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """One row per (hazard area, strike), its masses (over tiles, or a difference) summed.

    Rows left with no positive mass are dropped.
    """
    if area.size == 0:
        return area, strike, mass
    n = int(strike.max()) + 1
    keys, inverse = np.unique(area * n + strike, return_inverse=True)
    total = weighted_sums(inverse.ravel(), mass, len(keys))
    keep = total > 0.0
    return (keys[keep] // n).astype(np.int64), (keys[keep] % n).astype(np.int64), total[keep]


def reduce_sums(sums: Sums, strikes: StrikeSet) -> Integrals:
    """Integrals from the sums over every tile of the strikes; pairs kept, weights over ``Z_s``."""
    t = strikes.table
    exposure, comp, last, norm = strike_exposures(
        sums.component_notice, sums.component_found, strikes.comps[:, WEIGHT], t[:, K0], t[:, K1]
    )
    off = sums.pair_offsets
    pair_ev = pair_points(off)
    keep = kept_pairs(sums)
    area, strike, mass = merged_areas(sums.area_strike_area, sums.area_strike, sums.area_mass)
    return Integrals(
        exposure=exposure,
        component_exposure=comp,
        last_exposure=last,
        notice_norm=norm,
        component_notice=sums.component_notice,
        component_found=sums.component_found,
        notice=sums.notice,
        searched=sums.searched,
        pair_evidence=pair_ev[keep],
        pair_strike=sums.pair_strike[keep],
        pair_weight=sums.pair_weight[keep] / norm[sums.pair_strike[keep]],
        evidence_background=sums.evidence_background,
        area_strike_area=area,
        area_strike=strike,
        area_mass=mass,
        area_cells=sums.area_cells,
    )


def polygon_tuple(
    p: PolygonArgs,
) -> tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray]:
    """The polygon arrays in the order the kernels take them."""
    return (p.x, p.y, p.ring_offsets, p.geom_offsets, p.tile_offsets, p.tile_index)


@dataclass(frozen=True)
class _Parts:
    """The per-tile outputs of pass 1, before they are summed."""

    exposure: FloatArray  # per (tile, strike) entry and component: Σ w(1−L), Σ w(1−SL)
    searched: FloatArray  # per coarse cell
    notice: FloatArray  # per coarse cell
    pair_weight: FloatArray  # per candidate pair
    evidence_background: FloatArray  # per evidence point
    area_mass: FloatArray  # per (tile, area, strike) slot
    area_cells: IntArray  # per (tile, area) entry


PAIR_FLOOR = 1e-4
"""Pairs whose weight is below this share of the largest of their evidence point are
dropped: such a strike would need ten thousand times the expected duds of the best
candidate to take even half of the point, while strikes' expectations differ by
about a thousand at most (a few duds to a few thousand). [-]"""


def _segment_max(values: FloatArray, offsets: IntArray) -> FloatArray:
    """Largest value of each CSR segment (0 for an empty one)."""
    out = np.zeros(len(offsets) - 1)
    full = np.flatnonzero(np.diff(offsets) > 0)
    if full.size:
        out[full] = np.maximum.reduceat(values, offsets[full])
    return out


def difference(
    rows: Integrals, comps: Components, old: Sums, new: Sums, near: npt.NDArray[np.bool_]
) -> Integrals:
    """Pass 1 of some strikes (``rows``) moved by the sums of some tiles, ``new`` − ``old``.

    Exposures, component sums and hazard-area masses add up over tiles, so the
    difference of the sums on the tiles where the records changed (and on any
    other, where it is 0) brings them up to date. The evidence points ``near`` (in
    those tiles) get their pairs anew; the others keep theirs, scaled to the new
    ``Z_s``.
    """
    cn = rows.component_notice + new.component_notice - old.component_notice
    cf = rows.component_found + new.component_found - old.component_found
    k0, k1 = comps.offsets[:-1], comps.offsets[1:]
    exposure, comp, last, norm = strike_exposures(cn, cf, comps.weight, k0, k1)
    far = ~near[rows.pair_evidence]
    s = rows.pair_strike[far]
    off = new.pair_offsets
    pair_ev = pair_points(off)
    fresh = kept_pairs(new) & near[pair_ev]
    t = new.pair_strike[fresh]
    area, strike, mass = merged_areas(
        np.concatenate([rows.area_strike_area, new.area_strike_area, old.area_strike_area]),
        np.concatenate([rows.area_strike, new.area_strike, old.area_strike]),
        np.concatenate([rows.area_mass, new.area_mass, -old.area_mass]),
    )
    return dataclasses.replace(
        rows,
        exposure=exposure,
        component_exposure=comp,
        last_exposure=last,
        notice_norm=norm,
        component_notice=cn,
        component_found=cf,
        pair_evidence=np.concatenate([rows.pair_evidence[far], pair_ev[fresh]]),
        pair_strike=np.concatenate([s, t]),
        pair_weight=np.concatenate(
            [
                rows.pair_weight[far] * rows.notice_norm[s] / norm[s],
                new.pair_weight[fresh] / norm[t],
            ]
        ),
        area_strike_area=area,
        area_strike=strike,
        area_mass=mass,
    )


def ascending(values: IntArray) -> bool:
    """Whether ``values`` never decrease (pairs in evidence order).

    The answer for a large array is kept with it (:data:`_ASCENDING`), the array made
    read-only so that a change to it raises instead of leaving the answer stale:
    checking a country's 25 M pairs reads 400 MB, and an update asks of the same
    pairs some fifteen times. No array of pairs is changed in place.
    """
    if values.size < ASCENDING_KEPT:
        return bool(np.all(values[1:] >= values[:-1]))
    kept = _kept_with(_ASCENDING, values)
    if kept is not None:
        return bool(kept[0])
    answer = bool(np.all(values[1:] >= values[:-1]))
    _keep_with(_ASCENDING, values, answer)
    return answer


ASCENDING_KEPT = 1 << 20
"""Arrays of at least this many values have :func:`ascending`'s answer kept. [values]"""

_ASCENDING: dict[int, tuple[Any, ...]] = {}
""":func:`ascending`'s answers (:func:`_keep_with`)."""


def _kept_with(table: dict[int, tuple[Any, ...]], values: np.ndarray) -> tuple[Any, ...] | None:
    """What ``table`` keeps with the array ``values`` (:func:`_keep_with`), or None."""
    kept = table.get(id(values))
    return kept[1:] if kept is not None and kept[0]() is values else None


def _keep_with(table: dict[int, tuple[Any, ...]], values: np.ndarray, *data: Any) -> None:
    """Keep ``data`` with the array ``values`` in ``table``, until the array is gone.

    By the array's id, with a weak reference to it; the array is made read-only, so
    that a change to it raises instead of leaving what is kept stale.
    """
    if _kept_with(table, values) is None:
        values.flags.writeable = False
        weakref.finalize(values, table.pop, id(values), None)
    table[id(values)] = (weakref.ref(values), *data)


def pairs_at(evidence: IntArray, points: IntArray) -> IntArray:
    """Positions of the pairs whose evidence point is among ``points`` (ascending).

    Pairs in evidence order are cut into each point's run, found by binary search
    (:func:`_runs_at`); others are looked up in a mask.
    """
    if ascending(evidence):
        return _runs_at(np.asarray(evidence), np.asarray(points, dtype=np.int64), MERGE_PIECES)
    mask = np.zeros(int(max(evidence.max(initial=-1), points.max(initial=-1))) + 1, dtype=bool)
    mask[points] = True
    return np.flatnonzero(mask[evidence]).astype(np.int64)


@numba.njit(parallel=True, cache=True)
def _runs_at(evidence: IntArray, points: IntArray, pieces: int) -> IntArray:
    """The positions of the runs of ``points`` in ``evidence`` (ascending), one after another.

    Each point's run starts where a binary search puts it and ends where the values
    stop equalling it: one search per point, not two, and the positions listed
    directly, in ``pieces`` ranges of points on all cores (numba). At country scale,
    40,000 points among 25 M pairs: 1 M positions in a few milliseconds, against 30–70
    ms by ``np.searchsorted`` twice and :func:`.tiles.run_rows`.
    """
    n, m = len(evidence), len(points)
    lo = np.empty(m, dtype=np.int64)
    size = np.empty(m, dtype=np.int64)
    for p in numba.prange(pieces):
        for i in range(p * m // pieces, (p + 1) * m // pieces):
            v = points[i]
            a, b = 0, n
            while a < b:  # the first position whose value is not below v
                h = (a + b) >> 1
                if evidence[h] < v:
                    a = h + 1
                else:
                    b = h
            e = a
            while e < n and evidence[e] == v:
                e += 1
            lo[i], size[i] = a, e - a
    at = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        at[i + 1] = at[i] + size[i]
    out = np.empty(at[m], dtype=np.int64)
    for p in numba.prange(pieces):
        for i in range(p * m // pieces, (p + 1) * m // pieces):
            for k in range(size[i]):
                out[at[i] + k] = lo[i] + k
    return out


def ranks(points: IntArray, values: IntArray) -> IntArray:
    """Position in ``points`` (ascending, distinct) of each of ``values``, all among them.

    ``np.searchsorted(points, values)`` by a table as long as the largest point: an
    update's million pairs at its 40,000 points in 3 ms instead of 20.
    """
    table = np.empty(int(points[-1]) + 1 if points.size else 0, dtype=np.int64)
    table[points] = np.arange(points.size)
    return table[values]


def pairs_of(strike: IntArray, wanted: npt.NDArray[np.bool_]) -> IntArray:
    """Positions of the pairs whose strike is ``wanted``, ascending.

    One pass to count and one to list, on all cores (:func:`_pairs_of`): no mask or
    index the size of the pairs is made. For an array of at least
    :data:`SCANS_KEPT` pairs (a large run's first pass 1: 25 M at country scale) the
    strikes scanned for and their positions are kept with it (:func:`_keep_with`, the
    array made read-only as :func:`ascending` makes it): an update asks four times for
    the pairs of its few hundred strikes there, each time for the same strikes or
    fewer, and only strikes never asked for are scanned for again.
    """
    strike = np.asarray(strike)
    wanted = np.asarray(wanted, dtype=np.bool_)
    if strike.size < SCANS_KEPT:
        return _pairs_of(strike, wanted, MERGE_PIECES)
    kept = _kept_with(_SCANNED, strike)
    scanned, found = kept if kept is not None else (np.zeros(0, np.bool_), np.empty(0, np.int64))
    n = max(len(scanned), len(wanted))
    scanned, wanted = _padded(scanned, n), _padded(wanted, n)
    new = wanted & ~scanned
    if new.any():  # two ascending runs merged (a stable sort of runs is a merge)
        found = np.sort(np.concatenate([found, _pairs_of(strike, new, MERGE_PIECES)]),
                        kind="stable")  # fmt: skip
        _keep_with(_SCANNED, strike, scanned | new, found)
    return found[wanted[strike[found]]]


SCANS_KEPT = 1 << 23
"""Arrays of at least this many pairs have :func:`pairs_of`'s scans kept. [pairs]"""

_SCANNED: dict[int, tuple[Any, ...]] = {}
""":func:`pairs_of`'s scans of large arrays (:func:`_keep_with`): the strikes scanned
for and the positions of their pairs."""


def _padded(mask: npt.NDArray[np.bool_], n: int) -> npt.NDArray[np.bool_]:
    """``mask`` lengthened with False to ``n``."""
    if len(mask) >= n:
        return mask
    out = np.zeros(n, dtype=np.bool_)
    out[: len(mask)] = mask
    return out


@numba.njit(parallel=True, cache=True)
def _pairs_of(strike: IntArray, wanted: npt.NDArray[np.bool_], pieces: int) -> IntArray:
    """:func:`pairs_of` in ``pieces`` ranges of pairs, each on its own core (numba)."""
    n = len(strike)
    counts = np.zeros(pieces, dtype=np.int64)
    for p in numba.prange(pieces):
        c = 0
        for i in range(p * n // pieces, (p + 1) * n // pieces):
            if wanted[strike[i]]:
                c += 1
        counts[p] = c
    at = np.zeros(pieces + 1, dtype=np.int64)
    for p in range(pieces):
        at[p + 1] = at[p] + counts[p]
    out = np.empty(at[pieces], dtype=np.int64)
    for p in numba.prange(pieces):
        k = at[p]
        for i in range(p * n // pieces, (p + 1) * n // pieces):
            if wanted[strike[i]]:
                out[k] = i
                k += 1
    return out


def splice_pairs(
    old: tuple[IntArray, IntArray, FloatArray],
    keep: npt.NDArray[np.bool_],
    new: tuple[IntArray, IntArray, FloatArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """The ``keep`` pairs of ``old`` and all of ``new``, each ``(evidence, strike, weight)``.

    Where ``old`` is in evidence order the result is too, each point's kept old pairs
    before its new ones: a merge, so that the evidence update needs no sort
    (:class:`.evidence._Pairs`). Otherwise the two are put one after the other.
    """
    ev, st, w = old
    n_ev, n_st, n_w = new
    if len(n_ev) == 0 or not ascending(ev):
        return (
            np.concatenate([ev[keep], n_ev]),
            np.concatenate([st[keep], n_st]),
            np.concatenate([w[keep], n_w]),
        )
    if not ascending(n_ev):
        order = np.argsort(n_ev, kind="stable")
        n_ev, n_st, n_w = n_ev[order], n_st[order], n_w[order]
    cuts = np.linspace(0, max(int(ev[-1]) if len(ev) else 0, int(n_ev[-1])) + 1,
                       MERGE_PIECES + 1).astype(np.int64)  # fmt: skip
    return _merge_pieces(ev, st, w, keep, n_ev, n_st, n_w, np.searchsorted(ev, cuts),
                         np.searchsorted(n_ev, cuts))  # fmt: skip


MERGE_PIECES = 8
"""Ranges of evidence points :func:`splice_pairs` merges each on its own core. [-]"""


@numba.njit(parallel=True, cache=True)
def _merge_pieces(
    ev: IntArray, st: IntArray, w: FloatArray, keep: npt.NDArray[np.bool_], n_ev: IntArray,
    n_st: IntArray, n_w: FloatArray, old_at: IntArray, new_at: IntArray,
) -> tuple[IntArray, IntArray, FloatArray]:  # fmt: skip
    """Merge piece by piece, each on its own core (numba).

    Piece *p* holds the old pairs ``old_at[p]:old_at[p+1]`` and the new
    ``new_at[p]:new_at[p+1]``: the pairs of one range of evidence points, so the
    pieces follow each other in the result.
    """
    pieces = len(old_at) - 1
    out_at = np.zeros(pieces + 1, dtype=np.int64)
    kept = np.zeros(pieces, dtype=np.int64)
    for p in numba.prange(pieces):
        for i in range(old_at[p], old_at[p + 1]):
            kept[p] += keep[i]
    for p in range(pieces):
        out_at[p + 1] = out_at[p] + kept[p] + new_at[p + 1] - new_at[p]
    size = out_at[pieces]
    o_ev, o_st, o_w = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size)
    for p in numba.prange(pieces):
        i, j, k = old_at[p], new_at[p], out_at[p]
        i_end, j_end = old_at[p + 1], new_at[p + 1]
        while i < i_end or j < j_end:
            if j >= j_end or (i < i_end and ev[i] <= n_ev[j]):
                if keep[i]:
                    o_ev[k], o_st[k], o_w[k] = ev[i], st[i], w[i]
                    k += 1
                i += 1
            else:
                o_ev[k], o_st[k], o_w[k] = n_ev[j], n_st[j], n_w[j]
                k += 1
                j += 1
    return o_ev, o_st, o_w
