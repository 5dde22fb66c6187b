"""Pass 2 over the tiles: the four bands of the estimate, cell by cell.

For cell *c* (docs/model.md §6), with ``E_s`` the posterior mean of strike *s*'s duds
(less its removals), ``V_s`` their squared coefficient of variation, ``V_t`` that of
the failure rate of type *t*, ``w_sc`` the strike's cell mass, ``u_sc ≈ E[f_c(L)²]``
its second moment over the unknown point of impact and aim points, and ``S_sc`` the
survival of the searches since the strike:

- mean ``M_c = Σ_s E_s W_sc S_sc + B_c``, with ``W_sc = Σ_k π_k w_kc`` the strike's
  mixture of components (:mod:`.components`) and ``B_c`` the expected items of
  unrecorded attacks not revealed (:mod:`.unrecorded`);
- variance ``M_c + Σ_s E_s² S_sc² [(1 + V_s) Q_sc + (V_s − V_t) W_sc²]
  + Σ_t V_t (Σ_{s∈t} E_s W_sc S_sc)² + B_c κ_bg + V_bg B_c²``, with
  ``Q_sc = Σ_k π_k² (u_kc − w_kc²)``: the law of total variance for a mixed Poisson
  count whose mean is random through the strikes' scales (shared within a type
  through the failure rate), the unknown points of impact and aim points (``u``),
  and the number and clustering of unrecorded attacks;
- ``p_any``, ``lower_90`` and ``upper_90`` of the negative binomial with that mean
  and variance (:func:`remnant.hazard.cells.cell_bands`).

Tiles run in parallel (numba ``prange``) and each writes its own block of a strip:
the tiles of a tile row side by side, or any tiles one after the other, which the
caller writes to the GeoTIFF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.cells import cell_bands
from remnant.hazard.grid import TILE
from remnant.hazard.integrals import FAST, span
from remnant.hazard.kernels import advance, tile_searches, tile_survival
from remnant.hazard.mixture import (
    C0,
    COEF_W,
    COEF_X,
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
    moment_axes,
    oriented_row,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Moments:
    """The posterior quantities pass 2 needs, per strike and for the background.

    Parameters
    ----------
    mean : ndarray, shape (strikes,)
        ``E_s ρ_s / Z_s``: posterior mean of the strike's duds before any search,
        less its removals (``ρ_s``), over the share ``Z_s`` of its density that
        surveys without evidence leave, so that ``mean · w_sc S_sc L_sc`` is its
        expected remaining in cell *c*. [items]
    keep : ndarray, shape (strikes,)
        ``ρ_s``: share of the strike's remaining items not removed otherwise. [-]
    rel_var : ndarray, shape (strikes,)
        ``V_s``: squared coefficient of variation of its duds. [-]
    type_rel_var : ndarray, shape (types,)
        ``V_t``: squared coefficient of variation of each type's failure rate. [-]
    background_rel_var : float
        ``V_bg``: squared coefficient of variation of the number of unrecorded
        attacks. [-]
    background_items : float
        ``E[Λ_u](1 + V_u)``: the duds of one unrecorded attack, weighted as they
        enter a second moment. [items]
    background_cluster : float
        ``κ_bg = E[Λ_u](1 + V_u) A c_u``: how strongly the duds of one unrecorded
        attack cluster in a cell. [items]
    level : float
        Mass of the central interval (``lower_90``/``upper_90``). [-]
    """

    mean: FloatArray
    keep: FloatArray
    rel_var: FloatArray
    type_rel_var: FloatArray
    background_rel_var: float
    background_items: float
    background_cluster: float
    level: float = 0.9


@numba.njit(parallel=True, cache=True, nogil=True)
def _strip(
    tiles: IntArray,
    at: IntArray,
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
    mom: tuple[FloatArray, FloatArray, FloatArray],
    bgm: tuple[float, float],
    q: tuple[float, float],
    bg: FloatArray,
    factor: int,
    out: npt.NDArray[np.float32],
) -> None:
    """Pass 2 on ``tiles``: tile ``tiles[i]`` into ``out[:, :rows, at[i]:at[i] + cols]``."""
    x0, top, cell, nx, ny, tile_cols = g
    ax, ay, a_ring, a_geom, ta_off, ta_idx = act
    mean, rel_var, type_rel_var = mom
    n_types = len(type_rel_var)
    for it in numba.prange(len(tiles)):
        t = tiles[it]
        row0, col0 = (t // tile_cols) * TILE, (t % tile_cols) * TILE
        nrows, ncols = min(TILE, ny - row0), min(TILE, nx - col0)
        lc0 = at[it]
        events = tile_searches(
            ta_idx[ta_off[t] : ta_off[t + 1]], ax, ay, a_ring, a_geom, a_day,
            x0, top, cell, row0, col0, nrows, ncols,
        )  # fmt: skip
        clock = tile_survival(events, a_day, a_lk, nrows * ncols)
        kinds = _tile_types(strikes, ts_idx[ts_off[t] : ts_off[t + 1]], n_types)
        acc = np.zeros((2 + len(kinds), nrows * ncols))  # mean, variance, per type present
        row_of = np.zeros(n_types, np.int64)
        row_of[kinds] = 2 + np.arange(len(kinds))
        axes = np.empty((6, kmax, TILE))
        wbuf = np.empty(nrows * ncols)
        pos = 0
        for m in range(ts_off[t], ts_off[t + 1]):  # strikes in day order
            s = ts_idx[m]
            pos = advance(clock, pos, strikes[s, DAY])
            if mean[s] > 0.0:
                tile = (row0, col0, nrows, ncols)
                _add_strike(
                    strikes, comps, s, tile, clip, g, clock[4], mean[s], rel_var[s],
                    type_rel_var[strikes[s, TYPE]], axes, wbuf, acc, row_of[strikes[s, TYPE]],
                )  # fmt: skip
        studied = _add_background(bg, factor, bgm, row0, col0, nrows, ncols, acc)
        studied = studied or ts_off[t + 1] > ts_off[t]
        last_mu, last_var, p_any, lo, hi = -1.0, -1.0, 0.0, 0.0, 0.0
        for c in range(nrows * ncols):
            lr, lcol = c // ncols, lc0 + c % ncols
            if not studied:
                for b in range(4):
                    out[b, lr, lcol] = np.nan
                continue
            mu = acc[0, c]
            var = mu + acc[1, c]
            for j in range(len(kinds)):  # in the order of the types, as over them all
                var += type_rel_var[kinds[j]] * acc[2 + j, c] ** 2
            var = max(var, mu)
            if mu != last_mu or var != last_var:  # runs of cells with the background alone
                p_any, lo, hi = cell_bands(mu, var, q[0], q[1])
                last_mu, last_var = mu, var
            out[0, lr, lcol] = mu
            out[1, lr, lcol] = p_any
            out[2, lr, lcol] = lo
            out[3, lr, lcol] = hi


@numba.njit(cache=True)
def _tile_types(strikes: IntArray, which: IntArray, n_types: int) -> IntArray:
    """The carrier types of the strikes ``which``, ascending.

    A tile keeps a row of sums for each of these only, not for every type of the
    catalogue: rows that would stay 0 cost as much to clear and read as the others.
    """
    present = np.zeros(n_types, np.bool_)
    for m in range(len(which)):
        present[strikes[which[m], TYPE]] = True
    return np.flatnonzero(present)


@numba.njit(cache=True)
def _add_strike(
    strikes: IntArray, comps: FloatArray, s: int, tile: tuple[int, int, int, int],
    clip: float, g: tuple[float, float, float, int, int, int], s_now: FloatArray, e: float,
    v: float, v_t: float, axes: FloatArray, wbuf: FloatArray, acc: FloatArray, by: int,
) -> None:  # fmt: skip
    """Add strike ``s``'s mean and variance terms to a tile's accumulators (module doc).

    Per cell, ``W = Σ_k π_k w_k`` and ``Q = Σ_k π_k² (u_k − w_k²)``; the strike adds
    ``E W S`` to the mean (``acc[0]`` and its type's row) and
    ``E² S² [(1 + V) Q + (V − V_t) W²]`` to the variance (``acc[1]``). ``s_now`` is
    the survival of the searches after the strike's day; ``acc[by]`` is its type's row.
    """
    row0, col0, nrows, ncols = tile
    x0, top, cell = g[0], g[1], g[2]
    ra, rb = max(strikes[s, R0], row0), min(strikes[s, R0] + strikes[s, NR], row0 + nrows)
    ca, cb = max(strikes[s, C0], col0), min(strikes[s, C0] + strikes[s, NC], col0 + ncols)
    if ra >= rb or ca >= cb:
        return
    rows, cols, wr, wc, xr, xc = axes[0], axes[1], axes[2], axes[3], axes[4], axes[5]
    mean_axes(strikes, comps, s, ra, rb, ca, cb, clip, x0, top, cell, rows, cols)
    moment_axes(strikes, comps, s, ra, rb, ca, cb, x0, top, cell, wr, wc, xr, xc)
    k0, k1 = strikes[s, K0], strikes[s, K1]
    coefs = (e, 1.0 + v, v - v_t, cell * cell)
    by_type = acc[by]
    if k1 - k0 == 1 and comps[k0, NORM] == 0.0:
        cw, cx = comps[k0, COEF_W], comps[k0, COEF_X]
        for r in range(ra, rb):
            i = r - ra
            base = (r - row0) * ncols - col0
            _single_row(
                rows[0, i], cols[0], wr[0, i] * cw, wc[0], xr[0, i] * cx, xc[0], ca, cb, base,
                s_now, coefs, acc[0], acc[1], by_type,
            )  # fmt: skip
        return
    # several components: mean and Q add up component by component; W² needs W first
    for r in range(ra, rb):
        base = (r - row0) * ncols - col0
        wbuf[base + ca : base + cb] = 0.0
    for k in range(k0, k1):
        kk = k - k0
        pk = comps[k, WEIGHT]
        if comps[k, NORM] > 0.0:
            _oriented_component(
                comps, k, (ra, rb, ca, cb), tile, clip, g, wr[kk], wc[kk], xr[kk], xc[kk],
                s_now, coefs, acc, by_type, wbuf,
            )  # fmt: skip
            continue
        cw, cx = pk * pk * comps[k, COEF_W], pk * pk * comps[k, COEF_X]
        # only the component's own cut window: outside it w = 0, and so is every term
        r_lo, r_hi = span(rows[kk], rb - ra)
        c_lo, c_hi = span(cols[kk], cb - ca)
        for r in range(ra + r_lo, ra + r_hi):
            i = r - ra
            base = (r - row0) * ncols - col0
            _component_row(
                pk * rows[kk, i], cols[kk, c_lo:], pk, wr[kk, i] * cw, wc[kk, c_lo:],
                xr[kk, i] * cx, xc[kk, c_lo:], ca + c_lo, ca + c_hi, base, s_now, coefs,
                acc[0], acc[1], by_type, wbuf,
            )  # fmt: skip
    e, _, v_extra, _ = coefs
    var = acc[1]
    for r in range(ra, rb):
        lo = (r - row0) * ncols - col0 + ca
        hi = lo + cb - ca
        v_row, s_row, w_row = var[lo:hi], s_now[lo:hi], wbuf[lo:hi]
        for j in range(cb - ca):
            sv = s_row[j]
            v_row[j] += e * e * sv * sv * v_extra * w_row[j] ** 2


@numba.njit(cache=True, fastmath=FAST)
def _component_row(
    r_mean: float, cols: FloatArray, weight: float, r_within: float, c_within: FloatArray,
    r_cross: float, c_cross: FloatArray, ca: int, cb: int, base: int, s_now: FloatArray,
    coefs: tuple[float, float, float, float], mean: FloatArray, var: FloatArray,
    by_type: FloatArray, wbuf: FloatArray,
) -> None:  # fmt: skip
    """One row of one weighted component of a mixture: its mean, its Q term and ``W``."""
    e, one_v, _, area = coefs
    m_row, v_row, t_row, s_row = _row_views(base + ca, base + cb, mean, var, by_type, s_now)
    n = cb - ca
    w_row, w_c, u_c, x_c = wbuf[base + ca : base + cb], cols[:n], c_within[:n], c_cross[:n]
    for j in range(n):
        w = r_mean * w_c[j]  # π_k w_k
        u = area * (r_within * u_c[j] + r_cross * x_c[j])  # π_k² u_k
        sv = s_row[j]
        m = e * w * sv
        m_row[j] += m
        t_row[j] += m
        v_row[j] += e * e * sv * sv * one_v * (min(u, weight * w) - w * w)
        w_row[j] += w


@numba.njit(cache=True)
def _oriented_component(
    comps: FloatArray, k: int, box: tuple[int, int, int, int], tile: tuple[int, int, int, int],
    clip: float, g: tuple[float, float, float, int, int, int], wr: FloatArray, wc: FloatArray,
    xr: FloatArray, xc: FloatArray, s_now: FloatArray, coefs: tuple[float, float, float, float],
    acc: FloatArray, by_type: FloatArray, wbuf: FloatArray,
) -> None:  # fmt: skip
    """An oriented component of a mixture, row by row (midpoint rule)."""
    ra, rb, ca, cb = box
    row0, col0, _, ncols = tile
    x0, top, cell = g[0], g[1], g[2]
    pk = comps[k, WEIGHT]
    cw, cx = pk * pk * comps[k, COEF_W], pk * pk * comps[k, COEF_X]
    masses = np.empty(cb - ca)
    for r in range(ra, rb):
        i = r - ra
        oriented_row(comps, k, r, ca, cb, clip, x0, top, cell, masses)
        for j in range(cb - ca):
            masses[j] *= pk
        base = (r - row0) * ncols - col0
        _component_row(
            1.0, masses, pk, wr[i] * cw, wc, xr[i] * cx, xc, ca, cb, base, s_now, coefs,
            acc[0], acc[1], by_type, wbuf,
        )  # fmt: skip


@numba.njit(cache=True, fastmath=FAST)
def _single_row(
    r_mean: float, cols: FloatArray, r_within: float, c_within: FloatArray, r_cross: float,
    c_cross: FloatArray, ca: int, cb: int, base: int, s_now: FloatArray,
    coefs: tuple[float, float, float, float], mean: FloatArray, var: FloatArray,
    by_type: FloatArray,
) -> None:  # fmt: skip
    """One row of a one-component isotropic strike: the common case, vectorised."""
    e, one_v, v_extra, area = coefs
    m_row, v_row, t_row, s_row = _row_views(base + ca, base + cb, mean, var, by_type, s_now)
    n = cb - ca
    w_c, u_c, x_c = cols[:n], c_within[:n], c_cross[:n]
    for j in range(n):
        w = r_mean * w_c[j]
        u = area * (r_within * u_c[j] + r_cross * x_c[j])
        sv = s_row[j]
        m = e * w * sv
        m_row[j] += m
        t_row[j] += m
        v_row[j] += e * e * sv * sv * (one_v * (min(u, w) - w * w) + v_extra * w * w)


@numba.njit(cache=True, inline="always")
def _row_views(
    lo: int, hi: int, mean: FloatArray, var: FloatArray, by_type: FloatArray, s_now: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The cells ``lo:hi`` of a tile's sums and survival, as views.

    A row's loop that indexes these from 0 is vectorised by LLVM (4 cells an
    instruction with AVX2); the same loop over the tile's arrays at ``base + col`` is
    not. The sums are the same, cell by cell, to the bit.
    """
    return mean[lo:hi], var[lo:hi], by_type[lo:hi], s_now[lo:hi]


@numba.njit(cache=True)
def _add_background(
    bg: FloatArray, factor: int, bgm: tuple[float, float], row0: int, col0: int,
    nrows: int, ncols: int, acc: FloatArray,
) -> bool:  # fmt: skip
    """Add the unrecorded attacks' terms; return whether any cell of the tile has some."""
    bg_rel_var, bg_cluster = bgm
    any_bg = False
    for lr in range(nrows):
        coarse = bg[(row0 + lr) // factor]
        col = col0
        while col < col0 + ncols:  # the row's run of cells in one coarse cell
            end = min((col // factor + 1) * factor, col0 + ncols)
            mb = coarse[col // factor] / (factor * factor)
            if mb > 0.0:
                any_bg = True
                extra = mb * bg_cluster + bg_rel_var * mb * mb
                base = lr * ncols - col0
                for c in range(base + col, base + end):
                    acc[0, c] += mb
                    acc[1, c] += extra
            col = end
    return any_bg
