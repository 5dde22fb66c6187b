"""The records agree with the ground truth they were made from."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyproj
import shapely

from remnant.hazard.grid import Grid
from remnant.simulate import World

EVIDENCE = {"fragments", "strike_marks", "container"}
ACTIVITY_ID = re.compile(r"\b(?:NTS|TS|CL|BAC|EOD)-\d{6}\b")


def _duds(world: World) -> pd.DataFrame:
    sub = world.truth.submunitions
    duds = sub[sub["is_dud"]].copy()
    for col in ("found_by", "found_date", "accident_id"):
        duds[col] = duds[col].astype(object).where(duds[col].notna(), None)
    return duds


def test_mass_balance_remaining_is_duds_less_found_less_exploded(world):
    sub = world.truth.submunitions
    duds = _duds(world)
    found, exploded = duds["found_by"].notna(), duds["accident_id"].notna()
    assert not (found & exploded).any()
    assert duds["remains"].sum() == len(duds) - found.sum() - exploded.sum()
    assert not sub.loc[~sub["is_dud"], ["found_by", "accident_id"]].notna().any().any()
    assert not sub.loc[~sub["is_dud"], "remains"].any()
    strikes = world.truth.strikes
    assert strikes["n_duds"].sum() == len(duds)
    assert strikes["n_remaining"].sum() == duds["remains"].sum()


def test_each_found_dud_is_in_exactly_the_find_quantities(world):
    finds = world.tables["finds"]
    items = finds[~finds["item"].isin(EVIDENCE)]
    per_activity = items.groupby("activity_id")["quantity"].sum()
    found = _duds(world)["found_by"].value_counts()
    assert {k: int(v) for k, v in per_activity.items()} == {k: int(v) for k, v in found.items()}


def test_finds_lie_on_true_duds_found_by_their_activity_that_day(world):
    finds = world.tables["finds"]
    items = finds[~finds["item"].isin(EVIDENCE)]
    duds = _duds(world)
    key = pd.MultiIndex.from_arrays([
        duds["lon"].astype(float), duds["lat"].astype(float), duds["found_by"],
        duds["found_date"],
    ])  # fmt: skip
    wanted = pd.MultiIndex.from_arrays(
        [items.geometry.x, items.geometry.y, items["activity_id"], items["date"]]
    )
    assert wanted.isin(key).all()


def test_items_are_the_carriers_submunitions_or_unknown(world, catalogue):
    finds = world.tables["finds"]
    items = set(finds["item"])
    assert items <= set(catalogue.item_ids)
    carriers = set(world.truth.strikes["carrier"])
    possible = {i for c in carriers for i in catalogue.carriers[c].submunitions}
    assert items - EVIDENCE <= possible | {"unknown_submunition"}


def test_finds_are_inside_their_activity_within_its_dates(world):
    finds = world.tables["finds"].merge(
        pd.DataFrame(world.tables["activities"]).rename(columns={"geometry": "polygon"}),
        on="activity_id", how="left", validate="many_to_one",
    )  # fmt: skip
    assert finds["polygon"].notna().all()
    inside = shapely.contains_xy(
        finds["polygon"].to_numpy(), finds.geometry.x.to_numpy(), finds.geometry.y.to_numpy()
    )
    assert inside.all()
    assert ((finds["start_date"] <= finds["date"]) & (finds["date"] <= finds["end_date"])).all()


def test_activities_find_only_duds_of_earlier_attacks(world):
    duds = _duds(world)
    found = duds[duds["found_by"].notna()]
    starts = world.tables["activities"].set_index("activity_id")["start_date"]
    attack = world.truth.strikes["date"].to_numpy()[found["strike_index"].to_numpy()]
    assert (attack < starts.loc[found["found_by"]].to_numpy()).all()


def test_nts_outcome_matches_what_it_recorded(world):
    acts = world.tables["activities"]
    nts = acts[acts["type"] == "non_technical_survey"]
    recorded = set(world.tables["finds"]["activity_id"])
    direct = nts["outcome"] == "direct_evidence"
    assert nts.loc[direct, "activity_id"].isin(recorded).all()
    assert not nts.loc[~direct, "activity_id"].isin(recorded).any()
    assert set(nts["outcome"]) <= {"no_evidence", "indirect_evidence", "direct_evidence"}
    assert acts.loc[acts["type"] != "non_technical_survey", "outcome"].isna().all()


def test_hazard_area_statuses_follow_the_activities(world):
    areas = world.tables["hazard_areas"]
    acts = world.tables["activities"].set_index("activity_id")
    for status, row in zip(areas["status"], areas["evidence"], strict=True):
        named = ACTIVITY_ID.findall(row)
        assert named and all(n in acts.index for n in named), row
        if status == "cleared":
            assert any(acts.loc[n, "type"].endswith("clearance") for n in named), row
        if status in ("reduced", "confirmed") and "technical survey" in row:
            assert any(acts.loc[n, "type"] == "technical_survey" for n in named), row
        if status == "cancelled":
            assert acts.loc[named[0], "outcome"] == "no_evidence", row


def test_accidents_are_exploded_duds(world):
    accidents = world.tables["accidents"]
    duds = _duds(world)
    exploded = duds[duds["accident_id"].notna()].set_index("accident_id")
    assert set(exploded.index) == set(accidents["accident_id"])
    at = accidents.set_index("accident_id")
    # recorded within metres of the dud (20 m 1-sigma error): 0.001 degree is > 70 m
    assert np.allclose(at.geometry.x.loc[exploded.index], exploded["lon"], atol=1e-3)
    assert np.allclose(at.geometry.y.loc[exploded.index], exploded["lat"], atol=1e-3)
    assert (accidents["killed"] + accidents["injured"] >= 1).all()
    strike_date = world.truth.strikes["date"].to_numpy()[exploded["strike_index"].to_numpy()]
    assert (strike_date < at.loc[exploded.index, "date"].to_numpy()).all()


def test_remaining_on_a_grid_counts_every_remaining_dud_once(world):
    """Half the grid it needs, cut through the middle: the cells hold what lies on
    them, the rest is counted off it, and each cell holds the duds inside its bounds."""
    sub = world.truth.submunitions
    left = sub[sub["remains"].to_numpy()]
    crs = world.truth.parameters["crs"]
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
        left["lon"].to_numpy(np.float64), left["lat"].to_numpy(np.float64)
    )
    cell = 100.0
    grid = Grid.covering(x.min(), y.min(), float(np.median(x)), y.max(), cell, crs)
    counts, outside = world.truth.remaining_on(grid)
    assert counts.shape == (grid.ny, grid.nx)
    assert counts.sum() + outside == len(left) and 0 < outside < len(left)
    row, col = np.unravel_index(np.argmax(counts), counts.shape)
    x0, top = grid.x0 + col * cell, grid.top - row * cell
    inside = (x >= x0) & (x < x0 + cell) & (y <= top) & (y > top - cell)
    assert counts[row, col] == inside.sum()
