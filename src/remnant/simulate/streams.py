"""Random streams: one Generator per seed, one spawned child per stage.

A stage draws only from its own stream, so adding draws to one stage never changes
another's; the order of :data:`STAGES` is part of the contract (append, never
insert). Nothing depends on hash seeds or dict ordering.
"""

from __future__ import annotations

import numpy as np

STAGES = (
    "region",
    "attacks",
    "failure_rates",
    "scatter",
    "reporting",
    "nts",
    "technical_survey",
    "clearance",
    "fates",
    "spot_tasks",
    "accidents",
    "finds",
    "hazard_areas",
)


def stage_streams(seed: int) -> dict[str, np.random.Generator]:
    """Return one independent Generator per stage of :data:`STAGES`, from ``seed``."""
    children = np.random.default_rng(seed).spawn(len(STAGES))
    return dict(zip(STAGES, children, strict=True))
