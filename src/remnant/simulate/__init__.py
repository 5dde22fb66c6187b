"""The synthetic world used by the demo, the tests and every benchmark.

:func:`simulate_world` draws, from one seed, a region with a moving front line and
settlements, cluster munition attacks and every submunition they scattered, the
records made of them (``strikes``, ``activities``, ``finds``, ``accidents``,
``hazard_areas``, exactly the exchange format) and the ground truth kept apart
(which duds remain, who found which). :func:`write_world` writes both to a folder.
The world is synthetic: every record says so, and none describes a real place.
"""

from remnant.simulate.config import (
    AccidentConfig,
    AttackConfig,
    OperationsConfig,
    RegionConfig,
    ReportingConfig,
    WorldConfig,
)
from remnant.simulate.output import write_world
from remnant.simulate.truth import Truth
from remnant.simulate.world import World, simulate_world

__all__ = [
    "AccidentConfig",
    "AttackConfig",
    "OperationsConfig",
    "RegionConfig",
    "ReportingConfig",
    "Truth",
    "World",
    "WorldConfig",
    "simulate_world",
    "write_world",
]
