"""Files through the store and back: import, re-import, export, import again."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from remnant import project
from remnant.errors import NotFoundError, ValidationError
from remnant.project import export_project, import_files
from remnant.records.frame import to_canonical
from remnant.records.schema import CRS, TABLES
from remnant.simulate import simulate_world, write_world
from remnant.store import init_store, open_store

TODAY = pd.Timestamp("2026-01-01").date()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("world")
    return write_world(simulate_world(7, 25), out)


def _files(scenario: dict[str, Path]) -> list[Path]:
    return [scenario[name] for name in TABLES]


def _assert_same(a, b) -> None:
    a = a.sort_values(a.columns[0]).reset_index(drop=True)
    b = b.sort_values(b.columns[0]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()


def test_import_is_idempotent(tmp_path, scenario):
    with init_store(tmp_path / "p.gpkg") as store:
        first = import_files(store, _files(scenario), user="tester", today=TODAY)
        counts = store.counts()
        second = import_files(store, _files(scenario), user="tester", today=TODAY)
        assert store.counts() == counts
    assert sum(f.inserted for f in first.files) == sum(counts.values()) > 0
    assert [(f.inserted, f.updated) for f in second.files] == [(0, 0)] * len(second.files)
    assert [f.unchanged for f in second.files] == [f.inserted for f in first.files]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg"])
def test_export_then_import_round_trips_every_table(tmp_path, scenario, fmt):
    with init_store(tmp_path / "a.gpkg") as store:
        import_files(store, _files(scenario), today=TODAY)
        before = {name: store.read(name) for name in TABLES}
        paths = export_project(store, fmt, tmp_path / "out")
    with init_store(tmp_path / "b.gpkg") as again:
        import_files(again, paths, today=TODAY)
        for name in TABLES:
            assert len(before[name]) > 0, name
            _assert_same(again.read(name), before[name])


def test_bad_file_writes_nothing_and_reports_every_row(tmp_path, scenario):
    bad = tmp_path / "finds.csv"
    lines = scenario["finds"].read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("item")] = "M4Z"
    row2 = lines[2].split(",")
    row2[header.index("date")] = "2023-02-30"
    bad.write_text("\n".join([lines[0], ",".join(row), ",".join(row2), *lines[3:]]) + "\n")
    with init_store(tmp_path / "p.gpkg") as store:
        import_files(store, [scenario["strikes"]], today=TODAY)
        before = store.counts()
        with pytest.raises(ValidationError) as info:
            import_files(store, [scenario["activities"], bad], today=TODAY)
        assert store.counts() == before
    where = [(p.row, p.column) for p in info.value.problems]
    assert where == [(2, "item"), (3, "date")]
    assert str(info.value.problems[0]).startswith(f"{bad}, row 2, column item: unknown item")


def test_skip_invalid_writes_the_good_rows(tmp_path, scenario):
    lines = scenario["finds"].read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "finds.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(",20", ",29", 1), *lines[2:]]) + "\n")
    with init_store(tmp_path / "p.gpkg") as store:
        report = import_files(store, [scenario["activities"], bad], today=TODAY, skip_invalid=True)
        assert store.counts()["finds"] == len(lines) - 2
    assert [p.row for p in report.problems] == [2]


def test_open_store_after_import(tmp_path, scenario):
    path = tmp_path / "p.gpkg"
    with init_store(path) as store:
        import_files(store, _files(scenario), today=TODAY)
        counts = store.counts()
    with open_store(path) as store:
        assert store.counts() == counts


def test_an_update_keeps_the_saved_basis_until_many_records(tmp_path, scenario, monkeypatch):
    """A full run saves its basis; an update that read fewer records than a checkpoint
    keeps it (the store is the journal), one that read as many saves its own."""
    world = scenario["finds"].parent
    as_of = json.loads((world / "truth" / "parameters.json").read_text())["as_of"]
    lines = scenario["finds"].read_text(encoding="utf-8").splitlines()
    early, late = tmp_path / "early" / "finds.csv", tmp_path / "late" / "finds.csv"
    for path, rows in ((early, lines[1:-3]), (late, lines[-3:])):
        path.parent.mkdir()
        path.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "estimate"
    basis = out / project.BASIS_FILE
    with init_store(tmp_path / "p.gpkg") as store:
        others = [scenario[name] for name in TABLES if name != "finds"]
        import_files(store, [*others, early], today=TODAY)
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False)
        assert run.evidence == {"mode": "full", "reason": "no earlier run", "basis": "saved",
                                "import_id": store.last_import_id(), "unsaved": 0}  # fmt: skip
        saved = basis.read_bytes()
        import_files(store, [late], today=TODAY)
        monkeypatch.setattr(project, "CHECKPOINT_RECORDS", 4)
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False)
        assert run.evidence["records"] == {"finds": 3} and run.evidence["basis"] == "kept"
        assert basis.read_bytes() == saved
        monkeypatch.setattr(project, "CHECKPOINT_RECORDS", 3)
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False)
        assert run.evidence["records"] == {"finds": 3} and run.evidence["basis"] == "saved"
        assert basis.read_bytes() != saved
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False)
        assert run.evidence["records"] == {} and run.evidence["basis"] == "kept"


def test_an_estimate_kept_in_memory_is_updated_as_the_saved_basis_is(tmp_path, scenario,
                                                                     monkeypatch):  # fmt: skip
    """A process that keeps its estimate (remnant watch) updates from it with the records
    imported since it, and gets what an update from the saved basis gets; the saved
    basis is written afresh once the records since it reach a checkpoint."""
    world = scenario["finds"].parent
    as_of = json.loads((world / "truth" / "parameters.json").read_text())["as_of"]
    lines = scenario["finds"].read_text(encoding="utf-8").splitlines()
    parts = {"early": lines[1:-5], "late1": lines[-5:-2], "late2": lines[-2:]}
    for name, rows in parts.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "finds.csv").write_text("\n".join([lines[0], *rows]) + "\n")
    out, other = tmp_path / "estimate", tmp_path / "from-disk"
    basis = out / project.BASIS_FILE
    monkeypatch.setattr(project, "CHECKPOINT_RECORDS", 5)
    with init_store(tmp_path / "p.gpkg") as store:
        others = [scenario[name] for name in TABLES if name != "finds"]
        import_files(store, [*others, tmp_path / "early" / "finds.csv"], today=TODAY)
        kept = project.estimate_project(store, out, as_of=as_of, draw_map=False).kept
        project.estimate_project(store, other, as_of=as_of, draw_map=False)
        assert kept is not None and kept.import_id == store.last_import_id()
        assert kept.unsaved == 0
        saved = basis.read_bytes()
        import_files(store, [tmp_path / "late1" / "finds.csv"], today=TODAY)
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False, kept=kept)
        from_disk = project.estimate_project(store, other, as_of=as_of, draw_map=False)
        assert run.evidence["records"] == from_disk.evidence["records"] == {"finds": 3}
        assert run.estimate.total.mean == pytest.approx(from_disk.estimate.total.mean, rel=1e-9)
        assert run.kept is not None and run.kept.unsaved == 3 and basis.read_bytes() == saved
        assert run.kept.import_id == store.last_import_id()
        import_files(store, [tmp_path / "late2" / "finds.csv"], today=TODAY)
        run = project.estimate_project(store, out, as_of=as_of, draw_map=False, kept=run.kept)
        assert run.evidence["records"] == {"finds": 2}  # since the estimate it kept
        assert run.evidence["basis"] == "saved"  # 3 + 2 since the saved basis
        assert run.kept is not None and run.kept.unsaved == 0 and basis.read_bytes() != saved


def _area_store(path: Path):
    """A store with one hazard area, 0.01° square at 48° N, and three strikes, two inside."""

    def frame(table, data, geometry):
        return to_canonical(gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=CRS)),
                            TABLES[table])  # fmt: skip

    areas = frame("hazard_areas", {"area_id": ["HA-1"], "status": ["suspected"]},
                  [shapely.box(37.0, 48.0, 37.01, 48.01)])  # fmt: skip
    strikes = frame(
        "strikes",
        {"strike_id": ["S1", "S2", "S3"], "date": ["2022-07-07"] * 3,
         "carrier": ["M26", "M26", "M864"]},
        [shapely.Point(37.004, 48.004), shapely.Point(37.006, 48.002), shapely.Point(37.5, 48.5)],
    )  # fmt: skip
    store = init_store(path)
    with store.transaction(user="tester", note="fixture") as tx:
        tx.upsert("hazard_areas", areas, source_file="hazard_areas.geojson")
        tx.upsert("strikes", strikes, source_file="strikes.csv")
    return store


def test_area_facts_measure_the_area_and_its_strikes(tmp_path):
    with _area_store(tmp_path / "p.gpkg") as store:
        facts = project.area_facts(store, "HA-1")
    # the same square on the WGS 84 ellipsoid (pyproj.Geod), against the UTM area
    geodesic, _ = Geod(ellps="WGS84").geometry_area_perimeter(shapely.box(37.0, 48.0, 37.01, 48.01))
    assert facts.area_m2 == pytest.approx(abs(geodesic), rel=2e-3)
    assert 740 * 1110 * 0.99 < facts.area_m2 < 745 * 1112 * 1.01  # 0.01° ≈ 744 m × 1,112 m here
    assert facts.carriers == {"M26": 2}
    assert facts.status == "suspected"
    assert facts.expected_remaining is None


def test_area_facts_read_the_estimate_and_name_what_is_missing(tmp_path):
    out = tmp_path / "est"
    out.mkdir()
    pd.DataFrame({"area_id": ["HA-1"], "expected_remaining": [3.5], "variance": [9.0]}).to_csv(
        out / "area_summary.csv", index=False
    )
    with _area_store(tmp_path / "p.gpkg") as store:
        facts = project.area_facts(store, "HA-1", out)
        assert (facts.expected_remaining, facts.variance) == (3.5, 9.0)
        with pytest.raises(NotFoundError, match="no hazard area 'HA-9'"):
            project.area_facts(store, "HA-9")
        with pytest.raises(NotFoundError, match="run remnant estimate first"):
            project.area_facts(store, "HA-1", tmp_path / "nowhere")
        pd.DataFrame({"area_id": ["HA-1"], "expected_remaining": [3.5]}).to_csv(
            out / "area_summary.csv", index=False
        )
        with pytest.raises(NotFoundError, match="no variance column"):
            project.area_facts(store, "HA-1", out)


def _area_file(path: Path, status: str, evidence: str | None, day: str) -> Path:
    feature = {
        "type": "Feature",
        "properties": {"area_id": "HA-1", "status": status, "evidence": evidence,
                       "status_date": day},
        "geometry": shapely.geometry.mapping(shapely.box(37.0, 48.0, 37.01, 48.01)),
    }  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                    encoding="utf-8")  # fmt: skip
    return path


def test_an_areas_life_is_checked_on_import_and_kept_in_the_audit_trail(tmp_path):
    steps = [("suspected", "NTS: villagers saw bomblets", "2024-01-10", "ok"),
             ("confirmed", "TS: 3 x M77 found", "2024-02-01", "ok"),
             ("cancelled", "TS: 3 x M77 found", "2024-02-05", "rests on direct evidence"),
             ("in_progress", "TS: 3 x M77 found", "2024-03-01", "ok"),
             ("cleared", "BAC done, 41 x M77", "2024-05-30", "ok"),
             ("confirmed", "BAC done, 41 x M77", "2025-01-05", "only on new evidence"),
             ("confirmed", "farmer found 1 x M77 in 2025", "2025-01-05", "ok")]  # fmt: skip
    project_file = tmp_path / "p.gpkg"
    init_store(project_file).close()
    for k, (status, evidence, day, outcome) in enumerate(steps):
        path = _area_file(tmp_path / f"step{k}.geojson", status, evidence, day)
        with open_store(project_file) as store:
            if outcome == "ok":
                import_files(store, [path], table="hazard_areas", user=f"user{k}", today=TODAY)
                continue
            before = project.area_history(store, "HA-1")
            with pytest.raises(ValidationError) as refused:
                import_files(store, [path], table="hazard_areas", user=f"user{k}", today=TODAY)
            problem = refused.value.problems[0]
            assert (problem.row, problem.column) == (1, "status") and outcome in problem.reason
            pd.testing.assert_frame_equal(project.area_history(store, "HA-1"), before)
    with open_store(project_file) as store:
        history = project.area_history(store, "HA-1")
        with pytest.raises(NotFoundError):
            project.area_history(store, "HA-9")
    kept = [s for s in steps if s[3] == "ok"]
    assert list(history["status"]) == [s[0] for s in kept]
    assert list(history["evidence"]) == [s[1] for s in kept]
    assert list(history["status_date"]) == [s[2] for s in kept]
    assert list(history["user"]) == [f"user{k}" for k, s in enumerate(steps) if s[3] == "ok"]


def test_the_raster_and_the_tables_are_drawn_together_and_an_error_in_either_raised(tmp_path):
    """draw_outputs: the raster, its drawn state and the three tables, as written alone;
    a table that cannot be written is raised once the raster is whole."""
    import rasterio

    from remnant.catalogue import load_catalogue
    from remnant.hazard.estimate import estimate
    from remnant.io.summary import write_summary_csv

    world = simulate_world(11, 20)
    est = estimate(world.tables, load_catalogue(), as_of=world.truth.parameters["as_of"])
    out = tmp_path / "estimate"
    stale = project.draw_outputs(est, out)
    assert stale.all()  # nothing drawn before
    files = project.ESTIMATE_FILES
    for role, table in (("failure_rates", est.failure_rates), ("strikes", est.strike_table),
                        ("areas", est.area_table)):  # fmt: skip
        alone = write_summary_csv(table, tmp_path / f"{role}.csv")
        assert (out / files[role]).read_bytes() == alone.read_bytes()
    with rasterio.open(out / files["raster"]) as src:
        drawn = src.read(1)
    assert drawn.sum(where=~pd.isna(drawn)) == pytest.approx(
        float(est.bands()["expected_remaining"].sum(where=~pd.isna(drawn))), rel=1e-5
    )
    assert (out / project.STATE_FILE).exists()

    again = tmp_path / "again"
    (again / files["strikes"]).mkdir(parents=True)  # a folder where the table goes
    with pytest.raises(IsADirectoryError):
        project.draw_outputs(est, again)
    with rasterio.open(again / files["raster"]) as src:  # the raster was drawn whole
        assert (src.read(1) == drawn).sum() == (~pd.isna(drawn)).sum()
    assert (again / project.STATE_FILE).exists()
