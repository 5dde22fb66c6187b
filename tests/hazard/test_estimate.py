"""The hazard estimate end to end, against closed forms (docs/model.md).

Each scenario is built in UTM metres around one point of eastern Ukraine and handed
to :func:`remnant.hazard.estimate.estimate` as canonical record tables, as the store
would. Unrecorded attacks are switched off (``unrecorded_ratio=0``) where a closed
form is about the recorded strikes alone.
"""

from __future__ import annotations

import dataclasses
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from remnant.catalogue import load_catalogue
from remnant.hazard.components import prior_components
from remnant.hazard.config import HazardConfig
from remnant.hazard.estimate import AreaCells, estimate
from remnant.hazard.footprint import isotropic_cell_mass
from remnant.hazard.grid import Grid
from remnant.hazard.scanline import cells_inside, polygon_rings
from remnant.records.frame import to_canonical
from remnant.records.schema import TABLES

CRS = "EPSG:32637"
X0, Y0 = 500_000.0, 5_450_000.0  # near 39° E, 49.2° N
AS_OF = "2025-06-30"
CATALOGUE = load_catalogue()
CLOSED = HazardConfig(unrecorded_ratio=0.0, site_rounds=0, draws=400)
"""Recorded strikes only, prior components kept: the setting of the closed forms."""


def _points(table: str, rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows)
    xy = gpd.points_from_xy(frame.pop("x"), frame.pop("y"), crs=CRS).to_crs("EPSG:4326")
    return to_canonical(gpd.GeoDataFrame(frame, geometry=xy, crs="EPSG:4326"), TABLES[table])


def _polygons(table: str, rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows)
    shapes = gpd.GeoSeries(frame.pop("shape"), crs=CRS).to_crs("EPSG:4326")
    return to_canonical(gpd.GeoDataFrame(frame, geometry=shapes, crs="EPSG:4326"), TABLES[table])


def _strike(**extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "strike_id": "S1",
        "date": "2023-03-01",
        "x": X0,
        "y": Y0,
        "carrier": "9M27K",
        "carrier_count": 4,
        "source_type": "verified",
        "location_error_m": 25.0,
    }
    row.update(extra)
    return row


def _search(shape: shapely.Geometry, p: float, end: str = "2024-05-01", **extra: object):  # type: ignore[no-untyped-def]
    row: dict[str, object] = {
        "activity_id": "A1",
        "type": "battle_area_clearance",
        "method": "manual",
        "start_date": end,
        "end_date": end,
        "detection_probability": p,
        "shape": shape,
    }
    row.update(extra)
    return row


def _prior_mean(carrier: str, count: float) -> float:
    c = CATALOGUE.carriers[carrier]
    return c.submunitions_per_carrier * count * c.failure_rate.mean


def _bands(tables: dict[str, gpd.GeoDataFrame], config: HazardConfig = CLOSED):  # type: ignore[no-untyped-def]
    est = estimate(tables, CATALOGUE, as_of=AS_OF, config=config, crs=CRS)
    return est, est.bands()


# -- the prior ---------------------------------------------------------------------------


def test_one_strike_prior_is_its_expected_duds_spread_over_its_footprint() -> None:
    tables = {"strikes": _points("strikes", [_strike()])}
    est, bands = _bands(tables)
    mean = _prior_mean("9M27K", 4)
    expected = bands["expected_remaining"]
    assert np.nansum(expected, dtype=np.float64) == pytest.approx(mean, rel=1e-5)
    assert est.total.mean == pytest.approx(mean, rel=1e-9)
    # cell by cell: the exact normal cell masses of the strike's kernel (footprint.py)
    sigma = float(prior_components(est.strikes).along[0])
    row0, col0, mass = isotropic_cell_mass(
        float(est.strikes.x[0]), float(est.strikes.y[0]), sigma, est.grid, n_sigma=CLOSED.n_sigma
    )
    window = expected[row0 : row0 + mass.shape[0], col0 : col0 + mass.shape[1]]
    np.testing.assert_allclose(window, mean * mass, rtol=2e-6, atol=1e-12)


def test_bands_are_probabilities_and_ordered_counts() -> None:
    _, bands = _bands({"strikes": _points("strikes", [_strike()])})
    p, m = bands["p_any"], bands["expected_remaining"]
    inside = ~np.isnan(p)
    assert inside.any()
    assert np.all((p[inside] >= 0) & (p[inside] <= 1))
    # a mixed Poisson count is never more likely to be positive than a Poisson of its mean
    assert np.all(p[inside] <= -np.expm1(-m[inside].astype(np.float64)) + 1e-6)
    lower, upper = bands["lower_90"][inside], bands["upper_90"][inside]
    assert np.all((lower >= 0) & (lower <= upper))
    assert np.all(lower == np.floor(lower)) and np.all(upper == np.floor(upper))


def test_records_after_the_day_are_left_out() -> None:
    strikes = _points(
        "strikes", [_strike(), _strike(strike_id="S2", date="2025-09-01", x=X0 + 3000)]
    )
    est, _ = _bands({"strikes": strikes})
    assert list(est.strikes.ids) == ["S1"]


# -- searches: Poisson thinning ----------------------------------------------------------


def _square(half: float, dx: float = 0.0) -> shapely.Geometry:
    return shapely.box(X0 + dx - half, Y0 - half, X0 + dx + half, Y0 + half)


def test_a_complete_search_after_the_strike_leaves_nothing_where_it_searched() -> None:
    config = dataclasses.replace(CLOSED, learn=False)
    tables = {
        "strikes": _points("strikes", [_strike()]),
        "activities": _polygons("activities", [_search(_square(2000.0), 1.0)]),
    }
    est, bands = _bands(tables, config)
    assert est.attribution.exposure[0] == pytest.approx(1.0, abs=1e-9)
    assert np.nanmax(bands["expected_remaining"]) < 1e-12


def test_a_search_before_the_strike_clears_nothing_of_it() -> None:
    tables = {
        "strikes": _points("strikes", [_strike()]),
        "activities": _polygons("activities", [_search(_square(2000.0), 1.0, end="2023-02-01")]),
    }
    est, bands = _bands(tables)
    assert est.attribution.exposure[0] == 0.0
    assert np.nansum(bands["expected_remaining"], dtype=np.float64) == pytest.approx(
        _prior_mean("9M27K", 4), rel=1e-5
    )


def test_mass_balance_without_learning_is_prior_less_expected_found() -> None:
    """Σ cells = Σ_s E_prior[Λ_s] (1 − e_s): thinning moves no mass it does not remove."""
    config = dataclasses.replace(CLOSED, learn=False)
    strikes = [_strike(), _strike(strike_id="S2", x=X0 + 700, carrier="M864", carrier_count=6)]
    searches = [
        _search(_square(150.0, dx=100.0), 0.9),
        _search(_square(400.0, dx=800.0), 0.6, activity_id="A2", end="2024-06-01"),
    ]
    tables = {
        "strikes": _points("strikes", strikes),
        "activities": _polygons("activities", searches),
    }
    est, bands = _bands(tables, config)
    prior = est.strikes.prior_mean
    assert np.all((est.attribution.exposure > 0.05) & (est.attribution.exposure < 1))
    expected = float(np.sum(prior * (1.0 - est.attribution.exposure)))
    assert np.nansum(bands["expected_remaining"], dtype=np.float64) == pytest.approx(
        expected, rel=1e-5
    )
    assert est.total.mean == pytest.approx(expected, rel=1e-9)


# -- finds: the conjugate update ---------------------------------------------------------


def _tilted_beta_mean(alpha: float, beta: float, k: float, tilt: float) -> float:
    """E[π] for p(π) ∝ π^(α+k−1) (1−π)^(β−1) exp(−π·tilt), by quadrature."""

    def density(p: float, power: int) -> float:
        return p**power * math.exp(
            (alpha + k - 1) * math.log(p) + (beta - 1) * math.log1p(-p) - p * tilt
        )

    norm = integrate.quad(density, 0, 1, args=(0,), limit=200)[0]
    return integrate.quad(density, 0, 1, args=(1,), limit=200)[0] / norm


def test_finds_update_the_failure_rate_as_the_conjugate_closed_form() -> None:
    """One strike, known count, no attack factor: π | k finds ∝ Beta(α+k, β) e^{−π n C e}."""
    config = dataclasses.replace(CLOSED, strike_dispersion=math.inf)
    east_half = shapely.box(X0, Y0 - 5000, X0 + 5000, Y0 + 5000)
    finds = [
        {"find_id": f"F{i}", "date": "2024-05-01", "x": X0 + 20 + 10 * i, "y": Y0, "item": "9N210",
         "quantity": 1, "activity_id": "A1"}
        for i in range(7)
    ]  # fmt: skip
    tables = {
        "strikes": _points("strikes", [_strike()]),
        "activities": _polygons("activities", [_search(east_half, 1.0)]),
        "finds": _points("finds", finds),
    }
    est, bands = _bands(tables, config)
    e = est.attribution.exposure[0]
    assert e == pytest.approx(0.5, abs=0.01)  # the east half of a centred kernel
    assert est.attribution.found[0] == pytest.approx(7.0, rel=1e-9)
    prior = CATALOGUE.carriers["9M27K"].failure_rate
    n_c = 30 * 4
    mean_rate = _tilted_beta_mean(prior.alpha, prior.beta, 7.0, n_c * e)
    row = est.failure_rates.set_index("carrier").loc["9M27K"]
    assert row["posterior_mean"] == pytest.approx(mean_rate, rel=1e-4)
    remaining = n_c * mean_rate * (1.0 - e)
    assert est.total.mean == pytest.approx(remaining, rel=1e-4)
    assert np.nansum(bands["expected_remaining"], dtype=np.float64) == pytest.approx(
        remaining, rel=1e-4
    )


def test_more_finds_raise_the_unsearched_rest_fewer_lower_it() -> None:
    east_half = shapely.box(X0, Y0 - 5000, X0 + 5000, Y0 + 5000)
    west = (X0 - 200.0, Y0)

    def remaining_west(k: int) -> float:
        finds = [
            {"find_id": f"F{i}", "date": "2024-05-01", "x": X0 + 20 + i, "y": Y0,
             "item": "9N210", "quantity": 1, "activity_id": "A1"}
            for i in range(k)
        ]  # fmt: skip
        tables = {
            "strikes": _points("strikes", [_strike()]),
            "activities": _polygons("activities", [_search(east_half, 0.95)]),
        }
        if finds:
            tables["finds"] = _points("finds", finds)
        est, bands = _bands(tables)
        row, col = est.grid.cell_of(*west)
        return float(bands["expected_remaining"][row, col])

    none, some, many = remaining_west(0), remaining_west(10), remaining_west(60)
    assert none < some < many


# -- evidence of unrecorded attacks, surveys without evidence ---------------------------


def test_unexplained_finds_make_hazard_appear_around_them() -> None:
    far = (X0 + 30_000.0, Y0)
    finds = [
        {"find_id": f"F{i}", "date": "2024-05-01", "x": far[0] + 15 * i, "y": far[1],
         "item": "unknown_submunition", "quantity": 1}
        for i in range(3)
    ]  # fmt: skip
    a_month_earlier = [{**f, "date": "2024-04-01", "find_id": f"E{i}"} for i, f in enumerate(finds)]
    strikes = _points("strikes", [_strike()])
    config = HazardConfig(draws=400)
    est, bands = _bands({"strikes": strikes, "finds": _points("finds", finds)}, config)
    assert est.strikes.pseudo.sum() == 1
    assert np.hypot(est.strikes.x[1] - far[0] - 15, est.strikes.y[1] - far[1]) < 1.0
    # without the finds the place is not even in the studied area
    base_est, _ = _bands({"strikes": strikes}, config)
    row, col = base_est.grid.cell_of(far[0] + 200.0, far[1])
    assert not (0 <= row < base_est.grid.ny and 0 <= col < base_est.grid.nx)
    cell = est.grid.cell_of(far[0] + 200.0, far[1])
    assert bands["p_any"][cell] > 1e-3
    # more evidence, a stronger case: twice the finds, a higher probability of any
    more = _points("finds", finds + a_month_earlier)
    _, twice = _bands({"strikes": strikes, "finds": more}, config)
    assert twice["p_any"][cell] >= bands["p_any"][cell]


def test_a_survey_without_evidence_moves_the_hazard_out_not_away() -> None:
    nts = _search(
        _square(300.0, dx=200.0), 0.0, activity_id="N1", type="non_technical_survey",
        method=None, outcome="no_evidence",
    )  # fmt: skip
    plain = {"strikes": _points("strikes", [_strike(location_error_m=300.0)])}
    surveyed = {**plain, "activities": _polygons("activities", [nts])}
    before_est, before = _bands(plain)
    after_est, after = _bands(surveyed)
    inside = before_est.grid.cell_of(X0 + 200.0, Y0)
    outside = before_est.grid.cell_of(X0 - 600.0, Y0)
    assert after["expected_remaining"][inside] < before["expected_remaining"][inside]
    assert after["expected_remaining"][outside] > before["expected_remaining"][outside]
    # modest: no more than the weight q of the survey, and the items are not removed
    q = CLOSED.nts_no_evidence_weight
    assert (
        after["expected_remaining"][inside] > (1 - q) * before["expected_remaining"][inside] * 0.9
    )
    assert after_est.total.mean == pytest.approx(before_est.total.mean, rel=1e-6)


# -- properties over random scenarios -----------------------------------------------------


@st.composite
def _scenarios(draw: st.DrawFn) -> dict[str, gpd.GeoDataFrame]:
    n = draw(st.integers(1, 3))
    carriers = ("9M27K", "M864", "RBK-500-ShOAB", "unknown")
    strikes = [
        _strike(
            strike_id=f"S{i}",
            x=X0 + draw(st.floats(-3000, 3000)),
            y=Y0 + draw(st.floats(-3000, 3000)),
            carrier=draw(st.sampled_from(carriers)),
            carrier_count=draw(st.one_of(st.none(), st.integers(1, 8))),
            location_error_m=draw(st.sampled_from([25.0, 150.0, 900.0])),
            heading_deg=draw(st.one_of(st.none(), st.floats(0, 359))),
        )
        for i in range(n)
    ]
    searches = [
        _search(
            _square(draw(st.floats(50, 1500)), dx=draw(st.floats(-2000, 2000))),
            draw(st.floats(0.0, 1.0)),
            activity_id=f"A{i}",
            end=draw(st.sampled_from(["2022-06-01", "2024-05-01"])),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    finds = [
        {"find_id": f"F{i}", "date": "2024-05-01", "x": X0 + draw(st.floats(-2500, 2500)),
         "y": Y0 + draw(st.floats(-2500, 2500)), "item": "unknown_submunition",
         "quantity": draw(st.integers(1, 5)),
         "activity_id": f"A{draw(st.integers(0, max(len(searches) - 1, 0)))}" if searches else None}
        for i in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    tables = {"strikes": _points("strikes", strikes)}
    if searches:
        tables["activities"] = _polygons("activities", searches)
    if finds:
        tables["finds"] = _points("finds", finds)
    return tables


@settings(max_examples=15, deadline=None)
@given(_scenarios())
def test_every_estimate_is_a_distribution_of_counts(tables: dict[str, gpd.GeoDataFrame]) -> None:
    est, bands = _bands(tables, HazardConfig(draws=200, cell_m=50.0))
    m, p = bands["expected_remaining"], bands["p_any"]
    inside = ~np.isnan(m)
    assert np.all(m[inside] >= 0) and np.all((p[inside] >= 0) & (p[inside] <= 1))
    assert np.all(bands["lower_90"][inside] <= bands["upper_90"][inside])
    assert np.array_equal(np.isnan(m), np.isnan(p))
    assert est.total.lower <= est.total.upper and est.total.mean >= 0
    assert np.nansum(m, dtype=np.float64) == pytest.approx(est.total.mean, rel=2e-3)
    rates = est.failure_rates
    assert np.all((rates["posterior_lower"] <= rates["posterior_mean"])
                  & (rates["posterior_mean"] <= rates["posterior_upper"]))  # fmt: skip


def test_area_cells_count_every_cell_of_each_area_in_its_coarse_cell() -> None:
    grid = Grid(crs="EPSG:32637", x0=0.0, y0=0.0, cell=25.0, nx=37, ny=29)
    areas = [
        shapely.box(30.0, 40.0, 610.0, 500.0),
        shapely.Polygon([(400.0, 100.0), (925.0, 300.0), (500.0, 725.0)]),  # overlaps the first
        shapely.box(-100.0, -100.0, 60.0, 60.0),  # cut by the grid's edge
    ]
    rings = polygon_rings(np.array(areas, dtype=object))
    factor = 4
    got = AreaCells.of(rings, grid, factor)
    owner, flat = cells_inside(rings, grid)
    remaining = np.random.default_rng(3).random((-(-grid.ny // factor), -(-grid.nx // factor)))
    row, col = flat // grid.nx, flat % grid.nx
    direct = np.bincount(owner, remaining[row // factor, col // factor], len(areas))
    cached = np.bincount(got.area, remaining.ravel()[got.coarse] * got.cells, len(areas))
    np.testing.assert_allclose(cached, direct, rtol=1e-12)
    assert got.cells.sum() == len(flat) and np.all(direct > 0)
