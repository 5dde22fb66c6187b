"""The life of a hazard area: which status may follow which (IMAS 07.11).

A hazard area is *suspected* (SHA, on indirect evidence) or *confirmed* (CHA, on
direct evidence), *in progress* while technical survey or clearance works it, and
ends *cancelled* (by non-technical survey: no evidence), *reduced* (by technical
survey) or *cleared* (IMAS 07.11). The rules:

- a suspected area may become any other status;
- a confirmed area rests on direct evidence: it may be worked, reduced or cleared,
  not cancelled (cancellation is the release of land in which non-technical survey
  found no evidence);
- an area in progress may be reduced or cleared, or go back to confirmed when the
  work stops;
- released land (cancelled, reduced, cleared) is done: it opens again, as suspected
  or confirmed, only on new evidence — the record's ``evidence`` must change with
  its status (explosive ordnance found in released land, IMAS 07.11's residual
  contamination).

An import that breaks them is refused row by row (:func:`transition_problem`, used by
:func:`remnant.records.validate.validate`); every change that passes is kept in the
store's audit trail with who made it, when, from which file, and the evidence
(:func:`remnant.project.area_history`).

References
----------
.. [1] IMAS 07.11 *Land release*; IMAS 08.10 *Non-technical survey*; IMAS 08.20
   *Technical survey*. https://www.mineactionstandards.org/
"""

from __future__ import annotations

STATUSES = ("suspected", "confirmed", "in_progress", "cancelled", "reduced", "cleared")
"""The statuses of the exchange format, in the order of an area's life."""

RELEASED = ("cancelled", "reduced", "cleared")
"""Statuses of released land."""

ACTIVE = tuple(s for s in STATUSES if s not in RELEASED)
"""Statuses of an area still to be worked: suspected, confirmed, in progress."""

NEXT: dict[str, frozenset[str]] = {
    "suspected": frozenset({"confirmed", "in_progress", "cancelled", "reduced", "cleared"}),
    "confirmed": frozenset({"in_progress", "reduced", "cleared"}),
    "in_progress": frozenset({"confirmed", "reduced", "cleared"}),
    "cancelled": frozenset(),
    "reduced": frozenset(),
    "cleared": frozenset(),
}
"""The statuses that may follow each, without new evidence (module doc)."""

REOPENED = frozenset({"suspected", "confirmed"})
"""What released land may become again, on new evidence."""


def transition_problem(old: str, new: str, new_evidence: bool) -> str | None:
    """Why an area may not go from status ``old`` to ``new``; None if it may.

    ``new_evidence``: whether the record's ``evidence`` changes with its status.
    """
    if old == new or new in NEXT.get(old, frozenset()):
        return None
    if old in RELEASED and new in REOPENED:
        if new_evidence:
            return None
        return (
            f"{old} land opens again as {new} only on new evidence: give it in the evidence column"
        )
    if old == "confirmed" and new == "cancelled":
        return (
            "a confirmed area rests on direct evidence and cannot be cancelled: "
            "reduce it by technical survey or clear it"
        )
    allowed = ", ".join(sorted(NEXT.get(old, frozenset()))) or "none without new evidence"
    return f"a {old} area cannot become {new} (it may become: {allowed})"
