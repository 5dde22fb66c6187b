"""Unrecorded attacks: how many there were, how many evidence revealed, where the rest lie.

docs/model.md §5. Attacks that nobody recorded fall where recorded ones fall: their
points form a Poisson process of intensity ``ν ḡ`` with ``ḡ`` the adaptive kernel
density of the recorded attacks, each weighted by its prior duds (:mod:`.background`),
and ``ν`` their expected number, ``ν ~ Gamma`` with mean ``ratio × (recorded attacks)``
(:class:`~remnant.hazard.config.HazardConfig`).
Each leaves ``Λ_u`` duds, ``Λ_u ~ Gamma(α, β)`` matched to the posterior of a random
recorded attack (:func:`attack_size`): unrecorded attacks are like recorded ones.

An unrecorded attack is *revealed* when evidence of it turns up and cannot be
explained by recorded strikes: it then is a pseudo-strike (:mod:`.evidence`). It is
revealed by search with probability ``q_s(x) = 1 − E[e^{−Λ_u ẽ(x)}] =
1 − (β / (β + ẽ(x)))^α`` — ``ẽ(x)``, the share of its items that searches would have
found, is the searched map ``1 − S`` smoothed by the pattern of one attack — and by
civilians (a report, an accident) with probability ``r``, estimated as the share of
recorded strikes that have such evidence attributed to them (Beta(1, 1) prior), and
it would have been noticed by a non-technical survey without evidence with the
probability ``n(x)`` of docs/model.md §2 (it was not: such a survey says so). So

    R = Σ_c ḡ_c [1 − (1 − q_s(c))(1 − r)(1 − n(c))],   ν | n revealed ~ Gamma(a + n, b + R)

(the revealed count is Poisson with mean ``νR``), and the expected items of the
attacks not revealed, per cell, are

    E[ν | n] ḡ_c (1 − q_s(c))(1 − r)(1 − n(c)) · α (1 − ẽ(c)) / (β + ẽ(c)),

the last factor being ``E[Λ_u (1 − ẽ) | none found]``: given ``Λ_u`` the found and
the missed items are independent Poisson counts of means ``Λ_u ẽ`` and
``Λ_u (1 − ẽ)`` (thinning [2]_), and none found makes ``Λ_u ~ Gamma(α, β + ẽ)``.

References
----------
.. [1] Gelman, A. et al. (2013) *Bayesian Data Analysis*, 3rd ed., CRC, §2.6
   (Poisson–Gamma). https://doi.org/10.1201/b16018
.. [2] Cressie, N. (1993) *Statistics for Spatial Data*, Wiley — Poisson processes,
   thinning. https://doi.org/10.1002/9781119115151
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AttackSize:
    """Duds left by one attack, as a Gamma ``(shape, rate)``. [-], [1/items]"""

    shape: float
    rate: float

    @property
    def mean(self) -> float:
        """Mean duds of one attack. [items]"""
        return self.shape / self.rate

    @property
    def variance(self) -> float:
        """Variance of one attack's duds. [items²]"""
        return self.shape / self.rate**2

    @property
    def second(self) -> float:
        """``E[Λ²] / E[Λ] = E[Λ](1 + V)``: the weight of one attack's duds in a variance. [items]"""
        return (self.shape + 1.0) / self.rate

    @classmethod
    def from_moments(cls, mean: float, var: float) -> AttackSize:
        """The Gamma of a given mean [items] and variance [items²]."""
        var = max(var, 1e-9 * mean**2)
        return cls(mean**2 / var, mean / var)


def attack_size(mean: FloatArray, var: FloatArray) -> AttackSize:
    """Duds of a random recorded attack: the mixture of the strikes' posteriors.

    Mean ``mean(E_s)``, variance ``var(E_s) + mean(V_s)`` (law of total variance
    over a strike drawn at random).

    Parameters
    ----------
    mean, var : ndarray
        Posterior mean and variance of each recorded strike's duds. [items], [items²]
    """
    if len(mean) == 0:
        return AttackSize(1.0, 1.0 / 100.0)
    return AttackSize.from_moments(float(np.mean(mean)), float(np.var(mean) + np.mean(var)))


def civilian_share(removed: FloatArray) -> float:
    """Share of recorded strikes with an item reported by civilians (posterior mean, Beta(1, 1)).

    Parameters
    ----------
    removed : ndarray
        Items removed without search (spot tasks, accidents) attributed to each
        recorded strike. [items]
    """
    hit = int(np.count_nonzero(removed >= 0.5))
    return (hit + 1.0) / (len(removed) + 2.0)


@dataclass(frozen=True)
class Unrecorded:
    """The posterior of the unrecorded attacks.

    Parameters
    ----------
    shape, rate : float
        Gamma posterior of ``ν``, the expected number of unrecorded attacks. [-]
    revealed : int
        Attacks revealed by evidence (pseudo-strikes). [attacks]
    reveal_rate : float
        ``R``: the chance that one unrecorded attack is revealed. [-]
    civilian : float
        ``r``: the chance that civilians reveal an attack. [-]
    size : AttackSize
        Duds of one attack.
    remaining : ndarray, shape (coarse rows, coarse cols)
        Expected items of attacks not revealed, per coarse cell (the whole coarse
        cell, as if all its fine cells were in the grid). [items]
    """

    shape: float
    rate: float
    revealed: int
    reveal_rate: float
    civilian: float
    size: AttackSize
    remaining: FloatArray

    @property
    def attacks(self) -> float:
        """Posterior mean number of unrecorded attacks, revealed or not. [attacks]"""
        return self.shape / self.rate

    @property
    def hidden(self) -> float:
        """Posterior mean number of unrecorded attacks not revealed. [attacks]"""
        return self.attacks * (1.0 - self.reveal_rate)

    @property
    def rel_var(self) -> float:
        """Squared coefficient of variation of ``ν``. [-]"""
        return 1.0 / self.shape


def unrecorded(
    prior_mean: float,
    prior_cv: float,
    revealed: int,
    density: FloatArray,
    inside: FloatArray,
    searched: FloatArray,
    notice: FloatArray,
    spread_px: float,
    size: AttackSize,
    civilian: float,
) -> Unrecorded:
    """Update the number of unrecorded attacks and map the items of those not revealed.

    Parameters
    ----------
    prior_mean, prior_cv : float
        Prior mean [attacks] and coefficient of variation [-] of ``ν``.
    revealed : int
        Pseudo-strikes. [attacks]
    density : ndarray
        ``ḡ`` per coarse cell (sums to 1 over the grid's cells). [-]
    inside : ndarray
        Share of each coarse cell inside the grid. [-]
    searched : ndarray
        Mean ``1 − S`` per coarse cell (:class:`~remnant.hazard.integrals.Integrals`). [-]
    notice : ndarray
        Mean ``1 − L`` per coarse cell: the chance that a survey without evidence
        would have noticed an attack there. [-]
    spread_px : float
        1-sigma spread of one attack's items, in coarse cells. [cells]
    size : AttackSize
        Duds of one attack.
    civilian : float
        ``r``. [-]
    """
    share = ndimage.gaussian_filter(searched * inside, spread_px, mode="constant")
    hidden = (size.rate / (size.rate + share)) ** size.shape * (1.0 - civilian) * (1.0 - notice)
    g = density * inside
    reveal_rate = float(np.sum(g * (1.0 - hidden)))
    a = 1.0 / prior_cv**2
    b = a / max(prior_mean, 1e-9)
    shape, rate = a + revealed, b + reveal_rate
    missed = size.shape * (1.0 - share) / (size.rate + share)
    remaining = (shape / rate) * density * hidden * missed
    return Unrecorded(shape, rate, revealed, reveal_rate, civilian, size, remaining)
