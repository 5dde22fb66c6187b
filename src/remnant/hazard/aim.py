"""Aim points of located carriers from finds that only searched ground yields (docs/model.md §3).

A site's searched finds are not a sample of its carrier's pattern: they are a
*thinned* one. Items lie around the aim point ``a`` with density ``f(x − a)`` of
per-axis variance ``σ²`` (the site's pattern; below a normal, in the model the two
normal halves of :func:`~remnant.hazard.components.pattern_nodes`, whose moments
combine by :func:`mixture_moments`), and a search finds an item
at ``x`` with probability ``p(x) = 1 − S(x)`` (docs/model.md §2.1), so the finds are
a Poisson process of intensity ``λ f(x − a) p(x)`` [1]_. Given their number, each
lies at ``x`` with density

    g_a(x) = f(x − a) p(x) / E(a),        E(a) = ∫ f(x − a) p(x) dx,

whose mean ``m(a)`` is not ``a``: where a clearance covered one side of a pattern,
every find lies on that side, and the mean of the finds is biased by
``b(a) = m(a) − a`` towards it, away from the rest of the carrier's items. A site
also holds points that no search thinned (reports, accidents, fragments), which lie
at ``f(x − a)`` itself; with weights ``w_j`` (the items a point stands for, ``W`` in
all, ``W_s`` of them searched) the weighted mean of the points has expectation
``a + ρ b(a)``, ``ρ = W_s / W``.

The centre is the bias-corrected mean [2]_: the bias is estimated at the mean
itself, the plug-in estimate,

    â = x̄ − ρ b(x̄).

It is the first step, from ``x̄``, of the fixed-point iteration ``a ← x̄ − ρ b(a)``
whose limit is the maximum-likelihood aim point (for a normal ``f`` the thinned
pattern is an exponential family in ``a/σ²`` with sufficient statistic ``x``, so the
likelihood is greatest where ``m(a)`` matches the searched finds' mean [3]_). On the
calibration worlds the bias at the true aim point predicts the finds' mean error
(slope 1.1), while the plug-in at ``x̄`` recovers about half of it; iterated to the
maximum-likelihood point the correction overshot (cells above ``p_any`` 0.3 came
out 0.04–0.10 over-predicted on 12 worlds, against within 0.04 for one step): a site
of a few finds pins its aim point poorly along a search edge, and a site may pool
more than one carrier. So one step is kept. ASSUMPTION.

The centre's error variance follows by the delta method. With ``Σ(a)`` the
covariance of ``g_a`` (``∇m = Σ/σ²``, the exponential family again),

    Var x̄ = (W − W_s) σ² / W² + W_s Σ / W²,    J = (1 + ρ) I − ρ Σ / σ²,
    Var â = J (Var x̄) Jᵀ,

taken per axis as half its trace (site components are isotropic). Where searches
covered the pattern evenly (``p`` constant), ``b = 0``, ``Σ = σ² I`` and both are
the plain mean's, ``x̄`` and ``σ²/W``.

:func:`searched_moments` computes ``E``, ``b`` and ``Σ`` on the grid for one normal
pattern (each half of a site's), cut at ``±n_sigma`` σ (exact cell masses, as the
strike kernels), and ``p`` from the searches that ended after the strike's day,
rasterised by scanline in each site's window (numba, sites in parallel).

References
----------
.. [1] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley — Poisson processes,
   thinning. https://doi.org/10.1002/9781119115151
.. [2] Efron, B. and Tibshirani, R. J. (1993) *An Introduction to the Bootstrap*,
   Chapman & Hall, §10.6 (the bias-corrected estimate θ̂ − b̂ with the bias estimated
   at θ̂). https://doi.org/10.1201/9780429246593
.. [3] Lehmann, E. L. and Casella, G. (1998) *Theory of Point Estimation*, 2nd ed.,
   Springer, §1.5 and §6.2 (exponential families: the likelihood equation sets the
   expected sufficient statistic to the observed one). https://doi.org/10.1007/b98854
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from remnant.hazard.components import Sites
from remnant.hazard.grid import TILE
from remnant.hazard.kernels import SEARCH, axis_masses, ndtr
from remnant.hazard.scanline import fill_cells

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MomentsFn = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]
"""``moments(x, y, σ)``: :func:`searched_moments` of patterns at ``(x, y)``, per site."""

SEEN_FLOOR = 1e-6
"""Least ``E(a)`` at the points' mean for the thinning to be read: below it no search
that could have found the site's items covers its pattern (a find whose cell centre
lies outside its polygon), and the points count as unthinned. [-]"""


@numba.njit(cache=True)
def _site_polygons(
    r0: int, c0: int, r1: int, c1: int, tile_cols: int, tile_offsets: IntArray,
    tile_index: IntArray,
) -> IntArray:  # fmt: skip
    """Polygons listed in the tiles that the window rows ``r0:r1``, cols ``c0:c1`` meet, once."""
    n = 0
    for tr in range(r0 // TILE, (r1 - 1) // TILE + 1):
        for tc in range(c0 // TILE, (c1 - 1) // TILE + 1):
            t = tr * tile_cols + tc
            n += tile_offsets[t + 1] - tile_offsets[t]
    ids = np.empty(n, dtype=np.int64)
    n = 0
    for tr in range(r0 // TILE, (r1 - 1) // TILE + 1):
        for tc in range(c0 // TILE, (c1 - 1) // TILE + 1):
            t = tr * tile_cols + tc
            for k in range(tile_offsets[t], tile_offsets[t + 1]):
                ids[n] = tile_index[k]
                n += 1
    return np.unique(ids)


@numba.njit(parallel=True, cache=True)
def _moments(
    cx: FloatArray, cy: FloatArray, sigma: FloatArray, day: IntArray, frame: FloatArray,
    shape: IntArray, px: FloatArray, py: FloatArray, ring_offsets: IntArray,
    geom_offsets: IntArray, bounds: FloatArray, tile_offsets: IntArray, tile_index: IntArray,
    search_day: IntArray, log_keep: FloatArray, clip: float, out: FloatArray,
) -> None:  # fmt: skip
    """``out[i] = E, mx − cx, my − cy, Σxx, Σyy, Σxy`` of site ``i`` (:func:`searched_moments`)."""
    x0, top, cell = frame[0], frame[1], frame[2]
    nx, ny, tile_cols = shape[0], shape[1], shape[2]
    inside = (ndtr(clip) - ndtr(-clip)) ** 2
    for i in numba.prange(len(cx)):
        half = clip * sigma[i]
        c0 = max(math.floor((cx[i] - half - x0) / cell), 0)
        c1 = min(math.floor((cx[i] + half - x0) / cell) + 1, nx)
        r0 = max(math.floor((top - cy[i] - half) / cell), 0)
        r1 = min(math.floor((top - cy[i] + half) / cell) + 1, ny)
        out[i, :] = 0.0
        if r1 <= r0 or c1 <= c0:
            continue
        nrows, ncols = r1 - r0, c1 - c0
        logs = np.zeros(nrows * ncols)
        buf = np.empty(nrows * ncols, dtype=np.int64)
        for a in _site_polygons(r0, c0, r1, c1, tile_cols, tile_offsets, tile_index):
            b = bounds[a]
            if search_day[a] <= day[i] or b[0] > cx[i] + half or b[2] < cx[i] - half:
                continue
            if b[1] > cy[i] + half or b[3] < cy[i] - half:
                continue
            lo, hi = geom_offsets[a], geom_offsets[a + 1]
            k = fill_cells(px, py, ring_offsets, lo, hi, x0, top, cell, r0, c0, nrows, ncols,
                           buf)  # fmt: skip
            for m in range(k):
                logs[buf[m]] += log_keep[a, SEARCH]
        wx, wy = np.empty(ncols), np.empty(nrows)
        axis_masses(x0 + c0 * cell, cell, ncols, cx[i], sigma[i], clip, wx)
        axis_masses(top - r0 * cell, -cell, nrows, cy[i], sigma[i], clip, wy)
        s0 = sx = sy = sxx = syy = sxy = 0.0
        for r in range(nrows):
            dy = top - (r0 + r + 0.5) * cell - cy[i]
            for c in range(ncols):
                found = -math.expm1(logs[r * ncols + c])
                if found <= 0.0:
                    continue
                w = wy[r] * wx[c] * found
                dx = x0 + (c0 + c + 0.5) * cell - cx[i]
                s0 += w
                sx += w * dx
                sy += w * dy
                sxx += w * dx * dx
                syy += w * dy * dy
                sxy += w * dx * dy
        if s0 <= 0.0:
            continue
        mx, my = sx / s0, sy / s0
        out[i, 0] = s0 / inside
        out[i, 1], out[i, 2] = mx, my
        out[i, 3] = sxx / s0 - mx * mx
        out[i, 4] = syy / s0 - my * my
        out[i, 5] = sxy / s0 - mx * my


def searched_moments(
    x: FloatArray,
    y: FloatArray,
    sigma: FloatArray,
    day: IntArray,
    grid: tuple[float, float, float, int, int, int],
    searches: tuple[FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    search_day: IntArray,
    search_log_keep: FloatArray,
    n_sigma: float,
) -> FloatArray:
    """Moments of each pattern ``N(a, σ² I)`` thinned by the searches it was exposed to.

    Parameters
    ----------
    x, y : ndarray
        Aim points ``a``. [m]
    sigma : ndarray
        ``σ`` of each pattern, per axis. [m]
    day : ndarray of int64
        Day of each pattern's strike: only searches that ended later found its items. [day]
    grid : tuple
        ``x0, top, cell, nx, ny, tile columns`` of the grid. [m], [cells]
    searches : tuple of ndarray
        Polygon rings with their tile CSR: ``x, y, ring offsets, geometry offsets,
        tile offsets, tile index`` (:class:`~remnant.hazard.integrals.PolygonArgs`).
    search_day : ndarray of int64
        Day each search ended. [day]
    search_log_keep : ndarray, shape (searches, 2)
        ``log(1 − p)`` of each search in column :data:`~remnant.hazard.kernels.SEARCH`. [-]
    n_sigma : float
        The pattern is cut at ``±n_sigma·σ`` (as the strike kernels). [-]

    Returns
    -------
    ndarray, shape (n, 6)
        ``E(a) = Σ_c w_c p_c`` (the share of the pattern the searches would have found),
        the thinned pattern's mean less ``a`` (x, y), and its covariance ``Σxx, Σyy,
        Σxy``, by cell centres; zero where ``E`` is. [-], [m], [m²]
    """
    out = np.zeros((len(x), 6))
    if len(x) == 0:
        return out
    x0, top, cell, nx, ny, tile_cols = grid
    px, py, ring_offsets, geom_offsets, tile_offsets, tile_index = searches
    _moments(
        np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(sigma, np.float64),
        np.asarray(day, np.int64), np.array([x0, top, cell]), np.array([nx, ny, tile_cols]),
        px, py, ring_offsets, geom_offsets, _bounds(px, py, ring_offsets, geom_offsets),
        tile_offsets, tile_index,
        np.asarray(search_day, np.int64), np.asarray(search_log_keep, np.float64),
        float(n_sigma), out,
    )  # fmt: skip
    return out


def corrected_centres(
    mean_x: FloatArray,
    mean_y: FloatArray,
    items: FloatArray,
    searched: FloatArray,
    pattern: FloatArray,
    moments: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The bias-corrected centre of each site and its error variance (module docstring).

    Parameters
    ----------
    mean_x, mean_y : ndarray
        ``x̄``: weighted mean of the site's points. [m]
    items : ndarray
        ``W``: the items its points stand for. [items]
    searched : ndarray
        ``W_s``: those of them found by searches (thinned). [items]
    pattern : ndarray
        ``σ²``: variance of the site's items around its aim point, per axis. [m²]
    moments : ndarray, shape (sites, 6)
        :func:`searched_moments` of each pattern centred at ``x̄``. Where ``E`` is
        below :data:`SEEN_FLOOR` the points count as unthinned.

    Returns
    -------
    x, y : ndarray
        ``â = x̄ − ρ b(x̄)``. [m]
    var : ndarray
        Error variance of ``â`` per axis, half the trace of ``J (Var x̄) Jᵀ``. [m²]
    """
    seen = moments[:, 0] > SEEN_FLOOR
    rho = np.where(seen, searched / items, 0.0)
    sxx = np.where(seen, moments[:, 3], pattern)
    syy = np.where(seen, moments[:, 4], pattern)
    sxy = np.where(seen, moments[:, 5], 0.0)
    x = mean_x - rho * np.where(seen, moments[:, 1], 0.0)
    y = mean_y - rho * np.where(seen, moments[:, 2], 0.0)
    # Var x̄ = ((1 − ρ)σ² I + ρΣ) / W and J = (1 + ρ)I − ρΣ/σ², both symmetric
    vxx, vyy, vxy = (
        ((1 - rho) * pattern + rho * sxx) / items,
        ((1 - rho) * pattern + rho * syy) / items,
        rho * sxy / items,
    )
    jxx, jyy, jxy = (
        1 + rho - rho * sxx / pattern,
        1 + rho - rho * syy / pattern,
        -rho * sxy / pattern,
    )
    # trace of J V J for symmetric 2 × 2 J, V
    txx = jxx * (jxx * vxx + jxy * vxy) + jxy * (jxx * vxy + jxy * vyy)
    tyy = jxy * (jxy * vxx + jyy * vxy) + jyy * (jxy * vxy + jyy * vyy)
    return x, y, (txx + tyy) / 2.0


def _bounds(
    x: FloatArray, y: FloatArray, ring_offsets: IntArray, geom_offsets: IntArray
) -> FloatArray:
    """``xmin, ymin, xmax, ymax`` of each geometry's vertices; an empty one's never meets. [m]"""
    out = np.tile([np.inf, np.inf, -np.inf, -np.inf], (len(geom_offsets) - 1, 1))
    first, last = ring_offsets[geom_offsets[:-1]], ring_offsets[geom_offsets[1:]]
    full = np.flatnonzero(last > first)
    if full.size:  # the vertices of consecutive geometries are consecutive
        at = first[full]
        lo, hi = np.minimum.reduceat, np.maximum.reduceat
        out[full] = np.column_stack([lo(x, at), lo(y, at), hi(x, at), hi(y, at)])
    return out


@dataclass(frozen=True)
class KnownMoments:
    """Results of :func:`searched_moments` kept with their inputs, to look up.

    The moments of a pattern depend only on its centre, its ``σ``, its strike's day
    and the searches; a site whose points did not change has the very same centre
    and ``σ`` in the next round and in the next update, so its moments are taken
    from here instead of rasterising its searches again (a tenth of an update's
    time at country scale). A caller that adds searches first drops the rows whose
    window they meet (:meth:`away_from`).

    Parameters
    ----------
    x, y, sigma : ndarray
        Centre and ``σ`` of each pattern. [m]
    day : ndarray of int64
        Its strike's day. [day]
    moments : ndarray, shape (rows, 6)
        What :func:`searched_moments` gave.
    """

    x: FloatArray
    y: FloatArray
    sigma: FloatArray
    day: IntArray
    moments: FloatArray

    @classmethod
    def none(cls) -> KnownMoments:
        """No moments known."""
        empty = np.empty(0)
        return cls(empty, empty, empty, np.empty(0, np.int64), np.empty((0, 6)))

    def __len__(self) -> int:
        return len(self.x)

    def take(self, rows: npt.NDArray[np.integer] | npt.NDArray[np.bool_]) -> KnownMoments:
        """The rows ``rows``."""
        return KnownMoments(self.x[rows], self.y[rows], self.sigma[rows], self.day[rows],
                            self.moments[rows])  # fmt: skip

    def plus(self, other: KnownMoments) -> KnownMoments:
        """These rows and ``other``'s, each set of inputs once.

        Rows are told apart by their hash (:meth:`keys`): two inputs whose keys
        collide keep one row, and a lookup of the other computes it again. Only
        ``other``'s keys are hashed anew: the table's own are looked up in the index
        it keeps (:meth:`_lookup`), which the result inherits.
        """
        unique, index = self._lookup
        keys = other.keys()
        theirs = pd.Index(keys)
        new = (index.get_indexer(theirs) < 0) & ~theirs.duplicated(keep="first")
        rows = np.flatnonzero(new)
        mine = self if unique.size == len(self) else self.take(unique)
        if rows.size == 0:
            return mine
        both = KnownMoments(*[np.concatenate([getattr(mine, f), getattr(other, f)[rows]])
                              for f in ("x", "y", "sigma", "day", "moments")])  # fmt: skip
        both.__dict__["_lookup"] = (  # what _lookup would find, without hashing it all again
            np.arange(len(both)),
            pd.Index(np.concatenate([index.to_numpy(), keys[rows]])),
        )
        return both

    @functools.cached_property
    def _lookup(self) -> tuple[IntArray, pd.Index]:
        """The first row of each key, and an index of their keys (kept: looked up each round)."""
        keys = self.keys()
        unique = np.flatnonzero(~pd.Index(keys).duplicated(keep="first"))
        return unique, pd.Index(keys[unique])

    def keys(self) -> npt.NDArray[np.uint64]:
        """A 64-bit hash of each row's inputs (:func:`_input_keys`)."""
        return _input_keys(self.x, self.y, self.sigma, self.day)

    def away_from(self, boxes: FloatArray, n_sigma: float) -> KnownMoments:
        """The rows whose window (``±n_sigma·σ``) meets none of ``boxes``.

        ``boxes`` are ``xmin, ymin, xmax, ymax`` of searches added since. [m]
        """
        half = n_sigma * self.sigma
        meets = np.zeros(len(self), dtype=bool)
        for x0, y0, x1, y1 in boxes:
            meets |= ~((x0 > self.x + half) | (x1 < self.x - half)
                       | (y0 > self.y + half) | (y1 < self.y - half))  # fmt: skip
        return self.take(~meets)

    def moments_of(
        self,
        x: FloatArray,
        y: FloatArray,
        sigma: FloatArray,
        day: IntArray,
        compute: Callable[[FloatArray, FloatArray, FloatArray, IntArray], FloatArray],
    ) -> tuple[FloatArray, KnownMoments]:
        """The moments of these patterns: looked up where known, else computed.

        Also returns the rows of these patterns (to keep for the next lookup).
        """
        hit = np.zeros(len(x), dtype=bool)
        row = np.zeros(len(x), dtype=np.int64)
        if len(self):
            unique, index = self._lookup
            found = index.get_indexer(pd.Index(_input_keys(x, y, sigma, day)))
            row = unique[np.maximum(found, 0)]
            hit = (found >= 0) & (self.x[row] == x) & (self.y[row] == y)
            hit &= (self.sigma[row] == sigma) & (self.day[row] == day)  # a collision: a miss
        out = np.empty((len(x), 6))
        out[hit] = self.moments[row[hit]]
        miss = ~hit
        if miss.any():
            out[miss] = compute(x[miss], y[miss], sigma[miss], day[miss])
        return out, KnownMoments(x, y, sigma, day, out)


def _input_keys(
    x: FloatArray, y: FloatArray, sigma: FloatArray, day: IntArray
) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each ``(x, y, σ, day)``, to look rows up in a hash table.

    The bits of the four values, each multiplied by an odd constant (wrapping) and
    combined; equal inputs give equal keys, and a caller compares the inputs of a
    match, so that a collision costs a lookup, never a wrong row.
    """
    out = np.zeros(len(x), dtype=np.uint64)
    columns = (x, np.float64), (y, np.float64), (sigma, np.float64), (day, np.int64)
    for (values, dtype), factor in zip(columns, _KEY_FACTORS, strict=True):
        bits = np.ascontiguousarray(values, dtype=dtype).view(np.uint64)
        out = (out ^ (out >> np.uint64(29))) * factor + bits
    return out


_KEY_FACTORS = tuple(
    np.uint64(f)
    for f in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)
)
"""Odd 64-bit multipliers of :func:`_input_keys` (SplitMix64's and the golden ratio's)."""


def mixture_moments(a: FloatArray, b: FloatArray) -> FloatArray:
    """:func:`searched_moments` of an equal mixture of two patterns, from each one's.

    With ``E_j``, ``b_j``, ``Σ_j`` the moments of half *j* (rows as
    :func:`searched_moments` returns them), the mixture's thinned pattern is the
    mixture of the halves' thinned patterns with weights ``ω_j = E_j / (E₁ + E₂)``:

        E = (E₁ + E₂) / 2,    b = Σ_j ω_j b_j,    Σ = Σ_j ω_j (Σ_j + b_j b_jᵀ) − b bᵀ

    (the law of total covariance). Where neither half is seen (``E = 0``) the halves
    weigh evenly.
    """
    seen = a[:, 0] + b[:, 0]
    wa = np.where(seen > 0, a[:, 0] / np.where(seen > 0, seen, 1.0), 0.5)
    wb = 1.0 - wa
    bx = wa * a[:, 1] + wb * b[:, 1]
    by = wa * a[:, 2] + wb * b[:, 2]
    sxx = wa * (a[:, 3] + a[:, 1] ** 2) + wb * (b[:, 3] + b[:, 1] ** 2) - bx**2
    syy = wa * (a[:, 4] + a[:, 2] ** 2) + wb * (b[:, 4] + b[:, 2] ** 2) - by**2
    sxy = wa * (a[:, 5] + a[:, 1] * a[:, 2]) + wb * (b[:, 5] + b[:, 1] * b[:, 2]) - bx * by
    return np.column_stack([seen / 2.0, bx, by, sxx, syy, sxy])


def aim_sites(sites: Sites, moments: MomentsFn, halves: tuple[FloatArray, FloatArray]) -> Sites:
    """The sites centred on their carriers' aim points (:func:`corrected_centres`).

    A site's items lie as the two halves of its pattern do
    (:func:`~remnant.hazard.components.pattern_nodes`, widened as the site is): the
    searched moments are the mixture's (:func:`mixture_moments`), not those of one
    normal of the pattern's mean variance. That normal is wider than the half that
    holds a typical carrier, so a search edge cuts it more; with it the correction
    overshot, and the reliability of ``p_any`` in its top two deciles was −0.042
    and −0.050 on 100 calibration worlds against −0.032 and −0.027 with the
    mixture (benchmarks/README.md). The centre's error variance becomes that of the
    corrected centre, plus the points' own error as before (``Σ w spread² / W``).

    Parameters
    ----------
    sites : Sites
        From :func:`~remnant.hazard.components.find_sites`: centred on their points' mean.
    moments : callable
        ``moments(x, y, σ)`` of a normal pattern of per-axis sd ``σ`` at each site
        (:func:`searched_moments`).
    halves : tuple of ndarray
        ``(V₁, V₂)``: per-axis variances of the two halves of each site's pattern. [m²]
    """
    own_error = sites.var - sites.pattern / sites.items
    v1, v2 = halves
    mom = mixture_moments(moments(sites.x, sites.y, np.sqrt(v1)),
                          moments(sites.x, sites.y, np.sqrt(v2)))  # fmt: skip
    x, y, var = corrected_centres(sites.x, sites.y, sites.items, sites.searched, sites.pattern,
                                  mom)  # fmt: skip
    return dataclasses.replace(sites, x=x, y=y, var=var + own_error)
