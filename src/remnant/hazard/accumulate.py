"""Pass 2 over the tiles: the four bands of the estimate, cell by cell.

For cell *c* (docs/model.md §5), with ``E_s`` the posterior mean of strike *s*'s duds
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

Tiles run in parallel (numba ``prange``) and each writes its own block of a strip of
whole tile rows, which the caller writes to the GeoTIFF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from remnant.hazard.cells import cell_bands
from remnant.hazard.grid import TILE
from remnant.hazard.integrals import NEVER
from remnant.hazard.kernels import log_survival, tile_events
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
    component_mass,
    mean_axes,
    moment_axes,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Moments:
    """The posterior quantities pass 2 needs, per strike and for the background.

    Parameters
    ----------
    mean : ndarray, shape (strikes,)
        ``E_s``: posterior mean of the strike's duds before any search, less its
        removals, so that ``E_s w_sc S_sc`` is its expected remaining in cell *c*. [items]
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
    rel_var: FloatArray
    type_rel_var: FloatArray
    background_rel_var: float
    background_items: float
    background_cluster: float
    level: float = 0.9


@numba.njit(parallel=True, cache=True)
def _strip(
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
    mom: tuple[FloatArray, FloatArray, FloatArray],
    bgm: tuple[float, float],
    q: tuple[float, float],
    bg: FloatArray,
    factor: int,
    out: npt.NDArray[np.float32],
) -> None:
    x0, top, cell, nx, ny, tile_cols = g
    ax, ay, a_ring, a_geom, ta_off, ta_idx = act
    mean, rel_var, type_rel_var = mom
    n_types = len(type_rel_var)
    for it in numba.prange(len(tiles)):
        t = tiles[it]
        row0, col0 = (t // tile_cols) * TILE, (t % tile_cols) * TILE
        nrows, ncols = min(TILE, ny - row0), min(TILE, nx - col0)
        lc0 = col0 - (tiles[0] % tile_cols) * TILE
        start, ev_day, ev_cum = tile_events(
            ta_idx[ta_off[t] : ta_off[t + 1]], ax, ay, a_ring, a_geom, a_day, a_lk,
            x0, top, cell, row0, col0, nrows, ncols,
        )  # fmt: skip
        m_acc = np.zeros(nrows * ncols)
        d_acc = np.zeros(nrows * ncols)
        by_type = np.zeros((n_types, nrows * ncols))
        axes = np.empty((6, kmax, TILE))
        for m in range(ts_off[t], ts_off[t + 1]):
            s = ts_idx[m]
            if mean[s] > 0.0:
                _add_strike(
                    strikes, comps, s, row0, col0, nrows, ncols, clip, x0, top, cell,
                    start, ev_day, ev_cum, mean[s], rel_var[s],
                    type_rel_var[strikes[s, TYPE]], axes, m_acc, d_acc, by_type,
                )  # fmt: skip
        studied = _add_background(bg, factor, bgm, row0, col0, nrows, ncols, m_acc, d_acc)
        studied = studied or ts_off[t + 1] > ts_off[t]
        for c in range(nrows * ncols):
            lr, lcol = c // ncols, lc0 + c % ncols
            if not studied:
                for b in range(4):
                    out[b, lr, lcol] = np.nan
                continue
            mu = m_acc[c]
            var = mu + d_acc[c]
            for ty in range(n_types):
                var += type_rel_var[ty] * by_type[ty, c] ** 2
            p_any, lo, hi = cell_bands(mu, max(var, mu), q[0], q[1])
            out[0, lr, lcol] = mu
            out[1, lr, lcol] = p_any
            out[2, lr, lcol] = lo
            out[3, lr, lcol] = hi


@numba.njit(cache=True)
def _add_strike(
    strikes: IntArray, comps: FloatArray, s: int, row0: int, col0: int, nrows: int,
    ncols: int, clip: float, x0: float, top: float, cell: float, start: IntArray,
    ev_day: IntArray, ev_cum: FloatArray, e: float, v: float, v_t: float,
    axes: FloatArray, m_acc: FloatArray, d_acc: FloatArray, by_type: FloatArray,
) -> None:  # fmt: skip
    """Add strike ``s``'s mean and variance terms to a tile's accumulators (module doc).

    Per cell, ``W = Σ_k π_k w_k`` and ``Q = Σ_k π_k² (u_k − w_k²)``; the strike adds
    ``E W S`` to the mean and ``E² S² [(1 + V) Q + (V − V_t) W²]`` to the variance.
    """
    ra, rb = max(strikes[s, R0], row0), min(strikes[s, R0] + strikes[s, NR], row0 + nrows)
    ca, cb = max(strikes[s, C0], col0), min(strikes[s, C0] + strikes[s, NC], col0 + ncols)
    if ra >= rb or ca >= cb:
        return
    rows, cols, wr, wc, xr, xc = axes[0], axes[1], axes[2], axes[3], axes[4], axes[5]
    mean_axes(strikes, comps, s, ra, rb, ca, cb, clip, x0, top, cell, rows, cols)
    moment_axes(strikes, comps, s, ra, rb, ca, cb, x0, top, cell, wr, wc, xr, xc)
    k0, k1 = strikes[s, K0], strikes[s, K1]
    area = cell * cell
    ty = strikes[s, TYPE]
    day = strikes[s, DAY]
    for r in range(ra, rb):
        i = r - ra
        for col in range(ca, cb):
            j = col - ca
            big_w = 0.0
            big_q = 0.0
            for k in range(k0, k1):
                kk = k - k0
                if comps[k, NORM] > 0.0:
                    w = component_mass(comps, k, r, col, clip, x0, top, cell)
                else:
                    w = rows[kk, i] * cols[kk, j]
                u = area * (
                    comps[k, COEF_W] * wr[kk, i] * wc[kk, j]
                    + comps[k, COEF_X] * xr[kk, i] * xc[kk, j]
                )
                pk = comps[k, WEIGHT]
                big_w += pk * w
                big_q += pk * pk * (min(u, w) - w * w)
            c = (r - row0) * ncols + (col - col0)
            sv = 1.0
            if start[c + 1] > start[c]:
                sv = math.exp(log_survival(start, ev_day, ev_cum, c, day, NEVER))
            mc = e * big_w * sv
            m_acc[c] += mc
            by_type[ty, c] += mc
            d_acc[c] += e * e * sv * sv * ((1.0 + v) * big_q + (v - v_t) * big_w * big_w)


@numba.njit(cache=True)
def _add_background(
    bg: FloatArray, factor: int, bgm: tuple[float, float], row0: int, col0: int,
    nrows: int, ncols: int, m_acc: FloatArray, d_acc: FloatArray,
) -> bool:  # fmt: skip
    """Add the unrecorded attacks' terms; return whether any cell of the tile has some."""
    bg_rel_var, bg_cluster = bgm
    any_bg = False
    for c in range(nrows * ncols):
        r, col = row0 + c // ncols, col0 + c % ncols
        mb = bg[r // factor, col // factor] / (factor * factor)
        if mb <= 0.0:
            continue
        any_bg = True
        m_acc[c] += mb
        d_acc[c] += mb * bg_cluster + bg_rel_var * mb * mb
    return any_bg
