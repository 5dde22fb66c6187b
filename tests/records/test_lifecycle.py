"""The life of a hazard area (IMAS 07.11)."""

from __future__ import annotations

import itertools

import pytest

from remnant.records.lifecycle import NEXT, RELEASED, STATUSES, transition_problem
from remnant.records.schema import TABLES


def test_the_statuses_are_the_exchange_formats():
    column = next(c for c in TABLES["hazard_areas"].columns if c.name == "status")
    assert set(STATUSES) == set(column.choices)
    assert set(NEXT) == set(STATUSES)


@pytest.mark.parametrize(
    ("old", "new"),
    [("suspected", "confirmed"), ("suspected", "cancelled"), ("confirmed", "in_progress"),
     ("in_progress", "cleared"), ("in_progress", "confirmed"), ("confirmed", "reduced"),
     ("cleared", "cleared")],
)  # fmt: skip
def test_the_steps_of_an_areas_life_pass(old, new):
    assert transition_problem(old, new, new_evidence=False) is None


def test_a_confirmed_area_cannot_be_cancelled():
    why = transition_problem("confirmed", "cancelled", new_evidence=True)
    assert why is not None and "rests on direct evidence" in why


def test_released_land_opens_again_only_on_new_evidence():
    for old, new in itertools.product(RELEASED, ("suspected", "confirmed")):
        assert "only on new evidence" in transition_problem(old, new, new_evidence=False)
        assert transition_problem(old, new, new_evidence=True) is None
    why = transition_problem("cleared", "in_progress", new_evidence=True)
    assert (
        why == "a cleared area cannot become in_progress (it may become: none without new evidence)"
    )
