"""Redrawing only the stale tiles (:mod:`remnant.hazard.redraw`) against a full redraw."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remnant.catalogue import load_catalogue
from remnant.hazard.estimate import Estimate, estimate
from remnant.hazard.mixture import ACROSS, ALONG, X, Y
from remnant.hazard.redraw import (
    _SHARE,
    _TURN,
    _WIDTHS,
    FLOOR,
    STATE_FORMAT,
    TOLERANCE,
    DrawnState,
    _components_moved,
    _moved,
    _sources,
    advanced_state,
    drawn_state,
    stale_tiles,
)
from remnant.hazard.tiles import run_rows
from remnant.io.arrays import write_arrays
from remnant.simulate import simulate_world

BANDS = ("expected_remaining", "p_any", "lower_90", "upper_90")


@pytest.fixture(scope="module")
def runs() -> tuple[Estimate, Estimate]:
    """One world estimated twice as of the same day: without, then with, the finds and
    searches of its last 15 days (records that arrive late, as they do)."""
    world = simulate_world(1003, 200)
    as_of = world.truth.parameters["as_of"]
    cut = pd.Timestamp(as_of) - pd.Timedelta(days=15)
    early = dict(world.tables)
    finds, acts = world.tables["finds"], world.tables["activities"]
    early["finds"] = finds[pd.to_datetime(finds["date"]) <= cut]
    early["activities"] = acts[pd.to_datetime(acts["end_date"]) <= cut]
    assert len(early["finds"]) < len(finds) and len(early["activities"]) < len(acts)
    catalogue = load_catalogue()
    return (
        estimate(early, catalogue, as_of=as_of),
        estimate(world.tables, catalogue, as_of=as_of),
    )


def _raster(est: Estimate) -> np.ndarray:
    bands = est.bands()
    return np.stack([bands[name] for name in BANDS])


def test_nothing_new_redraws_nothing(runs) -> None:
    before, _ = runs
    stale, changed = stale_tiles(drawn_state(before), drawn_state(before), before)
    assert not stale.any() and not changed.any()


def test_late_records_redraw_some_tiles_to_within_the_tolerance(runs) -> None:
    before, after = runs
    assert before.grid == after.grid
    raster = _raster(before)
    stale, _ = stale_tiles(drawn_state(before), drawn_state(after), after)
    assert 0 < stale.sum() < 0.5 * stale.size
    for tile_row, tile_col, bands in after.tiles(stale):
        row0, col0, rows, cols = after.grid.tile_window(tile_row, tile_col)
        raster[:, row0 : row0 + rows, col0 : col0 + cols] = bands
    full = _raster(after)
    np.testing.assert_array_equal(np.isnan(raster), np.isnan(full))
    ok = ~np.isnan(full[0])
    mean, updated = full[0][ok], raster[0][ok]
    assert np.all(np.abs(updated - mean) <= TOLERANCE * mean + FLOOR)
    assert np.abs(raster[1][ok] - full[1][ok]).max() < 0.005
    assert np.abs(raster[2:][:, ok] - full[2:][:, ok]).max() <= 1.0
    # the stale tiles themselves are exactly a full redraw
    mask = np.kron(stale.reshape(after.grid.n_tiles), np.ones((256, 256), dtype=bool))
    mask = mask[: after.grid.ny, : after.grid.nx]
    np.testing.assert_array_equal(raster[:, mask], full[:, mask])


def test_drift_is_measured_from_what_was_drawn(runs) -> None:
    """After drawing the stale tiles the state is clean; against the state of the first
    run the same tiles are still stale (the reference is the drawing, not the run)."""
    before, after = runs
    first = drawn_state(before)
    now = drawn_state(after)
    stale, changed = stale_tiles(first, now, after)
    state = advanced_state(first, now, after, stale, changed)
    assert not stale_tiles(state, now, after)[0].any()
    np.testing.assert_array_equal(stale_tiles(first, now, after)[0], stale)


def test_state_round_trips_and_another_grid_redraws_everything(tmp_path: Path, runs) -> None:
    before, after = runs
    state = drawn_state(before)
    loaded = DrawnState.load(state.save(tmp_path / "drawn.arrays"))
    assert loaded is not None
    now = drawn_state(after)
    np.testing.assert_array_equal(
        stale_tiles(loaded, now, after)[0], stale_tiles(state, now, after)[0]
    )
    other = DrawnState(**{**vars(state), "key": state.key.replace('"config"', '"conf"')})
    assert stale_tiles(other, now, after)[0].all()
    (tmp_path / "junk.arrays").write_bytes(b"not a state")
    assert DrawnState.load(tmp_path / "junk.arrays") is None
    assert DrawnState.load(tmp_path / "missing.arrays") is None
    write_arrays({"format": STATE_FORMAT - 1, "state": state}, tmp_path / "older.arrays")
    assert DrawnState.load(tmp_path / "older.arrays") is None  # another version: redrawn


def test_a_search_hash_changes_with_any_vertex_day_or_detection() -> None:
    from remnant.hazard.redraw import _polygon_hashes

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=12), rng.normal(size=12)
    rings, geoms = np.array([0, 4, 8, 12]), np.array([0, 2, 3])  # two searches
    day = np.array([19000, 19010], dtype=np.int64)
    keep = np.array([[-1.2, 0.0], [-0.5, -0.7]])

    def hashes(x=x, y=y, day=day, keep=keep):  # type: ignore[no-untyped-def]
        u = np.uint64
        return _polygon_hashes(x.view(u), y.view(u), rings, geoms, day.view(u), keep.view(u))

    base = hashes()
    assert base[0] != base[1]
    np.testing.assert_array_equal(hashes(x=x.copy()), base)
    for changed in (
        hashes(x=np.where(np.arange(12) == 5, x + 1e-9, x)),
        hashes(y=np.where(np.arange(12) == 1, y - 1e-9, y)),
        hashes(day=day + np.array([1, 0])),
        hashes(keep=keep + np.array([[1e-12, 0.0], [0.0, 0.0]])),
    ):
        assert (changed != base).sum() == 1


def test_components_moved_as_their_columns_compared_whole() -> None:
    """The kernel against the bounds written over whole columns (as before it)."""
    rng = np.random.default_rng(4)
    counts = rng.integers(1, 4, 300)
    n = int(counts.sum())
    a = rng.uniform(1.0, 100.0, (n + 7, 12))
    a_at = rng.permutation(np.cumsum(counts) - counts) + 7  # rows anywhere, strike by strike
    b = a.copy()
    rows = rng.choice(n + 7, 40, replace=False)
    cols = rng.integers(0, 12, 40)
    b[rows, cols] *= 1.0 + rng.choice([1e-4, 3e-3, 2e-2], 40)  # below and above the bounds
    b_at = a_at.copy()
    tol, clip = TOLERANCE, 3.0
    got = _components_moved(a, a_at, b, b_at, counts, tol, clip)
    u, v = a[run_rows(a_at, counts)], b[run_rows(b_at, counts)]
    sigma = np.minimum(u[:, ALONG], u[:, ACROSS])
    far = np.abs(u[:, [X, Y]] - v[:, [X, Y]]).max(axis=1) > tol * sigma / clip
    far |= _moved(u[:, list(_WIDTHS)], v[:, list(_WIDTHS)], tol / clip**2).any(axis=1)
    far |= (np.abs(u[:, list(_TURN)] - v[:, list(_TURN)]) > tol / clip**2).any(axis=1)
    far |= _moved(u[:, list(_SHARE)], v[:, list(_SHARE)], tol).any(axis=1)
    want = np.zeros(counts.size, dtype=bool)
    want[np.unique(np.repeat(np.arange(counts.size), counts)[far])] = True
    assert 0 < want.sum() < counts.size
    np.testing.assert_array_equal(got, want)


def test_a_relative_change_counts_against_the_larger_magnitude() -> None:
    old = np.array([1.0, 1.0, 0.0, 0.0, -1.0, 100.0, 1e-300])
    new = np.array([1.02, 1.005, 0.0, 1e-9, 1.0, 98.5, 2e-300])
    # 2 % up; 0.5 %; 0 to 0 is none; from 0 anything is all; a turn of sign; 1.5 % down; tiny
    np.testing.assert_array_equal(
        _moved(old, new, 0.01), [True, False, False, True, True, True, True]
    )
    assert bool(_moved(100.0, 98.5, 0.02)) is False  # on single values too (as in the kernels)
    assert bool(_moved(98.5, 100.0, 0.01)) is True  # the same either way round


def test_strikes_are_matched_by_id_whether_or_not_in_their_old_order(runs) -> None:
    now = drawn_state(runs[0])
    n = len(now.ids)
    fewer = dataclasses.replace(now, ids=now.ids[: n - 2])  # two new ones since
    np.testing.assert_array_equal(_sources(fewer, now), [*range(n - 2), -1, -1])
    turned = dataclasses.replace(now, ids=now.ids[::-1])  # no shortcut: looked up
    np.testing.assert_array_equal(_sources(turned, now), np.arange(n)[::-1])
    gone = np.array([*now.ids[:3], "GONE-1", *now.ids[3:-2], "GONE-2"])  # two gone, two new
    expect = [0, 1, 2, *range(4, n - 1), -1, -1]
    np.testing.assert_array_equal(_sources(dataclasses.replace(now, ids=gone), now), expect)
