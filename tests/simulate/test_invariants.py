"""Invariants that hold in every world, whatever the seed and size (property tests)."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from remnant.catalogue import Catalogue, load_catalogue
from remnant.records.schema import TABLES
from remnant.simulate import simulate_world


@functools.cache
def _catalogue() -> Catalogue:
    return load_catalogue()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30))
def test_every_world_conserves_duds_and_keeps_its_records_consistent(seed, n):
    world = simulate_world(seed, n, catalogue=_catalogue())
    sub, strikes = world.truth.submunitions, world.truth.strikes
    duds = sub[sub["is_dud"]]
    found = duds["found_by"].notna().to_numpy()
    exploded = duds["accident_id"].notna().to_numpy()
    remains = duds["remains"].to_numpy()
    assert (found.astype(int) + exploded + remains == 1).all()
    assert len(strikes) == n and strikes["n_submunitions"].sum() == len(sub)
    assert 0 < sub["is_dud"].mean() < 1 or len(sub) < 50
    activity_ids = set(world.tables["activities"]["activity_id"])
    assert set(duds["found_by"].dropna().astype(str)) <= activity_ids
    assert set(world.tables["finds"]["activity_id"]) <= activity_ids
    for name, spec in TABLES.items():
        frame = world.tables[name]
        assert frame[spec.id_column].is_unique
        assert frame.geometry.is_valid.all()
    acts = world.tables["activities"]
    assert (acts["start_date"] <= acts["end_date"]).all()
    p = acts["detection_probability"].dropna().to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    assert np.isfinite(list(world.truth.parameters["failure_rate"].values())).all()
