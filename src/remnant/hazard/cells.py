"""Probability of any item and a central interval for the count remaining in a cell.

docs/model.md §6: the number R of unexploded items remaining in a cell is a mixed
Poisson count — Poisson given the strikes' intensities, which are uncertain. The
estimate carries only its mean ``m`` and variance ``v`` per cell, and R is summarised by
the negative binomial (NB) with the same two moments. The choice is not arbitrary: a
Poisson whose mean is Gamma distributed is exactly NB [1]_, so the NB is the mixed
Poisson whose mixing distribution is the moment-matched Gamma. With size ``r`` and
success probability ``p``

    r = m² / (v − m),   p = r / (r + m) = m / v,
    P(R = k) = Γ(k + r) / (Γ(r) k!) · p^r (1 − p)^k,

and the Poisson (``r = ∞``) when ``v ≤ m (1 + 1e-9)``; a variance below the mean,
which no mixed Poisson has, is also read as Poisson. Per cell this module gives

* ``p_any = 1 − P(R = 0) = −expm1(−r · log1p(m / r))``, in log space so that a tiny
  ``r`` (huge overdispersion: ``r`` of 1e-6 or far less) loses no precision;
* the ``q``-quantile ``min {k : P(R ≤ k) ≥ q}`` at ``q_lo`` and ``q_hi``.

The quantiles come from summing the pmf upwards with the recursion
``P(k + 1) = P(k) · (k + r) / (k + 1) · (1 − p)`` (Poisson: ``P(k) · m / (k + 1)``) [2]_,
started not at 0 but at ``k0 = max(0, ⌊m − 12 sd⌋)``, so that a large mean costs about
14 sd steps for a 90 % interval instead of ``m``:

* The mass left out below ``k0`` is at most ``exp(−12² / 2) ≈ 5e-32``: the NB's lower
  tail obeys the Chernoff bound ``P(R ≤ m − s) ≤ exp(−s² / (2 v))`` [3]_ (its Laplace
  transform ``E e^(−λR)`` is at most ``exp(−λm + λ²v / 2)``), and the Poisson is its
  ``r → ∞`` limit. Where ``P(k0)`` would underflow (``log P(k0) < −700``: heavy
  overdispersion with a large mean) the start moves up by bisection to the first ``k``
  above that floor, which leaves out less than ``k · e^-700`` more.
* ``P(k0)`` comes from the saddle-point form of the log-pmf [4]_ (Stirling's error
  and a deviance term, with ``math.lgamma`` only below 15), which keeps ~1e-14
  relative accuracy at any ``k``; the plain ``lgamma`` difference loses ``k log k``
  ulp (1e-10 at ``k = 1e5``, 1e-6 at ``1e9``). The recursion restarts from it every
  1024 steps, so its rounding does not pile up: the summed CDF stays within ~1e-11 of
  the true one up to ``m = 1e9``.
* The sum stops at ``⌊m + 13 sd⌋ + 20``: at most about 25 sd + 20 steps. By Cantelli's
  inequality ``P(R > m + 13 sd) ≤ 1/170``, so the upper quantile is always found for
  ``q_hi ≤ 169/170`` (central levels up to 0.988); above that a heavy right tail can
  put it out of reach, and it is returned as NaN (:func:`bands` warns).

References
----------
.. [1] Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A. and
   Rubin, D. B. (2013) *Bayesian Data Analysis*, 3rd ed., CRC Press, §2.6 — the
   negative binomial as a Gamma mixture of Poissons. https://doi.org/10.1201/b16018
.. [2] Johnson, N. L., Kemp, A. W. and Kotz, S. (2005) *Univariate Discrete
   Distributions*, 3rd ed., Wiley — pmf recursions of the Poisson (ch. 4) and the
   negative binomial (ch. 5). https://doi.org/10.1002/0471715816
.. [3] Boucheron, S., Lugosi, G. and Massart, P. (2013) *Concentration Inequalities*,
   Oxford University Press, §2.2 (Cramér–Chernoff method).
   https://doi.org/10.1093/acprof:oso/9780199535255.001.0001
.. [4] Loader, C. (2000) *Fast and Accurate Computation of Binomial Probabilities*,
   Bell Labs technical note; the algorithm of R's ``dbinom``, ``dpois`` and
   ``dnbinom``. https://www.r-project.org/doc/reports/CLoader-dbinom-2002.pdf
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
import numpy.typing as npt

POISSON_TOL = 1e-9
"""Relative overdispersion ``v / m − 1`` at or below which R is taken as Poisson. [-]"""

ZERO_MEAN = 1e-300
"""Means below this are zero: ``p_any = 0`` and both quantiles 0. [items]"""

MAX_MEAN = 1e9
"""Largest mean accepted, far above any count of items a cell can hold. The sum takes
up to ~25 sd steps, which at this mean is ~1e6 for a Poisson but ~1e10 (ten seconds) for
``r`` near 0.1; a larger mean is an upstream error, not a count to sum over. [items]"""

N_SD_BELOW = 12.0
"""Start of the pmf sum below the mean; the mass left out is below
``exp(−N_SD_BELOW² / 2) ≈ 5e-32``. [sd]"""

N_SD_ABOVE = 13.0
"""End of the pmf sum above the mean (plus :data:`EXTRA_STEPS`). [sd]"""

EXTRA_STEPS = 20.0
"""Steps added to the end of the sum, so that counts with a tiny sd reach a few
items. [items]"""

RESTART_STEPS = 1024
"""The recursion restarts from the log-pmf every this many steps, so that its
rounding (about an ulp a step) cannot pile up over millions of steps. [-]"""

LOG_PMF_FLOOR = -700.0
"""Smallest log-pmf the sum starts from; ``exp(−700) ≈ 1e-304`` is still a normal
float. [-]"""

FloatArray = npt.NDArray[np.float64]


_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@numba.njit(cache=True, error_model="numpy")
def _stirlerr(n: float) -> float:
    """Error of Stirling's formula, ``log Γ(n + 1) − log(√(2πn) (n/e)^n)``, [4]_. [-]"""
    if n <= 15.0:
        return math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - _LN_SQRT_2PI
    nn = n * n  # the asymptotic series 1/(12n) − 1/(360n³) + 1/(1260n⁵) − ...
    s = (1.0 / 1260.0 - (1.0 / 1680.0 - (1.0 / 1188.0) / nn) / nn) / nn
    return (1.0 / 12.0 - (1.0 / 360.0 - s) / nn) / n


@numba.njit(cache=True, error_model="numpy")
def _bd0(x: float, d: float) -> float:
    """Deviance term ``x log(x / M) + M − x`` for ``M = x − d``, without cancellation [4]_.

    Taking the difference ``d`` rather than ``M`` lets the caller compute it where it is
    well conditioned. [-]
    """
    if abs(d) < 0.1 * (2.0 * x - d):  # |x − M| < 0.1 (x + M): the series in (x − M)/(x + M)
        v = d / (2.0 * x - d)
        s = d * v
        term = 2.0 * x * v
        v2 = v * v
        for j in range(1, 1000):
            term *= v2
            s_next = s + term / (2 * j + 1)
            if s_next == s:
                break
            s = s_next
        return s
    return -x * math.log1p(-d / x) - d


@numba.njit(cache=True, error_model="numpy")
def _log_pmf(k: float, mean: float, size: float, odds: float, log_p0: float) -> float:
    """``log P(R = k)``: Poisson when ``size`` is inf, else NB; saddle-point form [4]_.

    ``odds`` is ``1 − p``, ``log_p0`` is ``log P(R = 0)``. For ``k ≥ 1`` the log-pmf
    is a sum of O(1) terms (:func:`_stirlerr`, :func:`_bd0`), accurate to ~1e-14 at
    any ``k``, where the difference of ``lgamma`` values loses ``k log k`` ulp. It
    uses ``1 − p`` and never ``p``: near the Poisson limit (``p → 1``, ``r`` huge)
    ``r log p`` is ill-conditioned in ``p`` but not in ``1 − p``.
    """
    if k == 0.0:
        return log_p0
    if math.isinf(size):
        return -_stirlerr(k) - _bd0(k, k - mean) - 0.5 * math.log(2.0 * math.pi * k)
    # NB(k; r, p) = r / (r + k) · Binomial(r successes in n = r + k; p), with a real n.
    # Its two deviance terms are about n p and n (1 − p), and r − n p = −(k − n (1 − p)).
    n = size + k
    d = k - n * odds
    log_binom = (
        _stirlerr(n)
        - _stirlerr(size)
        - _stirlerr(k)
        - _bd0(size, -d)
        - _bd0(k, d)
        - 0.5 * math.log(2.0 * math.pi * size * (k / n))
    )
    return log_binom - math.log1p(k / size)


@numba.njit(cache=True, error_model="numpy")
def _start(k0: float, mean: float, size: float, odds: float, log_p0: float) -> float:
    """First ``k ≥ k0`` whose log-pmf is at least :data:`LOG_PMF_FLOOR` (bisection)."""
    if _log_pmf(k0, mean, size, odds, log_p0) >= LOG_PMF_FLOOR:
        return k0
    # Here r > 1 (else P(0) ≥ exp(−355)), so the NB mode is ⌊(r − 1)(1 − p) / p⌋.
    mode = np.floor(mean) if math.isinf(size) else np.floor((size - 1.0) * (mean / size))
    lo, hi = k0, max(k0, mode)  # log-pmf(lo) < floor ≤ log-pmf(hi): the pmf is unimodal
    while hi - lo > 1.0:
        mid = np.floor(0.5 * (lo + hi))
        if _log_pmf(mid, mean, size, odds, log_p0) >= LOG_PMF_FLOOR:
            hi = mid
        else:
            lo = mid
    return hi


@numba.njit(cache=True, error_model="numpy")
def _quantiles(
    mean: float,
    sd: float,
    size: float,
    odds: float,
    log_p0: float,
    q_lo: float,
    q_hi: float,
) -> tuple[float, float]:
    """The ``q_lo``- and ``q_hi``-quantiles by summing the pmf upwards from near ``k0``.

    ``odds`` is ``1 − p`` (unused for the Poisson); NaN where a quantile lies beyond
    ``⌊m + 13 sd⌋ + 20``.
    """
    poisson = math.isinf(size)
    # np.floor, not math.floor: numba's math.floor returns an int64
    k = max(0.0, np.floor(mean - N_SD_BELOW * sd))
    k = _start(k, mean, size, odds, log_p0)
    k_end = np.floor(mean + N_SD_ABOVE * sd) + EXTRA_STEPS
    pmf = math.exp(_log_pmf(k, mean, size, odds, log_p0))
    cdf = 0.0
    lower = math.nan
    countdown = RESTART_STEPS
    while k <= k_end:
        cdf += pmf
        if math.isnan(lower) and cdf >= q_lo:
            lower = k
        if cdf >= q_hi:
            return lower, k
        countdown -= 1
        if countdown == 0:
            countdown = RESTART_STEPS
            pmf = math.exp(_log_pmf(k + 1.0, mean, size, odds, log_p0))
        else:
            pmf *= mean / (k + 1.0) if poisson else (k + size) / (k + 1.0) * odds
        k += 1.0
    return lower, math.nan


@numba.njit(cache=True, error_model="numpy")
def cell_bands(mean: float, var: float, q_lo: float, q_hi: float) -> tuple[float, float, float]:
    """Return ``p_any`` and two quantiles of the count remaining in one cell.

    R is summarised by the negative binomial with mean ``mean`` and variance ``var``
    (Poisson when ``var ≤ mean (1 + 1e-9)``); see the module docstring. Compiled in
    nopython mode, so it can be called from other numba kernels.

    Parameters
    ----------
    mean : float
        Mean of R, ``m``. [items]
    var : float
        Variance of R, ``v``. [items²]
    q_lo, q_hi : float
        Probabilities of the two quantiles, ``0 < q_lo ≤ q_hi < 1``. [-]

    Returns
    -------
    p_any : float
        ``1 − P(R = 0)``. [-]
    lower, upper : float
        The ``q_lo``- and ``q_hi``-quantiles, ``min {k : P(R ≤ k) ≥ q}``: integers
        stored as float; ``upper`` is NaN if it lies beyond ``⌊m + 13 sd⌋ + 20``
        (only for ``q_hi > 169/170``). [items]

    Notes
    -----
    All three are NaN when ``mean`` or ``var`` is NaN, infinite or negative, when
    ``mean > 1e9`` (:data:`MAX_MEAN`) or when the ``q`` are not as above; all three
    are 0 when ``mean < 1e-300``.
    """
    ok = math.isfinite(var) and 0.0 <= mean <= MAX_MEAN and var >= 0.0
    if not (ok and 0.0 < q_lo <= q_hi < 1.0):
        return math.nan, math.nan, math.nan
    if mean < ZERO_MEAN:
        return 0.0, 0.0, 0.0
    if var <= mean * (1.0 + POISSON_TOL):
        log_p0, size, odds = -mean, math.inf, 0.0
    else:
        excess = var - mean
        size = mean * (mean / excess)  # m² / (v − m) without overflowing m²
        t = excess / mean  # m / r; p = 1 / (1 + t)
        # log p = −log1p(t); where v / m overflows, 1 + t == t
        log_p0 = -size * (math.log1p(t) if math.isfinite(t) else math.log(excess) - math.log(mean))
        odds = excess / var  # 1 − p
    p_any = -math.expm1(log_p0)
    if 1.0 - p_any >= q_hi:  # most cells: both quantiles 0, as the sum's first step finds
        return p_any, 0.0, 0.0
    sd = math.sqrt(mean if math.isinf(size) else var)
    lower, upper = _quantiles(mean, sd, size, odds, log_p0, q_lo, q_hi)
    return p_any, lower, upper


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _bands_flat(
    mean: FloatArray, var: FloatArray, q_lo: float, q_hi: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`cell_bands` over 1-D arrays, cells in parallel."""
    n = mean.size
    p_any, lower, upper = np.empty(n), np.empty(n), np.empty(n)
    for i in numba.prange(n):
        p, lo, hi = cell_bands(mean[i], var[i], q_lo, q_hi)
        p_any[i], lower[i], upper[i] = p, lo, hi
    return p_any, lower, upper


def _moments(mean: npt.ArrayLike, var: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Broadcast ``mean`` and ``var`` to float64 arrays of one shape and check them."""
    m = np.asarray(mean, dtype=np.float64)
    v = np.asarray(var, dtype=np.float64)
    try:
        m, v = np.broadcast_arrays(m, v)
    except ValueError:
        raise ValueError(
            f"mean and var must have the same or broadcastable shapes, got {m.shape} and {v.shape}"
        ) from None
    for name, x in (("mean", m), ("var", v)):
        if np.any(x < 0):
            raise ValueError(f"{name} must be ≥ 0 (NaN marks a missing value), got {x[x < 0][0]}")
        if np.any(np.isinf(x)):
            raise ValueError(f"{name} must be finite (NaN marks a missing value)")
    return m, v


def nb_size(mean: npt.ArrayLike, var: npt.ArrayLike) -> FloatArray:
    """Return the size ``r`` of the negative binomial with a given mean and variance.

    ``r = m² / (v − m)``, computed as ``m · (m / (v − m))`` so that ``m²`` cannot
    overflow; the success probability is then ``p = r / (r + m) = m / v``.

    Parameters
    ----------
    mean : array_like of float
        Mean of R, ``m``. [items]
    var : array_like of float
        Variance of R, ``v``; broadcast against ``mean``. [items²]

    Returns
    -------
    ndarray of float64
        Size (shape) parameter, of the broadcast shape: inf where
        ``v ≤ m (1 + 1e-9)`` (Poisson), 0 where ``m = 0 < v`` (a point mass at 0),
        NaN where ``m`` or ``v`` is NaN. [-]

    Raises
    ------
    ValueError
        If the shapes do not broadcast or a value is negative or infinite.
    """
    m, v = _moments(mean, var)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = m * (m / (v - m))
    return np.where(v <= m * (1.0 + POISSON_TOL), np.inf, size)


def bands(
    mean: npt.ArrayLike, var: npt.ArrayLike, *, level: float = 0.9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``p_any`` and the central ``level`` interval of R for every cell.

    Vectorised, parallel :func:`cell_bands` with ``q_lo = (1 − level) / 2`` and
    ``q_hi = (1 + level) / 2``.

    Parameters
    ----------
    mean : array_like of float
        Mean of R per cell, ``m``. [items]
    var : array_like of float
        Variance of R per cell, ``v``; broadcast against ``mean``. [items²]
    level : float
        Probability mass of the central interval, in (0, 1). [-]

    Returns
    -------
    p_any : ndarray of float64
        ``1 − P(R = 0)``. [-]
    lower, upper : ndarray of float64
        The ``q_lo``- and ``q_hi``-quantiles of R (integers stored as float). [items]

        All three have the broadcast shape and are NaN where ``mean`` or ``var`` is
        NaN; ``upper`` is also NaN where it lies beyond ``⌊m + 13 sd⌋ + 20`` (possible
        only for ``level > 0.988`` with heavy overdispersion).

    Raises
    ------
    ValueError
        If the shapes do not broadcast, a value is negative or infinite, a mean exceeds
        :data:`MAX_MEAN`, or ``level`` is not in (0, 1).

    Warns
    -----
    RuntimeWarning
        If ``upper`` is NaN for a cell with a valid mean and variance.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    m, v = _moments(mean, var)
    if np.any(m > MAX_MEAN):
        raise ValueError(f"mean must be ≤ {MAX_MEAN:g} items, got {m[m > MAX_MEAN][0]}")
    flat_m = np.ascontiguousarray(m).ravel()
    flat_v = np.ascontiguousarray(v).ravel()
    p_any, lower, upper = _bands_flat(flat_m, flat_v, (1.0 - level) / 2.0, (1.0 + level) / 2.0)
    lost = int(np.count_nonzero(np.isnan(upper) & ~np.isnan(flat_m) & ~np.isnan(flat_v)))
    if lost:
        warnings.warn(
            f"upper quantile out of reach for {lost} cell(s) at level {level}: "
            "it lies more than 13 sd above the mean; use a level ≤ 0.988",
            RuntimeWarning,
            stacklevel=2,
        )
    return p_any.reshape(m.shape), lower.reshape(m.shape), upper.reshape(m.shape)
