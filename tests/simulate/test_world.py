"""The public API: determinism for a seed, arguments, progress, configuration."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from remnant.errors import CatalogueError
from remnant.records.schema import TABLES
from remnant.simulate import AttackConfig, World, WorldConfig, simulate_world


def _assert_same_world(a: World, b: World) -> None:
    assert list(a.tables) == list(b.tables) == list(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.tables[name].drop(columns="geometry")),
            pd.DataFrame(b.tables[name].drop(columns="geometry")),
        )
        assert a.tables[name].geometry.geom_equals_exact(b.tables[name].geometry, 0).all()
    pd.testing.assert_frame_equal(a.truth.submunitions, b.truth.submunitions)
    pd.testing.assert_frame_equal(a.truth.strikes, b.truth.strikes)
    pd.testing.assert_frame_equal(a.truth.settlements, b.truth.settlements)
    assert a.truth.parameters == b.truth.parameters


def test_same_seed_gives_the_same_world(catalogue, world):
    again = simulate_world(11, 80, as_of="2025-06-30", catalogue=catalogue)
    _assert_same_world(world, again)


def test_different_seed_gives_a_different_world(catalogue, world):
    other = simulate_world(12, 80, as_of="2025-06-30", catalogue=catalogue)
    assert not world.truth.strikes["date"].equals(other.truth.strikes["date"])
    assert len(world.truth.submunitions) != len(other.truth.submunitions)
    assert world.truth.parameters["failure_rate"] != other.truth.parameters["failure_rate"]


def test_every_table_is_canonical_and_nonempty(world):
    for name, spec in TABLES.items():
        frame = world.tables[name]
        assert list(frame.columns) == [*spec.attribute_names, "geometry"], name
        assert frame.crs == "EPSG:4326"
        assert len(frame) > 0, name


def test_truth_holds_every_submunition_and_attack(world):
    sub, strikes = world.truth.submunitions, world.truth.strikes
    assert len(strikes) == world.truth.parameters["n_strikes"] == 80
    assert strikes["n_submunitions"].sum() == len(sub)
    assert set(sub["strike_index"].unique()) <= set(range(len(strikes)))
    assert strikes["reported"].sum() == len(world.tables["strikes"])
    assert set(strikes.loc[strikes["reported"], "strike_id"]) == set(
        world.tables["strikes"]["strike_id"]
    )


def test_progress_is_reported_in_order(catalogue):
    calls: list[tuple[str, float]] = []
    simulate_world(3, 5, catalogue=catalogue, progress=lambda s, f: calls.append((s, f)))
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and calls[-1] == ("done", 1.0)


def test_nothing_is_dated_after_as_of_nor_attacked_after_it(catalogue):
    w = simulate_world(2, 30, as_of="2023-03-31", catalogue=catalogue)
    assert w.truth.strikes["date"].max() <= "2023-03-31"
    for name, spec in TABLES.items():
        for col in (c.name for c in spec.columns if c.kind == "date"):
            assert (w.tables[name][col].dropna() <= "2023-03-31").all(), (name, col)


@pytest.mark.parametrize("n", [0, -3])
def test_no_strike_is_an_error(n, catalogue):
    with pytest.raises(ValueError, match="n_strikes"):
        simulate_world(1, n, catalogue=catalogue)


@pytest.mark.parametrize("as_of", ["2021-12-31", "30/06/2025"])
def test_as_of_must_be_an_iso_date_after_the_first_attack(as_of, catalogue):
    with pytest.raises(ValueError):
        simulate_world(1, 5, as_of=as_of, catalogue=catalogue)


def test_carrier_weights_must_name_a_catalogue_carrier(catalogue):
    config = dataclasses.replace(
        WorldConfig(), attacks=AttackConfig(carrier_weights={"no-such-carrier": 1.0})
    )
    with pytest.raises(CatalogueError, match="positive weight"):
        simulate_world(1, 5, catalogue=catalogue, config=config)


def test_country_scale_configuration_is_a_world_config():
    config = WorldConfig.country_scale()
    assert isinstance(config, WorldConfig)
    assert config.operations.followed_up_fraction < 1.0
    assert np.isfinite(list(config.as_dict()["accidents"].values())).all()


_DIGEST = """
import hashlib
from remnant.simulate import simulate_world
w = simulate_world(4, 12)
h = hashlib.sha256()
for frame in w.tables.values():
    h.update(frame.to_csv().encode())
h.update(w.truth.submunitions.to_csv().encode())
print(h.hexdigest())
"""


def test_the_world_does_not_depend_on_the_hash_seed():
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _DIGEST],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2")
    ]
    digests = {run.communicate(timeout=120)[0] for run in runs}
    assert [run.returncode for run in runs] == [0, 0]
    assert len(digests) == 1 and len(digests.pop()) == 65
