"""Items left in an area after a search: the Bayesian count of VSP's UXO module.

An area holds ``N`` items. A search finds each of them independently with
probability ``p`` — the fraction of the area covered times the detection probability
of the method — so the number found is ``k | N ~ Binomial(N, p)`` (binomial
thinning) and the items remaining are ``M = N − k``. Two priors on ``N`` are
offered, as in VSP's UXO "Bayesian" module [1]_ [2]_:

* **flat** (``prior=None``): ``P(N) ∝ 1`` on ``N ≥ 0``, improper; VSP calls it
  "equivalent to UXO Estimator". The posterior is ``P(N | k) ∝ C(N, k) p^k (1−p)^(N−k)``
  for ``N ≥ k``; since ``Σ_{m≥0} C(m+k, k) q^m = (1−q)^−(k+1)``,

      P(M = m | k) = C(m+k, k) p^(k+1) (1−p)^m,

  a negative binomial (failures before the ``(k+1)``-th success) with shape
  ``k + 1``, success probability ``p`` and mean ``(k+1)(1−p)/p``. It needs ``p > 0``.
* **Gamma–Poisson** (:class:`GammaPoisson`): ``N | λ ~ Poisson(λ)``,
  ``λ ~ Gamma(α, β)`` (shape, rate). Thinning splits ``N`` into independent
  ``k | λ ~ Poisson(λp)`` and ``M | λ ~ Poisson(λ(1−p))``, so by conjugacy [3]_ [4]_
  ``λ | k ~ Gamma(α + k, β + p)`` and, mixing ``M`` over it,

      M | k ~ NegativeBinomial(α + k, (β + p)/(β + 1)),   E[M | k] = (α + k)(1−p)/(β + p)

  (``scipy.stats.nbinom(n, p)`` parameterisation). The limit ``α → ∞`` at fixed mean
  ``μ`` is a Poisson prior (:class:`Poisson`), for which ``M ~ Poisson(μ(1−p))``
  whatever ``k``. :meth:`GammaPoisson.from_moments` builds the prior from a hazard
  estimate's mean ``μ`` and variance ``σ²``: ``α = μ²/(σ² − μ)``, ``β = μ/(σ² − μ)``.

The posterior of ``M`` is held by :class:`RemainingItems`, a negative binomial in
shape–mean form (shape ``∞`` is the Poisson). The *confidence* VSP reports is
``P(M ≤ max_items | k)`` (:func:`confidence_at_most`), a statement about the items
**remaining**; the total is ``N = k + M``, so ``P(N ≤ n | k)`` is
``confidence_at_most(n − k, ...)``, and the two coincide when nothing was found.
:func:`coverage_needed` gives the smallest ``p`` for which a search that finds
nothing leaves at most ``max_items`` items with a given confidence. Since the
negative binomial cdf is a regularised incomplete beta function,
``P(M ≤ m) = I_x(r, m + 1)`` with ``x`` the success probability [5]_, this is closed
form: ``x = I⁻¹(r, m + 1; C)``; for the flat prior (``r = 1``)
``p = 1 − (1 − C)^(1/(max_items + 1))``; for the Poisson prior ``P(M ≤ m) =
Q(m + 1, μ(1−p))`` (regularised upper incomplete gamma function).

Assumptions: items are found independently, each with the same ``p``; nothing is
found that is not there (no false positives among counted items); the area is
closed (the prior describes the same area that was searched).

References
----------
.. [1] Pacific Northwest National Laboratory, *Visual Sample Plan* help, UXO tools,
   "Bayesian estimate of the number of items". https://vsp.pnnl.gov/help/
.. [2] Gilbert, R. O. et al. (2005) "Statistical methods and tools for UXO
   characterization", *Subsurface Sensing Technologies and Applications* 6, 251–270.
.. [3] Gelman, A., Carlin, J. B., Stern, H. S., et al. (2013) *Bayesian Data
   Analysis*, 3rd ed., CRC Press, §2.6 (Poisson model with a gamma prior; the
   negative binomial as its predictive distribution). https://doi.org/10.1201/b16018
.. [4] Remnant reference notes, ``statistics.md``, "Conjugacy that makes large models
   cheap": with ``θ ~ Gamma(α, β)`` and a search of probability ``p`` finding ``k``,
   ``θ ~ Gamma(α + k, β + p·a)`` and the items missed are Poisson with mean
   ``θ·(1 − p)·a``, independent of ``k`` given ``θ``.
.. [5] NIST Digital Library of Mathematical Functions, §8.17 (incomplete beta
   function, binomial sums) and §8.4 (incomplete gamma function, Poisson sums).
   https://dlmf.nist.gov/8.17
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

FloatArray = npt.NDArray[np.float64]


def _check_count(name: str, value: int) -> int:
    """Return ``value`` as an ``int`` if it is a non-negative integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_probability(name: str, value: float) -> float:
    """Return ``value`` as a ``float`` if it lies in ``[0, 1]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return float(value)


def _check_positive(name: str, value: float) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Poisson:
    """Poisson prior on the number of items: ``N ~ Poisson(mean)``.

    The limit of :class:`GammaPoisson` as its shape grows at fixed mean; a search
    finding ``k`` items then says nothing about those it missed.

    Parameters
    ----------
    mean : float
        Expected number of items in the area before the search, > 0. [items]
    """

    mean: float

    def __post_init__(self) -> None:
        _check_positive("mean", self.mean)


@dataclass(frozen=True)
class GammaPoisson:
    """Gamma–Poisson prior: ``N | λ ~ Poisson(λ)``, ``λ ~ Gamma(shape, rate)``.

    The marginal of ``N`` is negative binomial with mean ``shape/rate`` and
    variance ``shape/rate + shape/rate²`` (over-dispersed).

    Parameters
    ----------
    shape : float
        Shape ``α`` of the gamma distribution of ``λ``, > 0. [-]
    rate : float
        Rate ``β`` of the gamma distribution of ``λ``, > 0 (``λ`` has mean
        ``α/β``). [1/items]
    """

    shape: float
    rate: float

    def __post_init__(self) -> None:
        _check_positive("shape", self.shape)
        _check_positive("rate", self.rate)

    @property
    def mean(self) -> float:
        """Expected number of items before the search, ``α/β``. [items]"""
        return self.shape / self.rate

    @property
    def variance(self) -> float:
        """Variance of the number of items before the search, ``α/β + α/β²``. [items²]"""
        return self.mean + self.mean / self.rate

    @classmethod
    def from_moments(cls, mean: float, variance: float) -> GammaPoisson | Poisson:
        """Return the prior whose number of items has a given mean and variance.

        For ``variance > mean`` (over-dispersed, as a hazard estimate summed over
        uncertain strikes is) the Gamma–Poisson with ``α = μ²/(σ² − μ)`` and
        ``β = μ/(σ² − μ)``, which reproduces both moments. For ``variance ≤ mean``
        the :class:`Poisson` prior of the same mean, the ``α → ∞`` limit: a
        Gamma–Poisson cannot be under-dispersed, and the Poisson's larger variance
        errs on the side of more items left.

        Parameters
        ----------
        mean : float
            Expected number of items in the area, ``μ``, > 0. [items]
        variance : float
            Variance of the number of items, ``σ²``, finite and ≥ 0. [items²]

        Returns
        -------
        GammaPoisson or Poisson
            The prior.
        """
        mu = _check_positive("mean", mean)
        if isinstance(variance, bool) or not isinstance(variance, numbers.Real):
            raise ValueError(f"variance must be a finite number >= 0, got {variance!r}")
        if not (math.isfinite(variance) and variance >= 0):
            raise ValueError(f"variance must be a finite number >= 0, got {variance!r}")
        excess = float(variance) - mu
        if excess <= 0:
            return Poisson(mu)
        return cls(shape=mu * mu / excess, rate=mu / excess)


Prior = GammaPoisson | Poisson | None
"""A prior on the number of items; ``None`` is the flat (improper uniform) prior."""


@dataclass(frozen=True)
class RemainingItems:
    """Posterior distribution of the number of items remaining after a search.

    A negative binomial in shape–mean form: ``P(M = m) = C(m+r−1, m) x^r (1−x)^m``
    with ``x = r/(r + mean)``; ``shape = inf`` is the Poisson of the same mean.

    Parameters
    ----------
    shape : float
        Shape ``r`` of the negative binomial, > 0, or ``math.inf``. [-]
    mean : float
        Expected number of items remaining, finite and ≥ 0. [items]
    """

    shape: float
    mean: float

    def __post_init__(self) -> None:
        if not self.shape > 0:
            raise ValueError(f"shape must be > 0 or inf, got {self.shape!r}")
        if not (math.isfinite(self.mean) and self.mean >= 0):
            raise ValueError(f"mean must be a finite number >= 0, got {self.mean!r}")

    @property
    def variance(self) -> float:
        """Variance of the number of items remaining, ``mean + mean²/shape``. [items²]"""
        return self.mean + self.mean**2 / self.shape

    def distribution(self) -> Any:
        """Return the ``scipy.stats`` frozen distribution (``nbinom`` or ``poisson``)."""
        if math.isinf(self.shape):
            return stats.poisson(self.mean)
        return stats.nbinom(self.shape, self.shape / (self.shape + self.mean))

    def pmf(self, m: npt.ArrayLike) -> FloatArray:
        """Return ``P(M = m)`` for counts ``m``. [-]"""
        return np.asarray(self.distribution().pmf(m), dtype=np.float64)

    def cdf(self, m: npt.ArrayLike) -> FloatArray:
        """Return ``P(M ≤ m)`` for counts ``m``. [-]"""
        return np.asarray(self.distribution().cdf(m), dtype=np.float64)

    def prob_at_most(self, max_items: int) -> float:
        """Return ``P(M ≤ max_items)``, ``max_items`` a non-negative integer. [-]"""
        return float(self.distribution().cdf(_check_count("max_items", max_items)))

    def quantile(self, q: float) -> int:
        """Return the smallest ``m`` with ``P(M ≤ m) ≥ q``, ``q`` in ``(0, 1)``. [items]"""
        if not (isinstance(q, numbers.Real) and 0.0 < float(q) < 1.0):
            raise ValueError(f"q must lie in (0, 1), got {q!r}")
        return int(self.distribution().ppf(float(q)))


def _check_prior(prior: Prior) -> None:
    if prior is not None and not isinstance(prior, GammaPoisson | Poisson):
        raise TypeError(
            f"prior must be None (flat), GammaPoisson or Poisson, got {type(prior).__name__}"
        )


def remaining_after_search(p: float, found: int, prior: Prior = None) -> RemainingItems:
    """Return the posterior of the number of items left after a search.

    Parameters
    ----------
    p : float
        Probability that the search finds any one item of the area: covered
        fraction times detection probability, in ``[0, 1]`` (``(0, 1]`` with the
        flat prior, whose posterior is improper at ``p = 0``). [-]
    found : int
        Items the search found, ``k`` ≥ 0 (0 when ``p = 0``). [items]
    prior : GammaPoisson, Poisson or None
        Prior on the number of items before the search; ``None`` is the flat prior.

    Returns
    -------
    RemainingItems
        Distribution of ``M = N − k``: ``NB(k + 1, p)`` (flat),
        ``NB(α + k, (β + p)/(β + 1))`` (Gamma–Poisson) or ``Poisson(μ(1 − p))``.
    """
    p = _check_probability("p", p)
    k = _check_count("found", found)
    _check_prior(prior)
    if p == 0 and k > 0:
        raise ValueError(f"found must be 0 when p = 0 (a search of p = 0 finds nothing), got {k}")
    if isinstance(prior, Poisson):
        return RemainingItems(shape=math.inf, mean=prior.mean * (1.0 - p))
    if isinstance(prior, GammaPoisson):
        shape = prior.shape + k
        return RemainingItems(shape=shape, mean=shape * (1.0 - p) / (prior.rate + p))
    if p == 0:
        raise ValueError("p must lie in (0, 1] with the flat prior (improper posterior at p = 0)")
    return RemainingItems(shape=k + 1.0, mean=(k + 1.0) * (1.0 - p) / p)


def confidence_at_most(max_items: int, p: float, found: int = 0, prior: Prior = None) -> float:
    """Return the posterior probability that at most ``max_items`` items remain.

    This is the "confidence" of VSP's Bayesian UXO count, for the items
    **remaining** ``M = N − found``; for the total ``N`` pass
    ``max_items − found``. With ``found = 0`` both are the same.

    Parameters
    ----------
    max_items : int
        Largest acceptable number of items remaining, ≥ 0. [items]
    p : float
        Probability that the search finds any one item, in ``[0, 1]``; see
        :func:`remaining_after_search`. [-]
    found : int, default 0
        Items the search found. [items]
    prior : GammaPoisson, Poisson or None
        Prior on the number of items; ``None`` is the flat prior.

    Returns
    -------
    float
        ``P(M ≤ max_items | found)``. [-]
    """
    max_items = _check_count("max_items", max_items)
    return remaining_after_search(p, found, prior).prob_at_most(max_items)


def _closed_form_coverage(confidence: float, max_items: int, prior: Prior) -> float:
    """Solve ``P(M ≤ max_items | 0) = confidence`` for ``p``, clipped to ``[0, 1]``."""
    if isinstance(prior, Poisson):
        lam = float(special.gammainccinv(max_items + 1, confidence))
        return min(1.0, max(0.0, 1.0 - lam / prior.mean))
    if isinstance(prior, GammaPoisson):
        x = float(special.betaincinv(prior.shape, max_items + 1, confidence))
        return min(1.0, max(0.0, x * (prior.rate + 1.0) - prior.rate))
    return -math.expm1(math.log1p(-confidence) / (max_items + 1))  # 1 − (1 − C)^(1/(m+1))


def coverage_needed(confidence: float, max_items: int = 0, prior: Prior = None) -> float:
    """Return the smallest ``p`` for which an empty search gives the confidence.

    The smallest ``p`` such that, after a search that found nothing,
    ``P(M ≤ max_items) ≥ confidence``. Flat prior:
    ``p = 1 − (1 − C)^(1/(max_items + 1))``; Gamma–Poisson and Poisson priors: the
    inverse regularised incomplete beta and gamma functions (module docstring),
    nudged up by a few ulps where rounding leaves the probability just short.

    Parameters
    ----------
    confidence : float
        Required posterior probability ``C``, in ``(0, 1)``. [-]
    max_items : int, default 0
        Largest acceptable number of items remaining, ≥ 0. [items]
    prior : GammaPoisson, Poisson or None
        Prior on the number of items; ``None`` is the flat prior.

    Returns
    -------
    float
        Covered fraction times detection probability needed, in ``[0, 1]``; 0 when
        the prior alone already gives the confidence (never with the flat prior). [-]
    """
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie in (0, 1) (1 is never reached), got {confidence!r}")
    max_items = _check_count("max_items", max_items)
    _check_prior(prior)
    p = _closed_form_coverage(float(confidence), max_items, prior)
    step = 1e-16
    while p < 1.0 and confidence_at_most(max_items, p, 0, prior) < confidence:
        p, step = min(1.0, p + step), 2.0 * step
    return p
