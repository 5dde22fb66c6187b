"""Defaults for optional fields the exchange format leaves to the software.

Each number here is an assumption, flagged as one, with the reasoning; a national
standard file (later issue) may override them. They live beside the records because
they complete a record, not a munition.
"""

from __future__ import annotations

LOCATION_ERROR_M: dict[str, float] = {
    "verified": 25.0,
    "geolocated": 100.0,
    "reported": 1000.0,
}
"""1-sigma location error of a strike point by ``source_type``. [m]

ASSUMPTION. ``verified`` = on-site, handheld GNSS and crater/tail-fin evidence
(a few tens of metres); ``geolocated`` = imagery or OSINT geolocation (about a
hundred metres); ``reported`` = settlement-level reports, where a village spans
about 1-2 km. A strike with no ``source_type`` is treated as ``reported``.
"""

DEFAULT_SOURCE_TYPE = "reported"

DETECTION_PROBABILITY: dict[str, float] = {
    "manual": 0.95,
    "mechanical": 0.85,
    "visual": 0.6,
    "detector_dogs": 0.85,
    "drone": 0.5,
    "mixed": 0.9,
}
"""Per-item probability that a surface or shallow submunition inside a searched
polygon is found, by ``method``. [-]

ASSUMPTION, to be replaced by operator- and standard-specific values: IMAS 09.10
requires clearance of all items to the specified depth, but no search is perfect;
manual BAC with detectors is the reference (0.95), mechanical ground preparation
and dogs somewhat lower, visual surface search and drone imagery much lower
(vegetation hides bomblets).
"""

DETECTION_PROBABILITY_BY_TYPE: dict[str, float] = {
    "non_technical_survey": 0.1,
    "technical_survey": 0.9,
    "clearance": 0.95,
    "battle_area_clearance": 0.95,
    "eod_spot_task": 0.0,
}
"""Fallback per-item detection probability by activity ``type`` when neither
``detection_probability`` nor ``method`` is given. [-]

ASSUMPTION. An NTS walks little of its polygon (0.1); an EOD spot task removes a
reported item and searches no area (0).
"""
