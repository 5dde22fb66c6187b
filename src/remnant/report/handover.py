"""The handover record of released land (IMAS 08.30), as an HTML page.

IMAS 08.30 (post-clearance documentation) asks that released land be handed over with
a record of what was done and what is left: the area, the dates and the methods of the
work, the depth, the items found by type, the residual risk, and who takes it on.
:func:`handover_record` gathers these from the store's records and the estimate's
figures of the area; :func:`write_handover_html` writes one self-contained page per
area, to print and sign.

References
----------
.. [1] IMAS 08.30 *Post-clearance documentation*; IMAS 07.11 *Land release*.
   https://www.mineactionstandards.org/
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from remnant import __version__
from remnant.io.files import atomic_write_text
from remnant.survey.compliance import units_to_inspect
from remnant.survey.standard import NationalStandard

NO_OWNER = "to be named at handover by the national authority (IMAS 08.30)"
"""What the page says when no owner of the residual risk is given."""


@dataclass(frozen=True)
class HandoverRecord:
    """What a handover page says of one area.

    Parameters
    ----------
    area_id, status : str
    area_m2 : float
        Its area, in a local UTM projection. [m²]
    centre : tuple of float
        Longitude and latitude of its centroid. [°]
    activities : pandas.DataFrame
        The work done in it: ``activity_id``, ``type``, ``method``, ``organisation``,
        ``start_date``, ``end_date``, ``depth_cm``.
    items : pandas.DataFrame
        Items found in it by type: ``item``, ``quantity``.
    residual : dict of str to float
        ``expected_items``, ``p_any`` (and ``lower``, ``upper`` when known).
    tolerable_p_any : float
        The national standard's tolerable residual risk. [-]
    qc_units, qc_inspect : int
        Quality-control units of the area and how many to inspect
        (:func:`remnant.survey.compliance.units_to_inspect`).
    owner : str
        Who takes the residual risk on.
    as_of, standard : str
        The estimate's day and the standard's file.
    """

    area_id: str
    status: str
    area_m2: float
    centre: tuple[float, float]
    activities: pd.DataFrame
    items: pd.DataFrame
    residual: dict[str, float]
    tolerable_p_any: float
    qc_units: int
    qc_inspect: int
    owner: str
    as_of: str
    standard: str


def handover_record(
    area: gpd.GeoDataFrame,
    activities: gpd.GeoDataFrame,
    finds: gpd.GeoDataFrame,
    residual: Mapping[str, float],
    standard: NationalStandard,
    as_of: str,
    owner: str | None = None,
) -> HandoverRecord:
    """The handover record of the one hazard area in ``area`` (canonical frames, WGS 84).

    ``residual`` holds the estimate's ``expected_items`` in the area and its ``p_any``.
    """
    polygon = area.geometry.iloc[0]
    local = area.to_crs(area.estimate_utm_crs())
    work = activities[activities.intersects(polygon)]
    columns = ["activity_id", "type", "method", "organisation", "start_date", "end_date",
               "depth_cm"]  # fmt: skip
    found = finds[finds.within(polygon)]
    items = (
        found.assign(quantity=found["quantity"].fillna(1).astype(int))
        .groupby("item", as_index=False)["quantity"]
        .sum()
        .sort_values("quantity", ascending=False)
    )
    qc = standard.quality_control
    units = max(1, math.ceil(float(local.area.iloc[0]) / qc.unit_area_m2.value))
    centre = polygon.centroid
    return HandoverRecord(
        area_id=str(area["area_id"].iloc[0]),
        status=str(area["status"].iloc[0]),
        area_m2=float(local.area.iloc[0]),
        centre=(float(centre.x), float(centre.y)),
        activities=pd.DataFrame(work.reindex(columns=columns)).sort_values("start_date"),
        items=pd.DataFrame(items),
        residual=dict(residual),
        tolerable_p_any=standard.release.tolerable_p_any.value,
        qc_units=units,
        qc_inspect=units_to_inspect(units, qc.confidence.value, qc.acceptable.value),
        owner=owner or NO_OWNER,
        as_of=as_of,
        standard=standard.path,
    )


def write_handover_html(record: HandoverRecord, path: str | Path) -> Path:
    """Write the record as a self-contained HTML page, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, _page(record))
    return path


_STYLE = (
    "body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #999;padding:.2em .5em}"
    "th{background:#eee;text-align:left}.sign{margin-top:3em;display:flex;gap:4em}"
    ".sign div{border-top:1px solid #000;padding-top:.3em;width:18em}"
)


def _page(r: HandoverRecord) -> str:
    e = html.escape
    ok = r.residual.get("p_any", 1.0) <= r.tolerable_p_any
    verdict = "within" if ok else "ABOVE"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Handover "
        f"{e(r.area_id)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Handover of released land — {e(r.area_id)}</h1>",
        "<p>Post-clearance documentation after IMAS 08.30.</p>",
        "<table>",
        _field("Hazard area", r.area_id),
        _field("Status", r.status),
        _field("Area", f"{r.area_m2:,.0f} m²"),
        _field("Centre (WGS 84)", f"{r.centre[1]:.6f} N, {r.centre[0]:.6f} E"),
        _field("Work from / to", _dates(r.activities)),
        "</table><h2>Work done</h2>",
        _table(r.activities, "No activity is recorded in this area."),
        "<h2>Items found, by type</h2>",
        _table(r.items, "No item was found in this area."),
        "<h2>Residual risk</h2><table>",
        _field("Items expected to remain", f"{r.residual.get('expected_items', math.nan):.3f}"),
        _field("Probability that any remains", f"{r.residual.get('p_any', math.nan):.2%}"),
        _field("Tolerable (national standard)", f"{r.tolerable_p_any:.2%} — {verdict}"),
        _field("Estimate as of", r.as_of),
        _field("Quality control", _qc(r)),
        _field("Standard", r.standard),
        "</table><h2>Owner of the residual risk</h2>",
        f"<p>{e(r.owner)}</p>",
        "<div class='sign'><div>Handed over by (operator)</div><div>Received by (owner)</div>"
        "</div>",
        f"<p><small>Written by remnant {e(__version__)}.</small></p></body></html>\n",
    ]
    return "\n".join(parts)


def _qc(r: HandoverRecord) -> str:
    return (
        f"inspect {r.qc_inspect:,} of {r.qc_units:,} units, accept if none holds an item "
        "(accept-on-zero, Bowen and Bennett 1988)"
    )


def _field(name: str, value: object) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"


def _dates(activities: pd.DataFrame) -> str:
    if not len(activities):
        return "—"
    start = pd.to_datetime(activities["start_date"], utc=True).min()
    end = pd.to_datetime(activities["end_date"], utc=True).max()
    return f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"


def _table(frame: pd.DataFrame, empty: str) -> str:
    if not len(frame):
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    ]
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return str(value)
