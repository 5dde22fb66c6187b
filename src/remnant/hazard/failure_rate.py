"""Field failure rate per carrier type, learned from clearance finds (exact posterior).

docs/model.md §4. For strike *s* of carrier type *t*:

- items found so far ``k_s ~ Poisson(Λ_s e_s)``, with ``e_s`` the expected fraction of
  the strike's items found so far (docs/model.md §2);
- ``Λ_s = n_s π_t C_s``: submunitions per carrier, failure rate of the type, carriers;
- ``C_s`` fixed when the record gives it, else ``C_s ~ Gamma`` moment-matched to the
  count prior (shape ``κ = m²/v``, rate ``κ/m``);
- ``π_t ~ Beta(α_t, β_t)``, the catalogue prior.

``k_s`` may be fractional (soft attribution of finds to strikes); the Poisson kernel
``Λ^k e^{-Λ}`` is used with real ``k``.

The posterior is exact, not sampled. Given ``π_t`` the strikes are independent, so
integrating each ``C_s`` out gives the marginal posterior of ``π_t`` in closed form up
to its constant (negative binomial for an unknown count, Poisson for a known one):

    p(π | data) ∝ π^{α-1+K} (1-π)^{β-1} exp(-π Σ_known n C e)
                  Π_unknown (κ/m + n e π)^{-(κ + k)}

with ``K`` the finds of all strikes of the type. It is evaluated on a grid in
``y = logit π``, where it is bounded and unimodal for every ``α, β > 0``: two
bracketing passes zoom in on the region within ``e^-40`` of the maximum, and a fine
grid of :data:`GRID_POINTS` cells there holds the posterior (the zoom keeps the grid
much finer than the posterior even with 10⁵ strikes, where a fixed grid over (0, 1)
would be coarser than its width). Means and intervals are quadratures on that grid,
so the same data always give the same estimate — which lets an incremental update
equal a full run (docs/model.md §8).

Given ``π`` and the data, ``C_s ~ Gamma(κ + k, κ/m + n π e)`` (conjugate), so the
per-strike moments of ``Λ_s`` are quadratures over the ``π`` grid
(Rao-Blackwellisation), and draws of totals are made by composition: ``π`` from its
grid by inverse CDF, then the sum over strikes given ``π`` from the Gamma of its exact
mean and variance, so nothing of size draws × strikes is ever held.

References
----------
.. [1] Gilbert, R. O. et al. (2005) Statistical methods and tools for UXO
   characterization, *Subsurface Sensing Technologies and Applications* 6, 251–270.
   https://doi.org/10.1007/s11220-005-0009-5
.. [2] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley (Poisson thinning).
   https://doi.org/10.1002/9781119115151
.. [3] Gelman, A. et al. (2013) *Bayesian Data Analysis*, 3rd ed., CRC, §2.6: the
   Gamma mixture of Poissons is negative binomial. https://doi.org/10.1201/b16018
.. [4] Satterthwaite, F. E. (1946) An approximate distribution of estimates of variance
   components, *Biometrics Bulletin* 2, 110–114. https://doi.org/10.2307/3002019
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields

import numba
import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

GRID_POINTS = 1000
"""Default cells of the fine logit grid that holds ``p(π_t | data)``; the grid spans
about ±13 posterior standard deviations (±9 and a margin, :data:`_MARGIN`), so 1,000
cells resolve it finely. [-]"""

_COARSE_LO, _COARSE_HI, _COARSE_POINTS = -30.0, 30.0, 241
"""First bracketing grid in ``logit π``: ``expit(-30) ≈ 1e-13``, step 0.25. [-]"""

_MEDIUM_POINTS = 200
"""Second bracketing grid, over the first bracket. [-]"""

_LOG_WINDOW = 40.0
"""Kept region of the log-density below its maximum (``e^-40 ≈ 4e-18``). [-]"""

_MARGIN = 0.25
"""Share of the kept region added to the fine grid on each side: the posterior fills
two thirds of the grid, so 1,000 cells still put about 37 in each standard deviation,
and a posterior that moves by up to an eighth of its width stays on the grid. [-]"""


def gamma_poisson_update(
    alpha: npt.ArrayLike, beta: npt.ArrayLike, found: npt.ArrayLike, exposure: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Return the Gamma posterior of a Poisson mean after a thinning search.

    If items are Poisson with mean ``Λ`` and ``Λ ~ Gamma(alpha, beta)``, a search that
    is expected to find a fraction ``exposure`` of them and finds ``found`` gives
    ``Λ ~ Gamma(alpha + found, beta + exposure)``; the items missed are
    ``Poisson(Λ (1 - exposure))``, independent of ``found`` given ``Λ``
    (docs/model.md §2; /work/shared/reference/statistics.md, "Conjugacy that makes
    large models cheap"; [1]_, [2]_).

    Parameters
    ----------
    alpha : array_like
        Prior shape. [-]
    beta : array_like
        Prior rate, per unit of ``Λ``. [-]
    found : array_like
        Items found (may be fractional under soft attribution). [items]
    exposure : array_like
        Expected fraction of the items found by the search. [-]

    Returns
    -------
    alpha_post, beta_post : ndarray
        Posterior shape and rate. [-]
    """
    a = np.asarray(alpha, dtype=float) + np.asarray(found, dtype=float)
    b = np.asarray(beta, dtype=float) + np.asarray(exposure, dtype=float)
    return a, b


@dataclass(frozen=True)
class _Strikes:
    """The validated data, in the form the sampler and the summaries use.

    ``shape``/``rate0`` are the Gamma conditional of ``C_s`` without the ``π`` term
    (``shape = κ + k``, ``rate0 = κ/m``); both are NaN where ``C_s`` is fixed.
    """

    found: FloatArray
    exposure: FloatArray
    per_carrier: FloatArray
    carriers: FloatArray
    unknown: npt.NDArray[np.bool_]
    shape: FloatArray
    rate0: FloatArray
    type_index: IntArray
    prior_alpha: FloatArray
    prior_beta: FloatArray

    @property
    def n_types(self) -> int:
        return int(self.prior_alpha.size)


@dataclass(frozen=True)
class FailureRatePosterior:
    """Posterior of the failure rates ``π_t`` and of the strike intensities ``Λ_s``.

    Parameters
    ----------
    rate_logit : ndarray, shape (types, points)
        Midpoints of each type's fine grid in ``logit π``. [-]
    rate_width : ndarray, shape (types,)
        Cell width of each type's grid in ``logit π``. [-]
    rate_weight : ndarray, shape (types, points)
        Posterior probability of each grid cell; rows sum to 1. [-]
    rate_draws : ndarray, shape (draws, types)
        Independent draws of each type's failure rate (inverse CDF on the grid). [-]
    scale_shape, scale_rate : ndarray, shape (strikes,)
        Gamma ``(shape, rate)`` matching the posterior mean and variance of ``Λ_s``,
        the expected number of duds left by strike *s* (before any search):
        ``E[Λ_s] = scale_shape / scale_rate``; the map's expected remaining in cell
        *c* is ``E[Λ_s] · w_sc · S_sc`` (docs/model.md §2). [-], [1/items]
        A strike that can leave no item (zero known carriers) has shape 0 and rate 1.
    seed : int
        Seed of the draws; the default seed of :meth:`total_remaining_draws`.
    data : _Strikes
        The validated inputs, kept to regenerate ``C_s | π`` (private).
    """

    rate_logit: FloatArray
    rate_width: FloatArray
    rate_weight: FloatArray
    rate_draws: FloatArray
    scale_shape: FloatArray
    scale_rate: FloatArray
    seed: int
    data: _Strikes = field(repr=False, compare=False)

    @property
    def window(self) -> FloatArray:
        """Logit bounds of each type's grid, shape (types, 2). [-]"""
        half = self.rate_width / 2.0
        return np.column_stack([self.rate_logit[:, 0] - half, self.rate_logit[:, -1] + half])

    @property
    def mean(self) -> FloatArray:
        """Posterior mean failure rate per type (quadrature on the grid). [-]"""
        return np.asarray(np.sum(self.rate_weight * special.expit(self.rate_logit), axis=1))

    @property
    def scale_mean(self) -> FloatArray:
        """Posterior mean of ``Λ_s`` per strike. [items]"""
        return self.scale_shape / self.scale_rate

    @property
    def scale_var(self) -> FloatArray:
        """Posterior variance of ``Λ_s`` per strike. [items²]"""
        return self.scale_shape / self.scale_rate**2

    def quantile(self, q: float) -> FloatArray:
        """Return each type's posterior ``q``-quantile of the failure rate.

        The CDF is linear within a grid cell (the density is taken uniform in
        ``logit π`` there), so the quantile is exact to well within a cell. [-]
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        out = np.empty(self.rate_weight.shape[0])
        for t, w in enumerate(self.rate_weight):
            cdf = np.concatenate(([0.0], np.cumsum(w)))
            edges = (
                self.rate_logit[t, 0]
                - self.rate_width[t] / 2
                + self.rate_width[t] * np.arange(cdf.size)
            )
            out[t] = special.expit(np.interp(q * cdf[-1], cdf, edges))
        return out

    def interval(self, level: float = 0.9) -> tuple[FloatArray, FloatArray]:
        """Return the central credible interval of each type's failure rate.

        Parameters
        ----------
        level : float
            Posterior probability inside the interval, in (0, 1). [-]

        Returns
        -------
        lo, hi : ndarray, shape (types,)
            Lower and upper bounds. [-]
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level}")
        tail = (1.0 - level) / 2.0
        return self.quantile(tail), self.quantile(1.0 - tail)

    def total_remaining_draws(
        self, unfound_fraction: npt.ArrayLike, *, seed: int | None = None
    ) -> npt.NDArray[np.int64]:
        """Draw the total number of items remaining over all strikes.

        For each draw of ``π``, the ``C_s`` are drawn from their exact conditional
        given ``π`` and the data, and the total is
        ``Poisson(Σ_s Λ_s r_s)`` (a sum of independent Poissons), so the correlation
        between strikes through ``π_t`` is kept (docs/model.md §6).

        Parameters
        ----------
        unfound_fraction : array_like, shape (strikes,)
            ``r_s``: fraction of strike *s*'s items expected to remain, usually
            ``1 - exposure``. [-]
        seed : int, optional
            Seed of the draws; default the posterior's ``seed``.

        Returns
        -------
        ndarray of int64, shape (draws,)
            Draws of the total remaining. [items]

        Raises
        ------
        ValueError
            When the posterior keeps no draws of ``π`` (learned with ``draws=0``).
        """
        if len(self.rate_draws) == 0:
            raise ValueError("this posterior keeps no draws of the failure rates (draws=0)")
        s = self.data
        r = _as_fraction(unfound_fraction, "unfound_fraction", s.found.size)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        means = _remaining_means(s, self.rate_draws, r, rng)
        return rng.poisson(means).astype(np.int64)


def learn_failure_rates(
    found: npt.ArrayLike,
    exposure: npt.ArrayLike,
    per_carrier: npt.ArrayLike,
    carriers_known: npt.ArrayLike,
    count_mean: npt.ArrayLike,
    count_var: npt.ArrayLike,
    type_index: npt.ArrayLike,
    prior_alpha: npt.ArrayLike,
    prior_beta: npt.ArrayLike,
    *,
    draws: int = 1000,
    seed: int = 0,
    grid_points: int = GRID_POINTS,
    window: FloatArray | None = None,
    held: HeldTerms | None = None,
    scales_of: IntArray | None = None,
) -> FailureRatePosterior:
    """Learn the failure rate of each carrier type from finds (docs/model.md §4).

    Parameters
    ----------
    found : array_like, shape (strikes,)
        ``k_s``: items found attributed to each strike; may be fractional. [items]
    exposure : array_like, shape (strikes,)
        ``e_s``: expected fraction of the strike's items found so far, in [0, 1]. [-]
    per_carrier : array_like, shape (strikes,)
        ``n_s``: submunitions per carrier, > 0. [items]
    carriers_known : array_like, shape (strikes,)
        ``C_s`` where the record gives it (≥ 0), NaN where it is unknown. [carriers]
    count_mean, count_var : array_like, shape (strikes,)
        Mean (> 0) and variance (≥ 0) of the count prior, used where
        ``carriers_known`` is NaN; a variance of 0 fixes the count at its mean.
        [carriers], [carriers²]
    type_index : array_like of int, shape (strikes,)
        Carrier type of each strike, an index into ``prior_alpha``. [-]
    prior_alpha, prior_beta : array_like, shape (types,)
        Beta prior of each type's failure rate, both > 0. [-]
    draws : int
        Draws of ``π_t`` kept for :meth:`FailureRatePosterior.total_remaining_draws`;
        means and intervals do not depend on them. 0 keeps none (a step of an
        evidence update reads the means alone). [-]
    seed : int
        Seed of the draws.
    grid_points : int
        Cells of the fine logit grid holding ``p(π_t | data)``. [-]
    window : ndarray, shape (types, 2), optional
        Logit bounds to try the fine grid on first (an earlier posterior's
        :attr:`FailureRatePosterior.window`, while the data change little); a type's
        grid is zoomed afresh where the posterior reaches an edge or fills less than
        a quarter of it.
    held : HeldTerms, optional
        Count terms kept from earlier calls of a series (:class:`HeldTerms`).
    scales_of : ndarray of int, optional
        The strikes whose scale moments are wanted; the others' are NaN (a local
        evidence update's steps read those of the strikes whose finds move only).

    Returns
    -------
    FailureRatePosterior

    Raises
    ------
    ValueError
        On arrays of different lengths, negative or non-finite values, exposure outside
        [0, 1], type indices out of range, or finds where no item can be found
        (zero exposure or zero known carriers).
    """
    if draws < 0 or grid_points < 10:
        raise ValueError(f"need draws >= 0 and grid_points >= 10; got {draws}, {grid_points}")
    if held is not None and held.checked:  # a series: only the items found are new
        s = held.checked[0].with_found(found)
    else:
        checked = _validate(
            found, exposure, per_carrier, carriers_known, count_mean, count_var,
            type_index, prior_alpha, prior_beta,
        )  # fmt: skip
        if held is not None:
            held.checked.append(checked)
        s = checked.strikes
    ys, widths, ws = _posterior_grid(s, grid_points, window, held)
    rate_draws = _draw_rates(np.random.default_rng(seed), ys, widths, ws, draws)
    shape, rate = _scale_moments(s, special.expit(ys), ws, scales_of)
    for a in (ys, widths, ws, rate_draws, shape, rate):
        a.flags.writeable = False  # the posterior is frozen, its arrays too
    return FailureRatePosterior(ys, widths, ws, rate_draws, shape, rate, seed, s)


# -- validation -----------------------------------------------------------------------


def _as_fraction(x: npt.ArrayLike, name: str, n: int) -> FloatArray:
    """Return ``x`` as a float vector of length ``n`` with values in [0, 1]."""
    a = np.asarray(x, dtype=float)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    if not np.all((a >= 0.0) & (a <= 1.0)):
        bad = np.flatnonzero(~((a >= 0.0) & (a <= 1.0)))[:5]
        raise ValueError(f"{name} must lie in [0, 1] (first offending indices: {bad})")
    return a


def _vector(x: npt.ArrayLike, name: str, n: int | None) -> FloatArray:
    """Return ``x`` as a 1-D float vector, checking its length when ``n`` is given."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 1 or (n is not None and a.size != n):
        want = "1-D" if n is None else f"shape ({n},)"
        raise ValueError(f"{name} must have {want}, got shape {a.shape}")
    return a


def _check(ok: npt.NDArray[np.bool_], message: str) -> None:
    """Raise ``ValueError`` naming the first failing strikes when ``ok`` is not all true."""
    if not np.all(ok):
        raise ValueError(f"{message} (first offending indices: {np.flatnonzero(~ok)[:5]})")


def _validate(
    found: npt.ArrayLike,
    exposure: npt.ArrayLike,
    per_carrier: npt.ArrayLike,
    carriers_known: npt.ArrayLike,
    count_mean: npt.ArrayLike,
    count_var: npt.ArrayLike,
    type_index: npt.ArrayLike,
    prior_alpha: npt.ArrayLike,
    prior_beta: npt.ArrayLike,
) -> _Checked:
    """Check the inputs and build the sampler's view of them."""
    k = _vector(found, "found", None)
    n_s = k.size
    e = _as_fraction(exposure, "exposure", n_s)
    n = _vector(per_carrier, "per_carrier", n_s)
    c = _vector(carriers_known, "carriers_known", n_s)
    m, v = _vector(count_mean, "count_mean", n_s), _vector(count_var, "count_var", n_s)
    alpha = _vector(prior_alpha, "prior_alpha", None)
    beta = _vector(prior_beta, "prior_beta", alpha.size)
    t = _type_index(type_index, n_s, alpha.size)
    _check(np.isfinite(k) & (k >= 0), "found must be finite and >= 0")
    _check(np.isfinite(n) & (n > 0), "per_carrier must be finite and > 0")
    _check(np.isfinite(alpha) & (alpha > 0) & np.isfinite(beta) & (beta > 0), "prior must be > 0")
    unknown = np.isnan(c)
    _check(~unknown | (np.isfinite(m) & (m > 0)), "count_mean must be > 0 where C is unknown")
    _check(~unknown | (np.isfinite(v) & (v >= 0)), "count_var must be >= 0 where C is unknown")
    _check(unknown | (np.isfinite(c) & (c >= 0)), "carriers_known must be >= 0 or NaN")
    fixed = unknown & (v == 0)  # a count prior without spread fixes the count
    c = np.where(fixed, m, c)
    unknown &= ~fixed
    can_find = (e > 0) & (unknown | (c > 0))
    _check((k == 0) | can_find, "finds where nothing can be found")
    return _strikes(k, e, n, c, unknown, m, v, t, alpha, beta, can_find)


def _type_index(type_index: npt.ArrayLike, n_strikes: int, n_types: int) -> IntArray:
    """Return the type indices as ``intp``, checking length and range."""
    raw = np.asarray(type_index)
    if raw.shape != (n_strikes,) or (raw.size and not np.issubdtype(raw.dtype, np.integer)):
        raise ValueError(f"type_index must be integers of shape ({n_strikes},)")
    t = raw.astype(np.intp)
    _check((t >= 0) & (t < n_types), f"type_index must lie in [0, {n_types})")
    return t


def _strikes(
    k: FloatArray, e: FloatArray, n: FloatArray, c: FloatArray,
    unknown: npt.NDArray[np.bool_], m: FloatArray, v: FloatArray, t: IntArray,
    alpha: FloatArray, beta: FloatArray, can_find: npt.NDArray[np.bool_],
) -> _Checked:  # fmt: skip
    """Assemble :class:`_Strikes` with the Gamma count prior ``κ = m²/v``, rate ``κ/m``.

    Returned as :class:`_Checked`, with ``κ`` and ``can_find`` for the later calls of a
    series.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(unknown, m * m / v, np.nan)
        rate0 = np.where(unknown, kappa / m, np.nan)
    carriers = np.where(unknown, np.nan, c)
    strikes = _Strikes(k, e, n, carriers, unknown, kappa + k, rate0, t, alpha, beta)
    return _Checked(strikes, kappa, can_find)


@dataclass(frozen=True)
class _Checked:
    """Validated strikes, with what a new set of items found is checked and built with.

    In a series of calls (:class:`HeldTerms`) only the items found change: the first
    call's strikes are kept, and the later calls check and take the new items found
    alone (:meth:`with_found`), not every array of a country's 100,000 strikes again.
    """

    strikes: _Strikes
    kappa: FloatArray  # κ of the count prior (NaN where C is fixed)
    can_find: npt.NDArray[np.bool_]  # exposed, and with carriers that may have left items

    def with_found(self, found: npt.ArrayLike) -> _Strikes:
        """The strikes with ``found`` as their items found, checked as :func:`_validate` does."""
        k = _vector(found, "found", self.strikes.found.size)
        _check(np.isfinite(k) & (k >= 0), "found must be finite and >= 0")
        _check((k == 0) | self.can_find, "finds where nothing can be found")
        return dataclasses.replace(self.strikes, found=k, shape=self.kappa + k)


# -- the exact posterior of π_t ---------------------------------------------------


@dataclass(frozen=True)
class HeldTerms:
    """The count terms of strikes whose data a series of calls leaves as they are.

    A local evidence update (:class:`remnant.hazard.evidence.Frozen`) changes the
    items found of a few thousand strikes and learns the failure rates again at each
    step: the terms ``Σ_s shape_s log(rate0_s + ne_s π)`` of the other strikes are
    summed once on each grid of ``π`` and kept here. Use one per series, with the
    same strikes (their types, counts, count priors and exposures) and, where
    ``fixed``, items found: the later calls read the items found alone.

    Parameters
    ----------
    fixed : ndarray of bool, shape (strikes,)
        The strikes whose data stay as they are.
    sums, types, checked
        Kept by the calls: the held strikes' terms on each grid, the strikes split by
        type (:class:`_TypeSplit`), and the strikes as the first call validated them
        (:class:`_Checked`; the later calls check their items found alone).
    """

    fixed: npt.NDArray[np.bool_]
    sums: dict[tuple[int, bytes], FloatArray] = field(default_factory=dict)
    types: list[_TypeSplit] = field(default_factory=list)
    checked: list[_Checked] = field(default_factory=list)


@dataclass(frozen=True)
class _TypeSplit:
    """One carrier type's strikes as :func:`_type_terms` splits them, all but items found.

    In a series of calls (:class:`HeldTerms`) the strikes' counts and exposures stay,
    and so do which are exposed and of unknown count, which of those are held, and
    the held ones' data: only the items found of the others change. The split is
    kept there, not made again at each step from each of a country's 100,000 strikes
    once per type.
    """

    tilt: float  # Σ_known n C e
    rows: IntArray  # the exposed strikes of unknown count not held
    rate0: FloatArray  # κ / m of those
    ne: FloatArray  # n e of those
    held: tuple[int, HeldTerms, FloatArray, FloatArray, FloatArray] | None  # as _TypeTerms'


@dataclass(frozen=True)
class _TypeTerms:
    """The data of one carrier type, reduced to the terms of ``log p(π_t | data)``."""

    a: float  # α + K (the logit Jacobian adds 1 to both Beta exponents)
    b: float  # β
    tilt: float  # Σ_known n C e
    shape: FloatArray  # κ + k of the exposed unknown-count strikes
    rate0: FloatArray  # κ / m of those strikes
    ne: FloatArray  # n e of those strikes
    held: tuple[int, HeldTerms, FloatArray, FloatArray, FloatArray] | None = None
    # (type, the sums kept, and shape, rate0, ne of its held strikes) where some are held


def _type_terms(s: _Strikes, held: HeldTerms | None = None) -> list[_TypeTerms]:
    """Split the strikes by type; strikes of unknown count without exposure add a constant.

    With ``held``, the split is made at its series' first call and kept there
    (:class:`_TypeSplit`); the later calls read only the moving strikes' items found.
    """
    if held is None:
        splits = _splits(s, None)
    else:
        if not held.types:
            held.types.extend(_splits(s, held))
        splits = held.types
    found = np.bincount(s.type_index, s.found, s.n_types)
    terms = []
    for t, split in enumerate(splits):
        a, b = float(s.prior_alpha[t] + found[t]), float(s.prior_beta[t])
        terms.append(_TypeTerms(a, b, split.tilt, s.shape[split.rows], split.rate0, split.ne,
                                split.held))  # fmt: skip
    return terms


def _splits(s: _Strikes, held: HeldTerms | None) -> list[_TypeSplit]:
    """Each type's known-count tilt and its exposed strikes of unknown count, held or not."""
    known_ne = np.where(s.unknown, 0.0, s.per_carrier * np.nan_to_num(s.carriers) * s.exposure)
    tilt = np.bincount(s.type_index, known_ne, s.n_types)
    ne = s.per_carrier * s.exposure
    exposed = s.unknown & (ne > 0)
    out = []
    for t in range(s.n_types):
        mine = exposed & (s.type_index == t)
        kept = None
        if held is not None:
            h = np.flatnonzero(mine & held.fixed)
            kept = (t, held, s.shape[h], s.rate0[h], ne[h])
            mine &= ~held.fixed
        j = np.flatnonzero(mine)
        out.append(_TypeSplit(float(tilt[t]), j, s.rate0[j], ne[j], kept))
    return out


def _log_density(y: FloatArray, term: _TypeTerms) -> FloatArray:
    """Log-density of ``y = logit π_t`` given the data, up to a constant.

    ``(α+K) log π + β log(1-π) − π Σ_known nCe − Σ_unknown (κ+k) log(κ/m + n e π)``,
    with ``log(1-π) = log π − y`` (docs/model.md §4). [-]
    """
    log_p = special.log_expit(y)
    p = np.exp(log_p)
    out = (term.a + term.b) * log_p - term.b * y - term.tilt * p
    if term.held is None:
        return np.asarray(out - _count_terms(term.shape, term.rate0, term.ne, p))
    t, held, shape, rate0, ne = term.held
    key = (t, y.tobytes())
    if key not in held.sums:  # a grid's first use: the held strikes summed, once
        held.sums[key] = _count_terms(shape, rate0, ne, p)
    return np.asarray(out - held.sums[key] - _count_terms(term.shape, term.rate0, term.ne, p))


SERIES_TERMS = 64
"""Most terms of the power series :func:`_count_terms` sums; a grid too wide for them
is summed strike by strike. [-]"""

_SERIES_TOLERANCE = 1e-16
"""Bound on the series' remainder, relative to ``Σ_s shape_s``: below the rounding of
the sum strike by strike. [-]"""


@numba.njit(cache=True)
def _count_terms(shape: FloatArray, rate0: FloatArray, ne: FloatArray, p: FloatArray) -> FloatArray:
    """``Σ_s shape_s log(rate0_s + ne_s p)`` at each ``p`` (the strikes of unknown count).

    About the middle ``p0`` of the grid, with ``h`` its half-width,
    ``log(rate0 + ne p) = log(rate0 + ne p0) + log(1 + x_s t)`` where
    ``x_s = ne_s h / (rate0_s + ne_s p0)`` and ``t = (p − p0)/h`` lies in [−1, 1]; so
    the sum is ``L0 + Σ_k (−1)^(k+1) M_k t^k / k`` with the power sums
    ``M_k = Σ_s shape_s x_s^k``. As ``rate0, ne ≥ 0``, ``x_s ≤ h / p0 < 1``; the
    series stops where its remainder, at most ``Σ shape · ρ^(K+1) / ((K+1)(1 − ρ))``
    with ``ρ = max x_s``, is below :data:`_SERIES_TOLERANCE` of ``Σ shape``. One pass
    over the strikes, then :data:`SERIES_TERMS` at most per grid point, instead of a
    logarithm per strike and point (a country's 16,000 strikes of one type on 1,000
    points: 70 ms). A grid too wide for that many terms (the first bracketing ones)
    is summed directly.
    """
    n_g = len(p)
    out = np.zeros(n_g)
    if n_g == 0 or len(shape) == 0:
        return out
    p0, h, rho = _series_centre(rate0, ne, p)
    terms = SERIES_TERMS + 1
    if rho < 1.0:
        bound = rho / (1.0 - rho)  # remainder bound after k terms, over Σ shape
        for k in range(1, SERIES_TERMS + 1):
            bound *= rho * k / (k + 1.0)
            if bound <= _SERIES_TOLERANCE:
                terms = k
                break
    if terms > SERIES_TERMS or not h > 0.0:
        return _count_terms_direct(shape, rate0, ne, p)
    base = 0.0
    power_sums = np.zeros(terms + 1)
    for i in range(len(shape)):
        z = rate0[i] + ne[i] * p0
        base += shape[i] * math.log(z)
        x, xk = ne[i] * h / z, shape[i]
        for k in range(1, terms + 1):
            xk *= x
            power_sums[k] += xk
    for g in range(n_g):
        t = (p[g] - p0) / h
        acc = 0.0
        for k in range(terms, 0, -1):  # Horner: Σ_k c_k t^k, c_k = (−1)^(k+1) M_k / k
            acc = acc * t + (power_sums[k] / k if k % 2 else -power_sums[k] / k)
        out[g] = base + acc * t
    return out


@numba.njit(cache=True)
def _series_centre(rate0: FloatArray, ne: FloatArray, p: FloatArray) -> tuple[float, float, float]:
    """The middle ``p0`` and half-width ``h`` of the grid ``p``, and ``ρ = max_s a_s``.

    ``a_s = ne_s h / (rate0_s + ne_s p0)``: the ratio of the power series of
    :func:`_count_terms` and :func:`_ratio_moments` about ``p0``, at most ``h / p0``.
    """
    lo, hi = p.min(), p.max()
    p0, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    rho = 0.0
    for i in range(len(rate0)):
        rho = max(rho, ne[i] * h / (rate0[i] + ne[i] * p0))
    return p0, h, rho


@numba.njit(parallel=True, cache=True)
def _count_terms_direct(
    shape: FloatArray, rate0: FloatArray, ne: FloatArray, p: FloatArray
) -> FloatArray:
    """:func:`_count_terms` strike by strike: a logarithm per strike and grid point."""
    out = np.zeros(len(p))
    for g in numba.prange(len(p)):
        acc = 0.0
        for i in range(len(shape)):
            acc += shape[i] * math.log(rate0[i] + ne[i] * p[g])
        out[g] = acc
    return out


def _zoom(term: _TypeTerms, grid_points: int) -> tuple[FloatArray, float]:
    """Return the midpoints and width of a fine logit grid holding the posterior.

    Three evaluations, each bracketing where the log-density is within
    :data:`_LOG_WINDOW` of its maximum (widened by one cell each side, so the mode
    is kept even when the posterior is narrower than a cell) and refining there. The
    fine grid spans that bracket and :data:`_MARGIN` of it more on each side, so that
    the next step of an evidence update, whose posterior has moved a little, finds it
    still inside (:func:`_posterior_grid`) and need not zoom again.
    """
    lo, hi = _COARSE_LO, _COARSE_HI
    for points in (_COARSE_POINTS, _MEDIUM_POINTS):
        width = (hi - lo) / points
        y = _midpoints(lo, width, points)
        logf = _log_density(y, term)
        keep = np.flatnonzero(logf >= logf.max() - _LOG_WINDOW)
        lo = float(y[max(keep[0] - 1, 0)] - width / 2)
        hi = float(y[min(keep[-1] + 1, points - 1)] + width / 2)
    lo, hi = lo - _MARGIN * (hi - lo), hi + _MARGIN * (hi - lo)
    width = (hi - lo) / grid_points
    return _midpoints(lo, width, grid_points), width


def _midpoints(lo: float, width: float, points: int) -> FloatArray:
    """Midpoints of ``points`` cells of ``width`` from ``lo``."""
    return lo + width * (np.arange(points, dtype=np.float64) + 0.5)


def _posterior_grid(
    s: _Strikes, grid_points: int, window: FloatArray | None = None, held: HeldTerms | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Midpoints ``y``, cell widths and cell probabilities of ``logit π_t`` per type."""
    ys = np.empty((s.n_types, grid_points))
    widths = np.empty(s.n_types)
    ws = np.empty((s.n_types, grid_points))
    for t, term in enumerate(_type_terms(s, held)):
        logf = None
        if window is not None and window.shape == (s.n_types, 2):
            widths[t] = (window[t, 1] - window[t, 0]) / grid_points
            ys[t] = _midpoints(float(window[t, 0]), float(widths[t]), grid_points)
            logf = _log_density(ys[t], term)
            inside = np.flatnonzero(logf >= logf.max() - _LOG_WINDOW)
            reaches_edge = inside[0] == 0 or inside[-1] == grid_points - 1
            if reaches_edge or inside[-1] - inside[0] < grid_points // 4:
                logf = None
        if logf is None:
            ys[t], widths[t] = _zoom(term, grid_points)
            logf = _log_density(ys[t], term)
        w = np.exp(logf - logf.max())
        ws[t] = w / w.sum()
    return ys, widths, ws


def _draw_rates(
    rng: np.random.Generator, ys: FloatArray, widths: FloatArray, ws: FloatArray, draws: int
) -> FloatArray:
    """Independent draws of ``π_t`` by inverse CDF, uniform within a grid cell."""
    out = np.empty((draws, ys.shape[0]))
    if draws == 0:
        return out
    for t in range(ys.shape[0]):
        cdf = np.cumsum(ws[t])
        u = rng.random(draws) * cdf[-1]
        cell = np.minimum(np.searchsorted(cdf, u, side="right"), ys.shape[1] - 1)
        within = np.clip((u - (cdf[cell] - ws[t, cell])) / ws[t, cell], 0.0, 1.0)
        out[:, t] = special.expit(ys[t, cell] + widths[t] * (within - 0.5))
    return out


# -- summaries ------------------------------------------------------------------------


def _scale_moments(
    s: _Strikes, pi: FloatArray, ws: FloatArray, only: IntArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Gamma ``(shape, rate)`` matching the posterior mean and variance of ``Λ_s``.

    Quadrature over each type's ``π`` grid (``pi``: rates at the grid midpoints,
    ``ws``: their probabilities): given ``π``, ``C_s`` is ``Gamma(a, b)`` with
    ``E[C] = a/b`` and ``E[C²] = a(a+1)/b²`` (or fixed), and ``Λ_s = n_s π_t C_s``.
    With ``only``, those strikes' (the others NaN).
    """
    if only is not None:
        per_strike = {f.name: getattr(s, f.name)[only] for f in fields(s)
                      if f.name not in ("prior_alpha", "prior_beta")}  # fmt: skip
        part = _scale_moments(dataclasses.replace(s, **per_strike), pi, ws)
        out = np.full(s.found.size, np.nan), np.full(s.found.size, np.nan)
        for whole, mine in zip(out, part, strict=True):
            whole[only] = mine
        return out
    c = np.nan_to_num(s.carriers)
    t = s.type_index
    e1, e2 = np.sum(ws * pi, axis=1), np.sum(ws * pi**2, axis=1)
    m1 = s.per_carrier * c * e1[t]
    m2 = (s.per_carrier * c) ** 2 * e2[t]
    for ty in range(s.n_types):
        j = np.flatnonzero(s.unknown & (t == ty))
        ne = s.per_carrier[j] * s.exposure[j]
        x1, x2 = e1[ty] / s.rate0[j], e2[ty] / s.rate0[j] ** 2  # unsearched: π / rate0
        some = np.flatnonzero(ne > 0.0)
        x1[some], x2[some] = _ratio_moments(s.rate0[j[some]], ne[some], pi[ty], ws[ty])
        a = s.shape[j]
        m1[j] = s.per_carrier[j] * a * x1
        m2[j] = s.per_carrier[j] ** 2 * a * (a + 1.0) * x2
    var = np.maximum(m2 - m1**2, 1e-12 * m1**2)
    zero = m1 <= 0.0
    var = np.where(zero, 1.0, var)
    return np.where(zero, 0.0, m1**2 / var), np.where(zero, 1.0, m1 / var)


@numba.njit(cache=True)
def _ratio_moments(
    rate0: FloatArray, ne: FloatArray, pi: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``Σ_g w_g x_g`` and ``Σ_g w_g x_g²`` with ``x_g = π_g / (rate0 + ne π_g)``, per strike.

    As :func:`_count_terms`, by power series about the middle ``π0`` of the grid (half
    width ``h``, ``t = (π − π0)/h``): with ``z = rate0 + ne π0`` and ``a = ne h / z``,
    ``x = (π0 + h t) / z · Σ_k (−a t)^k`` and
    ``x² = (π0 + h t)² / z² · Σ_k (k+1) (−a t)^k``, so both sums are series in the
    grid's moments ``T_k = Σ_g w_g t_g^k``, computed once: :data:`SERIES_TERMS` at
    most per strike instead of a division per strike and grid point. The series stops
    where its remainder, at most ``(K+2) ρ^(K+1) / (1 − ρ)²`` of its first term with
    ``ρ = max a ≤ h / π0``, is below :data:`_SERIES_TOLERANCE`; a grid too wide for
    that is summed point by point.
    """
    n, n_g = len(rate0), len(pi)
    m1, m2 = np.empty(n), np.empty(n)
    if n == 0 or n_g == 0:
        return m1, m2
    p0, h, rho = _series_centre(rate0, ne, pi)
    terms = SERIES_TERMS + 1
    if rho < 1.0 and h > 0.0:
        # relative to the sums themselves, which are at least (π0 − h)/(π0 + h) of the
        # first terms' scale (and their squares)
        scale = ((p0 - h) / (p0 + h)) ** 2 / (1.0 + rho) ** 2
        for k in range(1, SERIES_TERMS + 1):
            if (k + 2) * rho ** (k + 1) / (1.0 - rho) ** 2 <= _SERIES_TOLERANCE * scale:
                terms = k
                break
    if terms > SERIES_TERMS:
        return _ratio_moments_direct(rate0, ne, pi, w)
    moments = np.zeros(terms + 3)  # T_k = Σ_g w_g t_g^k
    for g in range(n_g):
        t = (pi[g] - p0) / h
        tk = w[g]
        for k in range(terms + 3):
            moments[k] += tk
            tk *= t
    for i in range(n):
        z = rate0[i] + ne[i] * p0
        minus_a = -ne[i] * h / z
        s1 = 0.0
        s2 = 0.0
        ak = 1.0
        for k in range(terms + 1):
            s1 += ak * (p0 * moments[k] + h * moments[k + 1])
            s2 += (k + 1) * ak * (p0 * p0 * moments[k] + 2.0 * p0 * h * moments[k + 1]
                                  + h * h * moments[k + 2])  # fmt: skip
            ak *= minus_a
        m1[i] = s1 / z
        m2[i] = s2 / (z * z)
    return m1, m2


@numba.njit(parallel=True, cache=True)
def _ratio_moments_direct(
    rate0: FloatArray, ne: FloatArray, pi: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """:func:`_ratio_moments` point by point: a division per strike and grid point."""
    m1 = np.empty(len(rate0))
    m2 = np.empty(len(rate0))
    for i in numba.prange(len(rate0)):
        a1 = 0.0
        a2 = 0.0
        for g in range(len(pi)):
            x = pi[g] / (rate0[i] + ne[i] * pi[g])
            a1 += w[g] * x
            a2 += w[g] * x * x
        m1[i] = a1
        m2[i] = a2
    return m1, m2


def _remaining_means(
    s: _Strikes, rate_draws: FloatArray, r: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Per draw of ``π``, a draw of ``Σ_s Λ_s r_s`` given ``π``.

    Known counts give ``Σ n_s C_s π_t r_s``. Given ``π`` the unknown counts are
    independent Gammas, ``C_s ~ Gamma(a_s, b_s(π))``, so their sum
    ``Σ_s n_s π_t r_s C_s`` has mean ``Σ c_s a_s`` and variance ``Σ c_s² a_s`` with
    ``c_s = n_s π_t r_s / b_s(π)``; it is drawn from the Gamma of those two moments
    (Satterthwaite 1946; exact for one strike, and the sum of many is near normal), not
    strike by strike: a country's 10⁵ strikes × 4,000 draws would be 4·10⁸ Gamma draws.
    The two sums are smooth functions of each type's ``π``: they are summed over the
    strikes at :data:`SUM_POINTS` rates spanning the type's draws and interpolated
    (:func:`_type_sums`).
    """
    known = np.where(s.unknown, 0.0, s.per_carrier * np.nan_to_num(s.carriers) * r)
    means = rate_draws @ np.bincount(s.type_index, known, s.n_types)
    idx = np.flatnonzero(s.unknown)
    mean, var = _type_sums(
        rate_draws, s.type_index[idx], s.per_carrier[idx], r[idx], s.rate0[idx],
        s.exposure[idx], s.shape[idx],
    )  # fmt: skip
    some = (mean > 0.0) & (var > 0.0)
    shape = np.where(some, mean**2 / np.where(some, var, 1.0), 1.0)
    draws = rng.standard_gamma(shape) * np.where(some, var / np.where(some, mean, 1.0), 0.0)
    return np.asarray(means + np.where(some, draws, mean))


SUM_POINTS = 512
"""Rates at which :func:`_type_sums` sums over the strikes, spanning a type's draws:
linear interpolation between them is off by at most ``(h/π)²/16`` relative for the
mean, ``h`` their spacing (a term ``π/(a + bπ)`` bends by ``2ab/(a + bπ)³``), and a few
times that for the variance: under 10⁻⁵ where the draws span a rate's ±50 %. [-]"""


def _type_sums(
    pi: FloatArray, t: IntArray, n: FloatArray, r: FloatArray, rate0: FloatArray,
    e: FloatArray, shape: FloatArray,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """Per draw of ``π`` (rows of ``pi``), mean and variance of ``Σ_s n_s π r_s C_s`` given it.

    Per type, ``Σ_s c_s a_s`` and ``Σ_s c_s² a_s`` with ``c_s = n_s π r_s / b_s(π)``
    (``b_s(π) = rate0_s + n_s e_s π``, ``a_s`` = ``shape``) are summed at
    :data:`SUM_POINTS` rates from the type's least draw to its greatest
    (:func:`_sums_at`) and interpolated at each draw.
    """
    mean, var = np.zeros(pi.shape[0]), np.zeros(pi.shape[0])
    for ty in np.unique(t):
        j = np.flatnonzero(t == ty)
        p = pi[:, ty]
        grid = np.linspace(float(p.min()), float(p.max()), SUM_POINTS)
        m1, m2 = _sums_at(grid, n[j], r[j], rate0[j], e[j], shape[j])
        mean += np.interp(p, grid, m1)
        var += np.interp(p, grid, m2)
    return mean, var


@numba.njit(parallel=True, cache=True)
def _sums_at(
    grid: FloatArray, n: FloatArray, r: FloatArray, rate0: FloatArray, e: FloatArray,
    shape: FloatArray,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """``Σ_s c_s a_s`` and ``Σ_s c_s² a_s`` at each rate of ``grid`` (numba)."""
    m1 = np.zeros(len(grid))
    m2 = np.zeros(len(grid))
    for g in numba.prange(len(grid)):
        p = grid[g]
        a1 = 0.0
        a2 = 0.0
        for j in range(len(n)):
            c = n[j] * p * r[j] / (rate0[j] + n[j] * e[j] * p)
            a1 += c * shape[j]
            a2 += c * c * shape[j]
        m1[g] = a1
        m2[g] = a2
    return m1, m2
