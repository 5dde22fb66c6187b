"""The world's randomness has the distributions it claims, within sampling error.

Each test compares a count or a sum of squares with its exact sampling distribution
(binomial, chi-square) or the normal approximation of a sum of independent
Bernoulli draws, at a family-wise false-alarm rate of ``ALPHA`` (Bonferroni over the
groups tested). A failure means a bias, not bad luck, in all but 1 run in 1,000.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import stats

from remnant.records.defaults import (
    DEFAULT_SOURCE_TYPE,
    DETECTION_PROBABILITY,
    DETECTION_PROBABILITY_BY_TYPE,
    LOCATION_ERROR_M,
)

ALPHA = 1e-3
"""Family-wise probability that a correct simulator fails a test."""


def test_dud_fraction_of_each_carrier_type_is_its_true_failure_rate(world):
    sub = world.truth.submunitions
    rates = world.truth.parameters["failure_rate"]
    counts = sub.groupby("carrier", observed=True)["is_dud"].agg(["sum", "count"])
    assert len(counts) >= 3
    for carrier, (duds, n) in counts.iterrows():
        test = stats.binomtest(int(duds), int(n), rates[carrier])
        assert test.pvalue > ALPHA / len(counts), (carrier, duds, n, rates[carrier])


def test_reported_points_scatter_with_their_stated_error(world):
    strikes = world.truth.strikes
    records = world.tables["strikes"].set_index("strike_id")
    rec = records.loc[strikes.loc[strikes["reported"], "strike_id"]]
    true = strikes[strikes["reported"]]
    to_m = pyproj.Transformer.from_crs("EPSG:4326", world.truth.parameters["crs"], always_xy=True)
    tx, ty = to_m.transform(true["lon"].to_numpy(), true["lat"].to_numpy())
    rx, ry = to_m.transform(rec.geometry.x.to_numpy(), rec.geometry.y.to_numpy())
    source = rec["source_type"].fillna(DEFAULT_SOURCE_TYPE)
    sigma = rec["location_error_m"].fillna(source.map(LOCATION_ERROR_M)).to_numpy()
    z2 = ((rx - tx) ** 2 + (ry - ty) ** 2) / sigma**2
    groups = source.to_numpy()
    for name in np.unique(groups):
        mine = groups == name
        q, dof = z2[mine].sum(), 2 * int(mine.sum())
        p = min(stats.chi2.cdf(q, dof), stats.chi2.sf(q, dof))
        assert 2 * p > ALPHA / 3, (name, q, dof)


def _probability(acts: pd.DataFrame) -> np.ndarray:
    """Per-item detection probability each record states or implies (records.defaults)."""
    by_method = acts["method"].map(DETECTION_PROBABILITY)
    by_type = acts["type"].map(DETECTION_PROBABILITY_BY_TYPE)
    return acts["detection_probability"].fillna(by_method).fillna(by_type).to_numpy(float)


def _without_concurrent_overlap(acts: pd.DataFrame) -> np.ndarray:
    """Activities no other activity overlaps in both space and time (inclusive dates)."""
    polygons = acts.geometry.to_numpy()
    a, b = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    start, end = acts["start_date"].to_numpy(), acts["end_date"].to_numpy()
    clash = (a != b) & (start[b] <= end[a]) & (start[a] <= end[b])
    ok = np.ones(len(acts), bool)
    ok[a[clash]] = False
    return ok


def test_duds_inside_an_activity_are_found_with_its_probability(quiet_world):
    """Binomial detection, per activity type, where nothing else can take the item.

    In a world without accidents or civilian reports, a dud inside activity ``a``
    (attacked before ``a`` started, not found before) is found by ``a`` with
    probability ``p_a`` when no other activity covers it at the same time.
    """
    acts = pd.DataFrame(quiet_world.tables["activities"]).reset_index(drop=True)
    keep = _without_concurrent_overlap(acts) & (acts["type"] != "eod_spot_task").to_numpy()
    acts, p = acts[keep].reset_index(drop=True), _probability(acts[keep])
    sub = quiet_world.truth.submunitions
    duds = sub[sub["is_dud"]]
    found_date = duds["found_date"].astype(object).fillna("9999-12-31").to_numpy()
    found_by = duds["found_by"].astype(object).to_numpy()
    attacked = quiet_world.truth.strikes["date"].to_numpy()[duds["strike_index"].to_numpy()]
    points = shapely.points(duds["lon"].to_numpy(float), duds["lat"].to_numpy(float))
    act, dud = shapely.STRtree(points).query(acts.geometry.to_numpy(), predicate="contains")
    start = acts["start_date"].to_numpy()[act]
    available = (attacked[dud] < start) & (found_date[dud] >= start)
    act, dud = act[available], dud[available]
    hit = found_by[dud] == acts["activity_id"].to_numpy()[act]
    kinds = acts["type"].to_numpy()[act]
    for kind in np.unique(kinds):
        mine = kinds == kind
        expected, var = p[act[mine]].sum(), (p[act[mine]] * (1 - p[act[mine]])).sum()
        z = (hit[mine].sum() - expected) / np.sqrt(var)
        assert mine.sum() >= 100, (kind, mine.sum())
        assert abs(z) < stats.norm.isf(ALPHA / (2 * len(np.unique(kinds)))), (kind, z)
