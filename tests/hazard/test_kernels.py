"""The tile survival clock: searches swept in day order (remnant.hazard.kernels)."""

from __future__ import annotations

import math

import numpy as np

from remnant.hazard.kernels import NOTICE, SEARCH, advance, axis_masses, ndtr, tile_survival

N_CELLS = 40


def _searches(seed: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """Events of 12 searches in day order: some thin nothing, two are NTS without evidence.

    Returns the events ``(cells, owner)`` (each search's cells in one run, as
    :func:`~remnant.hazard.kernels.tile_searches` gives them), the searches' days and
    their ``log(1 − p)``, ``log(1 − q)``.
    """
    rng = np.random.default_rng(seed)
    n = 12
    day = np.sort(rng.integers(100, 200, n))
    log_keep = np.zeros((n, 2))
    log_keep[:, SEARCH] = np.log1p(-rng.uniform(0.1, 0.99, n))
    log_keep[[2, 7], SEARCH] = 0.0  # an EOD spot task searches no area
    log_keep[[4, 9], NOTICE] = np.log1p(-0.3)  # NTS without evidence
    log_keep[9, SEARCH] = 0.0
    cells = [rng.choice(N_CELLS, rng.integers(1, 25), replace=False) for _ in range(n)]
    owner = np.repeat(np.arange(n), [len(c) for c in cells])
    return (np.concatenate(cells).astype(np.int64), owner.astype(np.int64)), day, log_keep


def _direct(events, day, log_keep, after: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``S·L`` and ``1 − L`` of each cell over the searches after day ``after``, one by one.

    Also the sums of their logs per cell.
    """
    logs = np.zeros((N_CELLS, 2))
    for c, a in zip(*events, strict=True):
        if day[a] > after:
            logs[c] += log_keep[a]
    s_now = np.array([math.exp(s + n) for s, n in logs])
    notice = np.array([1.0 - math.exp(n) for n in logs[:, NOTICE]])
    return s_now, notice, logs


def test_the_clock_starts_from_every_search_and_sweeps_past_them_by_day() -> None:
    for seed in range(5):
        events, day, log_keep = _searches(seed)
        clock = tile_survival(events, day, log_keep, N_CELLS)
        days, cells, lks, logs, s_now, found, notice = clock
        assert np.array_equal(cells, events[0]) and np.array_equal(days, day[events[1]])
        assert np.array_equal(lks, log_keep[events[1]])
        want_s, want_notice, want_logs = _direct(events, day, log_keep, after=-1)
        assert np.array_equal(logs, want_logs)
        assert np.array_equal(s_now, want_s)  # the same sums in the same order: to the bit
        assert np.array_equal(found, 1.0 - want_s)
        assert np.array_equal(notice, want_notice)
        assert np.count_nonzero(notice) < np.count_nonzero(found)  # NTS cells only
        pos = 0
        for strike_day in (90, 130, 160, 199, 250):
            pos = advance(clock, pos, strike_day)
            want_s, want_notice, _ = _direct(events, day, log_keep, after=strike_day)
            np.testing.assert_allclose(s_now, want_s, rtol=1e-12)
            np.testing.assert_allclose(notice, want_notice, atol=1e-15)
            assert np.array_equal(found, 1.0 - s_now)
        assert pos == len(days)  # past every search: nothing thinned (up to the logs' rounding)
        np.testing.assert_allclose(s_now, 1.0, atol=1e-14)
        np.testing.assert_allclose(notice, 0.0, atol=1e-14)


def test_axis_masses_are_the_cut_normals_differences_and_nothing_beyond_the_cut() -> None:
    """A 1-D normal's mass per cell, along columns (east) and rows (south): each cell
    the difference of Φ at its edges, clipped to the cut, so the cells beyond the cut
    get exactly nothing and the window sums to Φ(c) − Φ(−c)."""
    clip, sigma, n = 3.0, 17.0, 60
    for edge0, step, centre in ((100.0, 5.0, 240.0), (400.0, -5.0, 260.0), (0.0, 5.0, 9.0)):
        out = np.empty(n)
        axis_masses(edge0, step, n, centre, sigma, clip, out)
        z = np.clip((edge0 + step * np.arange(n + 1) - centre) / sigma, -clip, clip)
        want = np.abs(np.diff([ndtr(v) for v in z]))
        assert np.array_equal(out, want)
        beyond = (z[:-1] == z[1:]) & (np.abs(z[1:]) == clip)
        assert beyond.sum() > 10 and np.all(out[beyond] == 0.0)
        inside = (np.abs(z[:-1]) < clip) & (np.abs(z[1:]) < clip)
        assert np.all(out[inside] > 0.0)
    out = np.empty(n)
    axis_masses(0.0, 5.0, n, 150.0, sigma, clip, out)  # the whole cut window inside
    assert math.isclose(out.sum(), ndtr(clip) - ndtr(-clip), rel_tol=1e-14)
