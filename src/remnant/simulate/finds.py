"""Rows of ``finds.csv``: duds found, and strike evidence recorded.

A found dud is recorded where it lay, on the day it was found, as its carrier's
submunition id (sometimes ``unknown_submunition``). Duds one activity found in the
same small square are recorded as one find with a quantity, at the position and on
the day of the first of them; the truth's ``found_date`` follows the record. Strike
evidence (``fragments``, ``strike_marks``, ``container``) is recorded at the carrier
aim point, quantity 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remnant.simulate.config import OperationsConfig
from remnant.simulate.detection import Detections
from remnant.simulate.fates import Fates
from remnant.simulate.scatter import Duds

UNKNOWN_ITEM = "unknown_submunition"


@dataclass(frozen=True)
class FindRows:
    """Find records before they get ids.

    Parameters
    ----------
    activity : numpy.ndarray
        Activity that recorded it (global index).
    day : numpy.ndarray
        Date. [day]
    lon, lat : numpy.ndarray
        Where found. [degree]
    item : numpy.ndarray
        Item id.
    quantity : numpy.ndarray
        Items in the record.
    """

    activity: np.ndarray
    day: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    item: np.ndarray
    quantity: np.ndarray

    def __len__(self) -> int:
        return len(self.activity)

    @classmethod
    def concat(cls, parts: list[FindRows]) -> FindRows:
        """Join rows, in the order given."""
        names = ("activity", "day", "lon", "lat", "item", "quantity")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in names))

    def order(self) -> np.ndarray:
        """Record order: by date, then activity, then position."""
        return np.lexsort((self.lat, self.lon, self.activity, self.day))


def dud_finds(
    fates: Fates,
    duds: Duds,
    dud_item: tuple[np.ndarray, tuple[str, ...]],
    config: OperationsConfig,
    rng: np.random.Generator,
) -> tuple[FindRows, np.ndarray]:
    """Group found duds into find records.

    Parameters
    ----------
    fates : Fates
        ``activity`` numbered, spot tasks included.
    duds : Duds
    dud_item : tuple
        ``(code, items)``: index in ``items`` of each dud's submunition id, and the ids.
    config : OperationsConfig
    rng : numpy.random.Generator

    Returns
    -------
    rows : FindRows
    found_day : numpy.ndarray
        Day each dud was recorded found (its record's date), ``fates.found_day``
        elsewhere. [day]
    """
    f = np.flatnonzero(fates.activity >= 0)
    g = config.find_group_m
    cx, cy = np.floor(duds.x[f] / g), np.floor(duds.y[f] / g)
    act = fates.activity[f]
    order = np.lexsort((f, fates.found_day[f], cy, cx, act))
    f, act, cx, cy = f[order], act[order], cx[order], cy[order]
    new = np.ones(len(f), bool)
    new[1:] = (act[1:] != act[:-1]) | (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])
    first = f[new]
    size = np.diff(np.append(np.flatnonzero(new), len(f)))
    found_day = fates.found_day.copy()
    found_day[f] = np.repeat(fates.found_day[first], size)
    item = np.array(dud_item[1], dtype=object)[dud_item[0][first]]
    item[rng.random(len(first)) < config.unknown_item_fraction] = UNKNOWN_ITEM
    rows = FindRows(
        act[new], found_day[first], duds.lon[first], duds.lat[first], item, size.astype(np.int64)
    )
    return rows, found_day


def evidence_finds(
    evidence: Detections,
    aim_lon: np.ndarray,
    aim_lat: np.ndarray,
    config: OperationsConfig,
    rng: np.random.Generator,
) -> FindRows:
    """One record per piece of strike evidence, at its carrier's aim point."""
    names = tuple(config.evidence_items)
    w = np.array([config.evidence_items[k] for k in names], dtype=float)
    item = np.array(names, dtype=object)[rng.choice(len(names), size=len(evidence), p=w / w.sum())]
    return FindRows(
        evidence.activity,
        evidence.day,
        aim_lon[evidence.point],
        aim_lat[evidence.point],
        item,
        np.ones(len(evidence), np.int64),
    )
