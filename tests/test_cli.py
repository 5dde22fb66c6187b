"""The command line as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from remnant.catalogue import load_catalogue
from remnant.io.geotiff import read_estimate
from remnant.project import LOCK_FILE, writing
from remnant.store import open_store
from remnant.survey.transects import traverse_probability

REMNANT = [sys.executable, "-m", "remnant.cli"]


def run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [*REMNANT, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "world"
    run("simulate", "--seed", "5", "--strikes", "12", "--out", out)
    return out


def test_catalogue_lists_every_carrier_and_shows_sources():
    listing = run("catalogue").stdout
    for carrier_id in load_catalogue().carrier_ids:
        assert carrier_id in listing
    one = run("catalogue", "m-864").stdout
    assert "Beta(" in one and "wapo2023" in one and "ASSUMPTION" in one
    wrong = run("catalogue", "M846", ok=False)
    assert wrong.returncode == 1 and "did you mean 'M864'" in wrong.stderr


def test_simulate_writes_the_exchange_format_and_truth_apart(world):
    names = {p.name for p in world.iterdir()}
    assert {
        "strikes.csv",
        "activities.geojson",
        "finds.csv",
        "accidents.csv",
        "hazard_areas.geojson",
        "truth",
    } <= names


def test_import_rejects_bad_rows_and_keeps_the_store(tmp_path, world):
    project = tmp_path / "p.gpkg"
    run("init", project)
    run("import", project, world / "strikes.csv", "--user", "im-officer")
    lines = (world / "finds.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    broken = lines[1].split(",")
    broken[header.index("lat")] = "95.0"
    bad = tmp_path / "finds_batch2.csv"
    bad.write_text("\n".join([lines[0], ",".join(broken), *lines[2:]]) + "\n", encoding="utf-8")
    done = run("import", project, world / "activities.geojson", bad, ok=False)
    assert done.returncode == 2
    assert f"{bad}, row 2, column lat: latitude out of range" in done.stderr
    assert "nothing was written" in done.stderr
    with open_store(project) as store:
        assert store.counts()["finds"] == 0 and store.counts()["activities"] == 0
        assert store.counts()["strikes"] > 0
        assert set(store.audit()["user"]) == {"im-officer"}


def test_import_export_round_trip_through_the_command_line(tmp_path, world):
    project = tmp_path / "p.gpkg"
    run("init", project)
    files = sorted(p for p in world.iterdir() if p.is_file())
    first = run("import", project, *files)
    assert "inserted" in first.stdout
    run("export", project, "--format", "csv", "--out", tmp_path / "out")
    exported = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert exported == sorted(p.name for p in files)
    again = tmp_path / "q.gpkg"
    run("init", again)
    run("import", again, *(tmp_path / "out").iterdir())
    with open_store(project) as a, open_store(again) as b:
        assert a.counts() == b.counts()
    run("map", again, "--out", tmp_path / "map.png")
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_init_refuses_to_overwrite(tmp_path):
    project = tmp_path / "p.gpkg"
    run("init", project)
    done = run("init", project, ok=False)
    assert done.returncode == 1 and str(project) in done.stderr


def _drawn(done: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    match = re.search(r"Raster: drew ([\d,]+) of ([\d,]+) tiles", done.stdout)
    assert match, done.stdout
    return int(match[1].replace(",", "")), int(match[2].replace(",", ""))


def _store_without_late_finds(
    tmp_path: Path, world: Path
) -> tuple[Path, str, tuple[list[str], list[str]]]:
    """A store of the world without the finds of its last 90 days, which are written in
    two batches to ``late0/finds.csv`` and ``late1/finds.csv``; the store, the world's
    day and the batches' rows."""
    as_of = json.loads((world / "truth" / "parameters.json").read_text())["as_of"]
    lines = (world / "finds.csv").read_text(encoding="utf-8").splitlines()
    day = lines[0].split(",").index("date")
    late_from = (date.fromisoformat(as_of) - timedelta(days=90)).isoformat()
    early = [r for r in lines[1:] if r.split(",")[day] < late_from]
    late = [r for r in lines[1:] if r.split(",")[day] >= late_from]
    assert early and late
    (tmp_path / "finds.csv").write_text("\n".join([lines[0], *early]) + "\n", encoding="utf-8")
    batches = (late[: len(late) // 2], late[len(late) // 2 :])
    for k, batch in enumerate(batches):
        (tmp_path / f"late{k}").mkdir()
        (tmp_path / f"late{k}" / "finds.csv").write_text("\n".join([lines[0], *batch]) + "\n")
    project = tmp_path / "p.gpkg"
    run("init", project)
    others = [p for p in world.iterdir() if p.is_file() and p.name != "finds.csv"]
    run("import", project, *others, tmp_path / "finds.csv")
    return project, as_of, batches


def test_estimate_redraws_only_what_an_import_changes(tmp_path, world):
    """The estimate of a store, re-run: nothing imported, nothing drawn; finds imported
    late in two batches, the evidence updated from them alone (the second update from
    the basis the full run saved, with both batches), some tiles drawn, and the raster
    as a full run draws it to within 1 %."""
    project, as_of, batches = _store_without_late_finds(tmp_path, world)
    late = [*batches[0], *batches[1]]
    out = tmp_path / "estimate"
    args = ("--out", out, "--as-of", as_of, "--no-map")
    drawn, tiles = _drawn(run("estimate", project, *args))
    assert drawn == tiles > 0
    assert _drawn(run("estimate", project, *args)) == (0, tiles)
    raster = out / "estimate.tif"
    with raster.open("ab") as fh:  # the space many updates would leave behind in the file
        fh.write(bytes(2 * raster.stat().st_size))
    bloated = raster.stat().st_size
    assert _drawn(run("estimate", project, *args)) == (tiles, tiles)  # written afresh
    assert raster.stat().st_size < bloated / 2
    basis = out / ".state" / "basis.arrays"
    saved = basis.read_bytes()
    run("import", project, tmp_path / "late0" / "finds.csv")
    old_states = [out / ".state" / name for name in ("basis.npz", "drawn.npz")]
    for old_state in old_states:  # an earlier version's: read by none, removed
        old_state.write_bytes(b"PK")
    done = run("estimate", project, *args)
    assert f"updated with the {len(batches[0]):,} records imported since" in done.stdout
    assert not any(old.exists() for old in old_states)
    assert basis.read_bytes() == saved  # few records: kept
    run("import", project, tmp_path / "late1" / "finds.csv")
    drawn, _ = _drawn(run("estimate", project, *args))
    assert 0 < drawn < tiles, (drawn, tiles)
    assert basis.read_bytes() == saved
    full = tmp_path / "full"
    assert _drawn(run("estimate", project, "--out", full, "--as-of", as_of, "--no-map", "--full"))
    _, updated, _ = read_estimate(out / "estimate.tif")
    _, whole, _ = read_estimate(full / "estimate.tif")
    mean, again = whole["expected_remaining"], updated["expected_remaining"]
    np.testing.assert_array_equal(np.isnan(mean), np.isnan(again))
    ok = ~np.isnan(mean)
    assert np.all(np.abs(again[ok] - mean[ok]) <= 0.01 * mean[ok] + 1e-4)
    assert np.nanmax(np.abs(updated["p_any"] - whole["p_any"])) < 0.005
    record = json.loads((out / "estimate.json").read_text())
    assert record["raster_tiles_drawn"] == {"tiles": drawn, "of": tiles}
    assert record["evidence_update"]["mode"] == "update"  # the late finds alone were read
    assert record["evidence_update"]["records"] == {"finds": len(late)}  # both batches
    assert record["evidence_update"]["basis"] == "kept"
    whole_record = json.loads((full / "estimate.json").read_text())
    assert whole_record["evidence_update"] == {"mode": "full", "reason": "asked", "basis": "saved",
                                               "unsaved": 0}  # fmt: skip
    assert record["evidence_update"]["unsaved"] == len(late)  # read since the saved basis
    total, total_full = record["total_remaining"], whole_record["total_remaining"]
    assert abs(total["mean"] - total_full["mean"]) <= 5e-3 * total_full["mean"]


@pytest.fixture(scope="module")
def estimated(tmp_path_factory, world) -> tuple[Path, Path]:
    """The world's project store and its estimate."""
    base = tmp_path_factory.mktemp("design")
    project, out = base / "p.gpkg", base / "estimate"
    run("init", project)
    run("import", project, *[p for p in world.iterdir() if p.is_file()])
    as_of = json.loads((world / "truth" / "parameters.json").read_text())["as_of"]
    run("estimate", project, "--out", out, "--as-of", as_of, "--no-map")
    return project, out


def test_design_compliance_prints_the_units_to_inspect():
    done = run("design", "compliance", "--units", "1000", "--confidence", "0.95",
               "--acceptable", "0.99")  # fmt: skip
    assert "Inspect 258 of 1,000 units" in done.stdout
    assert "exact hypergeometric answer: the same" in done.stdout
    few = run("design", "compliance", "--units", "12", "--confidence", "0.9",
              "--acceptable", "0.5").stdout  # fmt: skip
    assert "Inspect 4 of 12 units" in few and "answer: 3 (1 unit fewer)" in few
    given = run("design", "compliance", "--units", "1000", "--inspected", "258",
                "--confidence", "0.95").stdout  # fmt: skip
    assert "at least 99 % of the units are acceptable" in given
    bad = run("design", "compliance", "--units", "100", "--confidence", "1.5",
              "--acceptable", "0.9", ok=False)  # fmt: skip
    assert bad.returncode == 2
    assert "confidence must lie strictly between 0 and 1, got 1.5" in bad.stderr


def test_design_compliance_takes_what_it_is_not_given_from_the_national_standard(tmp_path):
    default = run("design", "compliance", "--units", "1000").stdout
    assert "From the national standard (Remnant's default" in default
    assert "confidence X = 95 %, acceptable Y = 99 %" in default
    assert "Inspect 258 of 1,000 units" in default  # as with the two given
    text = (Path(__file__).parents[1] / "src/remnant/survey/standard.toml").read_text()
    national = tmp_path / "nmas.toml"
    national.write_text(
        text.replace("[quality_control.confidence]\nvalue = 0.95",
                     "[quality_control.confidence]\nvalue = 0.9")
    )  # fmt: skip
    theirs = run("design", "compliance", "--units", "1000", "--acceptable", "0.98",
                 "--standard", national).stdout  # fmt: skip
    assert f"From the national standard ({national}): confidence X = 90 %." in theirs
    assert "acceptable Y" not in theirs  # given, not taken
    assert "90 % confident that at least 98 %" in theirs
    inspected = run("design", "compliance", "--units", "1000", "--inspected", "258", ok=False)
    assert inspected.returncode == 2  # which of the two to show stays the user's choice


def test_design_count_prints_what_a_search_leaves_and_the_coverage_needed():
    flat = run("design", "count", "--coverage", "0.8").stdout
    assert "flat" in flat and "probability that at most 0 remain: 80 %" in flat
    needed = run("design", "count", "--confidence", "0.95", "--prior-mean", "2",
                 "--prior-variance", "6").stdout  # fmt: skip
    # Gamma(1, 0.5) prior: P(M = 0) = (β + p)/(β + 1) ≥ 0.95 ⇒ p = 0.95·1.5 − 0.5 = 0.925
    assert "probability 92.5 %" in needed
    bad = run("design", "count", "--coverage", "0.8", "--prior-mean", "2", ok=False)
    assert bad.returncode == 2 and "both --prior-mean and --prior-variance" in bad.stderr


def test_designs_take_their_inputs_from_a_hazard_area(estimated):
    project, out = estimated
    table = pd.read_csv(out / "area_summary.csv", dtype={"area_id": str})
    row = table.sort_values("expected_remaining").iloc[-1]
    done = run("design", "count", "--project", project, "--area", row["area_id"],
               "--estimate", out, "--coverage", "0.9").stdout  # fmt: skip
    assert f"Hazard area {row['area_id']}" in done
    assert f"expected items remaining {row['expected_remaining']:,.2f}" in done
    assert "Gamma-Poisson" in done or "Poisson, mean" in done
    units = run(
        "design",
        "compliance",
        "--project",
        project,
        "--area",
        row["area_id"],
    ).stdout  # the standard's 100 m² units, X and Y
    assert "From the national standard (Remnant's default" in units
    assert "unit area 100 m², confidence X = 95 %, acceptable Y = 99 %" in units
    n_units = int(re.search(r"Units of 100 m²: ([\d,]+)", units).group(1).replace(",", ""))
    with open_store(project) as store:
        area = store.read("hazard_areas", ids=[row["area_id"]])
    m2 = float(area.to_crs(area.estimate_utm_crs()).area.iloc[0])
    assert n_units == int(np.ceil(m2 / 100))
    missing = run("design", "count", "--project", project, "--area", "NO-SUCH",
                  "--estimate", out, "--coverage", "0.9", ok=False)  # fmt: skip
    assert missing.returncode == 1 and "no hazard area 'NO-SUCH'" in missing.stderr


def test_design_transects_prints_the_spacing_for_a_footprint():
    done = run("design", "transects", "--probability", "0.9", "--width", "2",
               "--semi-major", "100", "--semi-minor", "50").stdout  # fmt: skip
    spacing = float(re.search(r"Walk transects ([\d.,]+) m apart", done).group(1))
    assert traverse_probability(spacing, 2, 100, 50) == pytest.approx(0.9, abs=2e-3)
    carrier = run("design", "transects", "--probability", "0.9", "--width", "2",
                  "--carrier", "M26").stdout  # fmt: skip
    assert "one M26 footprint, 200 × 100 m" in carrier and "to find 1 item(s) 90 %" in carrier
    target = ("--semi-major", "10", "--semi-minor", "5", "--density", "0.001")
    beyond = run("design", "transects", "--probability", "0.999", "--width", "2", *target,
                 ok=False)  # fmt: skip
    assert beyond.returncode == 2 and "out of reach" in beyond.stderr


def test_areas_proposes_hazard_areas_that_import_as_records(estimated, tmp_path):
    project, out = estimated
    done = run("areas", project, "--estimate", out, "--out", tmp_path / "areas").stdout
    found = re.search(r"Proposed: (\d+) hazard areas \((\d+) confirmed, (\d+) suspected\)", done)
    assert found and int(found.group(1)) == int(found.group(2)) + int(found.group(3)) > 0
    picture = (tmp_path / "areas" / "proposed_areas.png").read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 20_000
    suggestions = pd.read_csv(tmp_path / "areas" / "area_suggestions.csv")
    with open_store(project) as store:
        recorded = store.read("hazard_areas")
    assert set(recorded["area_id"]) <= set(suggestions["area_id"])
    assert set(suggestions["suggestion"]) <= {"new", "reduce", "cancel", "keep", "review",
                                              "released"}  # fmt: skip
    copy = tmp_path / "copy.gpkg"
    copy.write_bytes(project.read_bytes())
    run("import", copy, tmp_path / "areas" / "proposed_areas.geojson", "--table", "hazard_areas")
    with open_store(copy) as store:
        areas = store.read("hazard_areas")
    proposed = areas[areas["area_id"].str.startswith("PROPOSED-")]
    assert len(proposed) == int(found.group(1))
    assert proposed["evidence"].str.startswith("proposed by Remnant").all()
    bad = tmp_path / "nmas.toml"
    bad.write_text("[release.tolerable_p_any]\nvalue = 2.0\nsource = 'x'\n", encoding="utf-8")
    refused = run("areas", project, "--estimate", out, "--standard", bad, ok=False)
    assert refused.returncode == 1 and "release.tolerable_p_any.value: must be (0, 1)" in (
        refused.stderr
    )


def test_release_decides_routes_and_writes_handover_pages(estimated, tmp_path):
    project, out = estimated
    done = run("release", project, "--estimate", out, "--out", tmp_path / "r",
               "--owner", "Village council").stdout  # fmt: skip
    assert "Release decisions (tolerable risk 5 %)" in done
    decisions = pd.read_csv(tmp_path / "r" / "release_decisions.csv")
    with open_store(project) as store:
        recorded = store.read("hazard_areas")
    assert sorted(decisions["area_id"]) == sorted(recorded["area_id"])
    active = decisions[decisions["status"].isin(["suspected", "confirmed", "in_progress"])]
    assert set(active["recommended"]) <= {"cancel", "reduce", "clear"}
    for row in active.to_dict("records"):  # the least work within the tolerable risk
        tolerable = [r for r in ("cancel", "reduce", "clear") if row.get(f"{r}_p_any", 1) <= 0.05]
        assert row["recommended"] == (tolerable[0] if tolerable else "clear")
    released = decisions[~decisions.index.isin(active.index)]
    ready = released[(released["status"] == "cleared") & (released["p_any"] <= 0.05)]
    pages = sorted(p.stem for p in (tmp_path / "r" / "handover").glob("*.html"))
    assert pages == sorted(ready["area_id"])
    one = recorded["area_id"].iloc[0]
    run("release", project, "--estimate", out, "--out", tmp_path / "one", "--handover", one)
    page = (tmp_path / "one" / "handover" / f"{one}.html").read_text(encoding="utf-8")
    assert f"Handover of released land — {one}" in page


def test_history_shows_an_areas_life_and_import_refuses_a_wrong_step(tmp_path):
    def area(status: str, evidence: str) -> Path:
        feature = {"type": "Feature",
                   "properties": {"area_id": "HA-1", "status": status, "evidence": evidence},
                   "geometry": {"type": "Polygon", "coordinates": [[[37, 48], [37.01, 48],
                                [37.01, 48.01], [37, 48.01], [37, 48]]]}}  # fmt: skip
        path = tmp_path / f"{status}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        return path

    project = tmp_path / "p.gpkg"
    run("init", project)
    table = ("--table", "hazard_areas")
    run("import", project, area("confirmed", "2 x M77 found"), *table)
    refused = run("import", project, area("cancelled", "nothing seen"), *table, ok=False)
    assert refused.returncode == 2 and "cannot be cancelled" in refused.stderr
    run("import", project, area("cleared", "BAC, 12 x M77"), *table)
    life = run("history", project, "HA-1").stdout
    assert life.index("confirmed") < life.index("cleared") and "cancelled" not in life


def test_release_refuses_an_unknown_handover_area_before_writing(estimated, tmp_path):
    project, out = estimated
    refused = run("release", project, "--estimate", out, "--out", tmp_path / "r",
                  "--handover", "NO-SUCH", ok=False)  # fmt: skip
    assert refused.returncode == 1 and "no hazard area 'NO-SUCH'" in refused.stderr
    assert not (tmp_path / "r").exists()


def test_watch_updates_the_estimate_after_each_import_from_the_one_it_keeps(tmp_path, world):
    """remnant watch estimates, then after an import updates from the estimate it keeps
    in memory: the same estimate as remnant estimate re-run from its saved basis. While
    a process writes an output folder, another is refused it, and the watcher tries
    again until it is free."""
    project, as_of, batches = _store_without_late_finds(tmp_path, world)
    late = [*batches[0], *batches[1]]
    late_file = tmp_path / "late" / "finds.csv"
    late_file.parent.mkdir()
    header = (world / "finds.csv").read_text(encoding="utf-8").splitlines()[0]
    late_file.write_text("\n".join([header, *late]) + "\n", encoding="utf-8")
    out, again = tmp_path / "watched", tmp_path / "again"
    args = ("--as-of", as_of, "--no-map")
    run("estimate", project, "--out", again, *args)  # its saved basis: before the import
    cmd = [*REMNANT, "watch", str(project), "--out", str(out), *args, "--every", "0.2",
           "--updates", "1"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    log, errors = tmp_path / "watch.out", tmp_path / "watch.err"  # files: a pipe may fill
    with log.open("w") as fh_out, errors.open("w") as fh_err:
        watcher = subprocess.Popen(cmd, stdout=fh_out, stderr=fh_err, text=True, env=env)
        try:
            deadline = time.monotonic() + 300
            while not (out / "estimate.json").exists() or (out / LOCK_FILE).read_text():
                assert watcher.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)  # until the first estimate is written and the folder let go
            with writing(out):  # another writer holds the folder: the watcher waits its turn
                run("import", project, late_file)
                while "Not updated yet" not in errors.read_text():
                    assert watcher.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
            watcher.wait(timeout=300)
        finally:
            watcher.kill()
    stdout = log.read_text()
    assert watcher.returncode == 0, errors.read_text()
    assert f"{len(late):,} new records; updated in" in stdout
    assert "Stopped;" in stdout
    watched = json.loads((out / "estimate.json").read_text())
    assert watched["evidence_update"]["mode"] == "update"
    assert watched["evidence_update"]["records"] == {"finds": len(late)}
    run("estimate", project, "--out", again, *args)  # from the basis saved before the import
    rerun = json.loads((again / "estimate.json").read_text())
    assert rerun["evidence_update"]["mode"] == "update"
    assert watched["last_import_id"] == rerun["last_import_id"]
    assert watched["total_remaining"]["mean"] == pytest.approx(
        rerun["total_remaining"]["mean"], rel=1e-9
    )
    _, ours, _ = read_estimate(out / "estimate.tif")
    _, theirs, _ = read_estimate(again / "estimate.tif")
    for band in ("expected_remaining", "p_any"):
        np.testing.assert_allclose(ours[band], theirs[band], rtol=1e-6, atol=1e-9)
    with writing(out):
        busy = run("estimate", project, "--out", out, *args, ok=False)
    assert busy.returncode == 1
    assert f"{out} is being written by remnant process {os.getpid()}" in busy.stderr
    with open_store(project) as store:
        assert store.last_import_id() == watched["last_import_id"]
