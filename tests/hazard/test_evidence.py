"""The shares of the evidence update (remnant.hazard.evidence)."""

from __future__ import annotations

import numba
import numpy as np

from remnant.hazard.evidence import _share_pairs


def _pairs(seed: int, n_ev: int = 500, n_st: int = 60, n_pairs: int = 3000):
    rng = np.random.default_rng(seed)
    pair_ev = rng.integers(0, n_ev, n_pairs)
    pair_st = rng.integers(0, n_st, n_pairs)
    weight = rng.exponential(1.0, n_pairs)
    weight[rng.random(n_pairs) < 0.05] = 0.0
    mean = rng.gamma(2.0, 3.0, n_st)
    bg = rng.exponential(0.5, n_ev)
    bg[: n_ev // 10] = 0.0  # some points with no background: alone, or with no source at all
    searched = rng.integers(0, 3, n_ev).astype(float)
    return pair_ev, pair_st, weight, mean, bg, searched


def test_shares_are_each_sources_part_of_its_points_total() -> None:
    pair_ev, pair_st, weight, mean, bg, searched = _pairs(1)
    share, bg_share, found = _share_pairs(pair_ev, pair_st, weight, mean, bg, searched)
    total = bg + np.bincount(pair_ev, mean[pair_st] * weight, len(bg))
    explained = total > 0
    safe = np.where(explained, total, 1.0)
    expect = np.where(explained[pair_ev], mean[pair_st] * weight / safe[pair_ev], 0.0)
    np.testing.assert_allclose(share, expect, rtol=1e-12, atol=0)
    np.testing.assert_allclose(bg_share, np.where(explained, bg / safe, 1.0), rtol=1e-12)
    by_strike = np.bincount(pair_st, expect * searched[pair_ev], len(mean))
    np.testing.assert_allclose(found, by_strike, rtol=1e-12)
    # every point is shared out whole: its sources' shares and the background's sum to 1
    whole = bg_share + np.bincount(pair_ev, share, len(bg))
    np.testing.assert_allclose(whole[explained], 1.0, rtol=1e-12)
    assert np.all(bg_share[~explained] == 1.0)


def test_shares_do_not_depend_on_the_number_of_threads() -> None:
    args = _pairs(2, n_ev=2000, n_pairs=20_001)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _share_pairs(*args)
        numba.set_num_threads(before)
        many = _share_pairs(*args)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        assert np.array_equal(a, b)
