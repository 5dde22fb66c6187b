"""Finds inform the strikes they came from; unexplained evidence becomes pseudo-strikes.

docs/model.md §2–§4. Given the pass-1 weights ``ω_js`` (:mod:`.integrals`), each
evidence point *j* is shared among its possible sources in proportion to their
expected duds: ``r_js ∝ E[Λ_s] ω_js`` over the strikes, and ``E[Λ_bg] ω_j,bg`` for
the background of unrecorded attacks. The items found by searches attributed to a
strike, ``k_s = Σ_j r_js q_j``, update its Gamma posterior and, across strikes, the
failure rate of its carrier type (:func:`~remnant.hazard.failure_rate.learn_failure_rates`);
the new expectations change the shares, and the two steps alternate until no
strike's expectation moves (a fixed point of the soft attribution, as in EM [1]_).

Items removed without a search of known detection probability (EOD spot tasks,
civilian reports, accidents) are attributed the same way and subtracted from what
remains of their source; they do not update its scale, because the chance that a
civilian reports an item is unknown (docs/model.md §2).

Evidence that the recorded strikes do not explain (the background's share above
``HazardConfig.unexplained_threshold``) is evidence of an unrecorded attack:
:func:`cluster_evidence` groups it (single linkage within ``link_m``) and each group
becomes a pseudo-strike of carrier ``unknown`` at its centre, as a cluster munition
remnants survey draws a hazard around evidence points [2]_.

References
----------
.. [1] Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977) Maximum likelihood from
   incomplete data via the EM algorithm, *JRSS B* 39, 1–38.
   https://doi.org/10.1111/j.2517-6161.1977.tb01600.x
.. [2] NPA, MAG and HALO Trust (2019) *Cluster Munition Remnants Survey (CMRS):
   joint best-practice paper* — evidence points, fade-out distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from remnant.hazard.failure_rate import FailureRatePosterior, learn_failure_rates
from remnant.hazard.inputs import ACCIDENT, REPORTED, SEARCHED, Strikes
from remnant.hazard.integrals import Integrals
from remnant.hazard.kernels import weighted_sums

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EM_GRID_POINTS = 200
"""Cells of the failure-rate grid during the iterations; the final posterior uses
:data:`~remnant.hazard.failure_rate.GRID_POINTS`. [-]"""


@dataclass(frozen=True)
class Attribution:
    """The result of the evidence update.

    Parameters
    ----------
    posterior : FailureRatePosterior
        Failure rates per type and each strike's Gamma posterior of ``Λ_s``.
    found : ndarray, shape (strikes,)
        ``k_s``: items found by searches attributed to each strike. [items]
    removed : ndarray, shape (strikes,)
        ``k'_s``: items removed otherwise (spot tasks, reports, accidents). [items]
    exposure : ndarray, shape (strikes,)
        ``e_s`` used. [-]
    responsibility_background : ndarray, shape (evidence,)
        Share of each evidence point given to the background. [-]
    pair_share : ndarray, shape (pairs,)
        Share ``r_js`` of each (evidence, strike) pair of the integrals. [-]
    iterations : int
        Rounds of attribution run.
    """

    posterior: FailureRatePosterior
    found: FloatArray
    removed: FloatArray
    exposure: FloatArray
    responsibility_background: FloatArray
    pair_share: FloatArray
    iterations: int

    @property
    def mean(self) -> FloatArray:
        """Posterior mean of ``Λ_s`` per strike. [items]"""
        return self.posterior.scale_mean


def attribute(
    strikes: Strikes,
    integrals: Integrals,
    kind: npt.NDArray[np.int8],
    quantity: FloatArray,
    background: float,
    *,
    tolerance: float = 1e-5,
    iterations: int = 50,
    draws: int = 1000,
    seed: int = 0,
) -> Attribution:
    """Alternate soft attribution of evidence and the Bayesian update to a fixed point.

    Parameters
    ----------
    strikes : Strikes
        All strikes (recorded and pseudo).
    integrals : Integrals
        Pass-1 results on the same strikes and evidence.
    kind : ndarray of int8, shape (evidence,)
        :data:`~remnant.hazard.inputs.SEARCHED`, ``REPORTED``, ``EVIDENCE`` or
        ``ACCIDENT``.
    quantity : ndarray, shape (evidence,)
        Items each evidence point stands for. [items]
    background : float
        Expected items of unrecorded attacks (over the whole grid), the weight of the
        background as a source of evidence; it is not learned here
        (:mod:`remnant.hazard.unrecorded` counts unrecorded attacks). [items]
    tolerance : float
        Stop when no expectation moves by more than this, relative. [-]
    iterations : int
        Most rounds. [-]
    draws : int
        Draws of the failure rates kept for the total's interval. [-]
    seed : int
        Seed of those draws.
    """
    mean = strikes.prior_mean.copy()
    searched = (kind == SEARCHED).astype(np.float64) * quantity
    removed = np.isin(kind, (REPORTED, ACCIDENT)).astype(np.float64) * quantity
    n_done = 0
    for n_done in range(1, iterations + 1):  # noqa: B007 (the count is reported)
        shares = _shares(integrals, mean, background)
        k, e = _counts(strikes, integrals, shares, searched)
        post = _learn(strikes, k, e, EM_GRID_POINTS, draws, seed)
        moved = _moved(mean, post.scale_mean, tolerance)
        mean = post.scale_mean
        if not moved:
            break
    shares = _shares(integrals, mean, background)
    k, e = _counts(strikes, integrals, shares, searched)
    post = _learn(strikes, k, e, None, draws, seed)
    k_rem = weighted_sums(
        integrals.pair_strike, shares.strike * removed[integrals.pair_evidence], len(strikes)
    )
    k_rem += np.where(integrals.exposure > 0, 0.0, _raw_found(strikes, integrals, shares, searched))
    return Attribution(
        posterior=post,
        found=k,
        removed=k_rem,
        exposure=e,
        responsibility_background=shares.background,
        pair_share=shares.strike,
        iterations=n_done,
    )


@dataclass(frozen=True)
class _Shares:
    strike: FloatArray  # per pair
    background: FloatArray  # per evidence point


def _shares(integrals: Integrals, mean: FloatArray, bg_mean: float) -> _Shares:
    """Responsibilities of each (evidence, strike) pair and of the background."""
    num = mean[integrals.pair_strike] * integrals.pair_weight
    bg = bg_mean * integrals.evidence_background
    total = weighted_sums(integrals.pair_evidence, num, len(bg)) + bg
    none = total <= 0.0
    safe = np.where(none, 1.0, total)
    return _Shares(num / safe[integrals.pair_evidence], np.where(none, 1.0, bg / safe))


def _raw_found(
    strikes: Strikes, integrals: Integrals, shares: _Shares, searched: FloatArray
) -> FloatArray:
    """Searched items attributed to each strike, before the exposure check. [items]"""
    return weighted_sums(
        integrals.pair_strike, shares.strike * searched[integrals.pair_evidence], len(strikes)
    )


def _counts(
    strikes: Strikes, integrals: Integrals, shares: _Shares, searched: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``k_s`` and ``e_s``.

    A strike credited with items while its exposure is 0 (a find whose cell centre
    lies outside its search's polygon, say) keeps those items as removals, not as
    search results: a search of that strike never happened on the grid.
    """
    k = _raw_found(strikes, integrals, shares, searched)
    e = integrals.exposure
    return np.where(e > 0, k, 0.0), e


def _learn(
    strikes: Strikes,
    k: FloatArray,
    e: FloatArray,
    grid_points: int | None,
    draws: int,
    seed: int,
) -> FailureRatePosterior:
    kwargs = {} if grid_points is None else {"grid_points": grid_points}
    return learn_failure_rates(
        found=k,
        exposure=e,
        per_carrier=strikes.per_carrier,
        carriers_known=np.full(len(strikes), np.nan),
        count_mean=strikes.count_mean,
        count_var=strikes.count_var,
        type_index=strikes.type_index,
        prior_alpha=strikes.prior_alpha,
        prior_beta=strikes.prior_beta,
        draws=draws,
        seed=seed,
        **kwargs,
    )


def _moved(old: FloatArray, new: FloatArray, tolerance: float) -> bool:
    scale = np.maximum(np.abs(old), 1e-9)
    return bool(np.any(np.abs(new - old) > tolerance * scale))


# -- unexplained evidence -------------------------------------------------------------


@dataclass(frozen=True)
class Clusters:
    """Groups of unexplained evidence: the seeds of pseudo-strikes.

    Parameters
    ----------
    x, y : ndarray
        Weighted centre of each group. [m]
    day : ndarray
        The day before the group's first evidence. [day]
    size : ndarray
        Points in each group. [-]
    spread_m : ndarray
        Root-mean-square error of the group's points (their own ``spread_m``). [m]
    members : ndarray of int64
        Group of each unexplained point (``-1`` for explained points), per evidence.
    """

    x: FloatArray
    y: FloatArray
    day: IntArray
    size: IntArray
    spread_m: FloatArray
    members: IntArray

    def __len__(self) -> int:
        return len(self.x)


def cluster_evidence(
    x: FloatArray,
    y: FloatArray,
    day: IntArray,
    weight: FloatArray,
    spread_m: FloatArray,
    unexplained: npt.NDArray[np.bool_],
    link_m: float,
) -> Clusters:
    """Group unexplained evidence points closer than ``link_m`` (single linkage).

    Parameters
    ----------
    x, y : ndarray
        Evidence points. [m]
    day : ndarray
        Their days. [day]
    weight : ndarray
        Weight of each point in its group's centre (items, or 1 for evidence). [-]
    spread_m : ndarray
        1-sigma error of each point. [m]
    unexplained : ndarray of bool
        Which points to group.
    link_m : float
        Points closer than this join one group. [m]
    """
    idx = np.flatnonzero(unexplained)
    members = np.full(len(x), -1, dtype=np.int64)
    if idx.size == 0:
        empty = np.empty(0)
        return Clusters(empty, empty, np.empty(0, np.int64), np.empty(0, np.int64), empty, members)
    pts = np.column_stack([x[idx], y[idx]])
    pairs = cKDTree(pts).query_pairs(link_m, output_type="ndarray")
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(idx.size, idx.size)
    )
    n, label = connected_components(graph, directed=False)
    members[idx] = label
    w = np.maximum(weight[idx], 1.0)
    sw = weighted_sums(label, w, n)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, label, day[idx])
    return Clusters(
        x=weighted_sums(label, w * x[idx], n) / sw,
        y=weighted_sums(label, w * y[idx], n) / sw,
        day=first - 1,
        size=np.bincount(label, minlength=n).astype(np.int64),
        spread_m=np.sqrt(weighted_sums(label, spread_m[idx] ** 2, n) / np.bincount(label, None, n)),
        members=members,
    )
