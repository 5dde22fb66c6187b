"""Rows of ``accidents.csv``: civilians who set off a remaining dud.

One accident per exploded dud, recorded near where it happened (a small location
error), with casualties ``1 + Poisson(victims_mean - 1)`` split into killed and
injured; the item is named, ``unknown_submunition``, or left empty. No personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from remnant.simulate.config import AccidentConfig
from remnant.simulate.fates import Fates
from remnant.simulate.finds import UNKNOWN_ITEM
from remnant.simulate.scatter import Duds
from remnant.simulate.timeline import NEVER

_M_PER_DEG_LAT = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator), spherical. [m]"""


@dataclass(frozen=True)
class AccidentRows:
    """Accident records, in date order.

    Parameters
    ----------
    dud : numpy.ndarray
        The dud that exploded.
    day : numpy.ndarray
        Date. [day]
    lon, lat : numpy.ndarray
        Recorded place. [degree]
    item : numpy.ndarray
        Item id or ``None``.
    killed, injured : numpy.ndarray
        Casualties.
    """

    dud: np.ndarray
    day: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    item: np.ndarray
    killed: np.ndarray
    injured: np.ndarray

    def __len__(self) -> int:
        return len(self.dud)


def accident_rows(
    fates: Fates,
    duds: Duds,
    dud_item: tuple[np.ndarray, tuple[str, ...]],
    config: AccidentConfig,
    rng: np.random.Generator,
) -> AccidentRows:
    """Draw the record of every accident.

    Parameters
    ----------
    fates : Fates
    duds : Duds
    dud_item : tuple
        ``(code, items)``: index in ``items`` of each dud's submunition id, and the ids.
    config : AccidentConfig
    rng : numpy.random.Generator

    Returns
    -------
    AccidentRows
    """
    dud = np.flatnonzero(fates.accident_day != NEVER)
    dud = dud[np.lexsort((dud, fates.accident_day[dud]))]
    n = len(dud)
    victims = 1 + rng.poisson(max(config.victims_mean - 1.0, 0.0), size=n)
    killed = rng.binomial(victims, config.killed_fraction)
    u = rng.random(n)
    item = np.array(dud_item[1], dtype=object)[dud_item[0][dud]]
    item[u >= config.item_known_fraction] = None
    unknown = (u >= config.item_known_fraction) & (
        u < config.item_known_fraction + config.item_unknown_fraction
    )
    item[unknown] = UNKNOWN_ITEM
    err = rng.standard_normal((2, n)) * config.location_error_m
    lat = duds.lat[dud] + err[1] / _M_PER_DEG_LAT
    lon = duds.lon[dud] + err[0] / (_M_PER_DEG_LAT * np.cos(np.radians(duds.lat[dud])))
    return AccidentRows(dud, fates.accident_day[dud], lon, lat, item, killed, victims - killed)
