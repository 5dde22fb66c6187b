"""Update an estimate with new records, without reading the old ones again (docs/model.md §8).

A day of fieldwork adds a few finds and activities to records of a million. The
carrier sites of a full run are a path — two rounds from the prior components — not a
unique fixed point, so an update *replays* the full run on the new records, reusing
what the last run kept (its :class:`Basis`) wherever nothing changed:

1. the new activities become searches and the new finds, accidents and NTS direct
   evidence become evidence points, appended after the old ones;
2. the first pass 1 of the strikes whose windows meet the cells the new records
   fall in (:func:`record_reach`) is moved by the difference the records make on
   their tiles (:func:`.integrals.difference`), and the unrecorded attacks' search
   coverage and the evidence's background weights are recomputed on the coarse
   cells of those tiles;
3. the first evidence update starts from the last run's; all unexplained evidence is
   clustered again into pseudo-strikes (an unchanged cluster keeps its id);
4. each round of locating carriers reuses the last run's pass 1 of a strike whose
   components came out the same (moved by the difference where the records fall),
   and its evidence update starts from the last run's after that round;
5. the tables and pass 2's moments follow as in a full run
   (:func:`remnant.hazard.estimate.conclude`), the hazard-area masses of strikes
   that did not change taken from the last run.

It gives a full run's result up to the fixed points' tolerance. What it cannot do
incrementally it refuses with :class:`NotIncremental`, naming why (new strikes or
hazard areas, an edited record, evidence beyond the grid, an earlier day, a later
day when records were left out as later than the last); the caller then runs a full
estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from remnant.catalogue.model import Catalogue
from remnant.hazard.components import Components, prior_components
from remnant.hazard.estimate import (
    _TABLES,
    Basis,
    Earlier,
    Estimate,
    Passes,
    Progress,
    Reach,
    Replay,
    _day,
    _later,
    _local_attribute,
    _merge,
    _pseudo,
    _rows,
    _Setup,
    _site_rounds,
    _splice,
    _table,
    conclude,
    evidence_reach,
    meeting,
    same_components,
)
from remnant.hazard.grid import TILE, Grid
from remnant.hazard.inputs import (
    EVIDENCE,
    Evidence,
    Searches,
    Strikes,
    evidence_from_records,
    positions_among,
    searches_from_records,
)
from remnant.hazard.integrals import Integrals, difference
from remnant.hazard.tiles import coarse_cells_around, run_rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class NotIncremental(ValueError):
    """The new records need a full estimate; the message says why."""


def update(
    previous: Estimate | Basis,
    added: Mapping[str, gpd.GeoDataFrame],
    catalogue: Catalogue,
    *,
    as_of: str | date | None = None,
    progress: Progress | None = None,
) -> Estimate:
    """The estimate of ``previous`` updated with the records ``added`` (module doc).

    Parameters
    ----------
    previous : Estimate or Basis
        The last estimate, or its :attr:`Estimate.basis`.
    added : mapping of str to geopandas.GeoDataFrame
        Canonical tables of the records imported since (``finds``, ``accidents``,
        ``activities``; ``strikes`` and ``hazard_areas`` must be empty).
    catalogue : Catalogue
        The munition catalogue of the last estimate.
    as_of : str or datetime.date, optional
        Day of the estimate; default the last estimate's.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Raises
    ------
    NotIncremental
        The records need a full run (module doc).
    """
    basis = previous.basis if isinstance(previous, Estimate) else previous
    basis = basis.with_first_merged()
    tell = progress or (lambda stage, done, total: None)
    day = basis.day if as_of is None else _day(as_of)
    frames = {name: _table(added, name) for name in _TABLES}
    _check_day(basis, day)
    tell("evidence update", 0, 3)
    searches, evidence = _new_records(basis, frames, catalogue, day)
    setup = basis.setup.extended(searches, evidence)
    reach = record_reach(setup, searches, evidence)
    n_recorded = int(np.sum(~basis.reported.pseudo))
    recorded = basis.reported.take(np.arange(n_recorded))
    comps = prior_components(recorded)
    redo = meeting(setup, recorded, comps, reach)
    near = _points_in(setup, reach.tiles)
    first, redone = _redo_pass1(basis.setup, setup, recorded, comps, basis.first, redo,
                                reach.tiles, near)  # fmt: skip
    differs = np.zeros(n_recorded, dtype=bool)
    differs[redo] = True
    extra = _changed_points(basis.first, first)
    result = _local_attribute(setup, recorded, first, Passes(first, redone, n_recorded),
                              basis.first_mean, Earlier.at(basis.first, (), basis.first_held),
                              np.arange(n_recorded, dtype=np.int64), differs, extra)  # fmt: skip
    first_mean, first_held = result.mean, result.held
    tell("evidence update", 1, 3)
    old_pseudo = basis.reported.take(np.arange(n_recorded, len(basis.reported)))
    pseudo = _pseudo(setup.evidence, result, catalogue, recorded.types, setup.config)
    pseudo, match = _same_pseudo(pseudo, old_pseudo)
    pending = np.arange(n_recorded, n_recorded + len(pseudo), dtype=np.int64)
    source = np.concatenate([np.arange(n_recorded), np.where(match >= 0, n_recorded + match, -1)])
    reported = recorded.concat(pseudo)
    known = basis.known_moments.away_from(shapely.bounds(searches.polygons).reshape(-1, 4),
                                          setup.config.n_sigma)  # fmt: skip
    strikes, comps, integrals, result, moved, rounds, known = _site_rounds(
        reported, comps.concat(prior_components(pseudo)), _merge(first, len(pseudo)), result,
        setup, pending, Replay(basis.rounds, source.astype(np.int64), reach, basis.setup,
                               near, known, basis.first,
                               basis.first_held,
                               np.concatenate([differs, np.zeros(len(pseudo), dtype=bool)]),
                               extra, redone),
    )  # fmt: skip
    tell("evidence update", 2, 3)
    kept = _same_areas(basis, comps, strikes, moved, source, setup, reach)
    basis = dataclasses.replace(
        basis,
        day=day,
        setup=setup,
        search_ids=np.concatenate([basis.search_ids, searches.ids]),
        search_detection=np.concatenate([basis.search_detection, searches.detection]),
        found_in=np.union1d(basis.found_in, frames["finds"]["activity_id"].dropna().to_numpy(str)),
        later=basis.later + _later(frames, day),
        first=first,
        first_redone=redone,
        first_mean=first_mean,
        first_held=first_held,
        reported=reported,
        rounds=rounds,
        known_moments=known,
        strikes=strikes,
        comps=comps,
        integrals=_with_areas(integrals, basis.integrals, kept, source[kept]),
        result=result,
    )
    out = conclude(basis, np.setdiff1d(moved, kept), catalogue)
    tell("evidence update", 3, 3)
    return out


def _same_areas(
    previous: Basis,
    comps: Components,
    strikes: Strikes,
    moved: IntArray,
    source: IntArray,
    setup: _Setup,
    reach: Reach,
) -> IntArray:
    """Strikes of ``moved`` whose hazard-area masses the earlier run holds.

    Those that ended with the very components they had then, and whose windows meet
    none of the new records' boxes (the areas' searches there are the same).
    """
    cand = moved[source[moved] >= 0]
    if cand.size == 0:
        return cand
    cand = cand[same_components(previous.comps.take(source[cand]), comps.take(cand))]
    near = meeting(setup, strikes.take(cand), comps.take(cand), reach)
    return np.delete(cand, near)


def _with_areas(
    integrals: Integrals, earlier: Integrals, idx: IntArray, old_idx: IntArray
) -> Integrals:
    """``integrals`` with the hazard-area masses of strikes ``idx`` from ``earlier``'s ``old_idx``.

    The strikes ``idx`` have none in ``integrals`` (their pass 1 was redone).
    """
    if idx.size == 0:
        return integrals
    to_new = np.full(len(earlier.exposure), -1, dtype=np.int64)
    to_new[old_idx] = idx
    rows = to_new[earlier.area_strike] >= 0
    return dataclasses.replace(
        integrals,
        area_strike_area=np.concatenate(
            [integrals.area_strike_area, earlier.area_strike_area[rows]]
        ),
        area_strike=np.concatenate([integrals.area_strike, to_new[earlier.area_strike[rows]]]),
        area_mass=np.concatenate([integrals.area_mass, earlier.area_mass[rows]]),
    )


def _same_pseudo(now: Strikes, before: Strikes) -> tuple[Strikes, IntArray]:
    """The pseudo-strikes ``now``, those also in ``before`` under their old ids.

    A pseudo-strike is the same when its cluster gives the same point, day and
    location error (the clustering is deterministic). New ones are numbered after the
    old. Returns them and the index in ``before`` of each (``-1`` for a new one).
    """
    key = {
        (x, y, d, e): i
        for i, (x, y, d, e) in enumerate(
            zip(before.x, before.y, before.day, before.location_error, strict=True)
        )
    }
    match = np.array(
        [key.get(k, -1) for k in zip(now.x, now.y, now.day, now.location_error, strict=True)],
        dtype=np.int64,
    )
    ids = now.ids.copy()
    ids[match >= 0] = before.ids[match[match >= 0]]
    numbers = [int(str(i).rsplit("-", 1)[1]) for i in before.ids]
    fresh = np.flatnonzero(match < 0)
    first = max(numbers, default=0) + 1
    ids[fresh] = [f"PSEUDO-{first + k:06d}" for k in range(len(fresh))]
    return dataclasses.replace(now, ids=ids), match


# -- checks and new records ----------------------------------------------------------


def _check_day(basis: Basis, day: int) -> None:
    if day < basis.day:
        raise NotIncremental("the day is earlier than the last estimate's")
    if day > basis.day and basis.later:
        raise NotIncremental(
            f"{basis.later} record(s) were left out as later than the last estimate's day"
        )


def _new_records(
    basis: Basis, frames: Mapping[str, gpd.GeoDataFrame], catalogue: Catalogue, day: int
) -> tuple[Searches, Evidence]:
    """The new searches and evidence, checked to be new and inside the grid."""
    for name in ("strikes", "hazard_areas"):
        if len(frames[name]):
            raise NotIncremental(f"new or edited {name.replace('_', ' ')}")
    setup = basis.setup
    config = setup.config
    searches = searches_from_records(frames["activities"], basis.crs, config, day)
    linked = pd.unique(frames["finds"]["activity_id"].dropna().to_numpy(dtype=object))
    n = len(searches.ids)  # the old searches' ids hashed once for both lookups
    at = positions_among(basis.search_ids, np.concatenate([searches.ids, linked]))
    _all_new("activities", at[:n], basis.search_ids)
    at = at[n:]  # the old searches of the new finds
    detection = dict(zip(basis.search_ids[at[at >= 0]], basis.search_detection[at[at >= 0]],
                         strict=True))  # fmt: skip
    detection.update(zip(searches.ids, searches.detection, strict=True))
    evidence = evidence_from_records(
        frames["finds"], frames["accidents"], frames["activities"], detection, catalogue,
        basis.strikes.types, basis.crs, config, day, found_in=basis.found_in,
    )  # fmt: skip
    _all_new("finds or accidents", positions_among(setup.evidence.ids, evidence.ids),
             setup.evidence.ids)  # fmt: skip
    direct = setup.evidence.ids[setup.evidence.kind == EVIDENCE]  # the surveys among them
    if np.any(positions_among(direct, linked) >= 0):
        raise NotIncremental("a new find belongs to a survey that stood as direct evidence")
    if len(evidence) and not _inside(setup.grid, evidence_reach(evidence, catalogue, config)):
        raise NotIncremental("new evidence beyond the grid")
    return searches, evidence


def _all_new(what: str, found: IntArray, old: npt.ArrayLike) -> None:
    """Refuse new ids found among ``old`` (edited records).

    ``found`` is the position there of each new id (:func:`.inputs.positions_among`),
    ``-1`` where it is not there.
    """
    again = found[found >= 0]
    if again.size:
        raise NotIncremental(f"{again.size} edited {what} (e.g. {np.asarray(old)[again[0]]})")


def _inside(grid: Grid, boxes: FloatArray) -> bool:
    """Whether every box lies inside the grid."""
    x1, top = grid.x0 + grid.nx * grid.cell, grid.top
    return bool(
        np.all(boxes[:, 0] >= grid.x0)
        & np.all(boxes[:, 2] <= x1)
        & np.all(boxes[:, 1] >= grid.y0)
        & np.all(boxes[:, 3] <= top)
    )


# -- where the new records fall ------------------------------------------------------


def record_reach(setup: _Setup, searches: Searches, evidence: Evidence) -> Reach:
    """Where the new records fall (:class:`.estimate.Reach`): their tiles and cells.

    ``setup`` is the one extended with ``searches`` and ``evidence``. A search's box
    is its polygon's bounding box in cells, a point's box its cell; each is a cell
    wider each way, against any doubt at a cell's edge.
    """
    grid = setup.grid
    n_rows, n_cols = grid.n_tiles
    mask = np.zeros(n_rows * n_cols, dtype=bool)
    row, col = grid.cell_of(evidence.x, evidence.y)
    mask[(row // TILE) * n_cols + col // TILE] = True
    n_old = len(setup.search_day) - len(searches)
    box_tiles = setup.searches.tile_index
    owner = np.repeat(np.arange(n_rows * n_cols), np.diff(setup.searches.tile_offsets))
    mask[owner[box_tiles >= n_old]] = True
    bounds = shapely.bounds(searches.polygons).reshape(-1, 4)
    top, left = grid.cell_of(bounds[:, 0], bounds[:, 3])
    bottom, right = grid.cell_of(bounds[:, 2], bounds[:, 1])
    boxes = np.concatenate(
        [np.stack([top, bottom + 1, left, right + 1], axis=1),
         np.stack([row, row + 1, col, col + 1], axis=1)]
    )  # fmt: skip
    boxes += np.array([-1, 1, -1, 1])
    return Reach(np.flatnonzero(mask).astype(np.int64), boxes.astype(np.int64))


def _coarse_closure(
    tiles: IntArray, grid: Grid, factor: int, shape: tuple[int, int]
) -> tuple[BoolArray, IntArray]:
    """The coarse cells meeting ``tiles``, and every tile those cells meet.

    A coarse cell of ``factor`` fine cells may straddle two tile rows or columns; its
    search coverage is a sum over the tiles it meets, so all of them are visited.
    """
    flat, corners = coarse_cells_around(tiles, factor, grid, shape)
    cells = np.zeros(shape, dtype=bool)
    cells.ravel()[flat] = True
    return cells, np.unique(corners).astype(np.int64)


def _redo_pass1(
    before: _Setup,
    setup: _Setup,
    strikes: Strikes,
    comps: Components,
    integrals: Integrals,
    redo: IntArray,
    touched: IntArray,
    near: BoolArray,
) -> tuple[Integrals, tuple[tuple[IntArray, Integrals], ...]]:
    """Pass 1 of the strikes ``redo`` and the coarse cells of ``touched``, brought up to date.

    ``before`` is the setup ``integrals`` were computed on, ``setup`` the one with the
    new records; ``near`` marks the evidence points in ``touched`` (:func:`_points_in`,
    which the update's rounds use too). The strikes' sums are moved by their difference
    on ``touched`` (:func:`.integrals.difference`: the new records change nothing
    elsewhere); the grid's own sums are redone, without the strikes, on the tiles
    around them.

    Returns the pass 1 with the strikes' new sums but ``integrals``' pairs, and the
    strikes' new pairs apart (a round of :class:`.estimate.Passes` over them), not
    merged into the 25 M of a country.
    """
    cells, visit = _coarse_closure(touched, setup.grid, setup.factor, setup.background.shape)
    points = _points_in(setup, visit)
    grown = _grown(integrals, len(setup.evidence))
    none = np.empty(0, dtype=np.int64)
    new = setup.sums(strikes.take(none), comps.take(none), visit, "grid")
    redone: tuple[tuple[IntArray, Integrals], ...] = ()
    if redo.size:
        some, their = strikes.take(redo), comps.take(redo)
        old = before.sums(some, their, touched, "strikes and areas")
        now = setup.sums(some, their, touched, "strikes and areas")
        rows = _with_areas(_rows(grown, comps, redo), grown, np.arange(redo.size), redo)
        updated = difference(rows, their, old, now, near)
        grown = _splice(grown, updated, redo, comps.offsets, comps.offsets, pairs=False)
        redone = ((redo, updated),)
    ev_bg = grown.evidence_background.copy()
    ev_bg[points] = new.evidence_background[points]
    searched, notice = grown.searched.copy(), grown.notice.copy()
    searched[cells], notice[cells] = new.searched[cells], new.notice[cells]
    grown = dataclasses.replace(grown, evidence_background=ev_bg, searched=searched, notice=notice)
    return grown, redone


def _changed_points(earlier: Integrals, now: Integrals) -> BoolArray:
    """Evidence points whose own weights the new records change.

    The new points, and those whose background weight :func:`_redo_pass1`
    recomputed to another value (a coarse cell that no new search meets keeps its
    coverage, so its points keep their weights to the last bit).
    """
    n_before = len(earlier.evidence_background)
    out = np.ones(len(now.evidence_background), dtype=bool)
    out[:n_before] = now.evidence_background[:n_before] != earlier.evidence_background
    return out


def _points_in(setup: _Setup, tiles: IntArray) -> BoolArray:
    """The evidence points in ``tiles``."""
    te_off, te_idx = setup.tile_evidence.offsets, setup.tile_evidence.index
    out = np.zeros(len(setup.evidence), dtype=bool)
    out[te_idx[run_rows(te_off[tiles], np.diff(te_off)[tiles])]] = True
    return out


def _grown(integrals: Integrals, n_evidence: int) -> Integrals:
    """Pass-1 results with room for the new evidence points (background weight 0)."""
    extra = n_evidence - len(integrals.evidence_background)
    return dataclasses.replace(
        integrals,
        evidence_background=np.concatenate([integrals.evidence_background, np.zeros(extra)]),
    )
