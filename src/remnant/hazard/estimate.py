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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from remnant.catalogue.model import Catalogue
from remnant.hazard import tiles as tl
from remnant.hazard.accumulate import Moments, _strip
from remnant.hazard.aim import MomentsFn, aim_sites, searched_moments
from remnant.hazard.background import (
    background_density,
    bandwidths,
    coarse_factor,
    inside_fraction,
)
from remnant.hazard.components import (
    Components,
    SearchedSites,
    find_sites,
    located_carriers,
    prior_components,
    run_rows,
    sited_components,
    unlocated_carriers,
)
from remnant.hazard.config import HazardConfig
from remnant.hazard.evidence import Attribution, attribute, cluster_evidence
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
    EvidenceArgs,
    GridArgs,
    Integrals,
    PolygonArgs,
    StrikeSet,
    integrate,
    polygon_tuple,
)
from remnant.hazard.mixture import pack
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
        (:meth:`Grid.tile_window`); the tiles of one tile row are drawn together.
        """
        mask = np.asarray(which, dtype=bool).reshape(self.grid.n_tiles)
        busy = np.flatnonzero(mask.any(axis=1))
        for done, row in enumerate(busy):
            tr = int(row)
            cols = np.flatnonzero(mask[tr]).astype(np.int64)
            out = _draw_row(self._kernel, tr, cols)
            for tc in cols:
                _, col0, _, ncols = self.grid.tile_window(tr, int(tc))
                c = col0 - int(cols[0]) * TILE
                yield tr, int(tc), out[:, :, c : c + ncols].copy()
            if progress is not None:
                progress("estimate raster", done + 1, len(busy))

    def bands(self) -> dict[str, np.ndarray]:
        """The four bands as whole arrays (small grids only: ``16·nx·ny`` bytes)."""
        full = np.empty((4, self.grid.ny, self.grid.nx), dtype=np.float32)
        for row0, strip in self.strips():
            full[:, row0 : row0 + strip.shape[1]] = strip
        return {name: full[i] for i, name in enumerate(BAND_NAMES)}


def _draw_row(k: _Kernel, tile_row: int, cols: IntArray) -> np.ndarray:
    """Pass 2 on the tiles ``cols`` (ascending) of one tile row.

    Returns float32 ``(4, rows, width)`` from the first tile's left edge to the last
    tile's right edge; columns between the tiles drawn are left unset.
    """
    g, m, s = k.grid, k.moments, k.strikes
    rows = min(TILE, g.ny - tile_row * TILE)
    width = min((int(cols[-1]) + 1) * TILE, g.nx) - int(cols[0]) * TILE
    out = np.empty((4, rows, width), dtype=np.float32)
    lo = (1.0 - m.level) / 2.0
    _strip(
        tile_row * g.n_tiles[1] + cols,
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
    evidence = evidence_from_records(
        frames["finds"], frames["accidents"], frames["activities"], searches,
        catalogue, types, crs, config, day,
    )  # fmt: skip
    tell("evidence update", 0, 3)
    setup = _setup(strikes, searches, evidence, frames["hazard_areas"], catalogue, config, crs)
    comps = prior_components(strikes)
    integrals = setup.integrate(strikes, comps, "all")
    result = setup.attribute(strikes, integrals)
    tell("evidence update", 1, 3)
    pseudo = _pseudo(evidence, result, catalogue, types, config)
    pending = np.arange(len(strikes), len(strikes) + len(pseudo), dtype=np.int64)
    integrals = _merge(integrals, len(pseudo))
    strikes, comps = strikes.concat(pseudo), comps.concat(prior_components(pseudo))
    strikes, comps, integrals, result, moved = _site_rounds(
        strikes, comps, integrals, result, setup, pending
    )
    tell("evidence update", 2, 3)
    # the hazard areas' masses of the strikes whose components the sites changed (the
    # others' came with the first pass, on the same components)
    if moved.size:
        areas = setup.integrate(strikes.take(moved), comps.take(moved), "areas")
        integrals = _splice_areas(integrals, areas, moved)
    hidden = _unrecorded(strikes, integrals, result, setup)
    moments = _moments(
        strikes, result, hidden, integrals.notice_norm, catalogue, setup.grid, config
    )
    area_bg = _area_background(frames["hazard_areas"], setup, hidden)
    hidden_total = float(np.sum(hidden.remaining * setup.inside))
    tell("evidence update", 3, 3)
    return Estimate(
        as_of=str(np.datetime64(day, "D")),
        grid=setup.grid,
        strikes=strikes,
        components=comps,
        attribution=result,
        failure_rates=failure_rate_table(strikes, result, config.level),
        strike_table=strike_table(strikes, result, moments, crs, config.level),
        area_table=area_table(
            frames["hazard_areas"], integrals, strikes, moments, area_bg, setup.grid.cell**2
        ),
        total=total_remaining(strikes, result, moments, hidden_total, config.draws),
        unrecorded=hidden,
        unrecorded_remaining=hidden_total,
        config=config,
        _kernel=setup.kernel(strikes, comps, moments, hidden.remaining),
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


@dataclass(frozen=True)
class _Setup:
    """The grid and every kernel argument that does not depend on the strikes."""

    grid: Grid
    config: HazardConfig
    searches: PolygonArgs
    search_day: IntArray
    search_log_keep: FloatArray
    evidence: Evidence
    evidence_args: EvidenceArgs
    tile_evidence: tl.Csr
    areas: PolygonArgs
    area_rings: Rings
    background: FloatArray
    inside: FloatArray
    factor: int

    def pack(self, strikes: Strikes, comps: Components) -> StrikeSet:
        """The strikes as kernel tables with their tile CSR."""
        table, packed = pack(strikes.day, strikes.type_index, comps, self.grid,
                             self.config.n_sigma)  # fmt: skip
        csr = tl.tiles_of_windows(table[:, 2:6], self.grid, key=table[:, 0])  # by day
        return StrikeSet(table, packed, self.config.n_sigma, csr.offsets, csr.index)

    def integrate(self, strikes: Strikes, comps: Components, parts: str) -> Integrals:
        """Pass 1 for these strikes (:func:`.integrals.integrate`)."""
        return integrate(
            _grid_args(self.grid), self.pack(strikes, comps), self.searches, self.search_day,
            self.search_log_keep, self.evidence_args,
            (self.tile_evidence.offsets, self.tile_evidence.index), self.areas,
            self.background, self.factor, parts=parts,
        )  # fmt: skip

    def attribute(
        self, strikes: Strikes, integrals: Integrals, previous: Attribution | None = None
    ) -> Attribution:
        """The evidence update (:func:`.evidence.attribute`) with this setup's evidence.

        The background weighs as much as the prior items of the unrecorded attacks:
        ``ratio × (recorded strikes) × (their mean prior duds)``. It starts from
        ``previous``'s expectations (strikes added since start from their priors).
        """
        c = self.config
        recorded = strikes.prior_mean[~strikes.pseudo]
        items = c.unrecorded_ratio * float(recorded.sum()) if len(recorded) else 1.0
        initial = None
        if previous is not None:
            initial = strikes.prior_mean.copy()
            initial[: len(previous.mean)] = previous.mean
        return attribute(
            strikes, integrals, self.evidence.kind, self.evidence.quantity, items,
            tolerance=c.em_tolerance, iterations=c.em_iterations, draws=c.draws,
            initial=initial, learn=c.learn,
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
    grid = _grid(strikes, evidence, areas, catalogue, config, crs)
    factor = coarse_factor(grid.cell, config.background_cell_m)
    sigma = prior_components(strikes).sigma_max
    h = bandwidths(strikes.x, strikes.y, sigma, config.background_neighbours,
                   config.background_bandwidth_m)  # fmt: skip
    bg = background_density(strikes.x, strikes.y, strikes.prior_mean, h, grid, factor,
                            config.n_sigma)  # fmt: skip
    ev_row, ev_col = grid.cell_of(evidence.x, evidence.y)
    polys = areas.geometry.to_crs(grid.crs).to_numpy() if len(areas) else np.empty(0, object)
    area_rings = polygon_rings(polys)
    return _Setup(
        grid=grid,
        config=config,
        searches=_polygons(polygon_rings(searches.polygons), grid),
        search_day=searches.day,
        search_log_keep=searches.log_keep,
        evidence=evidence,
        evidence_args=EvidenceArgs(ev_row, ev_col, evidence.day, evidence.item, evidence.compat),
        tile_evidence=tl.tiles_of_points(ev_row, ev_col, grid),
        areas=_polygons(area_rings, grid),
        area_rings=area_rings,
        background=bg,
        inside=inside_fraction(grid, factor),
        factor=factor,
    )


def _grid(
    strikes: Strikes,
    evidence: Evidence,
    areas: gpd.GeoDataFrame,
    catalogue: Catalogue,
    config: HazardConfig,
    crs: str,
) -> Grid:
    """The grid covering every strike window, every possible pseudo-strike and every area."""
    comps = prior_components(strikes)
    half = config.n_sigma * comps.sigma_max
    boxes = [np.column_stack([comps.x - half, comps.y - half, comps.x + half, comps.y + half])]
    if len(evidence):
        reach = config.n_sigma * math.sqrt(
            2.0 * _unknown_pattern(catalogue) + float(evidence.spread_m.max()) ** 2
        )
        boxes.append(np.column_stack([evidence.x - reach, evidence.y - reach,
                                      evidence.x + reach, evidence.y + reach]))  # fmt: skip
    if len(areas):
        b = areas.geometry.to_crs(crs).bounds.to_numpy()
        boxes.append(b[np.all(np.isfinite(b), axis=1)])
    return tl.study_grid(np.concatenate(boxes), config.cell_m, crs)


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
) -> Strikes:
    """Pseudo-strikes at clusters of evidence the recorded strikes do not explain.

    Points closer than :data:`PSEUDO_LINK` spreads of one unknown attack's items
    join one cluster; its centre estimates the attack point with the error of a
    mean of ``n`` items, ``√(pattern / n)``, plus the points' own error.
    """
    pattern = _unknown_pattern(catalogue)
    unexplained = first.responsibility_background > config.unexplained_threshold
    weight = np.where(evidence.kind == EVIDENCE, 1.0, evidence.quantity)
    groups = cluster_evidence(evidence.x, evidence.y, evidence.day, weight, evidence.spread_m,
                              unexplained, PSEUDO_LINK * math.sqrt(pattern))  # fmt: skip
    sigma_e = np.sqrt(pattern / np.maximum(groups.size, 1) + groups.spread_m**2)
    return pseudo_strikes(groups.x, groups.y, groups.day, sigma_e, catalogue, types, config)


def _site_rounds(
    strikes: Strikes,
    comps: Components,
    integrals: Integrals,
    result: Attribution,
    setup: _Setup,
    pending: IntArray,
) -> tuple[Strikes, Components, Integrals, Attribution, IntArray]:
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
    returns the strikes whose pass 1 was redone (their hazard-area masses are gone).
    """
    ev = setup.evidence
    weight = np.where(ev.kind == EVIDENCE, 1.0, ev.quantity)
    reported = strikes
    dispersion = setup.config.strike_dispersion
    moved = pending.copy()
    for _ in range(setup.config.site_rounds if setup.config.learn else 0):
        owner = _owners(integrals, result, len(ev))
        duds = reported.per_carrier * result.posterior.mean[reported.type_index]
        searched = SearchedSites.of(comps, integrals.component_exposure)
        sites = find_sites(reported, owner, ev.x, ev.y, weight, ev.spread_m, duds, searched,
                           ev.kind == SEARCHED)  # fmt: skip
        sites = aim_sites(sites, _search_moments(setup, reported.day[sites.strike]))
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
        new = sited_components(reported, sites, unlocated)
        changed = np.union1d(_changed(comps, new, 0.1 * setup.grid.cell), pending)
        pending = pending[:0]
        if changed.any():
            moved = np.union1d(moved, changed)
            redone = setup.integrate(strikes.take(changed), new.take(changed), "strikes")
            integrals = _splice(integrals, redone, changed, comps.offsets, new.offsets)
            comps = new
        result = setup.attribute(strikes, integrals, result)
        if not changed.any():
            break
    if len(pending):  # no round ran: pass 1 of the pending strikes is still to do
        redone = setup.integrate(strikes.take(pending), comps.take(pending), "strikes")
        integrals = _splice(integrals, redone, pending, comps.offsets, comps.offsets)
        result = setup.attribute(strikes, integrals, result)
    return strikes, comps, integrals, result, moved


def _search_moments(setup: _Setup, day: IntArray) -> MomentsFn:
    """:func:`.aim.searched_moments` of patterns of strikes of ``day``, this setup's searches."""
    grid = dataclasses.astuple(_grid_args(setup.grid))
    polygons = polygon_tuple(setup.searches)

    def moments(x: FloatArray, y: FloatArray, sigma: FloatArray) -> FloatArray:
        return searched_moments(x, y, sigma, day, grid, polygons, setup.search_day,
                                setup.search_log_keep, setup.config.n_sigma)  # fmt: skip

    return moments


def _owners(integrals: Integrals, result: Attribution, n_evidence: int) -> IntArray:
    """The strike holding more than half of each evidence point, ``-1`` where none does."""
    owner = np.full(n_evidence, -1, dtype=np.int64)
    big = result.pair_share > 0.5
    owner[integrals.pair_evidence[big]] = integrals.pair_strike[big]
    return owner


def _changed(old: Components, new: Components, step_m: float) -> IntArray:
    """Strikes whose components differ: in number, or by more than ``step_m`` or 1 %."""
    n_old, n_new = np.diff(old.offsets), np.diff(new.offsets)
    differs = n_old != n_new
    same = np.flatnonzero(~differs)
    if same.size:
        a, b = old.take(same), new.take(same)
        gap = np.maximum(np.abs(a.x - b.x), np.abs(a.y - b.y)) > step_m
        gap |= np.abs(a.along - b.along) > 0.01 * a.along
        gap |= np.abs(a.weight - b.weight) > 0.01
        owner = a.strike
        differs[same[np.unique(owner[gap])]] = True
    return np.flatnonzero(differs).astype(np.int64)


def _splice(
    old: Integrals, new: Integrals, idx: IntArray, old_offsets: IntArray, offsets: IntArray
) -> Integrals:
    """Pass-1 results with those of strikes ``idx`` replaced by ``new`` (computed on them).

    ``old_offsets`` and ``offsets`` are the component offsets of all strikes before and
    after (the strikes not in ``idx`` keep their number of components).
    """
    moved = np.zeros(len(old.exposure), dtype=bool)
    moved[idx] = True
    counts = np.diff(offsets)
    comp_exposure = np.empty(int(offsets[-1]))
    kept = np.flatnonzero(~moved)
    src = run_rows(old_offsets[kept], counts[kept])
    comp_exposure[run_rows(offsets[kept], counts[kept])] = old.component_exposure[src]
    comp_exposure[run_rows(offsets[idx], counts[idx])] = new.component_exposure
    exposure = old.exposure.copy()
    exposure[idx] = new.exposure
    last = old.last_exposure.copy()
    last[idx] = new.last_exposure
    norm = old.notice_norm.copy()
    norm[idx] = new.notice_norm
    keep = ~moved[old.pair_strike]
    keep_a = ~moved[old.area_strike]
    return Integrals(
        exposure=exposure,
        component_exposure=comp_exposure,
        last_exposure=last,
        notice_norm=norm,
        searched=old.searched,
        notice=old.notice,
        pair_evidence=np.concatenate([old.pair_evidence[keep], new.pair_evidence]),
        pair_strike=np.concatenate([old.pair_strike[keep], idx[new.pair_strike]]),
        pair_weight=np.concatenate([old.pair_weight[keep], new.pair_weight]),
        evidence_background=old.evidence_background,
        area_strike_area=np.concatenate([old.area_strike_area[keep_a], new.area_strike_area]),
        area_strike=np.concatenate([old.area_strike[keep_a], idx[new.area_strike]]),
        area_mass=np.concatenate([old.area_mass[keep_a], new.area_mass]),
        area_cells=old.area_cells,
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
        component_exposure=np.concatenate([a.component_exposure, zeros]),
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


def _area_background(areas: gpd.GeoDataFrame, setup: _Setup, hidden: Unrecorded) -> FloatArray:
    """Expected items of unrevealed unrecorded attacks in each hazard area. [items]"""
    if len(areas) == 0:
        return np.empty(0)
    owner, flat = cells_inside(setup.area_rings, setup.grid)
    f = setup.factor
    row, col = flat // setup.grid.nx, flat % setup.grid.nx
    per_cell = hidden.remaining[row // f, col // f] / f**2
    return np.bincount(owner, per_cell, len(areas)).astype(np.float64)


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
