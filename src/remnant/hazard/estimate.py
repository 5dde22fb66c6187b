"""The hazard estimate: from record tables to expected remaining items per grid cell.

:func:`estimate` composes the model of docs/model.md:

1. strikes, searches and evidence from the records (:mod:`.inputs`);
2. the study grid, its tiles and the background density of unrecorded attacks
   (:mod:`.tiles`, :mod:`.background`);
3. pass 1 over the tiles with one prior component per strike (:mod:`.integrals`), and
   the evidence update (:mod:`.evidence`);
4. pseudo-strikes where evidence is unexplained, then rounds in which each strike's
   evidence locates its carriers (:mod:`.components`), pass 1 is rerun for the strikes
   whose components changed, and the evidence update is redone, until nothing moves;
5. per-strike moments for pass 2 (:mod:`.accumulate`) and the summary tables
   (:mod:`.summaries`).

It returns an :class:`Estimate`, whose :meth:`Estimate.strips` runs pass 2 one strip
of tiles at a time, so a country-sized raster never sits in memory. The function
takes canonical GeoDataFrames and knows nothing of the store.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import special

from remnant.catalogue.model import Catalogue
from remnant.hazard import tiles as tl
from remnant.hazard.accumulate import Moments, _strip
from remnant.hazard.aim import KnownMoments, aim_sites, searched_moments
from remnant.hazard.background import (
    background_density,
    bandwidths,
    coarse_factor,
    inside_fraction,
)
from remnant.hazard.components import (
    COMPONENT_FIELDS,
    Components,
    SearchedSites,
    Sites,
    beyond_pattern,
    find_sites,
    located_carriers,
    pattern_nodes,
    prior_components,
    sited_components,
    unlocated_carriers,
)
from remnant.hazard.config import HazardConfig
from remnant.hazard.evidence import (
    Attribution,
    Frozen,
    Held,
    attribute,
    cluster_evidence,
    point_items,
    point_sums,
)
from remnant.hazard.failure_rate import FailureRatePosterior
from remnant.hazard.grid import TILE, Grid, choose_crs
from remnant.hazard.inputs import (
    EVIDENCE,
    SEARCHED,
    UNKNOWN_CARRIER,
    Evidence,
    Searches,
    Strikes,
    carrier_patterns,
    evidence_from_records,
    pseudo_strikes,
    searches_from_records,
    strike_types,
    strikes_from_records,
)
from remnant.hazard.integrals import (
    INTEGRAL_PARTS,
    EvidenceArgs,
    GridArgs,
    Integrals,
    PolygonArgs,
    StrikeSet,
    Sums,
    difference,
    integrate,
    pairs_at,
    pairs_of,
    polygon_tuple,
    ranks,
    splice_pairs,
    tile_sums,
)
from remnant.hazard.mixture import pack, strike_windows
from remnant.hazard.scanline import Rings, cells_inside, polygon_rings
from remnant.hazard.summaries import (
    TotalRemaining,
    area_table,
    failure_rate_table,
    strike_table,
    total_remaining,
)
from remnant.hazard.unrecorded import Unrecorded, attack_size, civilian_share, unrecorded

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Progress = Callable[[str, float, float], None]
"""``progress(stage, done, total)``."""


BAND_NAMES = ("expected_remaining", "p_any", "lower_90", "upper_90")
"""The bands of :meth:`Estimate.strips`, in the exchange format's order."""


@dataclass(frozen=True)
class _Kernel:
    """Everything pass 2 needs, on plain arrays."""

    grid: Grid
    strikes: StrikeSet
    searches: PolygonArgs
    search_day: IntArray
    search_log_keep: FloatArray
    background: FloatArray
    factor: int
    moments: Moments


@dataclass(frozen=True)
class Estimate:
    """The hazard estimate as of one day.

    Parameters
    ----------
    as_of : str
        The day of the estimate (ISO).
    grid : Grid
        The study grid (projected metre CRS).
    strikes : Strikes
        Recorded strikes and pseudo-strikes.
    components : Components
        Each strike's item density (prior, or located by evidence).
    attribution : Attribution
        The evidence update: failure rates, each strike's posterior, found and
        removed items.
    failure_rates : pandas.DataFrame
        Per carrier type: strikes, items found, prior and learned failure rate with
        their intervals.
    strike_table : pandas.DataFrame
        Per strike: prior and posterior duds, exposure, found, removed, expected
        remaining and its interval, probability of any.
    area_table : pandas.DataFrame
        Per hazard area: expected remaining, probability of any, interval.
    total : TotalRemaining
        The total remaining over the study area, with its interval.
    unrecorded : Unrecorded
        The unrecorded attacks: how many, how many revealed, where the rest lie.
    unrecorded_remaining : float
        Expected items of the unrecorded attacks not revealed, over the grid. [items]
    config : HazardConfig
        The assumptions used.
    basis : Basis
        What the estimate was computed from, for :func:`remnant.hazard.update.update`.
    """

    as_of: str
    grid: Grid
    strikes: Strikes
    components: Components
    attribution: Attribution
    failure_rates: pd.DataFrame
    strike_table: pd.DataFrame
    area_table: pd.DataFrame
    total: TotalRemaining
    unrecorded: Unrecorded
    unrecorded_remaining: float
    config: HazardConfig
    basis: Basis = field(repr=False)
    _kernel: _Kernel = field(repr=False)

    def strips(self, progress: Progress | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(row0, bands)`` for each strip of whole tile rows, top to bottom.

        ``bands`` is a float32 array of shape ``(4, rows, nx)`` with the bands of
        :data:`BAND_NAMES`, NaN outside the studied tiles.
        """
        n_rows, n_cols = self.grid.n_tiles
        every = np.arange(n_cols, dtype=np.int64)
        for tr in range(n_rows):
            out = _draw_row(self._kernel, tr, every)
            if progress is not None:
                progress("estimate raster", tr + 1, n_rows)
            yield tr * TILE, out

    def tiles(
        self, which: npt.NDArray[np.bool_], progress: Progress | None = None
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(tile_row, tile_col, bands)`` for the tiles ``which`` (row-major mask).

        ``bands`` is float32 of shape ``(4, rows, cols)``, the tile's window
        (:meth:`Grid.tile_window`). The tiles are drawn :data:`TILES_AT_ONCE` at a
        time, on all cores, wherever they lie.
        """
        ids = np.flatnonzero(np.asarray(which, dtype=bool).ravel()).astype(np.int64)
        n_cols = self.grid.n_tiles[1]
        for start in range(0, len(ids), TILES_AT_ONCE):
            some = ids[start : start + TILES_AT_ONCE]
            at = np.arange(len(some), dtype=np.int64) * TILE
            out = _draw(self._kernel, some, at, TILE, len(some) * TILE)
            for t, a in zip(some, at, strict=True):
                tr, tc = divmod(int(t), n_cols)
                _, _, rows, cols = self.grid.tile_window(tr, tc)
                yield tr, tc, out[:, :rows, a : a + cols].copy()
            if progress is not None:
                progress("estimate raster", start + len(some), len(ids))

    def bands(self) -> dict[str, np.ndarray]:
        """The four bands as whole arrays (small grids only: ``16·nx·ny`` bytes)."""
        full = np.empty((4, self.grid.ny, self.grid.nx), dtype=np.float32)
        for row0, strip in self.strips():
            full[:, row0 : row0 + strip.shape[1]] = strip
        return {name: full[i] for i, name in enumerate(BAND_NAMES)}


TILES_AT_ONCE = 64
"""Tiles :meth:`Estimate.tiles` draws in one parallel pass (64 MB of bands): a day's
update at country scale (58 tiles) in one, its cores sharing them out; drawn in two
passes of 32, they took 0.70 s against 0.60 s, each pass waiting for its slowest
tile. [-]"""


def _draw_row(k: _Kernel, tile_row: int, cols: IntArray) -> np.ndarray:
    """Pass 2 on the tiles ``cols`` (ascending) of one tile row.

    Returns float32 ``(4, rows, width)`` from the first tile's left edge to the last
    tile's right edge; columns between the tiles drawn are left unset.
    """
    g = k.grid
    rows = min(TILE, g.ny - tile_row * TILE)
    width = min((int(cols[-1]) + 1) * TILE, g.nx) - int(cols[0]) * TILE
    return _draw(k, tile_row * g.n_tiles[1] + cols, (cols - cols[0]) * TILE, rows, width)


def _draw(k: _Kernel, tiles: IntArray, at: IntArray, rows: int, width: int) -> np.ndarray:
    """Pass 2 on ``tiles`` into float32 ``(4, rows, width)``, tile ``i`` from column ``at[i]``."""
    g, m, s = k.grid, k.moments, k.strikes
    out = np.empty((4, rows, width), dtype=np.float32)
    lo = (1.0 - m.level) / 2.0
    _strip(
        tiles, at,
        (g.x0, g.top, g.cell, g.nx, g.ny, g.n_tiles[1]),
        s.table, s.comps, s.clip, s.kmax, s.tile_offsets, s.tile_index,
        polygon_tuple(k.searches), k.search_day, k.search_log_keep,
        (m.mean, m.rel_var, m.type_rel_var),
        (m.background_rel_var, m.background_cluster),
        (lo, 1.0 - lo), k.background, k.factor, out,
    )  # fmt: skip
    return out


# -- the composition ------------------------------------------------------------------


def estimate(
    tables: Mapping[str, gpd.GeoDataFrame],
    catalogue: Catalogue,
    *,
    as_of: str | date | None = None,
    config: HazardConfig | None = None,
    crs: str | None = None,
    progress: Progress | None = None,
) -> Estimate:
    """Estimate the remaining hazard from the record tables (docs/model.md).

    Parameters
    ----------
    tables : mapping of str to geopandas.GeoDataFrame
        Canonical ``strikes``, ``activities``, ``finds``, ``accidents`` and
        ``hazard_areas`` (EPSG:4326); a missing table counts as empty.
    catalogue : Catalogue
        The munition catalogue.
    as_of : str or datetime.date, optional
        The day of the estimate; records dated later are left out. Default today.
    config : HazardConfig, optional
        The model's assumptions; default ``HazardConfig()``.
    crs : str, optional
        Projected metre CRS of the grid; default the UTM zone of the strikes.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Raises
    ------
    ValueError
        Nothing to estimate (no strike and no evidence on or before ``as_of``).
    """
    config = config or HazardConfig()
    day = _day(as_of)
    tell = progress or (lambda stage, done, total: None)
    frames = {name: _table(tables, name) for name in _TABLES}
    crs = crs or _crs(frames)
    types = strike_types(catalogue, frames["strikes"]["carrier"])
    strikes = strikes_from_records(frames["strikes"], catalogue, crs, config, day, types)
    searches = searches_from_records(frames["activities"], crs, config, day)
    detection = dict(zip(searches.ids, searches.detection, strict=True))
    evidence = evidence_from_records(
        frames["finds"], frames["accidents"], frames["activities"], detection,
        catalogue, types, crs, config, day,
    )  # fmt: skip
    tell("evidence update", 0, 3)
    setup = _setup(strikes, searches, evidence, frames["hazard_areas"], catalogue, config, crs)
    comps = prior_components(strikes)
    first = setup.integrate(strikes, comps, "all")
    result = setup.attribute(strikes, first)
    first_mean, first_held = result.mean, result.held
    tell("evidence update", 1, 3)
    pseudo = _pseudo(evidence, result, catalogue, types, config)
    pending = np.arange(len(strikes), len(strikes) + len(pseudo), dtype=np.int64)
    integrals = _merge(first, len(pseudo))
    strikes, comps = strikes.concat(pseudo), comps.concat(prior_components(pseudo))
    reported = strikes
    strikes, comps, integrals, result, moved, rounds, known = _site_rounds(
        strikes, comps, integrals, result, setup, pending
    )
    tell("evidence update", 2, 3)
    areas = frames["hazard_areas"]
    basis = Basis(
        day=day,
        crs=crs,
        setup=setup,
        search_ids=searches.ids,
        search_detection=searches.detection,
        found_in=np.unique(frames["finds"]["activity_id"].dropna().to_numpy(dtype=str)),
        later=_later(frames, day),
        first=first,
        first_redone=(),
        first_mean=first_mean,
        first_held=first_held,
        reported=reported,
        rounds=rounds,
        known_moments=known,
        strikes=strikes,
        comps=comps,
        integrals=integrals,
        result=result,
        area_ids=areas["area_id"].to_numpy(dtype=object),
        area_status=areas["status"].to_numpy(dtype=object),
    )
    out = conclude(basis, moved, catalogue)
    tell("evidence update", 3, 3)
    return out


BASIS_FORMAT = 6
"""Version of :class:`Basis` (and the classes it holds) as saved; bump on any change."""


@dataclass(frozen=True)
class Basis:
    """What an estimate was computed from, kept so that new records can update it.

    :func:`remnant.hazard.update.update` adds new finds, accidents and activities to
    it without reading the old records again.

    Parameters
    ----------
    day : int
        Day of the estimate. [day since 1970-01-01]
    crs : str
        The model's projected metre CRS.
    setup : _Setup
        The grid, searches, evidence and hazard areas as kernel arrays.
    search_ids : ndarray of object
        The searches in force, in the order of ``setup``'s.
    search_detection : ndarray of float64
        Their detection probability of finds. [-]
    found_in : ndarray of str
        Activities that have finds (their NTS direct evidence is in the finds).
    later : int
        Records left out for being dated after ``day``: an update to a later day
        cannot see them as new, so it needs them read again (a full run).
    first : Integrals
        Pass 1 of the recorded strikes on their prior components, with the hazard
        areas: where the evidence update starts.
    first_redone : tuple of (ndarray of int64, Integrals)
        Strikes whose pairs in ``first`` an update redid, and their new pairs (a
        round of :class:`Passes` over ``first``'s); merged into ``first`` when saved
        (:meth:`for_update`) or updated again. Empty after a full run.
    first_mean : ndarray
        The recorded strikes' expected duds after the first evidence update. [items]
    first_held : Held
        The sums it ended with (:class:`.evidence.Held`).
    reported : Strikes
        Recorded and pseudo-strikes with their reported carrier counts.
    rounds : tuple of Round
        What each round of locating carriers changed (:func:`_site_rounds`).
    known_moments : KnownMoments
        The searched moments of the sites the rounds aimed (:func:`.aim.aim_sites`).
    strikes : Strikes
        The same with the counts the sites gave (:func:`_site_rounds`).
    comps : Components
        Their components.
    integrals : Integrals
        Pass 1 on those components.
    result : Attribution
        The evidence update.
    area_ids, area_status : ndarray of object
        The hazard areas' ids and status.
    """

    day: int
    crs: str
    setup: _Setup
    search_ids: npt.NDArray[np.object_]
    search_detection: FloatArray
    found_in: npt.NDArray[np.str_]
    later: int
    first: Integrals
    first_redone: tuple[tuple[IntArray, Integrals], ...]
    first_mean: FloatArray
    first_held: Held
    reported: Strikes
    rounds: tuple[Round, ...]
    known_moments: KnownMoments
    strikes: Strikes
    comps: Components
    integrals: Integrals
    result: Attribution
    area_ids: npt.NDArray[np.object_]
    area_status: npt.NDArray[np.object_]

    def for_update(self) -> Basis:
        """The basis without what :func:`remnant.hazard.update.update` does not read.

        That is the pairs of the last pass 1 (an update builds its own from
        :attr:`first` and the rounds, and takes only the hazard-area masses from
        :attr:`integrals`) and the evidence shares of :attr:`result`: 0.8 of the
        2 GB a country's basis holds, so what ``remnant estimate`` saves.
        """
        none = np.empty(0, dtype=np.int64)
        integrals = dataclasses.replace(
            self.integrals, pair_evidence=none, pair_strike=none, pair_weight=np.empty(0)
        )
        result = dataclasses.replace(self.result, pair_share=np.empty(0))
        return dataclasses.replace(self.with_first_merged(), integrals=integrals, result=result)

    def with_first_merged(self) -> Basis:
        """The basis with :attr:`first_redone` merged into :attr:`first`'s pairs."""
        if not self.first_redone:
            return self
        first = _with_pairs(self.first, self.first, self.first_redone)
        return dataclasses.replace(self, first=first, first_redone=())


def conclude(basis: Basis, moved: IntArray, catalogue: Catalogue) -> Estimate:
    """The estimate from an evidence update, its tables, and what pass 2 needs.

    ``moved`` are the strikes whose hazard-area masses are still to compute (their
    pass 1 was redone without them).
    """
    b, setup = basis, basis.setup
    strikes, comps, integrals, result = b.strikes, b.comps, b.integrals, b.result
    if moved.size:
        areas = setup.integrate(strikes.take(moved), comps.take(moved), "areas")
        integrals = _splice_areas(integrals, areas, moved)
        b = dataclasses.replace(b, integrals=integrals)
    config = setup.config
    hidden = _unrecorded(strikes, integrals, result, setup)
    moments = _moments(
        strikes, result, hidden, integrals.notice_norm, catalogue, setup.grid, config
    )
    area_bg = _area_background(setup, hidden)
    hidden_total = float(np.sum(hidden.remaining * setup.inside))
    area_frame = pd.DataFrame({"area_id": b.area_ids, "status": b.area_status})

    def tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, TotalRemaining]:
        return (
            failure_rate_table(strikes, result, config.level),
            strike_table(strikes, result, moments, b.crs, config.level),
            area_table(area_frame, integrals, strikes, moments, area_bg, setup.grid.cell**2),
            total_remaining(strikes, result, moments, hidden_total, config.draws),
        )

    if _threads_safe():  # the tables beside pass 2's tables: 0.6 -> 0.5 s at country scale
        with ThreadPoolExecutor(1) as pool:
            made = pool.submit(tables)
            kernel = setup.kernel(strikes, comps, moments, hidden.remaining)
            rates, per_strike, per_area, total = made.result()
    else:
        rates, per_strike, per_area, total = tables()
        kernel = setup.kernel(strikes, comps, moments, hidden.remaining)
    return Estimate(
        as_of=str(np.datetime64(b.day, "D")),
        grid=setup.grid,
        strikes=strikes,
        components=comps,
        attribution=result,
        failure_rates=rates,
        strike_table=per_strike,
        area_table=per_area,
        total=total,
        unrecorded=hidden,
        unrecorded_remaining=hidden_total,
        config=config,
        basis=b,
        _kernel=kernel,
    )


def _threads_safe() -> bool:
    """Whether numba's parallel kernels may run from two threads at once.

    The ``omp`` and ``tbb`` threading layers allow it; ``workqueue``, the fallback
    when neither library is found, does not (numba's "The Threading Layers"). False
    before any parallel kernel has run (no layer chosen yet).
    """
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:
        return False


def _later(frames: Mapping[str, gpd.GeoDataFrame], day: int) -> int:
    """Records of ``frames`` dated after ``day`` (left out of the estimate)."""
    from remnant.hazard.inputs import day_numbers

    date_of = {"strikes": "date", "finds": "date", "accidents": "date", "activities": "end_date"}
    return sum(
        int(np.sum(day_numbers(frames[name][column], column) > day))
        for name, column in date_of.items()
        if len(frames[name])
    )


_TABLES = ("strikes", "activities", "finds", "accidents", "hazard_areas")


def _table(tables: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame:
    from remnant.records.frame import empty_frame
    from remnant.records.schema import TABLES

    frame = tables.get(name)
    return empty_frame(TABLES[name]) if frame is None else frame


def _day(as_of: str | date | None) -> int:
    if as_of is None:
        as_of = date.today()
    return int(np.datetime64(str(as_of)[:10], "D").astype(np.int64))


def _crs(frames: Mapping[str, gpd.GeoDataFrame]) -> str:
    for name in ("strikes", "finds", "accidents"):
        frame = frames[name]
        if len(frame):
            return choose_crs(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    raise ValueError("nothing to estimate: no strike, find or accident")


# -- grid, tiles, background ----------------------------------------------------------


_PassArgs = tuple[
    GridArgs, StrikeSet, PolygonArgs, IntArray, FloatArray, EvidenceArgs,
    tuple[IntArray, IntArray], PolygonArgs, FloatArray, int,
]  # fmt: skip
"""Pass 1's arguments up to ``factor`` (:func:`.integrals.tile_sums`)."""


@dataclass(frozen=True)
class _Setup:
    """The grid and every kernel argument that does not depend on the strikes."""

    grid: Grid
    config: HazardConfig
    search_rings: Rings
    searches: PolygonArgs
    search_day: IntArray
    search_log_keep: FloatArray
    evidence: Evidence
    evidence_args: EvidenceArgs
    tile_evidence: tl.Csr
    areas: PolygonArgs
    area_rings: Rings
    area_cells: AreaCells
    background: FloatArray
    inside: FloatArray
    factor: int

    def extended(self, searches: Searches, evidence: Evidence) -> _Setup:
        """The setup with ``searches`` and ``evidence`` added after its own (same grid)."""
        rings = self.search_rings.concat(polygon_rings(searches.polygons))
        ev = self.evidence.concat(evidence)
        new_row, new_col = self.grid.cell_of(evidence.x, evidence.y)
        old = self.evidence_args
        ev_row, ev_col = np.concatenate([old.row, new_row]), np.concatenate([old.col, new_col])
        later = tl.tiles_of_points(new_row, new_col, self.grid)
        later = tl.Csr(later.offsets, later.index + len(self.evidence))
        return dataclasses.replace(
            self,
            search_rings=rings,
            searches=_polygons(rings, self.grid),
            search_day=np.concatenate([self.search_day, searches.day]),
            search_log_keep=np.concatenate([self.search_log_keep, searches.log_keep]),
            evidence=ev,
            evidence_args=EvidenceArgs(ev_row, ev_col, ev.day, ev.item, ev.compat),
            tile_evidence=self.tile_evidence.appended(later),
        )

    def pack(self, strikes: Strikes, comps: Components) -> StrikeSet:
        """The strikes as kernel tables with their tile CSR."""
        table, packed = pack(strikes.day, strikes.type_index, comps, self.grid,
                             self.config.n_sigma)  # fmt: skip
        csr = tl.tiles_of_windows(table[:, 2:6], self.grid, key=table[:, 0])  # by day
        return StrikeSet(table, packed, self.config.n_sigma, csr.offsets, csr.index)

    def sums(
        self, strikes: Strikes, comps: Components, tiles: IntArray, parts: str = "all"
    ) -> Sums:
        """Pass 1's sums for these strikes on ``tiles`` only (:func:`.integrals.tile_sums`)."""
        return tile_sums(*self._pass_args(strikes, comps), tiles, INTEGRAL_PARTS[parts])

    def integrate(self, strikes: Strikes, comps: Components, parts: str) -> Integrals:
        """Pass 1 for these strikes (:func:`.integrals.integrate`)."""
        return integrate(*self._pass_args(strikes, comps), parts=parts)

    def _pass_args(self, strikes: Strikes, comps: Components) -> _PassArgs:
        """Pass 1's arguments up to ``factor`` (:func:`.integrals.tile_sums`)."""
        return (
            _grid_args(self.grid), self.pack(strikes, comps), self.searches, self.search_day,
            self.search_log_keep, self.evidence_args,
            (self.tile_evidence.offsets, self.tile_evidence.index), self.areas,
            self.background, self.factor,
        )  # fmt: skip

    def attribute(
        self,
        strikes: Strikes,
        integrals: Integrals,
        start: FloatArray | None = None,
        frozen: Frozen | None = None,
    ) -> Attribution:
        """The evidence update (:func:`.evidence.attribute`) with this setup's evidence.

        The background weighs as much as the prior items of the unrecorded attacks:
        ``ratio × (recorded strikes) × (their mean prior duds)``. It starts from the
        expectations ``start`` (strikes added since start from their priors); with
        ``frozen``, only some points' shares are redone (:class:`.evidence.Frozen`).
        """
        c = self.config
        recorded = strikes.prior_mean[~strikes.pseudo]
        items = c.unrecorded_ratio * float(recorded.sum()) if len(recorded) else 1.0
        initial = None
        if start is not None:
            initial = strikes.prior_mean.copy()
            initial[: len(start)] = start
        return attribute(
            strikes, integrals, self.evidence.kind, self.evidence.quantity, items,
            tolerance=c.em_tolerance, iterations=c.em_iterations, draws=c.draws,
            initial=initial, learn=c.learn, frozen=frozen,
        )  # fmt: skip

    def kernel(
        self, strikes: Strikes, comps: Components, moments: Moments, remaining: FloatArray
    ) -> _Kernel:
        """What pass 2 needs; ``remaining`` the unrecorded attacks' items per coarse cell."""
        return _Kernel(
            self.grid, self.pack(strikes, comps), self.searches, self.search_day,
            self.search_log_keep, remaining, self.factor, moments,
        )  # fmt: skip


def _grid_args(grid: Grid) -> GridArgs:
    return GridArgs(grid.x0, grid.top, grid.cell, grid.nx, grid.ny, grid.n_tiles[1])


def _setup(
    strikes: Strikes,
    searches: Searches,
    evidence: Evidence,
    areas: gpd.GeoDataFrame,
    catalogue: Catalogue,
    config: HazardConfig,
    crs: str,
) -> _Setup:
    polys = areas.geometry.to_crs(crs).to_numpy() if len(areas) else np.empty(0, object)
    grid = _grid(strikes, evidence, polys, catalogue, config, crs)
    factor = coarse_factor(grid.cell, config.background_cell_m)
    sigma = prior_components(strikes).sigma_max
    h = bandwidths(strikes.x, strikes.y, sigma, config.background_neighbours,
                   config.background_bandwidth_m)  # fmt: skip
    bg = background_density(strikes.x, strikes.y, strikes.prior_mean, h, grid, factor,
                            config.n_sigma)  # fmt: skip
    ev_row, ev_col = grid.cell_of(evidence.x, evidence.y)
    area_rings = polygon_rings(polys)
    search_rings = polygon_rings(searches.polygons)
    return _Setup(
        grid=grid,
        config=config,
        search_rings=search_rings,
        searches=_polygons(search_rings, grid),
        search_day=searches.day,
        search_log_keep=searches.log_keep,
        evidence=evidence,
        evidence_args=EvidenceArgs(ev_row, ev_col, evidence.day, evidence.item, evidence.compat),
        tile_evidence=tl.tiles_of_points(ev_row, ev_col, grid),
        areas=_polygons(area_rings, grid),
        area_rings=area_rings,
        area_cells=AreaCells.of(area_rings, grid, factor),
        background=bg,
        inside=inside_fraction(grid, factor),
        factor=factor,
    )


def _grid(
    strikes: Strikes,
    evidence: Evidence,
    areas: npt.NDArray[np.object_],
    catalogue: Catalogue,
    config: HazardConfig,
    crs: str,
) -> Grid:
    """The grid covering every strike window, every possible pseudo-strike and every area.

    ``areas`` are the hazard areas' polygons in ``crs``.
    """
    comps = prior_components(strikes)
    half = config.n_sigma * comps.sigma_max
    boxes = [np.column_stack([comps.x - half, comps.y - half, comps.x + half, comps.y + half])]
    if len(evidence):
        boxes.append(evidence_reach(evidence, catalogue, config))
    if len(areas):
        b = shapely.bounds(areas)
        boxes.append(b[np.all(np.isfinite(b), axis=1)])
    return tl.study_grid(np.concatenate(boxes), config.cell_m, crs)


def evidence_reach(evidence: Evidence, catalogue: Catalogue, config: HazardConfig) -> FloatArray:
    """Boxes ``(xmin, ymin, xmax, ymax)`` around each point that a pseudo-strike there spans. [m]"""
    reach = config.n_sigma * math.sqrt(
        2.0 * _unknown_pattern(catalogue) + float(evidence.spread_m.max()) ** 2
    )
    x, y = evidence.x, evidence.y
    return np.column_stack([x - reach, y - reach, x + reach, y + reach])


def _polygons(rings: Rings, grid: Grid) -> PolygonArgs:
    csr = tl.tiles_of_boxes(rings.bounds, grid)
    return PolygonArgs(rings.x, rings.y, rings.ring_offsets, rings.geom_offsets,
                       csr.offsets, csr.index)  # fmt: skip


# -- pseudo-strikes and located carriers -----------------------------------------------


def _unknown_pattern(catalogue: Catalogue) -> float:
    """Variance of one item's point around an attack of carrier ``unknown``, per axis. [m²]"""
    pl2, pw2, v2, _ = carrier_patterns([catalogue.carriers[UNKNOWN_CARRIER]])
    return float((pl2[0] + pw2[0]) / 2.0 + v2[0])


PSEUDO_LINK = 3.0
"""Unexplained evidence closer than this many spreads (1σ) of one attack's items is
taken as one unrecorded attack. [-] ASSUMPTION: an attack's items lie within about
``±2σ`` of its point, so two of them are seldom more than ``3σ`` apart."""


def _pseudo(
    evidence: Evidence,
    first: Attribution,
    catalogue: Catalogue,
    types: tuple[str, ...],
    config: HazardConfig,
    first_new: int = 0,
    first_id: int = 1,
) -> Strikes:
    """Pseudo-strikes at clusters of evidence the recorded strikes do not explain.

    Points closer than :data:`PSEUDO_LINK` spreads of one unknown attack's items
    join one cluster; its centre estimates the attack point with the error of a
    mean of ``n`` items, ``√(pattern / n)``, plus the points' own error. Only the
    points from ``first_new`` on are clustered (an update: the earlier ones had
    their turn), numbered from ``first_id``.
    """
    pattern = _unknown_pattern(catalogue)
    unexplained = first.responsibility_background > config.unexplained_threshold
    unexplained[:first_new] = False
    weight = np.where(evidence.kind == EVIDENCE, 1.0, evidence.quantity)
    groups = cluster_evidence(evidence.x, evidence.y, evidence.day, weight, evidence.spread_m,
                              unexplained, PSEUDO_LINK * math.sqrt(pattern))  # fmt: skip
    sigma_e = np.sqrt(pattern / np.maximum(groups.size, 1) + groups.spread_m**2)
    return pseudo_strikes(
        groups.x, groups.y, groups.day, sigma_e, catalogue, types, config, first=first_id
    )


@dataclass(frozen=True)
class Round:
    """What one round of :func:`_site_rounds` changed: kept to replay it in an update.

    Parameters
    ----------
    strikes : ndarray of int64
        The strikes whose pass 1 the round redid.
    comps : Components
        Their new components (in that order).
    integrals : Integrals
        Their pass 1 (strike ``i`` of it is ``strikes[i]``; no hazard areas).
    mean : ndarray
        Every strike's expected duds after the round's evidence update. [items]
    held : Held
        The sums that evidence update ended with (:class:`.evidence.Held`).
    sites : Sites
        The sites the round located, aimed (:func:`_aimed`), of every strike.
    """

    strikes: IntArray
    comps: Components
    integrals: Integrals
    mean: FloatArray
    held: Held
    sites: Sites


@dataclass(frozen=True)
class Replay:
    """The rounds of an earlier run, to reuse their pass 1 where nothing changed.

    Parameters
    ----------
    rounds : tuple of Round
        The earlier run's rounds.
    source : ndarray of int64
        Index in the earlier run of each strike now; ``-1`` for a new one.
    reach : Reach
        Where new records fall: a strike whose window meets one of its boxes has its
        pass 1 moved by the difference the new records make on its tiles
        (:func:`.integrals.difference`).
    before : _Setup
        The earlier run's setup (without the new records).
    near : ndarray of bool, shape (evidence,)
        The evidence points in ``reach``'s tiles.
    known : KnownMoments
        The earlier run's searched moments of sites, less those the new searches
        may change.
    first : Integrals
        The earlier run's first pass 1 (on ``before``).
    first_held : Held
        The sums its first evidence update ended with.
    differs : ndarray of bool, shape (strikes,)
        The strikes now whose first pass 1 is not the earlier run's.
    extra : ndarray of bool, shape (evidence,)
        The evidence points whose own weights changed (new points, and those whose
        background weight was recomputed): redone in every evidence update.
    redone : tuple of (ndarray of int64, Integrals)
        The first pass 1's strikes redone and their pairs, apart from the pairs of
        the ``integrals`` the rounds start from (:class:`Passes`).
    """

    rounds: tuple[Round, ...]
    source: IntArray
    reach: Reach
    before: _Setup
    near: npt.NDArray[np.bool_]
    known: KnownMoments
    first: Integrals
    first_held: Held
    differs: npt.NDArray[np.bool_]
    extra: npt.NDArray[np.bool_]
    redone: tuple[tuple[IntArray, Integrals], ...] = ()


def _site_rounds(
    strikes: Strikes,
    comps: Components,
    integrals: Integrals,
    result: Attribution,
    setup: _Setup,
    pending: IntArray,
    replay: Replay | None = None,
) -> tuple[Strikes, Components, Integrals, Attribution, IntArray, tuple[Round, ...], KnownMoments]:
    """Locate carriers from the evidence attributed to each strike, to a fixed point.

    Each round assigns every evidence point to the strike holding most of it (when
    that is more than half), groups each strike's points into sites
    (:func:`.components.find_sites`), centres each on its carriers' aim point given
    where the searches that found its points were (:func:`.aim.aim_sites`), weighs
    how many carriers are still unlocated given that the searches of their area found
    none — the exposure of the strike's
    last component, its prior one or its carriers not located
    (:func:`.components.unlocated_carriers`) — rebuilds the components and carrier
    counts, reruns pass 1 for the strikes whose components changed (and, in the
    first round, for the ``pending`` strikes, whose pass 1 is still to do), and
    redoes the evidence update; at most ``HazardConfig.site_rounds`` rounds. Also
    returns the strikes whose pass 1 was redone without their hazard-area masses
    (those of a full run's last round come with its pass 1), what each round changed,
    and the searched moments of the sites aimed (:class:`.aim.KnownMoments`: a site
    found again takes them from there).

    With ``replay`` (an update), a strike's pass 1 is taken from the same round of
    the earlier run when its new components are those it had then (as
    :func:`_changed` judges) and no new record falls in its window; each evidence
    update is redone only on the points where the pass 1 now differs from that
    round's (:func:`_local_attribute`); and the rounds' pairs are kept apart from
    ``integrals``' (:class:`Passes`), which then come back without pairs.
    """
    ev = setup.evidence
    weight = np.where(ev.kind == EVIDENCE, 1.0, ev.quantity)
    reported = strikes
    dispersion = setup.config.strike_dispersion
    step = 0.1 * setup.grid.cell
    moved = pending.copy()
    rounds: list[Round] = []
    known = replay.known if replay is not None else KnownMoments.none()
    differs = replay.differs.copy() if replay is not None else np.zeros(0, dtype=bool)
    base = integrals  # an update keeps each round's pairs apart from these (Passes)
    apart = list(replay.redone) if replay is not None else None
    for r in range(setup.config.site_rounds if setup.config.learn else 0):
        owner = result.owner
        # an update redoes a round locally where the earlier run has that round
        local = replay if replay is not None and r < len(replay.rounds) else None
        if local is not None:
            then = local.first_held if r == 0 else local.rounds[r - 1].held
            mine = _affected(result.held, then, local.source, differs)
            owner = np.where((owner >= 0) & mine[np.maximum(owner, 0)], owner, -1)
        duds = reported.per_carrier * result.posterior.mean[reported.type_index]
        searched = SearchedSites.of(comps, integrals.component_exposure)
        sites = find_sites(reported, owner, ev.x, ev.y, weight, ev.spread_m, duds, searched,
                           ev.kind == SEARCHED)  # fmt: skip
        sites, aimed = _aimed(sites, known, setup, reported)
        known = known.plus(aimed)  # an update's keeps the earlier run's too
        if local is not None:
            sites = _with_earlier_sites(sites, local.rounds[r], local.source, mine)
        unlocated = np.zeros(len(reported))
        which = np.unique(sites.strike)
        if which.size:
            located = located_carriers(sites, len(reported))[which]
            rate = result.posterior.mean[reported.type_index[which]]
            unlocated[which], var = unlocated_carriers(
                reported, which, located, integrals.last_exposure[which],
                reported.per_carrier[which] * rate, dispersion,
            )  # fmt: skip
            strikes = reported.with_counts(which, located + unlocated[which], var, dispersion)
        if local is not None:
            changed, new = _replayed_changes(comps, reported, sites, unlocated, mine, local, r,
                                             pending, step)  # fmt: skip
        else:
            every = sited_components(reported, sites, unlocated)
            changed = np.union1d(_changed(comps, every, step), pending)
            new = every.take(changed)
        pending = pending[:0]
        recalled = None
        if changed.any():
            moved = np.union1d(moved, changed)
            recalled = _recall(replay, r, strikes, changed, new, setup)
            # a full run's last round has its final components: their hazard-area
            # masses come with its pass 1, not from a pass of their own in conclude
            final = replay is None and r == setup.config.site_rounds - 1
            done = _round_pass1(setup, strikes, new, changed, recalled, areas=final)
            kept = comps.replace(changed, done.comps)  # the rest moved too little
            integrals = _splice(integrals, done.integrals, changed, comps.offsets,
                                kept.offsets, pairs=apart is None)  # fmt: skip
            if final:
                moved = np.setdiff1d(moved, changed)
                done = dataclasses.replace(done, integrals=_no_areas(done.integrals))
            if apart is not None:
                apart.append((changed, done.integrals))
            comps = kept
        start = _start(replay, r, result.mean, strikes.prior_mean)
        if local is not None:
            differs = _still_differs(differs, local, r, changed, recalled)
            earlier = Earlier.at(local.first, local.rounds[: r + 1], local.rounds[r].held)
            now = Passes(base, tuple(apart or ()), len(strikes))
            result = _local_attribute(setup, strikes, integrals, now, start, earlier,
                                      local.source, differs, local.extra)  # fmt: skip
        else:  # a full run, or an update past the earlier run's rounds: the update is whole
            if apart is not None:
                integrals, apart = _with_pairs(integrals, base, apart), None
            result = setup.attribute(strikes, integrals, start)
        if not changed.any():
            break
        rounds.append(dataclasses.replace(done, mean=result.mean, held=result.held, sites=sites))
    if len(pending):  # no round ran: pass 1 of the pending strikes is still to do
        if apart:
            integrals, apart = _with_pairs(integrals, base, apart), None
        redone = setup.integrate(strikes.take(pending), comps.take(pending), "strikes")
        integrals = _splice(integrals, redone, pending, comps.offsets, comps.offsets)
        result = setup.attribute(strikes, integrals, result.mean)
    if apart:  # an update keeps no last pass 1's pairs (nor does what it saves, Basis.for_update)
        none = np.empty(0, dtype=np.int64)
        integrals = dataclasses.replace(
            integrals, pair_evidence=none, pair_strike=none, pair_weight=np.empty(0)
        )
    return strikes, comps, integrals, result, moved, tuple(rounds), known


def _aimed(
    sites: Sites, known: KnownMoments, setup: _Setup, strikes: Strikes
) -> tuple[Sites, KnownMoments]:
    """The ``sites`` of ``strikes`` aimed (:func:`.aim.aim_sites`), and their moments.

    Each site's pattern is the two halves of its strike's
    (:func:`.components.pattern_nodes`), widened by the site's spread beyond one
    pattern as its components are (:func:`.components.sited_components`). The searched
    moments are looked up in ``known`` where they are there.
    """
    aimed = [KnownMoments.none()]
    day = strikes.day[sites.strike]

    def moments(x: FloatArray, y: FloatArray, sigma: FloatArray) -> FloatArray:
        out, new = known.moments_of(x, y, sigma, day, _search_moments(setup))
        aimed[0] = aimed[0].plus(new)
        return out

    v1, v2 = pattern_nodes(strikes, sites.strike)
    wider = beyond_pattern(strikes, sites)
    return aim_sites(sites, moments, (v1 + wider, v2 + wider)), aimed[0]


def _start(replay: Replay | None, r: int, mean: FloatArray, prior: FloatArray) -> FloatArray:
    """Where round ``r``'s evidence update starts.

    The earlier run's expectations after that round, else ``mean`` (and for strikes
    without either, their ``prior``).
    """
    if replay is None or r >= len(replay.rounds):
        return mean
    now = prior.copy()
    now[: len(mean)] = mean
    src = replay.source
    return np.where(src >= 0, replay.rounds[r].mean[np.maximum(src, 0)], now)


@dataclass(frozen=True)
class Passes:
    """Pass 1 of a run at a point of its path: its first pass 1 and the rounds' since.

    An update keeps the state's pairs so, the rounds' apart, instead of merging each
    round's into the first's 25 M (at country scale) as a full run does.

    Parameters
    ----------
    first : Integrals
        The first pass 1 (of the strikes ``0 … n − 1``, or of some of them).
    rounds : tuple of (ndarray of int64, Integrals)
        Each round's strikes and their pass 1 (strike ``i`` of it is ``strikes[i]``),
        a later one replacing an earlier for its strikes.
    n : int
        Strikes of the run then.
    """

    first: Integrals
    rounds: tuple[tuple[IntArray, Integrals], ...]
    n: int

    def versions(self) -> IntArray:
        """Per strike, the round whose pass 1 holds it (``-1``: the first)."""
        version = np.full(self.n, -1, dtype=np.int64)
        for q, (ids, _) in enumerate(self.rounds):
            version[ids] = q
        return version

    def parts(self) -> list[tuple[IntArray | None, Integrals]]:
        """Each pass 1 with the strike of each of its rows: the first's, then the rounds'.

        The first's rows are the strikes themselves (``None``).
        """
        return [(None, self.first), *self.rounds]

    def pairs(
        self, points: IntArray, at: dict[tuple[int, int], PairsAt] | None = None
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """The pairs ``(evidence, strike, weight)`` at ``points`` (ascending).

        ``at`` keeps the pairs found in each pass 1, by the identity of its evidence
        and strike arrays, for a call at the same ``points`` on other passes that
        share them: an update's and its earlier run's first 25 M are searched and
        read once.
        """
        version = self.versions()
        at = {} if at is None else at
        parts = []
        for q, (ids, pass1) in enumerate(self.parts(), start=-1):
            ev, st = pass1.pair_evidence, pass1.pair_strike
            key = (id(ev), id(st))
            if key not in at:
                at[key] = PairsAt.of(ev, st, points)
            found = at[key]
            strike = found.strike if ids is None else ids[found.strike]
            mine = version[strike] == q
            w = found.weight(pass1.pair_weight)
            parts.append((found.evidence[mine], strike[mine], w[mine]))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def merged(self) -> tuple[IntArray, IntArray, FloatArray]:
        """All the pairs, each round's merged into the first's in turn (as a full run has them)."""
        ev, st, w = self.first.pair_evidence, self.first.pair_strike, self.first.pair_weight
        for ids, pass1 in self.rounds:
            moved = np.zeros(self.n, dtype=bool)
            moved[ids] = True
            ev, st, w = splice_pairs(
                (ev, st, w), ~moved[st], (pass1.pair_evidence, ids[pass1.pair_strike],
                                          pass1.pair_weight),
            )  # fmt: skip
        return ev, st, w


@dataclass(frozen=True)
class PairsAt:
    """The pairs of a pass 1 at some points (:meth:`Passes.pairs`), for passes sharing them.

    Their positions, evidence and strikes; their weights are read per weight array
    (passes may share the pairs with other weights), each once.
    """

    positions: IntArray
    evidence: IntArray
    strike: IntArray
    weights: dict[int, tuple[FloatArray, FloatArray]]  # by id: the array, and its values here

    @classmethod
    def of(cls, evidence: IntArray, strike: IntArray, points: IntArray) -> PairsAt:
        """The pairs ``(evidence, strike)`` at ``points``."""
        idx = pairs_at(evidence, points)
        return cls(idx, evidence[idx], strike[idx], {})

    def weight(self, weights: FloatArray) -> FloatArray:
        """These pairs' values of ``weights`` (one per pair of the pass 1)."""
        if id(weights) not in self.weights:  # the array kept, so its id stays its own
            self.weights[id(weights)] = (weights, weights[self.positions])
        return self.weights[id(weights)][1]


def points_of(wanted: list[tuple[Passes, npt.NDArray[np.bool_]]]) -> IntArray:
    """The evidence points of the pairs of some strikes of each ``Passes`` (unsorted).

    ``wanted``: each ``Passes`` with a mask over its strikes. Passes that share a
    pass 1's pairs (an update's and its earlier run's first, 25 M at country scale)
    are scanned once for the strikes any of them wants (:func:`.integrals.pairs_of`).
    """
    masks: dict[tuple[int, int], tuple[Integrals, npt.NDArray[np.bool_]]] = {}
    for passes, strikes in wanted:
        version = passes.versions()
        for q, (ids, pass1) in enumerate(passes.parts(), start=-1):
            mine = (version == q) & np.asarray(strikes, dtype=bool)
            mine = mine if ids is None else mine[ids]
            key = (id(pass1.pair_evidence), id(pass1.pair_strike))
            if key in masks:
                other = masks[key][1]
                both = np.zeros(max(len(other), len(mine)), dtype=bool)
                both[: len(other)] = other
                both[: len(mine)] |= mine
                mine = both
            masks[key] = (pass1, mine)
    return np.concatenate(
        [pass1.pair_evidence[pairs_of(pass1.pair_strike, mine)] for pass1, mine in masks.values()]
    )


@dataclass(frozen=True)
class Earlier:
    """An earlier run's state at one of its evidence updates.

    Parameters
    ----------
    passes : Passes
        Its pass 1 then.
    held : Held
        The sums the update ended with.
    """

    passes: Passes
    held: Held

    @classmethod
    def at(cls, first: Integrals, rounds: tuple[Round, ...], held: Held) -> Earlier:
        """The state after ``rounds`` of a run whose first pass 1 was ``first``."""
        n = len(held.share_mean)
        return cls(Passes(first, tuple((r.strikes, r.integrals) for r in rounds), n), held)


def _new_of_old(source: IntArray, n_old: int) -> IntArray:
    """Index now of each of an earlier run's ``n_old`` strikes (``-1`` if gone), and ``-1`` after.

    ``source`` is the index then of each strike now (``-1`` for a new one); those at
    ``n_old`` or beyond were not in that state yet.
    """
    out = np.full(n_old + 1, -1, dtype=np.int64)
    has = (source >= 0) & (source < n_old)
    out[source[has]] = np.flatnonzero(has)
    return out


def _affected(
    now: Held, then: Held, source: IntArray, differs: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """The strikes whose sites may differ from the earlier run's in a round.

    Those whose pass 1 differs (the exposures their sites are shared by), and those
    that own a point, now or then, whose owner changed.
    """
    old = np.full(len(now.owner), -1, dtype=np.int64)
    old[: len(then.owner)] = _new_of_old(source, len(then.share_mean))[then.owner]
    moved = now.owner != old
    out = differs.copy()
    out[now.owner[moved & (now.owner >= 0)]] = True
    out[old[moved & (old >= 0)]] = True
    return out


def _with_earlier_sites(
    sites: Sites, earlier: Round, source: IntArray, mine: npt.NDArray[np.bool_]
) -> Sites:
    """``sites`` (of the strikes ``mine``) and the ``earlier`` round's of every other strike."""
    strike = _new_of_old(source, len(earlier.mean))[earlier.sites.strike]
    keep = strike >= 0
    keep[keep] = ~mine[strike[keep]]
    kept = dataclasses.replace(earlier.sites.take(keep), strike=strike[keep])
    both = Sites(**{f.name: np.concatenate([getattr(kept, f.name), getattr(sites, f.name)])
                    for f in dataclasses.fields(Sites)})  # fmt: skip
    return both.take(np.argsort(both.strike, kind="stable"))


def _still_differs(
    differs: npt.NDArray[np.bool_],
    replay: Replay,
    r: int,
    changed: IntArray,
    recalled: Recalled | None,
) -> npt.NDArray[np.bool_]:
    """The strikes whose pass 1 differs from the earlier run's after round ``r``.

    Those the round redid, unless recalled unmoved from the earlier run's same round,
    and those the earlier run's round redid and this one did not.
    """
    out = differs.copy()
    out[changed] = True
    if recalled is not None:
        out[recalled.same] = False
    then = np.zeros(len(replay.rounds[r].mean), dtype=bool)
    then[replay.rounds[r].strikes] = True
    src = replay.source
    only_then = (src >= 0) & then[np.maximum(src, 0)]
    only_then[changed] = False
    return np.asarray(out | only_then, dtype=bool)


def _replayed_changes(
    comps: Components,
    reported: Strikes,
    sites: Sites,
    unlocated: FloatArray,
    mine: npt.NDArray[np.bool_],
    replay: Replay,
    r: int,
    pending: IntArray,
    step: float,
) -> tuple[IntArray, Components]:
    """The strikes whose components round ``r`` of an update changes, and their new ones.

    Only the strikes ``mine`` (:func:`_affected`) are sited anew. Every other strike
    has the earlier run's sites and pass 1 up to this round, so it ends the round as
    the earlier run did: on that round's components if the round redid it, else on
    those it has. (Sited anew, it would differ from them by no more than the
    failure rate's hair, which :func:`_changed` does not see: a day's records reach
    a few hundred strikes, and the rate they learn moves by 1e-4.) ``pending``
    strikes change in any case: on their new components if they are ``mine``.
    """
    ids = np.flatnonzero(mine)
    anew = sited_components(reported, sites, unlocated, of=ids)
    moved = ids[_changed(comps.take(ids), anew, step)]
    old = replay.rounds[r]
    now = _new_of_old(replay.source, len(old.mean))[old.strikes]
    then = np.flatnonzero((now >= 0) & ~mine[np.maximum(now, 0)])  # rows of old's strikes
    changed = np.union1d(np.union1d(moved, now[then]), pending)
    sited = ids[np.isin(ids, changed)]  # those that moved, and pending ones among them
    new = comps.take(changed)
    new = new.replace(np.searchsorted(changed, sited), anew.take(np.searchsorted(ids, sited)))
    return changed, new.replace(np.searchsorted(changed, now[then]), old.comps.take(then))


def _local_attribute(
    setup: _Setup,
    strikes: Strikes,
    integrals: Integrals,
    now: Passes,
    start: FloatArray,
    earlier: Earlier,
    source: IntArray,
    differs: npt.NDArray[np.bool_],
    extra: npt.NDArray[np.bool_],
) -> Attribution:
    """The evidence update redone only where the pass 1 now differs from ``earlier``'s.

    The points redone are ``extra`` and every point of a pair, now or then, of a
    strike whose pass 1 differs: those ``differs`` marks now and the earlier run's
    that are gone (``source``: index in the earlier run of each strike now, ``-1``
    for a new one). Every other point keeps its shares (:class:`.evidence.Frozen`):
    the earlier sums less those of the redone points, computed as the earlier run
    had them. ``integrals`` gives the exposures, ``now`` the pairs.
    """
    held = earlier.held
    n_old, n_ev = len(held.share_mean), len(setup.evidence)
    has = source >= 0
    then = np.ones(n_old, dtype=bool)  # the earlier run's strikes gone or differing now
    then[source[has & ~differs]] = False
    mask = extra.copy()
    mask[points_of([(now, differs), (earlier.passes, then)])] = True
    points = np.flatnonzero(mask).astype(np.int64)
    found: dict[tuple[int, int], PairsAt] = {}  # the pairs at the points, once per pass 1
    ev, st, w = now.pairs(points, found)
    local = dataclasses.replace(integrals, pair_evidence=ev, pair_strike=st, pair_weight=w)
    ev, st, w = earlier.passes.pairs(points, found)
    weight_then = earlier.passes.first.evidence_background
    bg = np.zeros(len(points))
    known = points < len(weight_then)
    bg[known] = weight_then[points[known]]
    items = point_items(setup.evidence.kind[points], setup.evidence.quantity[points])
    s_then, r_then = point_sums(ranks(points, ev), st, w, bg, held.share_mean,
                                held.items, *items)  # fmt: skip
    at = np.maximum(source, 0)
    kept_s = np.where(has, np.maximum(held.searched - s_then, 0.0)[at], 0.0)
    kept_r = np.where(has, np.maximum(held.removed - r_then, 0.0)[at], 0.0)
    owner = np.full(n_ev, -1, dtype=np.int64)
    owner[: len(held.owner)] = _new_of_old(source, n_old)[held.owner]
    background = np.ones(n_ev)
    background[: len(held.background)] = held.background
    frozen = Frozen(points, kept_s, kept_r, background, owner, held.window)
    return setup.attribute(strikes, local, start, frozen)


def _recall(
    replay: Replay | None,
    r: int,
    strikes: Strikes,
    changed: IntArray,
    new: Components,
    setup: _Setup,
) -> Recalled | None:
    """What round ``r`` of an earlier run holds of the strikes ``changed``.

    ``new`` are their components now (in that order). A strike's pass 1 is reused
    when that round redid it too, with components that :func:`_changed` finds the
    same as ``new``'s; where its window meets a tile of the new records, moved by
    their difference there. None when there are none.
    """
    if replay is None or r >= len(replay.rounds) or changed.size == 0:
        return None
    old = replay.rounds[r]
    row_of = np.full(max(int(replay.source.max(initial=-1)), int(old.strikes.max(initial=-1))) + 1,
                     -1, dtype=np.int64)  # fmt: skip
    row_of[old.strikes] = np.arange(len(old.strikes))
    src = replay.source[changed]
    row = np.where(src >= 0, row_of[np.maximum(src, 0)], -1)
    cand = np.flatnonzero(row >= 0)
    if cand.size:
        same = np.ones(cand.size, dtype=bool)
        theirs, ours = old.comps.take(row[cand]), new.take(cand)
        same[_changed(theirs, ours, 0.1 * setup.grid.cell)] = False
        cand = cand[same]
    if cand.size == 0:
        return None
    near = meeting(setup, strikes.take(changed[cand]), new.take(cand), replay.reach)
    if near.size:  # new records in the window: only the very same components are reused
        differs = ~same_components(old.comps.take(row[cand[near]]), new.take(cand[near]))
        cand = np.delete(cand, near[differs])
    if cand.size == 0:
        return None
    rows = row[cand]
    comps = old.comps.take(rows)
    some = strikes.take(changed[cand])
    near = meeting(setup, some, comps, replay.reach)
    far = np.delete(np.arange(len(rows)), near)
    parts = [(far, _rows(old.integrals, old.comps, rows[far]))]
    if near.size:
        mine = _rows(old.integrals, old.comps, rows[near])
        theirs, tiles = comps.take(near), replay.reach.tiles
        before = replay.before.sums(some.take(near), theirs, tiles, "strikes")
        after = setup.sums(some.take(near), theirs, tiles, "strikes")
        parts.append((near, difference(mine, theirs, before, after, replay.near)))
    return Recalled(cand, comps, parts, np.delete(changed[cand], near))


@dataclass(frozen=True)
class Recalled:
    """What :func:`_recall` found of a round of an earlier run.

    Parameters
    ----------
    at : ndarray of int64
        Positions in ``changed`` of the strikes it holds.
    comps : Components
        Their components in that round (in that order).
    parts : list of (ndarray of int64, Integrals)
        Their pass 1 in parts (strike ``i`` of a part is ``at[positions[i]]``): those
        of the round as it was, and those moved by the new records' difference.
    same : ndarray of int64
        The strikes among them whose pass 1 is that round's unmoved (no new record
        in their windows).
    """

    at: IntArray
    comps: Components
    parts: list[tuple[IntArray, Integrals]]
    same: IntArray


def same_components(a: Components, b: Components) -> npt.NDArray[np.bool_]:
    """Per strike, whether ``a`` and ``b`` hold the very same components (NaN equal to NaN)."""
    n = len(a.offsets) - 1
    idx, ours, theirs, owner = _matching_rows(a, b)
    same = np.zeros(n, dtype=bool)
    same[idx] = True
    differs = np.zeros(len(ours), dtype=bool)
    for name in COMPONENT_FIELDS:  # field by field, not a copy of them all
        x, y = getattr(a, name)[ours], getattr(b, name)[theirs]
        differs |= ~((x == y) | (np.isnan(x) & np.isnan(y)))
    same[idx[np.bincount(owner[differs], minlength=idx.size) > 0]] = False
    return same


def _matching_rows(a: Components, b: Components) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """The strikes with as many components in ``a`` as in ``b``, and their rows.

    Returns the strikes, their components' rows in ``a`` and in ``b`` (in step), and
    the position among those strikes of each row's: for comparing components field by
    field, without a copy of every field of every component.
    """
    counts = np.diff(a.offsets)
    idx = np.flatnonzero(counts == np.diff(b.offsets))
    counts = counts[idx]
    rows_a, rows_b = tl.run_rows(a.offsets[idx], counts), tl.run_rows(b.offsets[idx], counts)
    return idx, rows_a, rows_b, np.repeat(np.arange(idx.size), counts)


def _round_pass1(
    setup: _Setup,
    strikes: Strikes,
    new: Components,
    changed: IntArray,
    recalled: Recalled | None,
    areas: bool = False,
) -> Round:
    """Pass 1 of the strikes ``changed`` on their ``new`` components (in order), or as recalled.

    With ``areas``, the hazard-area masses of those computed afresh too (a full run's
    last round, whose components are final).
    """
    n = len(changed)
    pos = recalled.at if recalled is not None else np.empty(0, dtype=np.int64)
    fresh = np.setdiff1d(np.arange(n), pos)
    comps = new
    parts = []
    with_areas = None  # the pass that computed the hazard-area masses, if asked
    if fresh.size:
        redone = setup.integrate(strikes.take(changed[fresh]), comps.take(fresh),
                                 "strikes and areas" if areas else "strikes")  # fmt: skip
        parts.append((fresh, redone))
        with_areas = redone if areas else None
    if recalled is not None:
        comps = comps.replace(pos, recalled.comps)
        parts += [(pos[at], part) for at, part in recalled.parts]
    integrals = _stack(parts, comps.offsets)
    if with_areas is not None:
        integrals = dataclasses.replace(
            integrals,
            area_strike_area=with_areas.area_strike_area,
            area_strike=fresh[with_areas.area_strike],
            area_mass=with_areas.area_mass,
        )
    return Round(changed, comps, integrals, np.empty(0), Held.none(), Sites.none())


@dataclass(frozen=True)
class Reach:
    """Where new records fall: the tiles they meet and, inside those, their cells.

    A strike's pass 1 depends on the records only in its window's cells, so only a
    strike whose window meets a box can move (:func:`meeting`); the tiles are where
    the difference is summed (:func:`.integrals.difference`).

    Parameters
    ----------
    tiles : ndarray of int64
        Tiles holding a new evidence point or meeting a new search's bounding box.
    boxes : ndarray of int64, shape (k, 4)
        Cell rectangles ``[row0, row1) × [col0, col1)``: each new search's bounding
        box and each new point's cell, a cell wider each way.
    """

    tiles: IntArray
    boxes: IntArray


def meeting(setup: _Setup, strikes: Strikes, comps: Components, reach: Reach) -> IntArray:
    """Which of ``strikes`` (positions) have a window meeting one of ``reach``'s boxes.

    Only a strike whose window meets one of its tiles can (as the tile index would
    list it, :func:`.tiles.tiles_of_windows`); its window is then tested against the
    boxes (a few hundred for a day of records): :func:`.tiles.windows_meeting`, on
    the windows alone (:func:`.mixture.strike_windows`), none of the strikes packed.
    """
    win = strike_windows(comps, setup.grid, setup.config.n_sigma)
    return np.flatnonzero(tl.windows_meeting(win, reach.tiles, reach.boxes, setup.grid))


def _rows(integrals: Integrals, comps: Components, rows: IntArray) -> Integrals:
    """The pass-1 results of strikes ``rows`` (renumbered in that order).

    No areas, and no grid sums (as a pass 1 over some strikes has none,
    :class:`.integrals.Integrals`).
    """
    local = np.full(len(integrals.exposure), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    keep = pairs_of(integrals.pair_strike, local >= 0)
    counts = np.diff(comps.offsets)[rows]
    comp_rows = tl.run_rows(comps.offsets[rows], counts)
    return _no_areas(
        dataclasses.replace(
            integrals,
            exposure=integrals.exposure[rows],
            **{name: getattr(integrals, name)[comp_rows] for name in _PER_COMPONENT},
            last_exposure=integrals.last_exposure[rows],
            notice_norm=integrals.notice_norm[rows],
            pair_evidence=integrals.pair_evidence[keep],
            pair_strike=local[integrals.pair_strike[keep]],
            pair_weight=integrals.pair_weight[keep],
            searched=np.zeros((0, 0)),
            notice=np.zeros((0, 0)),
            evidence_background=np.empty(0),
        )
    )


def _stack(parts: list[tuple[IntArray, Integrals]], offsets: IntArray) -> Integrals:
    """Pass-1 results of ``n`` strikes from parts holding the strikes at given positions.

    ``offsets`` are the components' offsets of the ``n`` strikes.
    """
    n = len(offsets) - 1
    counts = np.diff(offsets)
    exposure, last, norm = np.zeros(n), np.zeros(n), np.ones(n)
    per_comp: dict[str, Any] = {name: np.zeros(int(offsets[-1])) for name in _PER_COMPONENT}
    for pos, part in parts:
        exposure[pos], last[pos], norm[pos] = part.exposure, part.last_exposure, part.notice_norm
        at = tl.run_rows(offsets[pos], counts[pos])
        for name in _PER_COMPONENT:
            per_comp[name][at] = getattr(part, name)
    first = parts[0][1]
    return _no_areas(
        dataclasses.replace(
            first,
            exposure=exposure,
            **per_comp,
            last_exposure=last,
            notice_norm=norm,
            pair_evidence=np.concatenate([p.pair_evidence for _, p in parts]),
            pair_strike=np.concatenate([pos[p.pair_strike] for pos, p in parts]),
            pair_weight=np.concatenate([p.pair_weight for _, p in parts]),
        )
    )


def _search_moments(
    setup: _Setup,
) -> Callable[[FloatArray, FloatArray, FloatArray, IntArray], FloatArray]:
    """:func:`.aim.searched_moments` of patterns ``(x, y, σ, day)``, this setup's searches."""
    grid = dataclasses.astuple(_grid_args(setup.grid))
    polygons = polygon_tuple(setup.searches)

    def moments(x: FloatArray, y: FloatArray, sigma: FloatArray, day: IntArray) -> FloatArray:
        return searched_moments(x, y, sigma, day, grid, polygons, setup.search_day,
                                setup.search_log_keep, setup.config.n_sigma)  # fmt: skip

    return moments


def _changed(old: Components, new: Components, step_m: float) -> IntArray:
    """Strikes whose components differ: in number, or by more than ``step_m`` or 1 %.

    The four fields compared are read row by row (:func:`_matching_rows`; a copy of
    every field of every component was 60 MB at country scale).
    """
    same, a, b, owner = _matching_rows(old, new)
    differs = np.ones(len(old.offsets) - 1, dtype=bool)
    differs[same] = False
    gap = np.maximum(np.abs(old.x[a] - new.x[b]), np.abs(old.y[a] - new.y[b])) > step_m
    gap |= np.abs(old.along[a] - new.along[b]) > 0.01 * old.along[a]
    gap |= np.abs(old.weight[a] - new.weight[b]) > 0.01
    differs[same[np.unique(owner[gap])]] = True
    return np.flatnonzero(differs).astype(np.int64)


def _splice(
    old: Integrals,
    new: Integrals,
    idx: IntArray,
    old_offsets: IntArray,
    offsets: IntArray,
    pairs: bool = True,
) -> Integrals:
    """Pass-1 results with those of strikes ``idx`` replaced by ``new`` (computed on them).

    ``old_offsets`` and ``offsets`` are the component offsets of all strikes before and
    after (the strikes not in ``idx`` keep their number of components). Without
    ``pairs``, the evidence pairs are left as they were (the caller keeps ``new``'s
    apart, :class:`Passes`).
    """
    moved = np.zeros(len(old.exposure), dtype=bool)
    moved[idx] = True
    counts = np.diff(offsets)
    kept = np.flatnonzero(~moved)
    src = tl.run_rows(old_offsets[kept], counts[kept])
    at_kept, at_new = (
        tl.run_rows(offsets[kept], counts[kept]),
        tl.run_rows(offsets[idx], counts[idx]),
    )
    per_comp = {}
    for name in _PER_COMPONENT:
        values = np.empty(int(offsets[-1]))
        values[at_kept] = getattr(old, name)[src]
        values[at_new] = getattr(new, name)
        per_comp[name] = values
    exposure = old.exposure.copy()
    exposure[idx] = new.exposure
    last = old.last_exposure.copy()
    last[idx] = new.last_exposure
    norm = old.notice_norm.copy()
    norm[idx] = new.notice_norm
    pair_ev, pair_st, pair_w = old.pair_evidence, old.pair_strike, old.pair_weight
    if pairs:
        pair_ev, pair_st, pair_w = splice_pairs(
            (pair_ev, pair_st, pair_w),
            ~moved[pair_st],
            (new.pair_evidence, idx[new.pair_strike], new.pair_weight),
        )
    keep_a = ~moved[old.area_strike]
    return Integrals(
        exposure=exposure,
        **per_comp,
        last_exposure=last,
        notice_norm=norm,
        searched=old.searched,
        notice=old.notice,
        pair_evidence=pair_ev,
        pair_strike=pair_st,
        pair_weight=pair_w,
        evidence_background=old.evidence_background,
        area_strike_area=np.concatenate([old.area_strike_area[keep_a], new.area_strike_area]),
        area_strike=np.concatenate([old.area_strike[keep_a], idx[new.area_strike]]),
        area_mass=np.concatenate([old.area_mass[keep_a], new.area_mass]),
        area_cells=old.area_cells,
    )


def _with_pairs(
    integrals: Integrals, first: Integrals, rounds: Sequence[tuple[IntArray, Integrals]]
) -> Integrals:
    """``integrals`` with the pairs of ``first`` and of the ``rounds`` since merged.

    As a full run has them (:meth:`Passes.merged`); ``integrals`` and ``first`` are of
    the same strikes.
    """
    ev, st, w = Passes(first, tuple(rounds), len(integrals.exposure)).merged()
    return dataclasses.replace(integrals, pair_evidence=ev, pair_strike=st, pair_weight=w)


_PER_COMPONENT = ("component_exposure", "component_notice", "component_found")
"""The per-component arrays of :class:`.integrals.Integrals`."""


def _no_areas(integrals: Integrals) -> Integrals:
    """``integrals`` without hazard-area masses: a pass over some strikes, as rounds keep it."""
    none = np.empty(0, dtype=np.int64)
    return dataclasses.replace(
        integrals, area_strike_area=none, area_strike=none, area_mass=np.empty(0)
    )


def _splice_areas(old: Integrals, new: Integrals, idx: IntArray) -> Integrals:
    """Hazard-area masses with those of strikes ``idx`` (which have none) from ``new``."""
    return dataclasses.replace(
        old,
        area_strike_area=np.concatenate([old.area_strike_area, new.area_strike_area]),
        area_strike=np.concatenate([old.area_strike, idx[new.area_strike]]),
        area_mass=np.concatenate([old.area_mass, new.area_mass]),
    )


def _merge(a: Integrals, n: int) -> Integrals:
    """Pass-1 results with ``n`` strikes added whose pass 1 is still to do (no exposure)."""
    zeros = np.zeros(n)
    return dataclasses.replace(
        a,
        exposure=np.concatenate([a.exposure, zeros]),
        **{name: np.concatenate([getattr(a, name), zeros]) for name in _PER_COMPONENT},
        last_exposure=np.concatenate([a.last_exposure, zeros]),
        notice_norm=np.concatenate([a.notice_norm, zeros + 1.0]),
    )


# -- moments for pass 2 ---------------------------------------------------------------


def _unrecorded(
    strikes: Strikes, integrals: Integrals, result: Attribution, setup: _Setup
) -> Unrecorded:
    """The unrecorded attacks given the pseudo-strikes and the searches (:mod:`.unrecorded`)."""
    recorded = ~strikes.pseudo
    post = result.posterior
    spread = math.sqrt(float(np.mean((strikes.pattern_var + strikes.volley_var)[recorded])))
    return unrecorded(
        prior_mean=setup.config.unrecorded_ratio * int(recorded.sum()),
        prior_cv=setup.config.unrecorded_cv,
        revealed=int(strikes.pseudo.sum()),
        density=setup.background,
        inside=setup.inside,
        searched=integrals.searched,
        notice=integrals.notice,
        spread_px=spread / (setup.factor * setup.grid.cell),
        size=attack_size(post.scale_mean[recorded], post.scale_var[recorded]),
        civilian=civilian_share(result.removed[recorded]),
    )


def _area_background(setup: _Setup, hidden: Unrecorded) -> FloatArray:
    """Expected items of unrevealed unrecorded attacks in each hazard area. [items]"""
    n_areas = len(setup.area_rings.geom_offsets) - 1
    if n_areas == 0:
        return np.empty(0)
    a = setup.area_cells
    per_cell = hidden.remaining.ravel()[a.coarse] / setup.factor**2
    return np.bincount(a.area, per_cell * a.cells, n_areas).astype(np.float64)


@dataclass(frozen=True)
class AreaCells:
    """The cells inside each hazard area, counted per coarse cell of the background.

    What :func:`_area_background` needs of the areas, found once: an update adds no
    area (:class:`remnant.hazard.update.NotIncremental`), and finding every cell of a
    country's areas again took a second of each update.

    Parameters
    ----------
    area : ndarray of int64
        The hazard area of each entry. [-]
    coarse : ndarray of int64
        Its coarse cell, row-major over the coarse grid. [-]
    cells : ndarray of float64
        Cells of the area whose centres lie in that coarse cell. [cells]
    """

    area: IntArray
    coarse: IntArray
    cells: FloatArray

    @classmethod
    def of(cls, rings: Rings, grid: Grid, factor: int) -> AreaCells:
        """The cells of the areas ``rings`` on ``grid``, by coarse cells of ``factor``²."""
        owner, flat = cells_inside(rings, grid)
        n_cols = -(-grid.nx // factor)
        coarse = (flat // grid.nx) // factor * n_cols + (flat % grid.nx) // factor
        n_coarse = -(-grid.ny // factor) * n_cols
        key, count = np.unique(owner * n_coarse + coarse, return_counts=True)
        return cls(key // n_coarse, key % n_coarse, count.astype(np.float64))


def _moments(
    strikes: Strikes,
    result: Attribution,
    hidden: Unrecorded,
    notice_norm: FloatArray,
    catalogue: Catalogue,
    grid: Grid,
    config: HazardConfig,
) -> Moments:
    """Per-strike and background moments for pass 2 (module :mod:`.accumulate`).

    Removed items (spot tasks, reports, accidents) leave a strike with a share
    ``ρ_s = 1 − k'_s / (E[Λ_s](1 − e_s))`` (at least 0) of its remaining items,
    spread as before: a removal is too small to move the pattern. Pass 2 multiplies
    the prior density by ``S·L`` cell by cell, so the mean carries ``1 / Z_s``.
    """
    post = result.posterior
    mean, var = post.scale_mean, post.scale_var
    rel_var = np.divide(var, mean**2, out=np.zeros_like(mean), where=mean > 0)
    left = mean * (1.0 - result.exposure)
    share = np.divide(result.removed, left, out=np.zeros_like(left), where=left > 0)
    keep = np.where(left > 0, np.clip(1.0 - share, 0.0, 1.0), 1.0)
    items = hidden.size.second
    return Moments(
        mean=mean * keep / notice_norm,
        keep=keep,
        rel_var=rel_var,
        type_rel_var=type_rel_var(post),
        background_rel_var=hidden.rel_var,
        background_items=items,
        background_cluster=items * grid.cell**2 * _attack_clustering(catalogue),
        level=config.level,
    )


def type_rel_var(post: FailureRatePosterior) -> FloatArray:
    """Squared coefficient of variation of each type's failure rate (grid quadrature). [-]"""
    pi = special.expit(post.rate_logit)
    m1 = np.sum(post.rate_weight * pi, axis=1)
    m2 = np.sum(post.rate_weight * pi**2, axis=1)
    return np.maximum(m2 / m1**2 - 1.0, 0.0)


def _attack_clustering(catalogue: Catalogue) -> float:
    """``c_u``: the second-moment coefficient of one attack of carrier ``unknown``. [1/m²]

    Its pattern and aim-point spread with no location error (the attack is where it
    is), so that ``κ_bg = E[Λ_u](1 + V_u) A c_u`` (module :mod:`.accumulate`).
    """
    c = catalogue.carriers[UNKNOWN_CARRIER]
    pl2, pw2, v2, coef_pattern = carrier_patterns([c])
    c_bar = max(c.carrier_count.mean, 1.0)
    cross = (1.0 - 1.0 / c_bar) / (4.0 * math.pi * math.sqrt((pl2[0] + v2[0]) * (pw2[0] + v2[0])))
    return float(coef_pattern[0] / c_bar + cross)
