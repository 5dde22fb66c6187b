"""The shares of the evidence update (remnant.hazard.evidence)."""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

from remnant.hazard.evidence import _found_pairs, _Pairs, _share_pairs, _shares
from remnant.hazard.integrals import (
    ASCENDING_KEPT,
    SCANS_KEPT,
    Integrals,
    ascending,
    pairs_at,
    pairs_of,
    ranks,
    splice_pairs,
)

FloatArray = np.ndarray


def _integrals(pair_ev: np.ndarray, pair_st: np.ndarray, weight: FloatArray, bg: FloatArray):
    """Integrals holding only what the shares read: the pairs and the background weights."""
    none, empty = np.empty(0, dtype=np.int64), np.empty(0)
    fields = {f.name: empty for f in dataclasses.fields(Integrals)}
    fields.update(area_strike_area=none, area_strike=none, area_cells=none)
    fields.update(pair_evidence=pair_ev, pair_strike=pair_st, pair_weight=weight)
    return Integrals(**{**fields, "evidence_background": bg})


def _case(seed: int, n_ev: int = 500, n_st: int = 60, n_pairs: int = 3000):
    rng = np.random.default_rng(seed)
    pair_ev = rng.integers(0, n_ev, n_pairs)  # in no order, as after a splice
    pair_st = rng.integers(0, n_st, n_pairs)
    weight = rng.exponential(1.0, n_pairs)
    weight[rng.random(n_pairs) < 0.05] = 0.0
    mean = rng.gamma(2.0, 3.0, n_st)
    bg = rng.exponential(0.5, n_ev)
    bg[: n_ev // 10] = 0.0  # some points with no background: alone, or with no source at all
    searched = rng.integers(0, 3, n_ev).astype(float)
    return pair_ev, pair_st, weight, mean, bg, searched


def test_shares_are_each_sources_part_of_its_points_total() -> None:
    pair_ev, pair_st, weight, mean, bg, searched = _case(1)
    pairs = _Pairs.of(_integrals(pair_ev, pair_st, weight, bg))
    shares = _shares(pairs, mean, 1.0, searched)
    share = pairs.in_given_order(shares.strike)
    total = bg + np.bincount(pair_ev, mean[pair_st] * weight, len(bg))
    explained = total > 0
    safe = np.where(explained, total, 1.0)
    expect = np.where(explained[pair_ev], mean[pair_st] * weight / safe[pair_ev], 0.0)
    np.testing.assert_allclose(share, expect, rtol=1e-12, atol=0)
    np.testing.assert_allclose(shares.background, np.where(explained, bg / safe, 1.0), rtol=1e-12)
    by_strike = np.bincount(pair_st, expect * searched[pair_ev], len(mean))
    np.testing.assert_allclose(shares.found, by_strike, rtol=1e-12)
    # every point is shared out whole: its sources' shares and the background's sum to 1
    whole = shares.background + np.bincount(pair_ev, share, len(bg))
    np.testing.assert_allclose(whole[explained], 1.0, rtol=1e-12)
    assert np.all(shares.background[~explained] == 1.0)


def test_the_items_found_are_those_the_strikes_explain() -> None:
    # every searched item goes to the strikes or to the background, nothing lost
    for seed in (1, 2):
        pair_ev, pair_st, weight, mean, bg, searched = _case(seed, n_ev=2000, n_pairs=20_001)
        pairs = _Pairs.of(_integrals(pair_ev, pair_st, weight, bg))
        found = _found_pairs(pairs.offsets, pairs.strike, pairs.weight, mean, 0.7 * bg, searched)
        _, bg_share = _share_pairs(pairs.offsets, pairs.strike, pairs.weight, mean, 0.7 * bg)
        assert found.sum() > 0
        assert found.sum() == pytest.approx(np.sum(searched * (1.0 - bg_share)), rel=1e-12)


def test_pairs_in_evidence_order_keep_each_points_pairs_in_their_order() -> None:
    pair_ev, pair_st, weight, _, bg, _ = _case(3)
    pairs = _Pairs.of(_integrals(pair_ev, pair_st, weight, bg))
    assert np.all(np.diff(pairs.evidence) >= 0)
    assert np.array_equal(pairs.evidence, pair_ev[np.argsort(pair_ev, kind="stable")])
    assert np.array_equal(pairs.in_given_order(pairs.weight), weight)
    ordered = np.sort(pair_ev)
    already = _Pairs.of(_integrals(ordered, pair_st, weight, bg))
    assert already.order is None and np.array_equal(already.offsets, pairs.offsets)


def test_shares_do_not_depend_on_the_number_of_threads() -> None:
    pair_ev, pair_st, weight, mean, bg, searched = _case(2, n_ev=2000, n_pairs=20_001)
    pairs = _Pairs.of(_integrals(pair_ev, pair_st, weight, bg))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _shares(pairs, mean, 1.0, searched)
        numba.set_num_threads(before)
        many = _shares(pairs, mean, 1.0, searched)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(dataclasses.astuple(one), dataclasses.astuple(many), strict=True):
        assert np.array_equal(a, b)


def test_whether_pairs_ascend_is_kept_with_a_large_array_made_read_only() -> None:
    rng = np.random.default_rng(9)
    up = np.sort(rng.integers(0, 1000, ASCENDING_KEPT))
    down = up.copy()
    down[ASCENDING_KEPT // 2] = -1
    small = up[:100].copy()
    assert ascending(up) and not ascending(down) and ascending(small)
    assert ascending(up) and not ascending(down)  # kept
    assert not up.flags.writeable and not down.flags.writeable and small.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        up[0] = 5  # a change would leave the kept answer stale: it raises instead
    again = up.copy()  # the same values in another array: asked afresh
    again[-1] = -1
    assert not ascending(again)


@pytest.mark.parametrize("n_pairs", [0, 1, 7, 8, 9, 4001])
def test_the_pairs_of_some_strikes_are_found_in_order(n_pairs: int) -> None:
    """Whatever the pieces the pairs are cut into (8): those a mask lists, ascending."""
    rng = np.random.default_rng(n_pairs)
    strike = rng.integers(0, 50, n_pairs)
    wanted = rng.random(50) < 0.3
    got = pairs_of(strike, wanted)
    assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(wanted[strike]))
    assert pairs_of(strike, np.zeros(50, dtype=bool)).size == 0


def test_the_scans_of_a_large_array_of_pairs_are_kept_and_widened() -> None:
    """Asked again for the same strikes, fewer, others and more: the mask's pairs each time."""
    rng = np.random.default_rng(11)
    strike = rng.integers(0, 5000, SCANS_KEPT + 3)
    first = np.zeros(5000, dtype=bool)
    first[rng.choice(5000, 40, replace=False)] = True
    fewer = first & (rng.random(5000) < 0.5)
    other = np.zeros(5000, dtype=bool)
    other[rng.choice(5000, 30, replace=False)] = True
    longer = np.concatenate([first | other, [True]])  # masks may run past the last strike
    for wanted in (first, first, fewer, other, first | other, longer, np.zeros(5000, bool)):
        got = pairs_of(strike, wanted)
        assert np.array_equal(got, np.flatnonzero(wanted[strike]))
    with pytest.raises(ValueError, match="read-only"):
        strike[0] = 1  # a change would leave the kept positions stale: it raises instead
    copy = strike.copy()
    copy[: len(copy) // 2] = np.flatnonzero(first)[0]  # another array: scanned afresh
    assert np.array_equal(pairs_of(copy, first), np.flatnonzero(first[copy]))


def test_splicing_pairs_keeps_them_in_evidence_order() -> None:
    rng = np.random.default_rng(4)
    old_ev = np.sort(rng.integers(0, 300, 4000))
    old = (old_ev, rng.integers(0, 50, 4000), rng.random(4000))
    keep = rng.random(4000) < 0.7
    new = (rng.integers(0, 300, 900), rng.integers(50, 60, 900), rng.random(900))  # unsorted
    got = splice_pairs(old, keep, new)
    joined = [np.concatenate([o[keep], n]) for o, n in zip(old, new, strict=True)]
    order = np.argsort(joined[0], kind="stable")  # what the evidence update would sort into
    for a, b in zip(got, joined, strict=True):
        assert np.array_equal(a, b[order])
    later = (np.sort(rng.integers(300, 320, 50)), rng.integers(0, 60, 50), rng.random(50))
    got = splice_pairs(old, keep, later)  # an update's new points come after the old ones
    for a, o, n in zip(got, old, later, strict=True):
        assert np.array_equal(a, np.concatenate([o[keep], n]))
    unsorted = (old_ev[::-1].copy(), old[1], old[2])  # not in evidence order: put together
    for a, b in zip(splice_pairs(unsorted, keep, new), [unsorted[0], *old[1:]], strict=True):
        assert np.array_equal(a[: keep.sum()], b[keep])


def test_ranks_and_runs_of_points_agree_with_a_search() -> None:
    rng = np.random.default_rng(3)
    points = np.unique(rng.integers(0, 10_000, 500))
    values = rng.choice(points, 3000)
    np.testing.assert_array_equal(ranks(points, values), np.searchsorted(points, values))
    assert ranks(points[:0], values[:0]).size == 0
    evidence = np.sort(rng.integers(0, 10_000, 20_000))
    for ev in (evidence, rng.permutation(evidence)):  # in evidence order, and not
        np.testing.assert_array_equal(pairs_at(ev, points), np.flatnonzero(np.isin(ev, points)))
    edges = np.unique([-1, 0, evidence[0], evidence[-1], 10_000, 20_000])  # outside and at the ends
    np.testing.assert_array_equal(
        pairs_at(evidence, edges), np.flatnonzero(np.isin(evidence, edges))
    )
    assert pairs_at(evidence, points[:0]).size == 0 and pairs_at(evidence[:0], points).size == 0
