"""Finds inform the strikes they came from; unexplained evidence becomes pseudo-strikes.

docs/model.md §2–§5. Given the pass-1 weights ``ω_js`` (:mod:`.integrals`), each
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

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from remnant.hazard.failure_rate import FailureRatePosterior, HeldTerms, learn_failure_rates
from remnant.hazard.inputs import ACCIDENT, REPORTED, SEARCHED, Strikes
from remnant.hazard.integrals import Integrals, ascending, ranks
from remnant.hazard.kernels import weighted_sums

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EM_GRID_POINTS = 100
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
        Share ``r_js`` of each (evidence, strike) pair of the integrals (with
        ``frozen``, of the pairs given). [-]
    iterations : int
        Rounds of attribution run.
    held : Held
        What a later update of this attribution starts from (:class:`Frozen`).
    """

    posterior: FailureRatePosterior
    found: FloatArray
    removed: FloatArray
    exposure: FloatArray
    responsibility_background: FloatArray
    pair_share: FloatArray
    iterations: int
    held: Held

    @property
    def mean(self) -> FloatArray:
        """Posterior mean of ``Λ_s`` per strike. [items]"""
        return self.posterior.scale_mean

    @property
    def owner(self) -> IntArray:
        """The strike holding more than half of each evidence point, ``-1`` where none does."""
        return self.held.owner


@dataclass(frozen=True)
class Held:
    """The sums an attribution ended with, per strike and per evidence point.

    Parameters
    ----------
    share_mean : ndarray, shape (strikes,)
        The expectations the final shares were computed with. [items]
    searched : ndarray, shape (strikes,)
        ``Σ_j r_js q_j`` over the searched items, before the exposure check. [items]
    removed : ndarray, shape (strikes,)
        The same over the items removed otherwise. [items]
    background : ndarray, shape (evidence,)
        The background's share of each point. [-]
    owner : ndarray of int64, shape (evidence,)
        The strike holding more than half of each point, ``-1`` where none does.
    items : float
        The background's expected items the shares were computed with. [items]
    window : ndarray, shape (types, 2)
        The failure-rate grids' window the iterations ended on (shape ``(0, 2)``
        without iterations): a local update of it starts there.
    """

    share_mean: FloatArray
    searched: FloatArray
    removed: FloatArray
    background: FloatArray
    owner: IntArray
    items: float
    window: FloatArray

    @classmethod
    def none(cls) -> Held:
        """No sums (a round's, before its evidence update)."""
        none = np.empty(0)
        return cls(none, none, none, none, np.empty(0, dtype=np.int64), 0.0, np.empty((0, 2)))


@dataclass(frozen=True)
class Frozen:
    """An attribution held fixed away from some evidence points: a local update.

    New records change the pass-1 weights of a few thousand strikes, on the evidence
    points their windows reach. :func:`attribute` with ``frozen`` is given the pairs
    of the points ``points`` only and takes every other point's share as it was:
    their sums per strike (``searched``, ``removed``) and their background share and
    owner. The failure rates are still learned from every strike's ``k_s`` and
    ``e_s``; the iterations move only the expectations of the strikes with a pair
    given (no other reads one), and every strike's is learned at the end. The
    caller chooses ``points`` so that every pair whose weight, or whose
    strike's pass 1, changed is among them (:func:`remnant.hazard.estimate._site_rounds`);
    what it leaves out is the small shift of the shares elsewhere as the expectations
    of the strikes there move (docs/model.md §8).

    Parameters
    ----------
    points : ndarray of int64
        The evidence points whose pairs are given, ascending.
    searched, removed : ndarray, shape (strikes,)
        Each strike's sums over the other points (:class:`Held`). [items]
    background : ndarray, shape (evidence,)
        Every point's background share; those of ``points`` are replaced. [-]
    owner : ndarray of int64, shape (evidence,)
        Every point's owner; those of ``points`` are replaced.
    window : ndarray, shape (types, 2)
        The failure-rate grids' window to start from (:attr:`Held.window`).
    """

    points: IntArray
    searched: FloatArray
    removed: FloatArray
    background: FloatArray
    owner: IntArray
    window: FloatArray


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
    initial: FloatArray | None = None,
    learn: bool = True,
    frozen: Frozen | None = None,
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
        Most evaluations of the update. [-]
    draws : int
        Draws of the failure rates kept for the total's interval. [-]
    seed : int
        Seed of those draws.
    initial : ndarray, shape (strikes,), optional
        Expected duds to start from (a previous result's); default the priors'. [items]
    learn : bool
        Update the failure rates and the strikes' scales from the items found;
        ``False`` keeps the priors (and attributes evidence with them).
    frozen : Frozen, optional
        Attribute only the points ``frozen.points``, whose pairs are all that
        ``integrals`` lists, and hold the others as they were (:class:`Frozen`).
    """
    points = None if frozen is None else frozen.points
    if points is not None:
        kind, quantity = kind[points], quantity[points]
    searched, removed = point_items(kind, quantity)

    window: list[FloatArray] = []  # the last step's grids: the next (and the end) start there
    if frozen is not None and len(frozen.window):
        window.append(frozen.window)
    pairs = _Pairs.of(integrals, points)
    held_terms, moving = None, None
    if frozen is not None:  # only the strikes of the pairs given change their items found
        fixed = np.ones(len(strikes), dtype=bool)
        fixed[pairs.strike] = False
        held_terms, moving = HeldTerms(fixed), np.flatnonzero(~fixed)

    def step(log_mean: FloatArray) -> FloatArray:
        found = _found_pairs(pairs.offsets, pairs.strike, pairs.weight, np.exp(log_mean),
                             background * pairs.background, searched)  # fmt: skip
        if frozen is not None:
            found += frozen.searched
        k, e = _counts(integrals, found)
        post = _learn(strikes, k, e, EM_GRID_POINTS, 0, seed, window[-1] if window else None,
                      held_terms, moving)  # fmt: skip
        window[:] = [post.window]
        if moving is None:
            return np.log(np.maximum(post.scale_mean, TINY))
        out = log_mean.copy()  # the others read no pair: they stay where they start
        out[moving] = np.log(np.maximum(post.scale_mean[moving], TINY))
        return out

    start = strikes.prior_mean if initial is None else initial
    n_done = 0
    if learn:
        log_start = np.log(np.maximum(start, TINY))
        log_mean, n_done = squarem(step, log_start, tolerance, iterations)
        mean = np.exp(log_mean)
    else:
        mean = strikes.prior_mean
    shares = _shares(pairs, mean, background, searched)
    last = window[-1] if window else np.empty((0, 2))
    held = _held(pairs, shares, mean, removed, background, last, frozen)
    k, e = _counts(integrals, held.searched)
    nothing = np.zeros(len(strikes))
    post = (
        _learn(strikes, k, e, None, draws, seed, window[-1] if window else None, held_terms)
        if learn
        else _learn(strikes, nothing, nothing, None, draws, seed)
    )
    return Attribution(
        posterior=post,
        found=k,
        removed=held.removed + np.where(integrals.exposure > 0, 0.0, held.searched),
        exposure=e,
        responsibility_background=held.background,
        pair_share=pairs.in_given_order(shares.strike),
        iterations=n_done,
        held=held,
    )


def _held(
    pairs: _Pairs,
    shares: _Shares,
    mean: FloatArray,
    removed: FloatArray,
    items: float,
    window: FloatArray,
    frozen: Frozen | None,
) -> Held:
    """The sums of the final shares, the frozen points' added back (:class:`Held`)."""
    k_rem = _removed_sums(pairs, shares, removed, len(mean))
    big = shares.strike > 0.5
    if frozen is None:
        owner = np.full(len(shares.background), -1, dtype=np.int64)
        owner[pairs.evidence[big]] = pairs.strike[big]
        return Held(mean, shares.found, k_rem, shares.background, owner, items, window)
    owner = frozen.owner.copy()
    owner[frozen.points] = -1
    owner[frozen.points[pairs.evidence[big]]] = pairs.strike[big]
    background = frozen.background.copy()
    background[frozen.points] = shares.background
    searched = shares.found + frozen.searched
    return Held(mean, searched, k_rem + frozen.removed, background, owner, items, window)


def point_items(kind: npt.NDArray[np.int8], quantity: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each point's items found by searches and removed otherwise. [items]"""
    searched = (kind == SEARCHED).astype(np.float64) * quantity
    removed = np.isin(kind, (REPORTED, ACCIDENT)).astype(np.float64) * quantity
    return searched, removed


def point_sums(
    evidence: IntArray,
    strike: IntArray,
    weight: FloatArray,
    background: FloatArray,
    mean: FloatArray,
    items: float,
    searched: FloatArray,
    removed: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Each strike's searched and removed items over some points: what :class:`Frozen` holds back.

    The pairs ``(evidence, strike, weight)`` are all the pairs of those points, in any
    order, ``evidence`` numbering the points; ``background`` is each point's background
    weight, ``items`` the background's expected items, ``searched`` and ``removed``
    each point's items. The sums are those :class:`Held` keeps (:func:`_shares`), over
    these points only.
    """
    pairs = _Pairs.of_arrays(evidence, strike, weight, background)
    shares = _shares(pairs, mean, items, searched)
    return shares.found, _removed_sums(pairs, shares, removed, len(mean))


def _removed_sums(pairs: _Pairs, shares: _Shares, removed: FloatArray, n_st: int) -> FloatArray:
    """``Σ_j r_js q'_j`` per strike over the items ``removed`` otherwise. [items]"""
    return weighted_sums(pairs.strike, shares.strike * removed[pairs.evidence], n_st)


@dataclass(frozen=True)
class _Shares:
    strike: FloatArray  # per pair, in evidence order
    background: FloatArray  # per evidence point
    found: FloatArray  # searched items per strike, before the exposure check


@dataclass(frozen=True)
class _Pairs:
    """The (evidence, strike) pairs in evidence order, a CSR over the evidence points.

    Pass 1 lists them so and its splices keep them so (:func:`.integrals.splice_pairs`);
    where an update's pass 1 moved by a difference has not, one counting sort per
    evidence update puts them back. Every step of the update then reads each point's
    pairs in one run.
    """

    offsets: IntArray
    evidence: IntArray
    strike: IntArray
    weight: FloatArray
    background: FloatArray
    order: IntArray | None  # position in the integrals' order of each; None if the same

    @classmethod
    def of(cls, integrals: Integrals, points: IntArray | None = None) -> _Pairs:
        """The pairs of ``integrals``.

        With ``points``, they are those points' pairs, numbered by their position in
        ``points``.
        """
        ev = integrals.pair_evidence
        background = integrals.evidence_background
        if points is not None:
            ev, background = ranks(points, ev), background[points]
        return cls.of_arrays(ev, integrals.pair_strike, integrals.pair_weight, background)

    @classmethod
    def of_arrays(
        cls, ev: IntArray, strike: IntArray, weight: FloatArray, background: FloatArray
    ) -> _Pairs:
        """The pairs ``(ev, strike, weight)``, in any order, of the points ``ev`` numbers.

        ``background`` is each point's background weight.
        """
        n_ev = len(background)
        offsets = np.zeros(n_ev + 1, dtype=np.int64)
        np.cumsum(np.bincount(ev, minlength=n_ev), out=offsets[1:])
        if ascending(ev):
            return cls(offsets, ev, strike, weight, background, None)
        order = _counting_order(ev, offsets)
        return cls(offsets, ev[order], strike[order], weight[order], background, order)

    def in_given_order(self, values: FloatArray) -> FloatArray:
        """Per-pair ``values`` (evidence order) back in the integrals' order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out


@numba.njit(cache=True)
def _counting_order(key: IntArray, offsets: IntArray) -> IntArray:
    """The stable order of ``key`` by a counting sort; ``offsets`` its CSR (numba)."""
    at = offsets[:-1].copy()
    order = np.empty(len(key), dtype=np.int64)
    for p in range(len(key)):
        order[at[key[p]]] = p
        at[key[p]] += 1
    return order


def _shares(pairs: _Pairs, mean: FloatArray, bg_mean: float, searched: FloatArray) -> _Shares:
    """Responsibilities of each (evidence, strike) pair and of the background.

    :func:`_share_pairs` gives those; :func:`_found_pairs` the searched items
    attributed to each strike.
    """
    bg = bg_mean * pairs.background
    share, bg_share = _share_pairs(pairs.offsets, pairs.strike, pairs.weight, mean, bg)
    found = _found_pairs(pairs.offsets, pairs.strike, pairs.weight, mean, bg, searched)
    return _Shares(share, bg_share, found)


SHARE_CHUNKS = 4
"""Pieces the evidence points are cut into for :func:`_found_pairs`, each run on its own
core with its own sums per strike: a fixed number, so that the sums, and so the
estimate, do not depend on how many cores the machine has."""


@numba.njit(parallel=True, cache=True)
def _share_pairs(
    offsets: IntArray, pair_st: IntArray, pair_w: FloatArray, mean: FloatArray, bg: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per point, its total weight, then the shares of its pairs and the background's (numba).

    ``offsets`` is the CSR of each point's pairs. A point no source can explain (total
    0) goes to the background whole. The points run in parallel.
    """
    n_ev = len(bg)
    share = np.empty(len(pair_st))
    bg_share = np.empty(n_ev)
    for j in numba.prange(n_ev):
        lo, hi = offsets[j], offsets[j + 1]
        total = bg[j]
        for p in range(lo, hi):
            share[p] = mean[pair_st[p]] * pair_w[p]
            total += share[p]
        if total > 0.0:
            bg_share[j] = bg[j] / total
            inverse = 1.0 / total
            for p in range(lo, hi):
                share[p] *= inverse
        else:
            bg_share[j] = 1.0
            share[lo:hi] = 0.0
    return share, bg_share


@numba.njit(parallel=True, cache=True)
def _found_pairs(
    offsets: IntArray, pair_st: IntArray, pair_w: FloatArray, mean: FloatArray,
    bg: FloatArray, searched: FloatArray,
) -> FloatArray:  # fmt: skip
    """The searched items attributed to each strike: ``Σ_j r_js q_j`` (numba).

    All a step of the evidence update needs: a point's pairs are read once for its
    total and, if it holds searched items, once more for their shares, which are not
    kept. The points run in :data:`SHARE_CHUNKS` pieces in parallel.
    """
    n_ev, n_st = len(bg), len(mean)
    size = -(-n_ev // SHARE_CHUNKS)
    found_part = np.zeros((SHARE_CHUNKS, n_st))
    for c in numba.prange(SHARE_CHUNKS):
        for j in range(c * size, min(n_ev, (c + 1) * size)):
            lo, hi = offsets[j], offsets[j + 1]
            items = searched[j]
            if items == 0.0:
                continue
            total = bg[j]
            for p in range(lo, hi):
                total += mean[pair_st[p]] * pair_w[p]
            if total > 0.0:
                inverse = 1.0 / total
                for p in range(lo, hi):
                    found_part[c, pair_st[p]] += mean[pair_st[p]] * pair_w[p] * inverse * items
    found = np.zeros(n_st)
    for c in range(SHARE_CHUNKS):
        found += found_part[c]
    return found


def _counts(integrals: Integrals, found: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``k_s`` and ``e_s`` from the searched items ``found`` attributed to each strike.

    A strike credited with items while its exposure is 0 (a find whose cell centre
    lies outside its search's polygon, say) keeps those items as removals, not as
    search results: a search of that strike never happened on the grid.
    """
    e = integrals.exposure
    return np.where(e > 0, found, 0.0), e


def _learn(
    strikes: Strikes,
    k: FloatArray,
    e: FloatArray,
    grid_points: int | None,
    draws: int,
    seed: int,
    window: FloatArray | None = None,
    held: HeldTerms | None = None,
    scales_of: IntArray | None = None,
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
        window=window,
        held=held,
        scales_of=scales_of,
        **kwargs,
    )


def _settled(old: FloatArray, new: FloatArray, tolerance: float) -> bool:
    """Whether a step has settled (log inputs).

    Moves are measured against ``max(E, 1 item)``: no expectation may move by more
    than ten times ``tolerance``, and at most one in a thousand by more than
    ``tolerance`` — a few strikes sharing their evidence evenly converge slowly and
    would otherwise hold up the thousands that have settled.
    """
    a, b = np.exp(old), np.exp(new)
    move = np.abs(b - a) / np.maximum(np.maximum(a, b), 1.0)
    if move.size == 0:
        return True
    return bool(move.max() <= 10.0 * tolerance and np.mean(move > tolerance) <= 1e-3)


TINY = 1e-300
"""Floor of an expectation before its logarithm. [items]"""


def squarem(
    step: Callable[[FloatArray], FloatArray], x: FloatArray, tolerance: float, evaluations: int
) -> tuple[FloatArray, int]:
    """Find a fixed point of ``step`` by SQUAREM-accelerated iteration.

    Each cycle takes two steps ``x₁ = F(x₀)``, ``x₂ = F(x₁)``, extrapolates along
    ``r = x₁ − x₀`` and ``v = x₂ − x₁ − r`` with the step length
    ``α = −‖r‖/‖v‖`` (scheme S3), and stabilises with one more step from the
    extrapolated point [1]_. Stops when a step has settled (:func:`_settled`: ``x``
    are log expectations, and their moves are judged relative to the expectations,
    against ``tolerance``) or after ``evaluations`` calls of ``step``.

    Returns
    -------
    x : ndarray
        The fixed point.
    evaluations : int
        Calls of ``step`` made.

    References
    ----------
    .. [1] Varadhan, R. and Roland, C. (2008) Simple and globally convergent methods
       for accelerating the convergence of any EM algorithm, *Scand. J. Stat.* 35,
       335–353. https://doi.org/10.1111/j.1467-9469.2007.00585.x
    """
    done = 0
    while done < evaluations:
        x1 = step(x)
        done += 1
        r = x1 - x
        if _settled(x, x1, tolerance) or done >= evaluations:
            return x1, done
        x2 = step(x1)
        done += 1
        v = x2 - x1 - r
        if _settled(x1, x2, tolerance):
            return x2, done
        norm_v = float(np.linalg.norm(v))
        alpha = -float(np.linalg.norm(r)) / norm_v if norm_v > 0 else -1.0
        alpha = min(alpha, -1.0)
        x = step(x - 2.0 * alpha * r + alpha * alpha * v)
        done += 1
    return x, done


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
