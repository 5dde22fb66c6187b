"""Each strike's item density as a mixture of Gaussian components (docs/model.md §1, §3).

An attack's submunitions fall in one tight pattern per carrier, around the carrier's
aim point; aim points scatter around the point of impact, which the record gives
with an error. Before any evidence, the density of one item is the *prior
component*: a normal centred on the reported point with the carrier's pattern, the
aim-point spread and the location error added in quadrature (with the footprint kept
oriented when the heading is known).

Evidence found on the ground localises carriers: each *site* (a cluster of evidence
attributed to the strike, :func:`find_sites`) holds ``m_k`` carriers (one, or as many
as a wide cluster shows), its centre estimated from its points (then moved away from
the searched ground that biased them, :mod:`.aim`); a wide site is split into
pattern-sized parts (:func:`_split_wide`). The strike's density then becomes a
mixture: one component per site, of weight ``m_k / (m + E[U])`` and the carriers'
pattern around the site, and one *broad* component of weight ``E[U] / (m + E[U])``
for the ``U`` carriers not yet located (their posterior, :func:`unlocated_carriers`),
centred on the point of impact updated from the sites (a normal mean from the site
observations ``a_k ~ N(I, σ_v² + σ_k²)``) [1]_. So a search that clears one
carrier's pattern removes that carrier's share of the strike, not the share of a
wide disc that the prior component would give it — which is how technical survey
and clearance work outward from evidence points in a cluster munition remnants
survey [2]_.

Kernel widths of a component (module :mod:`.inputs` for the notation): mean
``σ² = σ_site² + v_k`` for a site (its items' spread and its centre's error
variance), ``σ_f² + σ_v² + σ_I²`` for the broad component (``σ_I²``: the updated
impact point's error variance); second moments as in :mod:`.inputs`: within one
carrier's pattern, and across the carriers of a site holding more than one (the
cross term) or of the broad component.

References
----------
.. [1] Gelman, A. et al. (2013) *Bayesian Data Analysis*, 3rd ed., CRC, §2.5 (normal
   mean with known variance). https://doi.org/10.1201/b16018
.. [2] NPA, MAG and HALO Trust (2019) *Cluster Munition Remnants Survey (CMRS):
   joint best-practice paper* — evidence points, boxes, fade-out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
from scipy import special, stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from remnant.hazard.inputs import Strikes
from remnant.hazard.kernels import weighted_sums
from remnant.hazard.tiles import csr_offsets, run_rows, unique_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SITE_LINK = 3.0
"""Evidence points of one strike closer than this many pattern sigmas ``σ_f`` belong
to one site (one carrier). [-] ASSUMPTION: a carrier's items lie within about
``±2σ_f`` of its aim point, so two of them are rarely more than ``3σ_f`` apart, while
aim points of one volley are usually farther apart."""


@dataclass(frozen=True)
class Components:
    """The Gaussian components of every strike, grouped by strike.

    Components of strike *s* are ``offsets[s]:offsets[s + 1]``.

    Parameters
    ----------
    offsets : ndarray of int64, shape (strikes + 1,)
    weight : ndarray
        Share ``π_k`` of the strike's items in each component; sums to 1 per strike. [-]
    x, y : ndarray
        Centre. [m]
    along, across : ndarray
        Standard deviations of the mean kernel along and across the line of fire
        (equal unless ``heading`` is known). [m]
    heading : ndarray
        Direction of fire, clockwise from grid north; NaN for an isotropic kernel. [°]
    within, cross : ndarray
        Widths of the second-moment kernels. [m]
    coef_within, coef_cross : ndarray
        Their coefficients. [1/m²]
    """

    offsets: IntArray
    weight: FloatArray
    x: FloatArray
    y: FloatArray
    along: FloatArray
    across: FloatArray
    heading: FloatArray
    within: FloatArray
    cross: FloatArray
    coef_within: FloatArray
    coef_cross: FloatArray

    def __len__(self) -> int:
        return len(self.weight)

    @property
    def strike(self) -> IntArray:
        """Owner strike of each component."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    @property
    def sigma_max(self) -> FloatArray:
        """Largest mean-kernel width of each component. [m]"""
        return np.maximum(self.along, self.across)

    def take(self, strikes: npt.ArrayLike) -> Components:
        """The components of the strikes ``strikes`` (in that order)."""
        idx = np.asarray(strikes, dtype=np.int64)
        counts = np.diff(self.offsets)[idx]
        rows = run_rows(self.offsets[idx], counts)
        return Components(
            offsets=csr_offsets(counts), **{n: getattr(self, n)[rows] for n in COMPONENT_FIELDS}
        )

    def replace(self, strikes: npt.ArrayLike, new: Components) -> Components:
        """These components with those of ``strikes`` replaced by ``new`` (same order)."""
        idx = np.asarray(strikes, dtype=np.int64)
        if idx.size == 0:
            return self
        n = len(self.offsets) - 1
        source = np.zeros(n, dtype=bool)
        source[idx] = True
        new_at = np.zeros(n, dtype=np.int64)
        new_at[idx] = np.arange(len(idx))
        counts = np.diff(self.offsets)
        counts[idx] = np.diff(new.offsets)
        offsets = csr_offsets(counts)
        start = np.where(source, new.offsets[:-1][new_at], self.offsets[:-1])
        rows = run_rows(start, counts)
        from_new = np.repeat(source, counts)
        from_old = ~from_new
        old_rows, new_rows = rows[from_old], rows[from_new]
        fields = {}
        for name in COMPONENT_FIELDS:
            out = np.empty(int(offsets[-1]))
            out[from_old] = getattr(self, name)[old_rows]
            out[from_new] = getattr(new, name)[new_rows]
            fields[name] = out
        return Components(offsets=offsets, **fields)

    def concat(self, other: Components) -> Components:
        """These strikes' components followed by ``other``'s."""
        offsets = np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]])
        return Components(
            offsets=offsets.astype(np.int64),
            **{n: np.concatenate([getattr(self, n), getattr(other, n)]) for n in COMPONENT_FIELDS},
        )


COMPONENT_FIELDS = (
    "weight", "x", "y", "along", "across", "heading", "within", "cross",
    "coef_within", "coef_cross",
)  # fmt: skip
"""The per-component arrays of :class:`Components` (all but ``offsets``)."""


def prior_components(strikes: Strikes) -> Components:
    """One component per strike: the reported point with every spread added (module doc)."""
    n = len(strikes)
    e2 = strikes.location_error**2
    v2 = strikes.volley_var
    pl2, pw2 = strikes.pattern_along2, strikes.pattern_across2
    known = ~np.isnan(strikes.heading)
    iso = np.sqrt((pl2 + pw2) / 2.0 + v2 + e2)
    c_bar = np.maximum(strikes.count_mean, 1.0)
    within, cross, coef_w, coef_x = _second_moments(strikes, c_bar, v2, e2)
    return Components(
        offsets=np.arange(n + 1, dtype=np.int64),
        weight=np.ones(n),
        x=strikes.x.copy(),
        y=strikes.y.copy(),
        along=np.where(known, np.sqrt(pl2 + v2 + e2), iso),
        across=np.where(known, np.sqrt(pw2 + v2 + e2), iso),
        heading=strikes.heading.copy(),
        within=within,
        cross=cross,
        coef_within=coef_w,
        coef_cross=coef_x,
    )


def _second_moments(
    strikes: Strikes, carriers: FloatArray, v2: FloatArray, e2: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Widths and coefficients of the second-moment kernels of ``carriers`` carriers."""
    pl2, pw2 = strikes.pattern_along2, strikes.pattern_across2
    within = np.sqrt((pl2 + pw2) / 4.0 + v2 + e2)
    vl, vw = pl2 + v2, pw2 + v2
    cross = np.sqrt((vl + vw) / 4.0 + e2)
    coef_w = strikes.coef_pattern / carriers
    coef_x = (1.0 - 1.0 / carriers) / (4.0 * math.pi * np.sqrt(vl * vw))
    return within, cross, coef_w, coef_x


SITE_MIN_POINTS = 5
"""Points a site needs before its spread is read as more than one carrier. [-]"""


@dataclass(frozen=True)
class Sites:
    """Carriers located by evidence, grouped by strike.

    Parameters
    ----------
    strike : ndarray of int64
        Owner strike, ascending.
    x, y : ndarray
        Centre of the site's items. [m]
    var : ndarray
        Error variance of that centre, per axis. [m²]
    pattern : ndarray
        Variance of the site's items around its centre, per axis: one carrier's
        pattern, or the spread of the points where they spread wider. [m²]
    carriers : ndarray
        Carriers the site holds (at least 1). [carriers]
    items : ndarray
        ``W``: the items its points stand for (the weights of the centre). [items]
    searched : ndarray
        ``W_s``: those of them that searches found, which lie only where searches
        were (:mod:`.aim`). [items]
    """

    strike: IntArray
    x: FloatArray
    y: FloatArray
    var: FloatArray
    pattern: FloatArray
    carriers: FloatArray
    items: FloatArray
    searched: FloatArray

    def __len__(self) -> int:
        return len(self.strike)

    @classmethod
    def none(cls) -> Sites:
        """No sites."""
        empty = np.empty(0)
        return cls(np.empty(0, np.int64), empty, empty, empty, empty, empty, empty, empty)

    def take(self, rows: npt.ArrayLike) -> Sites:
        """The sites ``rows`` (in that order)."""
        return Sites(**{f.name: getattr(self, f.name)[rows] for f in fields(Sites)})


SEARCHED_FLOOR = 0.1
"""Least exposure credited to a part of a site when its carriers are shared out by
``finds / exposure``: a part known from reports alone, which no search covered,
counts as if searched this thoroughly. [-] ASSUMPTION."""


@dataclass(frozen=True)
class SearchedSites:
    """How thoroughly searches covered the sites of an earlier round, for sharing out carriers.

    Parameters
    ----------
    strike : ndarray of int64
        Owner strike of each site.
    x, y : ndarray
        Its centre. [m]
    exposure : ndarray
        The mean exposure of its components (pass 1). [-]
    """

    strike: IntArray
    x: FloatArray
    y: FloatArray
    exposure: FloatArray

    @classmethod
    def of(cls, comps: Components, exposure: FloatArray) -> SearchedSites:
        """The sites of ``comps`` (all but each strike's last component, in node groups)."""
        counts = np.diff(comps.offsets)
        is_site = np.ones(len(comps), dtype=bool)
        is_site[comps.offsets[1:][counts > 0] - 1] = False  # the broad or prior one
        rows = np.flatnonzero(is_site)
        first = rows[::NODES]
        mean = exposure[rows].reshape(-1, NODES).mean(axis=1)
        return cls(comps.strike[first], comps.x[first], comps.y[first], mean)

    def at(self, strike: IntArray, x: FloatArray, y: FloatArray, reach: FloatArray) -> FloatArray:
        """Exposure of the nearest earlier site of the same strike within ``reach``, else NaN."""
        out = np.full(len(strike), np.nan)
        if len(self.strike) == 0 or len(strike) == 0:
            return out
        far = 4.0 * float(max(np.abs(self.x).max(), np.abs(self.y).max(), 1.0))
        tree = cKDTree(np.column_stack([self.x, self.y, self.strike * far]))
        query = np.column_stack([x, y, strike * far])
        dist, j = tree.query(query, distance_upper_bound=float(reach.max()))
        hit = np.isfinite(dist)
        hit[hit] &= (dist[hit] <= reach[hit]) & (self.strike[j[hit]] == strike[hit])
        out[hit] = self.exposure[j[hit]]
        return out


def find_sites(
    strikes: Strikes,
    owner: IntArray,
    ev_x: FloatArray,
    ev_y: FloatArray,
    ev_weight: FloatArray,
    ev_spread_m: FloatArray,
    duds_per_carrier: FloatArray | None = None,
    searched: SearchedSites | None = None,
    ev_searched: npt.NDArray[np.bool_] | None = None,
) -> Sites:
    """Group each strike's evidence into sites, one per located carrier.

    Parameters
    ----------
    strikes : Strikes
    owner : ndarray of int64, shape (evidence,)
        The strike each evidence point is attributed to (most of its share), ``-1``
        for none.
    ev_x, ev_y : ndarray
        Evidence points. [m]
    ev_weight : ndarray
        Items each point stands for (1 for an evidence item). [-]
    ev_spread_m : ndarray
        1-sigma error of each point. [m]
    duds_per_carrier : ndarray, shape (strikes,), optional
        ``λ̄``: expected duds of one carrier of each strike; a wide site holds at
        least ``items / λ̄`` carriers (no carrier yields more finds than it left). [items]
    searched : SearchedSites, optional
        The sites of an earlier round with their exposure: a wide site's carriers
        are shared among its parts by ``finds / exposure`` (:func:`_split_wide`).
    ev_searched : ndarray of bool, shape (evidence,), optional
        Points found by a search (their items count in :attr:`Sites.searched`);
        default none.

    Returns
    -------
    Sites
        A site's centre is the weighted mean of its points. Where the points spread
        wider than one carrier's pattern (at least :data:`SITE_MIN_POINTS` of them),
        the site holds as many carriers as the area of their spread ellipse holds
        patterns, ``√det(Σ) / σ_f²``, and its items spread like the points; its
        centre's error variance is ``pattern / n + mean spread²``. Sites share no
        more carriers than the strike can have (:func:`_capped`).
    """
    idx = np.flatnonzero(owner >= 0)
    if idx.size == 0:
        return Sites.none()
    s = owner[idx]
    label, n = _link(strikes, s, ev_x[idx], ev_y[idx])
    w = np.maximum(ev_weight[idx], 1.0)
    thinned = np.zeros(idx.size) if ev_searched is None else w * ev_searched[idx]
    site_strike = np.zeros(n, dtype=np.int64)
    site_strike[label] = s
    moments = _weighted_moments(label, n, w, ev_x[idx], ev_y[idx])
    sw, mx, my, vxx, vyy, vxy = moments
    sigma_f2 = strikes.pattern_var[site_strike]
    points = np.bincount(label, minlength=n)
    spread = np.where(points >= SITE_MIN_POINTS, np.sqrt(np.maximum(vxx * vyy - vxy**2, 0.0)), 0.0)
    carriers = np.maximum(spread / sigma_f2, 1.0)
    pattern = np.maximum(sigma_f2, np.where(points >= SITE_MIN_POINTS, (vxx + vyy) / 2.0, 0.0))
    var = pattern / sw + weighted_sums(label, w * ev_spread_m[idx] ** 2, n) / sw
    carriers = _capped(strikes, site_strike, carriers)
    found = weighted_sums(label, thinned, n)
    sites = Sites(site_strike, mx, my, var, pattern, carriers, sw, found)
    wide = np.flatnonzero(pattern > sigma_f2)
    if wide.size:
        per_carrier = None if duds_per_carrier is None else duds_per_carrier[site_strike]
        return _split_wide(strikes, sites, wide, label, (w, thinned), ev_x[idx], ev_y[idx],
                           ev_spread_m[idx], per_carrier, searched)  # fmt: skip
    return sites.take(np.argsort(site_strike, kind="stable"))


SPLIT_SIDE = 2.0
"""Side of the squares a wide site is split into, in pattern sigmas ``σ_f``. [-]
ASSUMPTION: about one carrier's core (±σ_f) per square."""


def _split_wide(
    strikes: Strikes,
    sites: Sites,
    wide: IntArray,
    label: IntArray,
    weights: tuple[FloatArray, FloatArray],
    x: FloatArray,
    y: FloatArray,
    spread_m: FloatArray,
    per_carrier: FloatArray | None,
    searched: SearchedSites | None = None,
) -> Sites:
    """Sites wider than one pattern, each split into its points' squares of ``SPLIT_SIDE·σ_f``.

    One wide Gaussian would spread the site's items evenly over its ellipse, but its
    items lie in the tight patterns of its carriers, and searches were laid where
    they were found: a smooth site under-states how much of it the searches covered
    (and so over-states what is left). Each square of points becomes a part with one
    carrier's pattern around the points' mean. Narrow sites are kept whole.
    ``weights`` are the items each point stands for, and those of them that searches
    found.

    The site's carriers are shared among its parts in proportion to the items each
    part's finds stand for, ``finds / exposure`` (the exposure of the nearest part
    of an earlier round, at least :data:`SEARCHED_FLOOR`; by finds alone in the
    first round): a part where a short search found a few items may hold as many
    as one where a thorough search found many.

    A wide site holds as many carriers as its squares show
    (:func:`carriers_by_squares`), or, when ``per_carrier`` (``λ̄``, per site) is given
    and more, as many as the items its parts stand for make, ``Σ (finds / exposure) /
    λ̄``: patterns that overlap fill fewer squares than they are carriers, but not
    fewer items. The ellipse of its points bounds the count from above: it counts the
    gaps between patterns as carriers, though not patterns laid over each other;
    without that bound (counted by items alone) the 90 % interval of the total
    covered the truth in 15 of 20 calibration worlds against 19.
    """
    w, thinned = weights
    n = len(sites)
    is_wide = np.zeros(n, dtype=bool)
    is_wide[wide] = True
    mine = is_wide[label]
    sigma_f = np.sqrt(strikes.pattern_var[sites.strike])
    side = SPLIT_SIDE * sigma_f[label[mine]]
    _, part = unique_rows(label[mine], np.floor(x[mine] / side), np.floor(y[mine] / side))
    n_part = int(part.max()) + 1
    parent = np.zeros(n_part, dtype=np.int64)
    parent[part] = label[mine]
    pw, px, py, pxx, pyy, _ = _weighted_moments(part, n_part, w[mine], x[mine], y[mine])
    pattern = strikes.pattern_var[sites.strike[parent]] + (pxx + pyy) / 2.0
    var = pattern / pw + weighted_sums(part, w[mine] * spread_m[mine] ** 2, n_part) / pw
    site_weight = weighted_sums(label, w, n)
    squares = np.bincount(parent, minlength=n).astype(np.float64)
    located = carriers_by_squares(site_weight, squares)
    items = pw.copy()
    if searched is not None:
        owner = sites.strike[parent]
        e = searched.at(owner, px, py, SPLIT_SIDE * sigma_f[parent] / 2.0)
        items = pw / np.maximum(np.where(np.isnan(e), 1.0, e), SEARCHED_FLOOR)
    site_items = weighted_sums(parent, items, n)
    if per_carrier is not None:
        located = np.maximum(located, site_items / per_carrier)
    located = np.minimum(sites.carriers, located)
    carriers = located[parent] * items / site_items[parent]
    parts = Sites(sites.strike[parent], px, py, var, pattern, carriers, pw,
                  weighted_sums(part, thinned[mine], n_part))  # fmt: skip
    whole = sites.take(np.flatnonzero(~is_wide))
    both = Sites(**{f.name: np.concatenate([getattr(whole, f.name), getattr(parts, f.name)])
                    for f in fields(Sites)})  # fmt: skip
    return both.take(np.argsort(both.strike, kind="stable"))


def squares_per_carrier(items: FloatArray) -> FloatArray:
    """Expected squares of side ``SPLIT_SIDE·σ_f`` that ``items`` points of one pattern fill.

    Points of one carrier ``~ N(a, σ_f² I)``, squares at a uniformly random offset:
    ``E = E_u Σ_ij 1 − (1 − P_ij(u))^n`` with ``P_ij`` the pattern's mass in square
    ``ij``, by midpoint quadrature over the offset (16 × 16) and squares within
    ``±5σ_f``. Interpolated in ``log n`` from a table (:func:`_square_table`).
    """
    n, e = _square_table()
    return np.interp(np.log(np.maximum(items, 1.0)), np.log(n), e)


@functools.cache
def _square_table() -> tuple[FloatArray, FloatArray]:
    n = np.geomspace(1.0, 1e6, 121)
    u = (np.arange(16) + 0.5) / 16 * SPLIT_SIDE
    edges = np.arange(-6, 6) * SPLIT_SIDE
    q = np.diff(stats.norm.cdf(edges[None, :] - u[:, None]), axis=1)  # (offset, square)
    p = (q[:, None, :, None] * q[None, :, None, :]).reshape(-1)  # every offset pair, square pair
    filled = 1.0 - np.exp(np.log1p(-np.minimum(p, 1 - 1e-15))[None, :] * n[:, None])
    return n, filled.sum(axis=1) / (len(u) ** 2)


def carriers_by_squares(items: FloatArray, squares: FloatArray) -> FloatArray:
    """Carriers ``m`` whose ``items`` points fill ``squares`` squares: ``m·E(items/m) = squares``.

    :func:`squares_per_carrier` with the points shared evenly; the left side grows
    with ``m`` (the same points spread over more patterns fill more squares), so it
    is solved by bisection in ``log m`` over ``[1, items]``. Overlapping or partly
    searched patterns fill fewer squares, so ``m`` errs low, leaving more carriers
    unlocated. [carriers]
    """
    lo = np.zeros_like(items)
    hi = np.log(np.maximum(items, 1.0))
    for _ in range(40):
        mid = (lo + hi) / 2.0
        m = np.exp(mid)
        more = m * squares_per_carrier(items / m) < squares
        lo, hi = np.where(more, mid, lo), np.where(more, hi, mid)
    return np.exp((lo + hi) / 2.0)


COUNT_CAP = 0.99
"""Quantile of an omitted carrier count's prior that bounds the carriers sites hold. [-]"""


def _capped(strikes: Strikes, owner: IntArray, carriers: FloatArray) -> FloatArray:
    """Site carriers scaled down where a strike's sites hold more than it can have.

    Evidence found in separate boxes of one carrier's pattern makes separate sites;
    a strike's sites together hold at most its recorded count, or the
    :data:`COUNT_CAP` quantile of its count prior, shared in proportion.
    """
    n = len(strikes)
    total = weighted_sums(owner, carriers, n)
    extra = strikes.carriers_extra
    size = np.where(np.isinf(strikes.carriers_size), 1e12, strikes.carriers_size)
    quantile = stats.nbinom.ppf(COUNT_CAP, size, size / (size + np.maximum(extra, 1e-12)))
    most = strikes.carriers_min + np.where(extra > 0, quantile, 0.0)
    scale = np.where(total > most, most / np.maximum(total, 1e-12), 1.0)
    return carriers * scale[owner]


def _link(strikes: Strikes, owner: IntArray, x: FloatArray, y: FloatArray) -> tuple[IntArray, int]:
    """Single-linkage groups of points of the same strike within ``SITE_LINK · σ_f``.

    Points are first snapped to squares of a quarter of the link distance (one
    representative each, their mean): thousands of finds of one cleared carrier
    make a few dozen representatives, so linking stays near-linear. Two points link
    when their representatives are within the link distance.
    """
    link = SITE_LINK * np.sqrt(strikes.pattern_var)[owner]
    h = link / 4.0
    rep, inverse = unique_rows(owner, np.floor(x / h), np.floor(y / h))
    n_rep = len(rep)
    count = np.bincount(inverse, minlength=n_rep)
    pts = np.column_stack([weighted_sums(inverse, x, n_rep), weighted_sums(inverse, y, n_rep)])
    pts = pts / count[:, None]
    rep_owner, rep_link = owner[rep], link[rep]
    pairs = cKDTree(pts).query_pairs(float(rep_link.max()), output_type="ndarray")
    if len(pairs):
        d = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
        same = rep_owner[pairs[:, 0]] == rep_owner[pairs[:, 1]]
        pairs = pairs[same & (d <= rep_link[pairs[:, 0]])]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), (n_rep, n_rep))
    n, label = connected_components(graph, directed=False)
    return label[inverse].astype(np.int64), int(n)


def _weighted_moments(
    label: IntArray, n: int, w: FloatArray, x: FloatArray, y: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per group: total weight, weighted mean and (co)variances of the points."""
    sw = weighted_sums(label, w, n)
    mx = weighted_sums(label, w * x, n) / sw
    my = weighted_sums(label, w * y, n) / sw
    dx, dy = x - mx[label], y - my[label]
    vxx = weighted_sums(label, w * dx * dx, n) / sw
    vyy = weighted_sums(label, w * dy * dy, n) / sw
    vxy = weighted_sums(label, w * dx * dy, n) / sw
    return sw, mx, my, vxx, vyy, vxy


def sited_components(
    strikes: Strikes, sites: Sites, unlocated: FloatArray, of: IntArray | None = None
) -> Components:
    """The components of every strike given its sites (module docstring).

    Strikes without a site keep their prior component.

    Parameters
    ----------
    strikes : Strikes
    sites : Sites
    unlocated : ndarray, shape (strikes,)
        Expected carriers of each strike not located by a site
        (:func:`unlocated_carriers`); read only for strikes with sites. [carriers]
    of : ndarray of int64, optional
        Only these strikes' components (ascending), in that order; default all.
    """
    if of is None:
        prior = prior_components(strikes)
        which = np.unique(sites.strike)
        at = which
    else:
        prior = prior_components(strikes.take(of))
        which = np.intersect1d(sites.strike, of)
        sites = sites.take(np.isin(sites.strike, which))
        at = np.searchsorted(of, which)
    if which.size == 0:
        return prior
    return prior.replace(at, _mixtures(strikes, sites, which, unlocated[which]))


def _impact(
    strikes: Strikes, sites: Sites, which: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Point of impact of strikes ``which`` updated from their sites: ``x, y, σ_L²``.

    Each site of ``m`` carriers observes the point ``m`` times with variance
    ``σ_v² + σ_site²`` (aim points scatter around it); the normal update adds the
    precisions to the reported point's.
    """
    pos = np.searchsorted(which, sites.strike)
    prec = 1.0 / strikes.location_error[which] ** 2
    obs = sites.carriers / (strikes.volley_var[sites.strike] + sites.var)
    prec_post = prec + weighted_sums(pos, obs, len(which))
    lx = (strikes.x[which] * prec + weighted_sums(pos, obs * sites.x, len(which))) / prec_post
    ly = (strikes.y[which] * prec + weighted_sums(pos, obs * sites.y, len(which))) / prec_post
    return lx, ly, 1.0 / prec_post


def broad_components(
    strikes: Strikes, sites: Sites, which: IntArray, carriers: FloatArray
) -> Components:
    """One component per strike of ``which``: its carriers not located, weight 1.

    Centred on the updated point of impact with the pattern, the aim-point spread and
    the point's remaining error; ``carriers`` of them (at least one) set the
    second-moment coefficients.
    """
    lx, ly, e2 = _impact(strikes, sites, which)
    v2 = strikes.volley_var[which]
    sigma = np.sqrt(strikes.pattern_var[which] + v2 + e2)
    within, cross, coef_w, coef_x = _second_moments(
        strikes.take(which), np.maximum(carriers, 1.0), v2, e2
    )
    return Components(
        offsets=np.arange(len(which) + 1, dtype=np.int64),
        weight=np.ones(len(which)),
        x=lx,
        y=ly,
        along=sigma,
        across=sigma.copy(),
        heading=np.full(len(which), np.nan),
        within=within,
        cross=cross,
        coef_within=coef_w,
        coef_cross=coef_x,
    )


def located_carriers(sites: Sites, n: int) -> FloatArray:
    """Carriers located by sites, per strike (0 without a site). [carriers]"""
    return weighted_sums(sites.strike, sites.carriers, n)


def unlocated_carriers(
    strikes: Strikes,
    which: IntArray,
    located: FloatArray,
    exposure: FloatArray,
    per_carrier: FloatArray,
    dispersion: float,
) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and variance of the carriers of each strike not yet located.

    The strike fired ``C`` carriers (recorded, or the catalogue's count prior
    ``minimum + NB``), of which sites located ``m``; the other ``U = C − m`` would each
    have left ``λ ~ Gamma(φ, φ/λ̄)`` duds in the area of the broad component, which
    searches covered with exposure ``e_b`` and found none of. So

        P(U | data) ∝ P(C = m + U) · (φ / (φ + λ̄ e_b))^{φ U}

    (``e^{−λ̄ e_b U}`` when ``φ = ∞``): where searches around the located carriers
    found no others, fewer are likely to exist [1]_. Where the sites hold more
    carriers than a recorded count allows, none is left unlocated.

    The items of one carrier lie together, so strictly a carrier is missed with
    probability about ``1 − e_b(1 − g)`` (``g`` the chance that a fully searched
    pattern yields nothing), a weaker likelihood. On the calibration worlds
    (benchmarks/README.md) that version left the 90 % interval of the total
    covering the truth in fewer worlds (49 of 60 against 53), so the item-level
    form is kept. ASSUMPTION.

    Parameters
    ----------
    strikes : Strikes
    which : ndarray of int64
        The strikes with sites.
    located : ndarray, shape (len(which),)
        ``m``: carriers located. [carriers]
    exposure : ndarray, shape (len(which),)
        ``e_b``: exposure of the broad component (weight 1). [-]
    per_carrier : ndarray, shape (len(which),)
        ``λ̄``: expected duds of one carrier. [items]
    dispersion : float
        ``φ``. [-]

    References
    ----------
    .. [1] Gelman, A. et al. (2013) *Bayesian Data Analysis*, 3rd ed., CRC, §2.6.
       https://doi.org/10.1201/b16018
    """
    c_min = strikes.carriers_min[which]
    extra = strikes.carriers_extra[which]
    size = strikes.carriers_size[which]
    start = np.maximum(c_min, np.ceil(located - 1e-9))
    c = start[:, None] + np.arange(_COUNT_SUPPORT)[None, :]
    log_prior = _count_log_pmf(c - c_min[:, None], extra[:, None], size[:, None])
    u = np.maximum(c - located[:, None], 0.0)
    rate = (per_carrier * exposure)[:, None]
    if math.isinf(dispersion):
        log_like = -rate * u
    else:
        log_like = -dispersion * u * np.log1p(rate / dispersion)
    log_post = log_prior + log_like
    top = log_post.max(axis=1, keepdims=True)
    # sites located more carriers than the count allows: none is left unlocated
    possible = np.isfinite(top)
    w = np.exp(log_post - np.where(possible, top, 0.0))
    w /= np.where(possible, w.sum(axis=1, keepdims=True), 1.0)
    mean = np.sum(w * u, axis=1)
    return mean, np.maximum(np.sum(w * u * u, axis=1) - mean**2, 0.0)


_COUNT_SUPPORT = 64
"""Carrier counts considered above the located ones; count priors have means below 60. [-]"""


def _count_log_pmf(extra: FloatArray, mean: FloatArray, size: FloatArray) -> FloatArray:
    """Log-pmf of ``extra`` under a negative binomial of ``mean`` and ``size`` (Poisson if inf).

    ``extra`` are whole counts ``≥ 0``. The strikes share a few count priors (a
    country's 13,000 strikes with sites, 5): each prior's pmf is computed once for
    every count up to the largest, by :func:`_count_log_pmf_direct`, and read out —
    the same numbers, 37 → 10 ms a call.
    """
    whole = np.floor(extra) == extra
    if extra.size == 0 or not whole.all() or extra.min() < 0:
        return _count_log_pmf_direct(extra, mean, size)
    m, s = np.broadcast_arrays(mean, size)
    means, mean_code = np.unique(m.ravel(), return_inverse=True)
    sizes, size_code = np.unique(s.ravel(), return_inverse=True)
    priors, which = np.unique(mean_code * len(sizes) + size_code, return_inverse=True)
    counts = np.arange(int(extra.max()) + 1, dtype=np.float64)
    table = _count_log_pmf_direct(
        counts[None, :], means[priors // len(sizes), None], sizes[priors % len(sizes), None]
    )
    return table[which.reshape(m.shape), extra.astype(np.int64)]


def _count_log_pmf_direct(extra: FloatArray, mean: FloatArray, size: FloatArray) -> FloatArray:
    """:func:`_count_log_pmf` computed element by element.

    The pmfs written out as SciPy's ``nbinom`` and ``poisson`` compute them, the same
    to the bit, without the distributions' checks of their arguments (a third of an
    update's site rounds went in them) and each family only where it is used.
    """
    poisson = np.isinf(size)
    safe_size = np.where(poisson, 1.0, size)
    log_fact = special.gammaln(extra + 1)
    out = np.zeros(np.broadcast_shapes(extra.shape, mean.shape, size.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        if not poisson.all():
            p = safe_size / (safe_size + mean)
            coeff = special.gammaln(safe_size + extra) - log_fact - special.gammaln(safe_size)
            out = coeff + safe_size * np.log(p) + special.xlog1py(extra, -p)
        if poisson.any():
            po = special.xlogy(extra, mean) - log_fact - mean
            out = np.where(poisson, po, out)
    return np.where(mean <= 0, np.where(extra == 0, 0.0, -np.inf), out)


def pattern_nodes(strikes: Strikes, idx: IntArray) -> tuple[FloatArray, FloatArray]:
    """Per-axis variances ``V₁ < V₂`` of the two halves of one carrier's pattern.

    One carrier's items are normal around its aim point, with the footprint's
    sigmas ``σ_L, σ_W`` scaled by a log-normal ``s`` (log-sd ``ℓ``) and turned to an
    unknown heading. Over the heading the anisotropic normal is exactly a scale
    mixture of isotropic normals of per-axis variance ``a = σ_L² cos²θ + σ_W² sin²θ``,
    ``θ`` uniform (its characteristic function averaged over ``θ`` is that of the
    mixture), so the pattern is an
    isotropic scale mixture in ``V = s² a``. One normal of the mean variance
    ``E[V] = σ_f²`` is too flat: the mixture's peak ``E[1/V] / 2π`` is higher, by
    ``k² (σ_L² + σ_W²) / (2σ_Lσ_W)`` (2.7 for a 2:1 footprint with ``ℓ = 0.5``).
    Two equal halves ``V₁,₂ = e^{μ ± τ}`` keep both moments,

        E[V] = k (σ_L² + σ_W²) / 2 = σ_f²,    E[1/V] = k / (σ_Lσ_W) = 4π c_f,

    (``E[s²] = E[s⁻²] = k``, and ``E[1/a] = 1/(σ_Lσ_W)`` by the elementary integral
    ``∫₀^{2π} dθ / (σ_L² cos²θ + σ_W² sin²θ) = 2π / (σ_Lσ_W)``), so
    ``e^μ = √(E[V] / E[1/V])`` and ``cosh τ = √(E[V] E[1/V])``. [m²]
    """
    mean_v = strikes.pattern_var[idx]
    mean_inv = 4.0 * math.pi * strikes.coef_pattern[idx]
    mu = 0.5 * np.log(mean_v / mean_inv)
    tau = np.arccosh(np.maximum(np.sqrt(mean_v * mean_inv), 1.0))
    return np.exp(mu - tau), np.exp(mu + tau)


NODES = 2
"""Components per site: the two halves of one carrier's pattern (:func:`pattern_nodes`)."""


def beyond_pattern(strikes: Strikes, sites: Sites) -> FloatArray:
    """``D = σ_site² − σ_f²``, per axis: how far a site's points spread beyond one pattern. [m²]

    0 for a site of one carrier's pattern. Both halves of a site's pattern are widened
    by it, in its components and for its aim point.
    """
    return np.maximum(sites.pattern - strikes.pattern_var[sites.strike], 0.0)


def _mixtures(strikes: Strikes, sites: Sites, which: IntArray, unlocated: FloatArray) -> Components:
    """Site components and one broad component for each strike of ``which``.

    A site is two components, the halves of its carriers' pattern
    (:func:`pattern_nodes`), each of half the site's weight, widened by the spread
    of the site's points beyond one pattern, ``D = σ_site² − σ_f²``, and its centre's
    error ``v``. Their second moments add up to the site's: within one carrier
    ``E[f²] = Σ_j ½ / (4πV_j) · N(V_j/2 + D + v)``, across its carriers the term of
    module :mod:`.inputs`, and, since pass 2 subtracts ``Σ_k π_k² w_k²`` but the site
    holds ``(Σ_j π_j w_j)²``, the halves' product ``w₁w₂`` is taken off as well.
    """
    pos = np.searchsorted(which, sites.strike)
    m = weighted_sums(pos, sites.carriers, len(which))
    total = m + unlocated
    broad = unlocated / total
    keep_broad = np.ones(len(which), dtype=bool)  # kept, if empty, for its exposure
    bc = broad_components(strikes, sites, which, unlocated)
    per_strike = np.bincount(pos, minlength=len(which))
    n_site = NODES * per_strike
    offsets = np.concatenate([[0], np.cumsum(n_site + keep_broad)]).astype(np.int64)
    # sites first (each its NODES halves), then the broad component, per strike
    first = offsets[pos] + NODES * run_rows(0, per_strike)
    site_at = (first[:, None] + np.arange(NODES)[None, :]).ravel()
    broad_at = offsets[:-1][keep_broad] + n_site[keep_broad]
    out = {name: np.empty(int(offsets[-1])) for name in COMPONENT_FIELDS}

    def each(a: FloatArray) -> FloatArray:
        return np.repeat(a, NODES)

    owner = sites.strike
    v1, v2 = pattern_nodes(strikes, owner)
    nodes = np.column_stack([v1, v2]).ravel()
    extra = beyond_pattern(strikes, sites) + sites.var
    wide1, wide2 = v1 + extra, v2 + extra
    out["weight"][site_at] = each(sites.carriers / total[pos] / NODES)
    out["x"][site_at], out["y"][site_at] = each(sites.x), each(sites.y)
    out["along"][site_at] = out["across"][site_at] = np.sqrt(nodes + each(extra))
    out["heading"][site_at] = np.nan
    whole = np.maximum(sites.carriers, 1.0)  # a share of one carrier clusters as one
    out["within"][site_at] = np.sqrt(nodes / 2.0 + each(extra))
    out["coef_within"][site_at] = NODES / (4.0 * math.pi * nodes * each(whole))
    # across carriers (module .inputs), less the halves' product w₁w₂, whose mass
    # 1 / 2π(W₁ + W₂) is laid on the cross kernel
    across = NODES * (1.0 - 1.0 / whole) / (4.0 * math.pi * sites.pattern)
    product = 1.0 / (2.0 * math.pi * (wide1 + wide2))
    several = whole > 1.0
    out["cross"][site_at] = each(
        np.sqrt(np.where(several, sites.pattern / 2.0 + sites.var, wide1 * wide2 / (wide1 + wide2)))
    )
    out["coef_cross"][site_at] = each(across - product)
    for name in COMPONENT_FIELDS:
        out[name][broad_at] = getattr(bc, name)[keep_broad]
    out["weight"][broad_at] = broad[keep_broad]
    return Components(offsets=offsets, **out)
