"""Search activities thin the items of earlier strikes (docs/model.md §2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from remnant.hazard.footprint import isotropic_cell_mass
from remnant.hazard.grid import Grid
from remnant.hazard.search import (
    LOG_KEEP_MIN,
    detection_probabilities,
    exposure,
    log_keep,
    rasterise_activities,
    remaining_mass,
    survival_window,
)
from remnant.records.defaults import DETECTION_PROBABILITY, DETECTION_PROBABILITY_BY_TYPE

GRID = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=10.0, nx=100, ny=100)


def _strike(x: float = 500.0, y: float = 500.0, sigma: float = 30.0):
    return isotropic_cell_mass(x, y, sigma, GRID)


def _survival(polygons, p, days, strike_day=0.0, x=500.0, y=500.0):
    row0, col0, mass = _strike(x, y)
    acts = rasterise_activities(polygons, GRID)
    s = survival_window(row0, col0, mass.shape, strike_day, acts, days, log_keep(p), GRID)
    return row0, col0, mass, s


def _centres_inside(row0, col0, shape, polygon) -> np.ndarray:
    rows = row0 + np.arange(shape[0])[:, np.newaxis]
    cols = col0 + np.arange(shape[1])[np.newaxis, :]
    x, y = GRID.centres(rows, cols)
    return shapely.contains_xy(polygon, x, y)


# --- detection probability --------------------------------------------------------


def test_detection_defaults_order_given_then_method_then_type() -> None:
    p = detection_probabilities(
        ["clearance", "clearance", "non_technical_survey", "eod_spot_task"],
        ["visual", None, float("nan"), None],
        [0.42, None, float("nan"), None],
    )
    expected = [
        0.42,
        DETECTION_PROBABILITY_BY_TYPE["clearance"],
        DETECTION_PROBABILITY_BY_TYPE["non_technical_survey"],
        DETECTION_PROBABILITY_BY_TYPE["eod_spot_task"],
    ]
    np.testing.assert_array_equal(p, expected)
    method_wins = detection_probabilities(["clearance"], ["drone"], [None])
    assert method_wins[0] == DETECTION_PROBABILITY["drone"]


def test_detection_rejects_unknown_and_missing() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        detection_probabilities(["clearance"], ["telepathy"], [None])
    with pytest.raises(ValueError, match="no detection probability"):
        detection_probabilities([None], [None], [None])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        detection_probabilities(["clearance"], [None], [1.5])


def test_log_keep_is_finite_for_a_complete_search() -> None:
    out = log_keep([0.0, 0.5, 1.0])
    np.testing.assert_allclose(out, [0.0, math.log(0.5), LOG_KEEP_MIN])
    assert np.all(np.isfinite(out))


# --- rasterisation ----------------------------------------------------------------


def test_cell_centre_rule_on_an_aligned_square() -> None:
    # 5 columns × 6 rows of 10 m cells exactly; every centre is 5 m from the edges.
    acts = rasterise_activities([box(100.0, 200.0, 150.0, 260.0)], GRID)
    cells = acts.cells(0)
    assert cells.size == 30
    rows, cols = np.divmod(cells, GRID.nx)
    assert set(cols) == set(range(10, 15))
    top_row = int(GRID.cell_of(105.0, 255.0)[0])
    assert set(rows) == set(range(top_row, top_row + 6))


def test_cells_outside_the_grid_are_dropped() -> None:
    # Half of the square hangs west of the grid: only 3 of its 6 columns remain.
    acts = rasterise_activities([box(-30.0, 0.0, 30.0, 20.0), None], GRID)
    assert acts.cells(0).size == 3 * 2
    assert acts.cells(1).size == 0
    assert acts.activities_touching(0, 0, GRID.ny, GRID.nx).tolist() == [0]


def test_csr_round_trip_matches_brute_force_shapely() -> None:
    rng = np.random.default_rng(7)
    centres = rng.uniform(-100.0, 1100.0, size=(60, 2))
    polygons = [
        shapely.Point(x, y).buffer(r).intersection(box(x - r, y - 0.5 * r, x + r, y + r))
        for (x, y), r in zip(centres, rng.uniform(5.0, 150.0, 60), strict=True)
    ]
    acts = rasterise_activities(polygons, GRID, batch=97)
    rows, cols = np.divmod(np.arange(GRID.nx * GRID.ny), GRID.nx)
    x, y = GRID.centres(rows, cols)
    assert len(acts) == len(polygons)
    for i, polygon in enumerate(polygons):
        expected = np.flatnonzero(shapely.contains_xy(polygon, x, y))
        np.testing.assert_array_equal(acts.cells(i), expected)


def test_activities_touching_uses_the_cell_bounding_boxes() -> None:
    acts = rasterise_activities([box(0.0, 990.0, 20.0, 1000.0), box(500.0, 0.0, 520.0, 10.0)], GRID)
    assert acts.activities_touching(0, 0, 1, 2).tolist() == [0]
    assert acts.activities_touching(99, 50, 1, 1).tolist() == [1]
    assert acts.activities_touching(-10, -10, 10, 10).tolist() == []


# --- survival and exposure --------------------------------------------------------


def test_complete_search_over_the_whole_window_finds_everything() -> None:
    _, _, mass, s = _survival([box(0.0, 0.0, 1000.0, 1000.0)], [1.0], [5.0])
    assert exposure(mass, s) == pytest.approx(1.0, abs=1e-12)
    assert np.all(remaining_mass(mass, s) < 1e-20)


def test_complete_search_of_half_the_window_finds_the_mass_inside() -> None:
    polygon = box(300.0, 300.0, 500.0, 700.0)  # the western half of the window
    row0, col0, mass, s = _survival([polygon], [1.0], [5.0])
    inside = _centres_inside(row0, col0, mass.shape, polygon)
    mass_outside = mass[~inside].sum()
    assert 0.4 < mass_outside < 0.6
    assert exposure(mass, s) == pytest.approx(1.0 - mass_outside, abs=1e-12)
    left = remaining_mass(mass, s)
    assert np.all(left[inside] < 1e-20)
    np.testing.assert_array_equal(left[~inside], mass[~inside])


def test_overlapping_activities_multiply_on_the_overlap_only() -> None:
    a, b = box(400.0, 400.0, 520.0, 520.0), box(460.0, 460.0, 600.0, 600.0)
    row0, col0, mass, s = _survival([a, b], [0.5, 0.3], [5.0, 6.0])
    in_a = _centres_inside(row0, col0, mass.shape, a)
    in_b = _centres_inside(row0, col0, mass.shape, b)
    assert np.any(in_a & in_b) and np.any(in_a & ~in_b) and np.any(in_b & ~in_a)
    np.testing.assert_allclose(s[in_a & in_b], 0.5 * 0.7)
    np.testing.assert_allclose(s[in_a & ~in_b], 0.5)
    np.testing.assert_allclose(s[in_b & ~in_a], 0.7)
    np.testing.assert_array_equal(s[~in_a & ~in_b], 1.0)
    expected = (mass * np.where(in_a, 0.5, 0.0)).sum() + (mass * np.where(in_b, 0.3, 0.0)).sum()
    expected -= (mass * np.where(in_a & in_b, 0.5 * 0.3, 0.0)).sum()
    assert exposure(mass, s) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("activity_day", [3.0, 10.0])
def test_activity_not_after_the_strike_clears_nothing(activity_day: float) -> None:
    _, _, mass, s = _survival(
        [box(0.0, 0.0, 1000.0, 1000.0)], [1.0], [activity_day], strike_day=10.0
    )
    np.testing.assert_array_equal(s, 1.0)
    assert exposure(mass, s) == 0.0


def test_window_hanging_off_the_grid_survives_outside() -> None:
    # Strike near the south-west corner: part of its window is outside the grid.
    row0, col0, mass, s = _survival([box(0.0, 0.0, 1000.0, 1000.0)], [1.0], [5.0], x=20.0, y=20.0)
    rows = row0 + np.arange(mass.shape[0])[:, np.newaxis]
    cols = col0 + np.arange(mass.shape[1])[np.newaxis, :]
    off = (rows >= GRID.ny) | (cols < 0)
    off = np.broadcast_to(off, mass.shape)
    assert off.any()
    np.testing.assert_array_equal(s[off], 1.0)
    assert exposure(mass, s) == pytest.approx(1.0 - mass[off].sum(), abs=1e-12)


def test_exposure_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        exposure(np.ones((2, 2)), np.ones((2, 3)))
