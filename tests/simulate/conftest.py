"""Small synthetic worlds shared by the simulator tests (each takes well under a second)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from remnant.catalogue import Catalogue
from remnant.simulate import World, WorldConfig, simulate_world, write_world

AS_OF = "2025-06-30"


@pytest.fixture(scope="session")
def world(catalogue: Catalogue) -> World:
    """The demo-sized world of most tests."""
    return simulate_world(11, 80, as_of=AS_OF, catalogue=catalogue)


@pytest.fixture(scope="session")
def quiet_world(catalogue: Catalogue) -> World:
    """A world without civilian accidents or reports: detection is the only remover."""
    base = WorldConfig()
    config = dataclasses.replace(
        base,
        accidents=dataclasses.replace(
            base.accidents, rate_per_dud_year=0.0, report_rate_per_dud_year=0.0
        ),
    )
    return simulate_world(5, 150, as_of=AS_OF, catalogue=catalogue, config=config)


@pytest.fixture(scope="session")
def written(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_world(world, tmp_path_factory.mktemp("world"))
