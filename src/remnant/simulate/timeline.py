"""Dates as integer days, and the few draws that depend on the calendar.

The simulator counts time in days since 1970-01-01 (``numpy.datetime64[D]`` as
integers): cheap to compare and to draw. Dates leave it as ISO 8601 text.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

NEVER = np.iinfo(np.int64).max // 4
"""A day later than any date of the world: "does not happen"."""

DAYS_PER_YEAR = 365.25


def day(iso: str) -> int:
    """Return the day number of an ISO date. [day since 1970-01-01]"""
    return int(np.datetime64(iso, "D").astype(np.int64))


def iso(days: np.ndarray) -> np.ndarray:
    """Return ISO dates (``YYYY-MM-DD``) of day numbers, as an object array of str.

    Equal days share one ``str`` object: a million finds on a thousand days hold a
    thousand strings, not a million.
    """
    unique, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    text = np.datetime_as_string(unique.astype("datetime64[D]")).astype(object)
    return text[inverse.ravel()]


def schedule(points: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Sort a ``{iso date: value}`` mapping into day numbers and values."""
    days = np.array([day(k) for k in points], dtype=np.int64)
    values = np.array([float(v) for v in points.values()])
    order = np.argsort(days, kind="stable")
    return days[order], values[order]


def sample_days(
    rng: np.random.Generator, n: int, start: int, end: int, intensity: Mapping[str, float]
) -> np.ndarray:
    """Draw ``n`` days in ``[start, end]`` from a piecewise-constant rate.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of days to draw.
    start, end : int
        First and last possible day. [day]
    intensity : Mapping[str, float]
        ISO date → relative rate from that date on; the rate before the first date
        is that of the first date.

    Returns
    -------
    numpy.ndarray
        Sorted day numbers, int64. [day]
    """
    knots, rates = schedule(intensity)
    edges = np.unique(np.clip(np.concatenate([[start], knots, [end + 1]]), start, end + 1))
    seg_rate = rates[np.clip(np.searchsorted(knots, edges[:-1], side="right") - 1, 0, None)]
    weight = np.diff(edges) * seg_rate
    seg = rng.choice(len(weight), size=n, p=weight / weight.sum())
    offset = np.floor(rng.random(n) * np.diff(edges)[seg]).astype(np.int64)
    return np.sort(edges[seg] + offset)


def exponential_days(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """Draw ``n`` whole-day delays, exponential with the given mean. [day]"""
    return np.floor(rng.exponential(mean, size=n)).astype(np.int64)
