"""Rows of ``hazard_areas.geojson``: the SHA and CHA polygons operators recorded.

Statuses follow the activities (IMAS 07.11 land release):

* the NTS of a recorded strike that found no evidence *cancels* its area;
* each technical survey site has an area around it: *suspected* (indirect evidence)
  or *confirmed* (direct evidence) until surveyed, then *reduced* (released by
  technical survey, the contamination if any now lying in its CHA);
* each area confirmed by technical survey (the clearance polygon) is *confirmed*,
  *in_progress* once clearance started, *cleared* once it ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from remnant.simulate.geography import Region
from remnant.simulate.operations import Operations
from remnant.simulate.shapes import rough_circles, to_wgs84


@dataclass(frozen=True)
class HazardRows:
    """Hazard area records.

    Parameters
    ----------
    polygon : numpy.ndarray of shapely.Polygon
        In WGS84.
    status : numpy.ndarray
        Exchange-format status.
    evidence : numpy.ndarray
        Free text.
    """

    polygon: np.ndarray
    status: np.ndarray
    evidence: np.ndarray

    def __len__(self) -> int:
        return len(self.polygon)


def hazard_areas(
    ops: Operations,
    outcome: np.ndarray,
    ids: np.ndarray,
    strike_ids: np.ndarray,
    region: Region,
    sha_radius_m: float,
    as_of: int,
    rng: np.random.Generator,
) -> HazardRows:
    """Draw the hazard areas recorded by ``as_of``.

    Parameters
    ----------
    ops : Operations
    outcome : numpy.ndarray
        Final outcome of each NTS.
    ids : numpy.ndarray
        Activity id of each activity of ``ops``.
    strike_ids : numpy.ndarray
        Record id of each strike record.
    region : Region
    sha_radius_m : float
        Radius of the area around a survey site. [m]
    as_of : int
        Last day of the world. [day]
    rng : numpy.random.Generator

    Returns
    -------
    HazardRows
    """
    parts = [
        _cancelled(ops, outcome, ids, strike_ids),
        _site_areas(ops, ids, region, sha_radius_m, rng),
        _confirmed_areas(ops, ids, region, as_of),
    ]
    return HazardRows(*(np.concatenate([p[k] for p in parts]) for k in range(3)))


def _cancelled(
    ops: Operations, outcome: np.ndarray, ids: np.ndarray, strike_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.flatnonzero((ops.nts.report >= 0) & (outcome == "no_evidence"))
    text = [
        f"{ids[r]}: no evidence of recorded strike {strike_ids[ops.nts.report[r]]}" for r in rows
    ]
    return (
        ops.nts.activities.polygon[rows],
        np.full(len(rows), "cancelled", dtype=object),
        np.array(text, dtype=object),
    )


def _site_areas(
    ops: Operations, ids: np.ndarray, region: Region, radius_m: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sites = ops.sites
    n = len(sites)
    polygons = to_wgs84(region, rough_circles(sites.x, sites.y, np.full(n, radius_m), rng))
    ts_id = np.full(n, None, dtype=object)
    ts_id[ops.ts.site] = ids[ops.ts_offset + np.arange(len(ops.ts.site))]
    status = np.where(
        ~pd.isna(ts_id),
        "reduced",
        np.where(sites.direct, "confirmed", "suspected"),
    ).astype(object)
    text = [
        f"{'direct' if d else 'indirect'} evidence from {ids[a]}"
        + (f"; technical survey {t}" if t is not None else "")
        for d, a, t in zip(sites.direct, sites.nts, ts_id, strict=True)
    ]
    return polygons, status, np.array(text, dtype=object)


def _confirmed_areas(
    ops: Operations, ids: np.ndarray, region: Region, as_of: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    plan = ops.clearance
    site = np.flatnonzero(~shapely.is_missing(plan.polygon_m))
    status = np.where(
        plan.end[site] <= as_of,
        "cleared",
        np.where(plan.start[site] <= as_of, "in_progress", "confirmed"),
    )
    ts_of_site = np.full(len(ops.sites), -1, dtype=np.int64)
    ts_of_site[ops.ts.site] = ops.ts_offset + np.arange(len(ops.ts.site))
    cl_of_site = np.full(len(ops.sites), -1, dtype=np.int64)
    cl_of_site[plan.site] = ops.clearance_offset + np.arange(len(plan.site))
    text = [
        f"confirmed by technical survey {ids[ts_of_site[s]]}"
        + (f"; cleared by {ids[cl_of_site[s]]}" if cl_of_site[s] >= 0 else "")
        for s in site
    ]
    polygons = to_wgs84(region, plan.polygon_m[site].astype(object))
    return polygons, status.astype(object), np.array(text, dtype=object)
