"""Updating an estimate with late records (:mod:`remnant.hazard.update`) against a full run."""

from __future__ import annotations

import dataclasses
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import remnant.hazard.estimate as est_module
import remnant.hazard.inputs as inputs
from remnant.catalogue import load_catalogue
from remnant.hazard.config import HazardConfig
from remnant.hazard.estimate import (
    Earlier,
    Estimate,
    PairsAt,
    Passes,
    Reach,
    _local_attribute,
    _with_pairs,
    estimate,
    meeting,
    points_of,
)
from remnant.hazard.grid import TILE, Grid
from remnant.hazard.inputs import REPORTED, SEARCHED
from remnant.hazard.update import (
    NotIncremental,
    _all_new,
    _new_records,
    _points_in,
    _redo_pass1,
    record_reach,
    update,
)
from remnant.io.arrays import read_arrays, write_arrays
from remnant.simulate import simulate_world

Tables = dict[str, gpd.GeoDataFrame]


@pytest.fixture(scope="module")
def world() -> tuple[Tables, Tables, str]:
    """A world's records without the searches (and their finds) of its last 60 days,
    and those late records apart."""
    w = simulate_world(1003, 60)
    as_of = str(w.truth.parameters["as_of"])
    acts, finds = w.tables["activities"], w.tables["finds"]
    late = pd.to_datetime(acts["end_date"]) > pd.Timestamp(as_of) - pd.Timedelta(days=60)
    late_finds = finds["activity_id"].isin(set(acts.loc[late, "activity_id"]))
    early = dict(w.tables)
    early["activities"], early["finds"] = acts[~late], finds[~late_finds]
    added = {"activities": acts[late], "finds": finds[late_finds]}
    assert len(added["activities"]) >= 3 and len(added["finds"]) >= 10
    return early, added, as_of


@pytest.fixture(scope="module")
def before(world) -> Estimate:
    early, _, as_of = world
    return estimate(early, load_catalogue(), as_of=as_of)


@pytest.fixture(scope="module")
def full(world) -> Estimate:
    """A full run on all the records."""
    early, added, as_of = world
    return estimate(_joined(early, added), load_catalogue(), as_of=as_of)


def test_pass_1_redone_where_records_fall_equals_a_full_pass_1(world, before) -> None:
    _, added, _ = world
    b = before.basis
    frames = {name: added.get(name, before_empty(name)) for name in _names()}
    searches, evidence = _new_records(b, frames, load_catalogue(), b.day)
    setup = b.setup.extended(searches, evidence)
    reach = record_reach(setup, searches, evidence)
    redo = meeting(setup, b.strikes, b.comps, reach)
    whole_tiles = meeting(
        setup, b.strikes, b.comps, Reach(reach.tiles, _whole(setup.grid, reach.tiles))
    )
    assert 0 < len(redo) < len(whole_tiles)  # not every strike of the tiles moves
    updated, redone = _redo_pass1(b.setup, setup, b.strikes, b.comps, b.integrals, redo,
                                  reach.tiles, _points_in(setup, reach.tiles))  # fmt: skip
    assert updated.pair_weight is b.integrals.pair_weight  # the new pairs kept apart
    assert len(redone) == 1 and np.array_equal(redone[0][0], redo)
    updated = _with_pairs(updated, updated, redone)
    full = setup.integrate(b.strikes, b.comps, "all")
    for name in ("exposure", "component_exposure", "notice_norm", "component_notice",
                 "component_found", "searched", "notice", "evidence_background"):  # fmt: skip
        np.testing.assert_allclose(getattr(updated, name), getattr(full, name), atol=1e-12)
    assert _pairs(updated).keys() == _pairs(full).keys()
    a, f = _pairs(updated), _pairs(full)
    assert max(abs(a[k] - f[k]) for k in a) < 1e-12
    a, f = _areas(updated), _areas(full)
    assert a.keys() == f.keys() and len(a) > 0
    assert max(abs(a[k] - f[k]) for k in a) < 1e-12


def test_an_update_with_nothing_new_keeps_the_estimate(before) -> None:
    again = update(before, {}, load_catalogue())
    assert again.total.mean == pytest.approx(before.total.mean, rel=1e-3)
    np.testing.assert_allclose(
        again.strike_table["expected_remaining"], before.strike_table["expected_remaining"],
        rtol=1e-2,
    )  # fmt: skip


def test_an_update_gives_a_full_runs_estimate(world, before, full, tmp_path) -> None:
    """Within the fixed points' tolerance: totals to 0.5 %, each recorded strike's
    expected remaining to 2 %, every cell to 1 % (or 1e-3 items)."""
    _, added, _ = world
    catalogue = load_catalogue()
    updated = update(before, added, catalogue)
    assert updated.total.mean == pytest.approx(full.total.mean, rel=5e-3)
    assert updated.total.lower == pytest.approx(full.total.lower, rel=0.02)
    assert updated.total.upper == pytest.approx(full.total.upper, rel=0.02)
    assert len(updated.basis.setup.evidence) == len(full.basis.setup.evidence)
    assert sorted(updated.basis.search_ids) == sorted(full.basis.search_ids)
    assert int(updated.strikes.pseudo.sum()) == int(full.strikes.pseudo.sum())
    a = updated.strike_table.set_index("strike_id")["expected_remaining"]
    f = full.strike_table.set_index("strike_id")["expected_remaining"]
    recorded = [i for i in f.index if not str(i).startswith("PSEUDO-")]
    np.testing.assert_allclose(a[recorded], f[recorded], rtol=0.02, atol=0.05)
    cells_u, cells_f = updated.bands(), full.bands()
    for name in ("expected_remaining", "p_any"):
        np.testing.assert_allclose(cells_u[name], cells_f[name], rtol=0.01, atol=1e-3)
    assert before.total.mean != pytest.approx(full.total.mean, rel=5e-3)  # it did move
    saved = read_arrays(write_arrays(before.basis.for_update(), tmp_path / "basis.arrays"))
    again = update(saved, added, catalogue)  # what remnant estimate saves suffices
    assert again.total.mean == updated.total.mean
    assert np.array_equal(again.attribution.mean, updated.attribution.mean)


def test_an_update_past_the_earlier_runs_rounds_merges_its_pairs_and_runs_whole(
    world, before, full
) -> None:
    """An earlier run that stopped after one round: the update's second round has no
    earlier one to redo locally, so the rounds' pairs are merged and the evidence
    update runs whole; still a full run's estimate."""
    _, added, _ = world
    assert len(before.basis.rounds) == 2
    short = dataclasses.replace(before.basis, rounds=before.basis.rounds[:1])
    updated = update(short, added, load_catalogue())
    assert updated.total.mean == pytest.approx(full.total.mean, rel=5e-3)
    assert len(updated.basis.rounds) == 2


def test_an_update_without_site_rounds_merges_the_redone_pairs_first(world) -> None:
    """No round runs: the pseudo-strikes' pass 1 is spliced into pass-1 results whose
    pairs are the first pass's with the redone strikes' merged in (not the stale
    ones); a full run's total without rounds."""
    early, added, as_of = world
    config = HazardConfig(site_rounds=0)
    catalogue = load_catalogue()
    base = estimate(early, catalogue, as_of=as_of, config=config)
    updated = update(base, added, catalogue)
    whole = estimate(_joined(early, added), catalogue, as_of=as_of, config=config)
    assert updated.basis.rounds == () and updated.basis.first_redone
    assert updated.total.mean == pytest.approx(whole.total.mean, rel=5e-3)
    np.testing.assert_allclose(updated.attribution.found, whole.attribution.found, atol=1e-6)


def test_a_second_update_in_memory_merges_the_first_ones_redone_pairs(world, full) -> None:
    """Two updates chained without saving: the first's redone strikes' pairs are
    merged into its first pass before the second starts; a full run's estimate."""
    early, added, as_of = world
    catalogue = load_catalogue()
    acts, finds = added["activities"], added["finds"]
    half = acts["activity_id"].iloc[: len(acts) // 2]
    one = {"activities": acts[acts["activity_id"].isin(half)],
           "finds": finds[finds["activity_id"].isin(half)]}  # fmt: skip
    two = {"activities": acts[~acts["activity_id"].isin(half)],
           "finds": finds[~finds["activity_id"].isin(half)]}  # fmt: skip
    first = update(estimate(early, catalogue, as_of=as_of), one, catalogue)
    assert first.basis.first_redone and not first.basis.for_update().first_redone
    second = update(first, two, catalogue)
    assert second.total.mean == pytest.approx(full.total.mean, rel=5e-3)


def _first(before: Estimate):  # type: ignore[no-untyped-def]
    """The first evidence update's inputs: setup, recorded strikes, pass 1, earlier state."""
    b = before.basis
    n = int(np.sum(~b.reported.pseudo))
    return b.setup, b.reported.take(np.arange(n)), b.first, Earlier.at(b.first, (), b.first_held), n


def test_an_evidence_update_held_fixed_off_some_points_keeps_its_fixed_point(before) -> None:
    """Nothing changed: redoing any points, the rest held, gives the same attribution."""
    setup, recorded, first, earlier, n = _first(before)
    again = setup.attribute(recorded, first, before.basis.first_mean)
    some = np.random.default_rng(3).random(len(setup.evidence)) < 0.3
    local = _local_attribute(setup, recorded, first, Passes(first, (), n),
                             before.basis.first_mean, earlier, np.arange(n),
                             np.zeros(n, dtype=bool), some)  # fmt: skip
    np.testing.assert_allclose(local.mean, again.mean, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(local.found, again.found, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(local.removed, again.removed, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(local.responsibility_background, again.responsibility_background,
                               atol=1e-4)  # fmt: skip
    assert np.mean(local.owner == again.owner) > 0.999


def test_a_local_evidence_update_is_the_whole_one_where_pass_1_changed(before) -> None:
    """Cut the weights of the busiest strikes' pairs tenfold, as a new search of them
    might: redone on those strikes' points only, the update is the whole one to a
    hundredth of how far the expectations moved."""
    setup, recorded, first, earlier, n = _first(before)
    busiest = np.argsort(-np.bincount(first.pair_strike, minlength=n))[:5]
    hit = np.isin(first.pair_strike, busiest)
    changed = dataclasses.replace(first, pair_weight=np.where(hit, 0.1, 1.0) * first.pair_weight)
    whole = setup.attribute(recorded, changed, before.basis.first_mean)
    differs, none = np.isin(np.arange(n), busiest), np.zeros(len(setup.evidence), dtype=bool)
    start = before.basis.first_mean
    local = _local_attribute(setup, recorded, changed, Passes(changed, (), n), start, earlier,
                             np.arange(n), differs, none)  # fmt: skip
    unchanged = setup.attribute(recorded, first, before.basis.first_mean)
    moved = np.abs(whole.mean - unchanged.mean) / np.maximum(unchanged.mean, 1.0)
    gap = np.abs(local.mean - whole.mean) / np.maximum(whole.mean, 1.0)
    assert moved.max() > 0.05
    assert gap.max() < 0.01 * moved.max()
    np.testing.assert_allclose(local.found, whole.found, rtol=1e-3, atol=1e-2)
    assert np.mean(local.owner == whole.owner) > 0.999


def test_what_an_update_cannot_do_is_refused_with_the_reason(world, before) -> None:
    _, added, _ = world
    catalogue = load_catalogue()
    early_finds = before.basis.setup.evidence.ids
    with pytest.raises(NotIncremental, match="new or edited strikes"):
        update(before, {"strikes": simulate_world(7, 2).tables["strikes"]}, catalogue)
    edited = added["finds"].copy()
    edited["find_id"] = early_finds[: len(edited)]
    with pytest.raises(NotIncremental, match="edited finds"):
        update(before, {"finds": edited}, catalogue)
    again = added["activities"].iloc[:1].copy()
    again["activity_id"] = old_id = str(before.basis.search_ids[-1])  # an earlier search
    with pytest.raises(NotIncremental, match=rf"1 edited activities \(e.g. {re.escape(old_id)}"):
        update(before, {"activities": again, "finds": added["finds"]}, catalogue)
    far = added["finds"].iloc[:1].copy()
    far["geometry"] = [shapely.Point(0.0, 0.0)]
    with pytest.raises(NotIncremental, match="beyond the grid"):
        update(before, {"finds": far}, catalogue)
    with pytest.raises(NotIncremental, match="earlier"):
        update(before, added, catalogue, as_of="2000-01-01")
    later = dataclasses.replace(before.basis, later=3)
    with pytest.raises(NotIncremental, match="3 record"):
        update(later, added, catalogue, as_of="2100-01-01")


# -- helpers ---------------------------------------------------------------------------


def _names() -> tuple[str, ...]:
    return ("strikes", "activities", "finds", "accidents", "hazard_areas")


def before_empty(name: str) -> gpd.GeoDataFrame:
    from remnant.records.frame import empty_frame
    from remnant.records.schema import TABLES

    return empty_frame(TABLES[name])


def _joined(early: Tables, added: Tables) -> Tables:
    out = dict(early)
    for name, frame in added.items():
        out[name] = pd.concat([early[name], frame], ignore_index=True)
    return out


def test_the_grid_sums_of_some_tiles_are_the_whole_grids_on_their_coarse_cells(before) -> None:
    """A pass over some tiles gives the coarse cells of those tiles (a tile holds whole
    coarse cells) as a pass over all, to the bit, and leaves every other cell 0."""
    setup, b = before.basis.setup, before.basis
    none = np.empty(0, dtype=np.int64)
    strikes, comps = b.reported.take(none), b.comps.take(none)
    n_rows, n_cols = setup.grid.n_tiles
    whole = setup.sums(strikes, comps, np.arange(n_rows * n_cols), "grid")
    some = np.arange(0, n_rows * n_cols, 3)
    part = setup.sums(strikes, comps, some, "grid")
    reached = np.zeros(whole.searched.shape, dtype=bool)
    f = TILE // setup.factor
    for t in some:
        row, col = divmod(int(t), n_cols)
        reached[row * f : (row + 1) * f, col * f : (col + 1) * f] = True
    for name in ("searched", "notice"):
        got, want = getattr(part, name), getattr(whole, name)
        assert np.array_equal(got[reached], want[reached]) and want[reached].any()
        assert not got[~reached].any() and want[~reached].any()


def _whole(grid: Grid, tiles: np.ndarray) -> np.ndarray:
    """Boxes covering the whole of each of ``tiles``."""
    row, col = np.divmod(tiles, grid.n_tiles[1])
    return np.stack([row * TILE, (row + 1) * TILE, col * TILE, (col + 1) * TILE], axis=1)


def _areas(integrals) -> dict[tuple[int, int], float]:  # type: ignore[no-untyped-def]
    keys = zip(integrals.area_strike_area.tolist(), integrals.area_strike.tolist(), strict=True)
    return dict(zip(keys, integrals.area_mass.tolist(), strict=True))


def _pairs(integrals) -> dict[tuple[int, int], float]:  # type: ignore[no-untyped-def]
    keys = zip(integrals.pair_evidence.tolist(), integrals.pair_strike.tolist(), strict=True)
    return dict(zip(keys, integrals.pair_weight.tolist(), strict=True))


def test_evidence_of_another_catalogue_is_not_appended(before) -> None:
    ev = before.basis.setup.evidence
    joined = ev.concat(ev)
    assert len(joined) == 2 * len(ev) and joined.items == ev.items
    np.testing.assert_array_equal(joined.x[len(ev) :], ev.x)
    other = dataclasses.replace(ev, compat=ev.compat * 0.5)
    with pytest.raises(ValueError, match="another catalogue"):
        ev.concat(other)


def test_points_and_pairs_of_passes_sharing_a_first_are_those_listed_pair_by_pair(before):
    """Two runs' passes sharing the first pass 1's pairs, each with a round of its own:
    the points of some strikes' pairs (one scan of the shared pairs for both) and the
    pairs at some points (found once) are those of each run's merged pairs."""
    first = before.basis.integrals
    n = len(first.exposure)
    rng = np.random.default_rng(4)

    def a_round(ids):
        keep = np.isin(first.pair_strike, ids)
        local = np.full(n, -1, dtype=np.int64)
        local[ids] = np.arange(ids.size)
        return ids, dataclasses.replace(
            first, pair_evidence=first.pair_evidence[keep][::-1].copy(),
            pair_strike=local[first.pair_strike[keep]][::-1].copy(),
            pair_weight=first.pair_weight[keep][::-1] * 0.5,
        )  # fmt: skip

    now = Passes(first, (a_round(np.sort(rng.choice(n, n // 4, replace=False))),), n)
    then = Passes(first, (a_round(np.sort(rng.choice(n, n // 5, replace=False))),), n)
    wants = [rng.random(n) < 0.3, rng.random(n) < 0.3]
    merged = [p.merged() for p in (now, then)]
    expect = np.unique(np.concatenate(
        [ev[want[st]] for (ev, st, _), want in zip(merged, wants, strict=True)]
    ))  # fmt: skip
    got = points_of([(now, wants[0]), (then, wants[1])])
    assert expect.size and np.array_equal(np.unique(got), expect)
    points = np.sort(rng.choice(len(before.basis.setup.evidence), 200, replace=False))
    at: dict[tuple[int, int], PairsAt] = {}
    for passes, (ev, st, w) in zip((now, then), merged, strict=True):
        got_ev, got_st, got_w = passes.pairs(points, at)
        keep = np.isin(ev, points)
        want = np.lexsort((st[keep], ev[keep]))
        order = np.lexsort((got_st, got_ev))
        assert keep.any() and np.array_equal(got_ev[order], ev[keep][want])
        assert np.array_equal(got_st[order], st[keep][want])
        np.testing.assert_array_equal(got_w[order], w[keep][want])
    assert len(at) == 3  # the shared first's pairs found once, each round's apart
    heavier = dataclasses.replace(first, pair_weight=first.pair_weight * 3.0)
    got_ev, got_st, got_w = Passes(heavier, (), n).pairs(points, at)  # same pairs, own weights
    keep = np.isin(first.pair_evidence, points)
    assert np.array_equal(got_ev, first.pair_evidence[keep])
    np.testing.assert_array_equal(got_w, 3.0 * first.pair_weight[keep])


def test_edited_ids_are_found_by_hash_and_told_apart_by_text(monkeypatch) -> None:
    old = np.array([f"FIND-{i:06d}" for i in range(5000)] + ["F-1", "F-1"], dtype=np.str_)
    # a hash is of the text, whatever the width it is held in
    hashes = inputs.text_hashes
    np.testing.assert_array_equal(hashes(old[-1:].astype("<U40")), hashes(old[-1:]))
    found = inputs.positions_among(old, np.array(["F-1", "nope", "FIND-000007"], dtype=object))
    np.testing.assert_array_equal(found, [5000, -1, 7])  # the first of a repeated id

    def all_new(ids: list[str]) -> None:
        _all_new("finds", inputs.positions_among(old, np.array(ids, dtype=object)), old)

    all_new(["FIND-X", "F-10", "FIND-0000"])
    with pytest.raises(NotIncremental, match=r"2 edited finds \(e.g. FIND-000007\)"):
        all_new(["new", "FIND-000007", "F-1"])
    # every hash colliding: the text decides, and only the very same ids are edited
    monkeypatch.setattr(inputs, "text_hashes", lambda text: np.zeros(len(text), np.uint64))
    all_new(["FIND-X", "F-10"])
    with pytest.raises(NotIncremental, match="1 edited finds"):
        all_new(["F-1"])
    found = inputs.positions_among(old, np.array(["F-1", "nope", "FIND-000007"], dtype=object))
    np.testing.assert_array_equal(found, [5000, -1, 7])


def test_a_new_find_of_an_earlier_search_counts_as_found_by_it(world, before) -> None:
    _, added, _ = world
    b = before.basis
    search = int(np.argmax(b.search_detection))  # a search in force, of the earlier records
    assert b.search_detection[search] > 0
    find = added["finds"].iloc[:1].copy()
    find["find_id"], find["activity_id"] = "LATE-FIND-1", b.search_ids[search]
    find["item"] = "unknown_submunition"
    frames = {name: before_empty(name) for name in _names()}
    frames["finds"] = find
    _, evidence = _new_records(b, frames, load_catalogue(), b.day)
    assert list(evidence.ids) == ["LATE-FIND-1"] and evidence.kind[0] == SEARCHED
    frames["finds"] = find.assign(activity_id="NO-SUCH-ACTIVITY")
    _, evidence = _new_records(b, frames, load_catalogue(), b.day)
    assert evidence.kind[0] == REPORTED  # no search in force found it


def test_a_full_runs_area_masses_are_one_areas_pass_over_its_final_components(
    world, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last round's strikes bring their hazard-area masses with their pass 1; only
    # the strikes moved before it are left to conclude's own pass over the areas.
    early, added, as_of = world
    left: list[np.ndarray] = []
    real = est_module.conclude

    def noted(basis, moved, catalogue):  # type: ignore[no-untyped-def]
        left.append(moved)
        return real(basis, moved, catalogue)

    monkeypatch.setattr(est_module, "conclude", noted)
    run = estimate(_joined(early, added), load_catalogue(), as_of=as_of)
    b = run.basis
    last = b.rounds[-1].strikes
    assert len(b.rounds) == b.setup.config.site_rounds and last.size > 0
    assert np.intersect1d(left[0], last).size == 0
    assert b.rounds[-1].integrals.area_mass.size == 0  # an update's rounds hold none
    again = b.setup.integrate(b.strikes, b.comps, "areas")

    def per_pair(i) -> pd.Series:  # type: ignore[no-untyped-def]
        frame = pd.DataFrame({"a": i.area_strike_area, "s": i.area_strike, "m": i.area_mass})
        return frame.groupby(["a", "s"])["m"].sum()

    ours, theirs = per_pair(b.integrals), per_pair(again)
    assert np.isin(last, ours.index.get_level_values("s")).any()
    assert ours.index.equals(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)
