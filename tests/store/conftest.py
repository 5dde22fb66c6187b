"""Fixtures of the store tests: canonical frames of every table, and content hashes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from remnant.records.frame import to_canonical
from remnant.records.schema import CRS, TABLES
from remnant.store import Store, init_store


def canonical(table: str, data: dict, geometry: list) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=CRS))
    return to_canonical(frame, TABLES[table])


def strikes() -> gpd.GeoDataFrame:
    return canonical(
        "strikes",
        {
            "strike_id": ["S1", "S2", "Ш-3"],
            "date": ["2022-07-07", "2022-07-08T14:30:00Z", "2023-01-01"],
            "location_error_m": [25.0, np.nan, 1000.5],
            "carrier": ["M26", "9M55K", "unknown"],
            "carrier_count": pd.array([1, None, 12], dtype="Int64"),
            "heading_deg": [np.nan, 90.0, 359.999999999],
            "source_type": ["verified", None, "reported"],
            "source": ["https://example.org/a?b=c", None, "звіт — «село»"],
            "analyst_note": ["first", None, "naïve 🚀"],
        },
        [shapely.Point(37.5, 48.1), shapely.Point(37.123456789012, 47.987654321098),
         shapely.Point(-0.000001, 0.0)],
    )  # fmt: skip


def activities() -> gpd.GeoDataFrame:
    hole = shapely.Polygon(
        [(37, 48), (37.1, 48), (37.1, 48.1), (37, 48.1)],
        [[(37.02, 48.02), (37.05, 48.02), (37.05, 48.05)]],
    )
    two = shapely.MultiPolygon([shapely.box(38, 47, 38.1, 47.1), shapely.box(38.2, 47, 38.3, 47.1)])
    return canonical(
        "activities",
        {
            "activity_id": ["A1", "A2"],
            "type": ["clearance", "non_technical_survey"],
            "method": ["manual", None],
            "start_date": ["2023-03-01", "2023-04-01"],
            "end_date": ["2023-03-20", "2023-04-02"],
            "depth_cm": [20.0, np.nan],
            "detection_probability": [np.nan, 0.1],
            "organisation": ["HALO Trust", "ДСНС"],
            "outcome": [None, "indirect_evidence"],
        },
        [hole, two],
    )


def finds(n: int = 4, offset: int = 0) -> gpd.GeoDataFrame:
    """Finds ``F{offset}`` ... ``F{offset + n - 1}``; a record's values depend on its id only."""
    index = np.arange(offset, offset + n)
    quantity = pd.array(index % 3 + 1, dtype="Int64")
    quantity[index % 3 == 0] = pd.NA
    items = np.array(["M42", "M77", "fragments", "unknown_submunition"], dtype=object)
    return canonical(
        "finds",
        {
            "find_id": [f"F{i}" for i in index],
            "date": ["2023-05-01"] * n,
            "item": items[index % 4],
            "quantity": quantity,
            "activity_id": np.where(index % 2 == 0, "A1", None),
        },
        list(shapely.points(37 + (index * 0.6180339887) % 1, 47 + (index * 0.4142135623) % 1)),
    )


def accidents() -> gpd.GeoDataFrame:
    return canonical(
        "accidents",
        {
            "accident_id": ["X1", "X2"],
            "date": ["2023-06-01", "2023-06-02T08:00:00Z"],
            "item": ["M77", None],
            "killed": pd.array([0, None], dtype="Int64"),
            "injured": pd.array([2, 1], dtype="Int64"),
        },
        [shapely.Point(37.7, 47.7), shapely.Point(37.8, 47.8)],
    )


def hazard_areas() -> gpd.GeoDataFrame:
    return canonical(
        "hazard_areas",
        {
            "area_id": ["H1", "H2"],
            "status": ["confirmed", "suspected"],
            "evidence": ["strike marks, 3 × M77", None],
            "imsma_id": ["HAZ-001", None],
            "district": ["Ізюм", "Izium"],
        },
        [shapely.box(37, 48, 37.2, 48.2), shapely.MultiPolygon([shapely.box(36, 47, 36.1, 47.1)])],
    )


FRAMES = {
    "strikes": strikes,
    "activities": activities,
    "finds": finds,
    "accidents": accidents,
    "hazard_areas": hazard_areas,
}


@pytest.fixture
def frames() -> dict[str, gpd.GeoDataFrame]:
    return {name: make() for name, make in FRAMES.items()}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with init_store(tmp_path / "project.gpkg") as opened:
        yield opened


@pytest.fixture
def filled(store: Store, frames: dict[str, gpd.GeoDataFrame]) -> Store:
    with store.transaction(user="tester", note="fixture") as tx:
        for name, frame in frames.items():
            tx.upsert(name, frame, source_file=f"{name}.csv")
    return store


def content_hash(path: Path) -> str:
    """SHA-256 of every row of every table (R-tree included), in rowid order."""
    digest = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
                "'CREATE VIRTUAL%' ORDER BY name"
            )
        ]
        for name in names:
            digest.update(name.encode())
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def integrity(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
