"""Coordinate checks that need more than one row: longitude and latitude swapped."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG). [km]"""

SWAP_MIN_ROWS = 5
"""Fewest located rows for which a file has a centre to compare points with. [-]"""


def haversine_km(
    lon1: np.ndarray, lat1: np.ndarray, lon2: float | np.ndarray, lat2: float | np.ndarray
) -> np.ndarray:
    """Great-circle distance on a sphere. [km]"""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def swapped_outliers(
    lon: np.ndarray,
    lat: np.ndarray,
    usable: np.ndarray,
    far_km: float = 100.0,
    near_km: float = 50.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points whose longitude and latitude look swapped, judged against the file.

    A point is flagged when, as given, it lies more than ``far_km`` from the median
    of the file's points, while with longitude and latitude exchanged it lies within
    ``near_km`` of it, and closer by a factor of ten. Within Ukraine, say, a swapped
    point (lon 49, lat 36) is still in range and only this check catches it.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Coordinates as given. [degree]
    usable : numpy.ndarray of bool
        Rows with valid, in-range coordinates.
    far_km, near_km : float
        Thresholds. [km]

    Returns
    -------
    swapped : numpy.ndarray of bool
    as_given_km, if_swapped_km : numpy.ndarray
        Distances to the file's median point. [km]
    """
    n = len(lon)
    nothing = (np.zeros(n, dtype=bool), np.full(n, np.nan), np.full(n, np.nan))
    if usable.sum() < SWAP_MIN_ROWS:
        return nothing
    centre_lon, centre_lat = np.median(lon[usable]), np.median(lat[usable])
    as_given = np.full(n, np.nan)
    if_swapped = np.full(n, np.nan)
    as_given[usable] = haversine_km(lon[usable], lat[usable], centre_lon, centre_lat)
    swappable = usable & (np.abs(lon) <= 90)
    if_swapped[swappable] = haversine_km(lat[swappable], lon[swappable], centre_lon, centre_lat)
    with np.errstate(invalid="ignore"):
        flagged = (as_given > far_km) & (if_swapped < near_km) & (if_swapped * 10 < as_given)
    return flagged, as_given, if_swapped
