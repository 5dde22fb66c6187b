"""Hazard areas drawn from the estimate and the evidence, and compared with those recorded.

A survey team leader draws confirmed (CHA) and suspected (SHA) hazardous areas around
what the evidence and the estimate say; :func:`propose_areas` does it by the rules of
the national standard (:class:`.standard.HazardAreaRules`, docs/survey.md):

1. the hazardous land: the square blocks of side ``block_m`` (the unit in which land
   is judged) whose probability of holding any item may reach ``p_any_threshold``,
   by the bound ``min(1, Σ_c p_c)`` over their cells (:func:`hazardous_blocks`).
   A threshold on single 25 m cells would miss most footprints, whose items are
   spread a few tenths of an item per cell; a rule that the areas hold a share of
   all the estimate's expected items would draw half the study area, for the
   estimate spreads the items of unrecorded attacks and of badly located strikes
   thinly everywhere (docs/survey.md);
2. their outline (:func:`rasterio.features.shapes`), merged with the *fade-out*
   disk of radius ``fade_out_m`` around each live piece of direct evidence (a find or
   an accident not cleared since, :func:`live_evidence`): the CMRS rule that a CHA
   extends beyond the last evidence;
3. pieces closer than ``merge_m`` merged (a morphological closing), the boundary
   simplified to ``simplify_m``, and the fade-out disks added back so that no
   simplification cuts through them;
4. pieces smaller than ``min_area_m2`` without evidence dropped; a piece with direct
   evidence is confirmed, any other suspected.

Each area carries the numbers behind it: the estimate's expected items in it and an
upper bound of the probability that it holds any, ``min(1, Σ_c p_c)`` over its cells
(Boole's inequality: true whatever the dependence between cells, where a product of
``1 − p_c`` would assume them independent). :func:`compare_areas` then sets the
proposals against the hazard areas recorded: areas to add, active areas to reduce or
cancel (with what the released part would leave), released land where the estimate
now sees items.

References
----------
.. [1] HALO Trust, MAG and NPA (2019) *Cluster Munition Remnants Survey: Best practice
   in South East Asia* (evidence points, fade-out).
.. [2] IMAS 07.11 *Land release*; IMAS 08.10 and 08.20 (SHA, CHA).
   https://www.mineactionstandards.org/
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio.features
import shapely
from affine import Affine

from remnant.hazard.grid import Grid
from remnant.records.lifecycle import ACTIVE
from remnant.survey.standard import HazardAreaRules

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

CLEARING_TYPES = ("clearance", "battle_area_clearance")
"""Activities after which the evidence they cover no longer marks hazard (IMAS 09.10)."""

DISK_SEGMENTS = 16
"""Segments per quarter circle of a fade-out disk. [-]"""


@dataclass(frozen=True)
class Proposals:
    """Hazard areas proposed from an estimate.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        One row per area, in the grid's CRS: ``area_id`` (``PROPOSED-0001`` …),
        ``status`` (``confirmed`` with direct evidence, else ``suspected``),
        ``area_m2``, ``expected_items``, ``p_any_upper``, ``evidence``
        (live pieces of direct evidence inside), ``geometry``.
    captured : float
        Share of the estimate's expected items inside the areas. [-]
    cells : ndarray of bool
        The cells of the hazardous blocks of step 1, ``(ny, nx)``.
    """

    areas: gpd.GeoDataFrame
    captured: float
    cells: BoolArray


def live_evidence(
    finds: gpd.GeoDataFrame, accidents: gpd.GeoDataFrame, activities: gpd.GeoDataFrame, crs: str
) -> gpd.GeoSeries:
    """The direct evidence still marking hazard: finds and accidents not cleared since.

    A point inside a clearance or battle-area clearance polygon whose work ended on or
    after its date was cleared with the land around it (the items found by that
    clearance among them). Points in ``crs``.
    """
    points = pd.concat(
        [finds[["date", "geometry"]], accidents[["date", "geometry"]]], ignore_index=True
    )
    points = gpd.GeoDataFrame(points, geometry="geometry", crs=finds.crs).to_crs(crs)
    clearing = activities[activities["type"].isin(CLEARING_TYPES)].to_crs(crs)
    if not len(points) or not len(clearing):
        return points.geometry
    pairs = gpd.sjoin(points, clearing[["end_date", "geometry"]], predicate="within")
    day = pd.to_datetime(pairs["date"], utc=True).dt.normalize()
    ended = pd.to_datetime(pairs["end_date"], utc=True).dt.normalize()
    cleared = pairs.index[(ended >= day).to_numpy()].unique()
    return points.geometry.drop(index=cleared).reset_index(drop=True)


def hazardous_blocks(p_any: FloatArray, factor: int, threshold: float) -> BoolArray:
    """Step 1: blocks of ``factor × factor`` cells that may hold an item, as a cell mask.

    A block is hazardous when ``min(1, Σ_c p_c)`` over its cells — an upper bound of the
    probability that it holds any item — reaches ``threshold``. Blocks at the grid's
    edge are the part of a block inside it. Returns the ``(ny, nx)`` mask of the
    cells of hazardous blocks.
    """
    ny, nx = p_any.shape
    rows, cols = -(-ny // factor), -(-nx // factor)
    padded = np.zeros((rows * factor, cols * factor))
    padded[:ny, :nx] = np.nan_to_num(np.asarray(p_any, dtype=np.float64), nan=0.0)
    sums = padded.reshape(rows, factor, cols, factor).sum(axis=(1, 3))
    blocks = np.minimum(sums, 1.0) >= threshold
    cells = np.repeat(np.repeat(blocks, factor, axis=0), factor, axis=1)
    return np.asarray(cells[:ny, :nx], dtype=bool)


def propose_areas(
    grid: Grid,
    expected: FloatArray,
    p_any: FloatArray,
    evidence: gpd.GeoSeries,
    rules: HazardAreaRules,
) -> Proposals:
    """Hazard areas from an estimate's bands and the live direct evidence (module doc).

    Parameters
    ----------
    grid : Grid
        The estimate's grid; ``expected`` and ``p_any`` are its ``(ny, nx)`` bands.
    expected, p_any : ndarray
        Expected items remaining per cell [items] and the probability of any [-].
    evidence : geopandas.GeoSeries
        Points of live direct evidence in the grid's CRS (:func:`live_evidence`).
    rules : HazardAreaRules
        The national standard's rules.
    """
    factor = max(1, round(rules.block_m.value / grid.cell))
    cells = hazardous_blocks(p_any, factor, rules.p_any_threshold.value)
    disks = shapely.buffer(
        np.asarray(evidence.to_numpy(), dtype=object),
        rules.fade_out_m.value,
        quad_segs=DISK_SEGMENTS,
    )
    shape = shapely.union_all([_outline(cells, grid), *disks])
    shape = _closed(shape, rules.merge_m.value)
    shape = shapely.union_all([shape.simplify(rules.simplify_m.value), *disks])
    parts = [p for p in shapely.get_parts(shape) if not p.is_empty]
    frame = _measured(parts, grid, expected, p_any, evidence, rules)
    inside = float(frame["expected_items"].sum())
    total = float(np.nansum(np.asarray(expected, dtype=np.float64)))
    return Proposals(frame, inside / total if total > 0 else 1.0, cells)


def _outline(cells: BoolArray, grid: Grid) -> shapely.Geometry:
    """The union of the cells marked, as polygons in the grid's CRS."""
    if not cells.any():
        return shapely.Polygon()
    polygons = [
        shapely.geometry.shape(geometry)
        for geometry, _ in rasterio.features.shapes(
            cells.astype(np.uint8), mask=cells, transform=_transform(grid)
        )
    ]
    return shapely.union_all(polygons)


def _transform(grid: Grid) -> Affine:
    return Affine(*grid.transform)


def _closed(shape: shapely.Geometry, width: float) -> shapely.Geometry:
    """Gaps narrower than ``width`` filled: a dilation then an erosion by half of it."""
    if shape.is_empty or width <= 0:
        return shape
    return shape.buffer(width / 2, join_style="mitre").buffer(-width / 2, join_style="mitre")


def _measured(
    parts: list[shapely.Geometry],
    grid: Grid,
    expected: FloatArray,
    p_any: FloatArray,
    evidence: gpd.GeoSeries,
    rules: HazardAreaRules,
) -> gpd.GeoDataFrame:
    """The parts with their numbers; small ones without evidence dropped."""
    points = np.asarray(evidence.to_numpy(), dtype=object)
    held = np.array([int(shapely.contains(p, points).sum()) for p in parts], dtype=np.int64)
    area = np.array([p.area for p in parts], dtype=np.float64)
    keep = (held > 0) | (area >= rules.min_area_m2.value)
    parts = [p for p, k in zip(parts, keep, strict=True) if k]
    items, bound = region_sums(parts, grid, expected, p_any)
    return gpd.GeoDataFrame(
        {
            "area_id": [f"PROPOSED-{i + 1:04d}" for i in range(len(parts))],
            "status": np.where(held[keep] > 0, "confirmed", "suspected"),
            "area_m2": area[keep],
            "expected_items": items,
            "p_any_upper": bound,
            "evidence": held[keep],
        },
        geometry=gpd.GeoSeries(parts, crs=grid.crs),
    )


def region_sums(
    regions: list[shapely.Geometry], grid: Grid, expected: FloatArray, p_any: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per region, the expected items of its cells and ``min(1, Σ p_any)`` over them.

    A cell belongs to a region when its centre lies inside (as a search's cells do,
    docs/model.md §2); overlapping regions are measured each on its own.
    """
    items = np.zeros(len(regions))
    bound = np.zeros(len(regions))
    for i, region in enumerate(regions):
        window = _window(grid, region)
        if window is None:
            continue
        rows, cols, transform = window
        inside = rasterio.features.geometry_mask(
            [region], out_shape=(rows.stop - rows.start, cols.stop - cols.start),
            transform=transform, invert=True,
        )  # fmt: skip
        items[i] = np.nansum(expected[rows, cols][inside], dtype=np.float64)
        bound[i] = min(1.0, float(np.nansum(p_any[rows, cols][inside], dtype=np.float64)))
    return items, bound


def _window(grid: Grid, region: shapely.Geometry) -> tuple[slice, slice, Affine] | None:
    """The rows and columns of the grid a region's bounds meet, and their transform."""
    if region.is_empty:
        return None
    x0, y0, x1, y1 = region.bounds
    col0 = max(0, int(np.floor((x0 - grid.x0) / grid.cell)))
    col1 = min(grid.nx, int(np.ceil((x1 - grid.x0) / grid.cell)))
    row0 = max(0, int(np.floor((grid.top - y1) / grid.cell)))
    row1 = min(grid.ny, int(np.ceil((grid.top - y0) / grid.cell)))
    if col0 >= col1 or row0 >= row1:
        return None
    corner = _transform(grid) @ Affine.translation(col0, row0)
    return slice(row0, row1), slice(col0, col1), corner


SMALLEST_PART_M2 = 1.0
"""Slivers below this left by the overlay of two outlines are not parts. [m²]"""


def compare_areas(
    proposals: gpd.GeoDataFrame,
    recorded: gpd.GeoDataFrame,
    grid: Grid,
    expected: FloatArray,
    p_any: FloatArray,
    tolerable_p_any: float,
    min_area_m2: float,
) -> gpd.GeoDataFrame:
    """The proposals set against the hazard areas recorded: what to add, reduce, cancel, review.

    For an active area (:data:`ACTIVE`), the part no proposal covers could be released:
    *cancel* when that is all of it and *reduce* when it is part of it, each only if the
    probability that the part holds any item is at most ``tolerable_p_any`` (its upper
    bound, :func:`region_sums`), else *keep*. A released area (cancelled, reduced,
    cleared) that proposals meet and whose bound exceeds the tolerable risk is to
    *review*. The part of a proposal outside every active area, from ``min_area_m2``,
    is *new*. Both frames in the grid's CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``area_id``, ``status``, ``suggestion``, ``area_m2``, ``expected_items``,
        ``released_m2``, ``released_items``, ``released_p_any_upper``, and as
        ``geometry`` what the area would become (the kept part, the new part; empty
        when cancelled).
    """
    proposed = shapely.union_all(proposals.geometry.to_numpy())
    judge = _Judge(proposed, grid, expected, p_any, tolerable_p_any)
    rows = [
        judge(str(i), str(st), g)
        for i, st, g in zip(recorded["area_id"], recorded["status"], recorded.geometry, strict=True)
    ]
    active = recorded[recorded["status"].isin(ACTIVE)]
    outside = shapely.union_all(active.geometry.to_numpy())
    for i, st, g in zip(proposals["area_id"], proposals["status"], proposals.geometry, strict=True):
        part = shapely.difference(g, outside)
        if part.area >= max(min_area_m2, SMALLEST_PART_M2):
            items, _ = region_sums([part], grid, expected, p_any)
            rows.append(_Row(str(i), str(st), "new", part.area, float(items[0]), geometry=part))
    frame = pd.DataFrame([dataclasses.astuple(r)[:-1] for r in rows], columns=_COLUMNS)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([r.geometry for r in rows], crs=grid.crs))


_COLUMNS = [
    "area_id", "status", "suggestion", "area_m2", "expected_items",
    "released_m2", "released_items", "released_p_any_upper",
]  # fmt: skip


@dataclass(frozen=True)
class _Row:
    area_id: str
    status: str
    suggestion: str
    area_m2: float
    expected_items: float
    released_m2: float = 0.0
    released_items: float = 0.0
    released_p_any_upper: float = 0.0
    geometry: shapely.Geometry = dataclasses.field(default_factory=shapely.Polygon)


@dataclass(frozen=True)
class _Judge:
    """What the proposals and the estimate say of a recorded area (:func:`compare_areas`)."""

    proposed: shapely.Geometry
    grid: Grid
    expected: FloatArray
    p_any: FloatArray
    tolerable: float

    def __call__(self, area_id: str, status: str, whole: shapely.Geometry) -> _Row:
        free = shapely.difference(whole, self.proposed)
        (items, free_items), (bound, free_bound) = region_sums(
            [whole, free], self.grid, self.expected, self.p_any
        )
        if status not in ACTIVE:
            meets = whole.intersects(self.proposed) and bound > self.tolerable
            return _Row(area_id, status, "review" if meets else "released", whole.area,
                        items, geometry=whole)  # fmt: skip
        if free.area < SMALLEST_PART_M2 or free_bound > self.tolerable:
            suggestion, becomes = "keep", whole
        else:
            kept = shapely.intersection(whole, self.proposed)
            gone = kept.area < SMALLEST_PART_M2
            suggestion, becomes = ("cancel", shapely.Polygon()) if gone else ("reduce", kept)
        return _Row(area_id, status, suggestion, whole.area, items, free.area, free_items,
                    free_bound, becomes)  # fmt: skip
