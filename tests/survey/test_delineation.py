"""Hazard areas drawn from the estimate and the evidence, and compared with those recorded."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from remnant.hazard.grid import Grid
from remnant.survey.delineation import (
    compare_areas,
    hazardous_blocks,
    live_evidence,
    propose_areas,
    region_sums,
)
from remnant.survey.standard import Sourced, load_standard

CRS = "EPSG:32637"
GRID = Grid(crs=CRS, x0=0.0, y0=0.0, cell=25.0, nx=200, ny=160)  # 5 km × 4 km


def _rules(**values):
    rules = load_standard().hazard_areas
    return dataclasses.replace(rules, **{k: Sourced(v, "test") for k, v in values.items()})


def _blob(cx: float, cy: float, sigma: float, items: float) -> np.ndarray:
    """Expected items of a circular footprint on GRID's cells (their centres)."""
    x = GRID.x0 + (np.arange(GRID.nx) + 0.5) * GRID.cell
    y = GRID.top - (np.arange(GRID.ny) + 0.5) * GRID.cell
    d2 = (x[np.newaxis, :] - cx) ** 2 + (y[:, np.newaxis] - cy) ** 2
    return items * GRID.cell**2 * np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2)


def _bands(*blobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.sum(blobs, axis=0).astype(np.float32)
    return mean, (-np.expm1(-mean)).astype(np.float32)  # p_any of a Poisson count


def _points(*xy: tuple[float, float]) -> gpd.GeoSeries:
    return gpd.GeoSeries([shapely.Point(x, y) for x, y in xy], crs=CRS)


def test_blocks_are_hazardous_from_the_bound_of_their_cells():
    p = np.zeros((5, 7))
    p[0, 0] = 0.004
    p[1, 1] = 0.007  # block (0, 0): 0.011 ≥ 0.01
    p[2, 4] = 0.009  # block (1, 2): 0.009 < 0.01
    p[4, 6] = 0.02  # the edge block (2, 3), one cell of it inside the grid
    cells = hazardous_blocks(p, 2, 0.01)
    expected = np.zeros((5, 7), dtype=bool)
    expected[0:2, 0:2] = True
    expected[4:5, 6:7] = True
    np.testing.assert_array_equal(cells, expected)
    assert hazardous_blocks(np.full((4, 4), np.nan), 2, 0.01).sum() == 0


def test_region_sums_take_the_cells_whose_centres_lie_inside():
    rng = np.random.default_rng(3)
    mean = rng.random((GRID.ny, GRID.nx)).astype(np.float32)
    p = rng.random((GRID.ny, GRID.nx)).astype(np.float32) * 1e-4
    region = shapely.Polygon([(110, 130), (1310, 415), (900, 1890), (260, 1500)])
    items, bound = region_sums([region, shapely.Polygon()], GRID, mean, p)
    x = GRID.x0 + (np.arange(GRID.nx) + 0.5) * GRID.cell
    y = GRID.top - (np.arange(GRID.ny) + 0.5) * GRID.cell
    inside = shapely.contains_xy(region, *np.meshgrid(x, y))
    assert items[0] == pytest.approx(mean[inside].sum(dtype=np.float64), rel=1e-9)
    assert bound[0] == pytest.approx(p[inside].sum(dtype=np.float64), rel=1e-9)
    assert (items[1], bound[1]) == (0.0, 0.0)


def test_areas_hold_the_hazardous_blocks_and_every_evidence_disk():
    mean, p = _bands(_blob(1500, 2000, 60, 40), _blob(3600, 1200, 80, 30))
    lone = (4500.0, 3500.0)  # a find far from any footprint
    evidence = _points((1500, 2000), lone)
    rules = _rules()
    out = propose_areas(GRID, mean, p, evidence, rules)
    whole = shapely.union_all(out.areas.geometry.to_numpy())
    x = GRID.x0 + (np.arange(GRID.nx) + 0.5) * GRID.cell
    y = GRID.top - (np.arange(GRID.ny) + 0.5) * GRID.cell
    xx, yy = np.meshgrid(x, y)
    assert shapely.contains_xy(whole, xx[out.cells], yy[out.cells]).all()
    for point in evidence:  # never cut through: the whole fade-out disk is inside
        disk = point.buffer(rules.fade_out_m.value - 0.5, 64)
        assert whole.buffer(1e-6).contains(disk)
    assert len(out.areas) == 3
    alone = out.areas[out.areas.contains(shapely.Point(lone))].iloc[0]
    assert alone["status"] == "confirmed" and alone["evidence"] == 1
    radius = rules.fade_out_m.value
    assert alone["area_m2"] == pytest.approx(np.pi * radius**2, rel=0.01)
    other = out.areas[~out.areas.intersects(shapely.Point(1500, 2000)) & (out.areas.evidence == 0)]
    assert list(other["status"]) == ["suspected"]
    assert out.captured == pytest.approx(out.areas["expected_items"].sum() / mean.sum(), rel=1e-6)
    assert out.captured > 0.9


def test_close_pieces_merge_and_small_ones_without_evidence_go():
    mean, p = _bands(_blob(1000, 2000, 30, 5), _blob(1400, 2000, 30, 5), _blob(4000, 600, 8, 0.2))
    rules = _rules(merge_m=250.0, min_area_m2=50_000.0)
    out = propose_areas(GRID, mean, p, _points(), rules)
    assert len(out.areas) == 1  # two footprints with a 200 m gap as one; the small one gone
    assert out.areas.iloc[0].geometry.contains(shapely.Point(1200, 2000))
    apart = propose_areas(GRID, mean, p, _points(), _rules(merge_m=1.0, min_area_m2=1.0))
    assert len(apart.areas) == 3


def _recorded(*rows: tuple[str, str, shapely.Geometry]) -> gpd.GeoDataFrame:
    ids, status, geometry = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"area_id": ids, "status": status}, geometry=list(geometry), crs=CRS)


def test_recorded_areas_are_reduced_cancelled_kept_or_reviewed():
    mean, p = _bands(_blob(1500, 2000, 60, 40))
    mean = mean + np.float32(1e-7)  # a faint background everywhere
    p = -np.expm1(-mean)
    out = propose_areas(GRID, mean, p, _points(), _rules())
    footprint = shapely.union_all(out.areas.geometry.to_numpy())
    recorded = _recorded(
        ("A-far", "suspected", shapely.box(4000, 200, 4400, 600)),  # nothing there
        ("A-part", "confirmed", shapely.box(1500, 1800, 2100, 2200)),  # part on it
        ("A-on", "confirmed", shapely.box(1450, 1950, 1550, 2050)),  # inside it
        ("A-done", "cleared", shapely.box(1400, 1900, 1600, 2100)),  # cleared, still seen
        ("A-gone", "cancelled", shapely.box(200, 200, 400, 400)),
    )
    table = compare_areas(out.areas, recorded, GRID, mean, p, 0.05, 2500.0).set_index("area_id")
    assert table.loc["A-far", "suggestion"] == "cancel"
    assert table.loc["A-far"].geometry.is_empty
    assert table.loc["A-far", "released_m2"] == pytest.approx(400 * 400)
    assert table.loc["A-part", "suggestion"] == "reduce"
    kept = table.loc["A-part"].geometry
    assert kept.equals_exact(shapely.intersection(recorded.geometry[1], footprint), 1e-6)
    assert table.loc["A-part", "released_p_any_upper"] <= 0.05
    assert table.loc["A-on", "suggestion"] == "keep"
    assert table.loc["A-done", "suggestion"] == "review"
    assert table.loc["A-gone", "suggestion"] == "released"
    new = table[table["suggestion"] == "new"]
    assert len(new) == 1 and new.iloc[0].geometry.area == pytest.approx(
        shapely.difference(footprint, shapely.union_all(recorded.geometry[:3])).area
    )
    strict = compare_areas(out.areas, recorded, GRID, mean, p, 1e-6, 2500.0)
    assert set(strict.set_index("area_id").loc[["A-far", "A-part"], "suggestion"]) == {"keep"}


def test_live_evidence_leaves_out_what_clearance_removed_since():
    finds = gpd.GeoDataFrame(
        {"date": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-09-01"], utc=True)},
        geometry=[shapely.Point(37.001, 48.001), shapely.Point(37.1, 48.1),
                  shapely.Point(37.002, 48.002)],
        crs="EPSG:4326",
    )  # fmt: skip
    accidents = gpd.GeoDataFrame(
        {"date": pd.to_datetime(["2024-01-01"], utc=True)},
        geometry=[shapely.Point(37.003, 48.003)],
        crs="EPSG:4326",
    )
    activities = gpd.GeoDataFrame(
        {"type": ["clearance", "technical_survey"],
         "end_date": pd.to_datetime(["2024-06-30", "2025-01-01"], utc=True)},
        geometry=[shapely.box(37.0, 48.0, 37.01, 48.01), shapely.box(37.09, 48.09, 37.11, 48.11)],
        crs="EPSG:4326",
    )  # fmt: skip
    live = live_evidence(finds, accidents, activities, CRS)
    back = live.to_crs("EPSG:4326")
    kept = sorted((round(p.x, 3), round(p.y, 3)) for p in back)
    # the first find and the accident were cleared in June; the later find and the one
    # under a technical survey (not a clearance) still mark hazard
    assert kept == [(37.002, 48.002), (37.1, 48.1)]
    assert live.crs == CRS
