"""Project-level work: files in and out of a store, and what a store holds.

The composition of the rooms that the command line (and later the web service)
calls: read a file (:mod:`remnant.io`), validate it (:mod:`remnant.records`), write
it in one transaction (:mod:`remnant.store`); export; summarise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from remnant.catalogue import Catalogue, load_catalogue
from remnant.errors import BusyError, NotFoundError, Problem, ValidationError
from remnant.hazard.config import HazardConfig
from remnant.io import RawTable, read_tables, write_table
from remnant.records.lifecycle import ACTIVE
from remnant.records.schema import TABLES
from remnant.records.validate import Validated, ValidationContext, validate
from remnant.store import Store

if TYPE_CHECKING:
    from remnant.hazard.estimate import Estimate
    from remnant.survey.delineation import Proposals
    from remnant.survey.release import ReleaseDecision
    from remnant.survey.standard import NationalStandard

Progress = Callable[[str, int, int], None]
"""``progress(label, done, total)``."""

EXPORT_SUFFIX = {"csv": ".csv", "geojson": ".geojson"}


@dataclass
class FileReport:
    """What happened to one table of one file."""

    file: str
    table: str
    read: int
    accepted: int
    rejected: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did: per file, the problems, the warnings."""

    files: list[FileReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def import_files(
    store: Store,
    paths: Sequence[str | Path],
    *,
    table: str | None = None,
    repair: bool = False,
    skip_invalid: bool = False,
    user: str | None = None,
    today: date | None = None,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate files and write their records to ``store`` in one transaction.

    Parameters
    ----------
    store : Store
        The project store.
    paths : sequence of path
        Exchange-format files (``.csv``, ``.geojson``, ``.gpkg``).
    table : str, optional
        The table every file holds; by default known from each file's name.
    repair : bool
        Repair invalid polygons instead of rejecting them.
    skip_invalid : bool
        Write the valid rows and report the rejected ones; by default a single
        rejected row stops the whole import and nothing is written.
    user : str, optional
        Who imports, for the audit trail (default: the login name).
    today : datetime.date, optional
        Dates after it are rejected (default: today, UTC).

    Raises
    ------
    ValidationError
        With every problem of every file, when a row is rejected and
        ``skip_invalid`` is false. Nothing is written then.
    """
    raws = [raw for path in paths for raw in read_tables(path, table)]
    raws.sort(key=lambda r: list(TABLES).index(r.spec.name))
    context = ValidationContext(
        catalogue=catalogue or load_catalogue(),
        today=today or datetime.now(UTC).date(),
        repair=repair,
        known_activity_ids=frozenset(store.ids("activities")) | _batch_activity_ids(raws),
        area_statuses=_area_statuses(store) if any(_is_areas(r) for r in raws) else None,
    )
    checked = [(raw, validate(raw, context)) for raw in raws]
    report = ImportReport()
    for raw, result in checked:
        report.problems += result.problems
        report.warnings += result.warnings
        report.files.append(
            FileReport(raw.file, raw.spec.name, len(raw), len(result.frame), len(result.rejected))
        )
    if report.problems and not skip_invalid:
        raise ValidationError(report.problems)
    _write(store, checked, report, user, progress)
    return report


def _is_areas(raw: RawTable) -> bool:
    return raw.spec.name == "hazard_areas"


def _area_statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    """Status and evidence of each stored hazard area: what a new status must follow."""
    areas = store.read("hazard_areas")
    evidence = [None if pd.isna(e) else str(e) for e in areas["evidence"]]
    return dict(zip(areas["area_id"], zip(areas["status"], evidence, strict=True), strict=True))


def _batch_activity_ids(raws: list[RawTable]) -> frozenset[str]:
    ids: set[str] = set()
    for raw in raws:
        if raw.spec.name == "activities" and "activity_id" in raw.frame.columns:
            ids |= {str(v).strip() for v in raw.frame["activity_id"] if v is not None}
    return frozenset(ids)


def _write(
    store: Store,
    checked: list[tuple[RawTable, Validated]],
    report: ImportReport,
    user: str | None,
    progress: Progress | None,
) -> None:
    with store.transaction(user=user) as tx:
        for (raw, result), line in zip(checked, report.files, strict=True):
            label = f"{Path(raw.file).name} → {raw.spec.name}"
            tick = None if progress is None else _ticker(progress, label)
            written = tx.upsert(
                raw.spec.name,
                result.frame,
                source_file=raw.file,
                sha256=_sha256(raw.path),
                progress=tick,
            )
            line.inserted, line.updated, line.unchanged = (
                written.inserted,
                written.updated,
                written.unchanged,
            )


def _ticker(progress: Progress, label: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(label, done, total)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_project(
    store: Store, fmt: str, out: str | Path, tables: Sequence[str] | None = None
) -> list[Path]:
    """Write every table of ``store`` to ``out`` in the exchange format.

    ``csv`` and ``geojson`` give one file per table, named as the exchange format
    names them (point tables in CSV, polygon tables in GeoJSON, whatever ``fmt``
    says for the other kind, so that every file is the spec's own); ``gpkg`` gives
    one ``remnant-export.gpkg`` with a layer per table.
    """
    if fmt not in ("csv", "geojson", "gpkg"):
        raise ValueError(f"unknown format {fmt!r}; valid formats: csv, geojson, gpkg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in tables or list(TABLES):
        spec = TABLES[name]
        if fmt == "gpkg":
            path = out / "remnant-export.gpkg"
        elif fmt == "csv" and spec.geometry == "polygon":
            path = out / f"{name}.geojson"
        else:
            path = out / f"{name}{EXPORT_SUFFIX[fmt]}"
        write_table(store.read(name), name, path)
        if path not in written:
            written.append(path)
    return written


def carrier_summary(store: Store, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Per carrier: strikes, carriers fired and the prior expectation of duds.

    Where a strike omits ``carrier_count`` the catalogue's prior mean stands in.
    ``finds`` counts items of that carrier's submunition types.
    """
    catalogue = catalogue or load_catalogue()
    strikes = store.read("strikes")
    finds = store.read("finds")
    rows = []
    for carrier_id, group in strikes.groupby("carrier", sort=True):
        carrier = catalogue.carrier(str(carrier_id))
        count = group["carrier_count"].astype("float64")
        carriers = float(count.fillna(carrier.carrier_count.mean).sum())
        items = finds[finds["item"].isin(list(carrier.submunitions))]
        rows.append(
            {
                "carrier": carrier_id,
                "strikes": len(group),
                "carriers": round(carriers),
                "submunitions": round(carriers * carrier.submunitions_per_carrier),
                "failure_rate_prior": carrier.failure_rate.mean,
                "expected_duds": carriers * carrier.expected_duds_per_carrier,
                "items_found": int(items["quantity"].fillna(1).sum()),
            }
        )
    return pd.DataFrame(rows)


def read_all(store: Store) -> dict[str, gpd.GeoDataFrame]:
    """Every table of the store, canonical."""
    return {name: store.read(name) for name in TABLES}


# -- the hazard estimate ----------------------------------------------------------------

ESTIMATE_FILES = {
    "raster": "estimate.tif",
    "failure_rates": "failure_rates.csv",
    "strikes": "strike_summary.csv",
    "areas": "area_summary.csv",
    "record": "estimate.json",
    "map": "estimate.png",
}
"""The files ``remnant estimate`` writes in its output folder, by role."""

STATE_FILE = ".state/drawn.arrays"
"""What the raster was drawn from, in the output folder (:mod:`remnant.hazard.redraw`)."""

MAX_UNUSED_RASTER = 0.5
"""Share of ``estimate.tif`` left unused by blocks rewritten elsewhere in updates
(:func:`remnant.io.geotiff.unused_share`) above which a re-run writes the raster afresh:
a file updated every day grows by a few per cent a day (6 % after one day at country
scale), so it is rewritten about every week or two. [-]"""

BASIS_FILE = ".state/basis.arrays"
"""What the evidence update was computed from, with the store's last import then
(:mod:`remnant.hazard.update`), in the output folder."""

CHECKPOINT_RECORDS = 200
"""Records read since the saved basis (finds, accidents, activities) from which an
update saves its own basis as the next runs' start. Below it the saved basis is kept:
the store is the journal, and the next run reads every record since that basis again
(:meth:`Store.changed_since`) and replays them all. At country scale saving the basis
(1.4 GB) takes 7.7–8.1 s, and each day's records replayed again add about 2.3 s to
the evidence update (one day's 154 records: 8.1 s; three days' 402: 12.8 s;
benchmarks/README.md, "Incremental update"): saving every second day of about 150
records costs the least on average (15.8 s a day, against 18.7 s saving every day).
[records]"""

OLD_STATE_FILES = (".state/basis.npz", ".state/drawn.npz")
"""Where earlier versions kept the basis and the drawn state, as ``.npz`` files:
removed when the new ones are read or written, as no version reads them any more
(gigabytes at country scale)."""


@dataclass
class EstimateRun:
    """What :func:`estimate_project` did.

    The estimate, the files, the time each step took, how many tiles of the raster
    it drew (``{"tiles": n, "of": total}``), and how the evidence update ran
    (``{"mode": "full" | "update", "reason": ..., "records": {table: n}}``).
    """

    estimate: Estimate
    paths: dict[str, Path]
    seconds: dict[str, float]
    drawn: dict[str, int]
    evidence: dict[str, object] = field(default_factory=dict)
    kept: Kept | None = None


@dataclass(frozen=True)
class Kept:
    """An estimate a process keeps in memory for its next run (:func:`estimate_project`).

    Parameters
    ----------
    estimate : Estimate
        The last estimate, whose basis the next update starts from.
    import_id : int
        The store's last import it holds (:meth:`Store.last_import_id`).
    unsaved : int
        Records read since the basis saved in the output folder: the saved basis is
        written afresh at :data:`CHECKPOINT_RECORDS`, as by the command.
    """

    estimate: Estimate
    import_id: int
    unsaved: int


def estimate_project(
    store: Store,
    out: str | Path,
    *,
    cell_m: float = 25.0,
    as_of: date | str | None = None,
    config: HazardConfig | None = None,
    catalogue: Catalogue | None = None,
    draw_map: bool = True,
    full: bool = False,
    kept: Kept | None = None,
    progress: Progress | None = None,
) -> EstimateRun:
    """Estimate the remaining hazard from a store and write every output to ``out``.

    Writes ``estimate.tif`` (exchange format), ``failure_rates.csv``,
    ``strike_summary.csv``, ``area_summary.csv``, ``estimate.json`` (the run: day,
    totals, grid, assumptions, unrecorded attacks, timings, tiles drawn) and
    ``estimate.png``.

    A re-run into the same folder updates the last estimate with the records
    imported since (:func:`remnant.hazard.update.update`, from ``out/.state/basis.arrays``)
    instead of reading every record again, unless they need a full run (new strikes
    or hazard areas, an edited record, ...; ``estimate.json`` says why). It then
    redraws only the tiles of ``estimate.tif`` that could change by more than 1 %
    (:mod:`remnant.hazard.redraw`), from what it drew before (``out/.state/drawn.arrays``;
    :func:`draw_raster`). The grid or the assumptions changed, or ``full``, and it
    does both in full.

    Parameters
    ----------
    store : Store
        The project store.
    out : path
        Output folder, created if missing.
    cell_m : float
        Side of a grid cell. [m]
    as_of : datetime.date or str, optional
        Day of the estimate; default today.
    config : HazardConfig, optional
        The model's assumptions (``cell_m`` overrides its cell size).
    catalogue : Catalogue, optional
        The munition catalogue.
    draw_map : bool
        Also draw ``estimate.png``.
    full : bool
        Read every record and draw the whole raster, even where an earlier run's
        evidence update and tiles could be kept.
    kept : Kept, optional
        The last run's estimate, kept in memory by a process that stays up
        (``remnant watch``): the update starts from it instead of the saved basis,
        whose pages it need not read back nor the heap grow for. It must have been
        made into ``out`` with the same ``config`` and ``catalogue``. The run's own
        comes back as :attr:`EstimateRun.kept`.
    progress : callable, optional
        ``progress(label, done, total)``.

    Raises
    ------
    BusyError
        Another process is writing ``out`` (:func:`writing`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with writing(out):
        return _estimate_into(store, out, cell_m, as_of, config, catalogue, draw_map, full, kept,
                              progress)  # fmt: skip


LOCK_FILE = ".state/lock"
"""The output folder's lock (:func:`writing`)."""


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Hold the output folder ``out`` for one writing process at a time.

    An advisory lock (``flock``) on :data:`LOCK_FILE`, which the kernel releases when
    the process ends however it ends; the file names the process that holds it.
    Where ``fcntl`` is missing (Windows) nothing is locked.

    Raises
    ------
    BusyError
        Another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    path = out / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise BusyError(
                f"{out} is being written by {holder}: wait for it, stop it, or write into "
                "another folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"remnant process {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def _estimate_into(
    store: Store,
    out: Path,
    cell_m: float,
    as_of: date | str | None,
    config: HazardConfig | None,
    catalogue: Catalogue | None,
    draw_map: bool,
    full: bool,
    kept: Kept | None,
    progress: Progress | None,
) -> EstimateRun:
    """:func:`estimate_project` once the folder is held."""
    from remnant.io.summary import write_json

    config = dataclasses.replace(config or HazardConfig(), cell_m=cell_m)

    def tell(stage: str, done: float, total: float) -> None:
        if progress is not None:
            progress(stage, int(done), int(total))

    seconds: dict[str, float] = {}
    catalogue = catalogue or load_catalogue()
    day = as_of or date.today()
    est, how, tables = _evidence_update(store, out, catalogue, day, config, full, tell, seconds,
                                        kept)  # fmt: skip
    paths = {role: out / name for role, name in ESTIMATE_FILES.items()}
    clock = time.perf_counter()
    stale = draw_outputs(est, out, full=full, progress=tell)
    seconds["raster and tables"] = time.perf_counter() - clock
    drawn = {"tiles": int(stale.sum()), "of": int(stale.size)}
    if draw_map:
        clock = time.perf_counter()
        from remnant.report.maps import plot_estimate

        tables = tables if tables is not None else read_all(store)
        title = (
            f"Remnant — expected unexploded items as of {est.as_of}: "
            f"{est.total.mean:,.0f} (90 % interval {est.total.lower:,.0f}–{est.total.upper:,.0f})"
        )
        plot_estimate(paths["raster"], tables, paths["map"], title=title)
        seconds["map"] = time.perf_counter() - clock
    else:
        del paths["map"]
    write_json(_run_record(est, store, seconds, drawn, how), paths["record"])
    now = Kept(est, cast(int, how["import_id"]), cast(int, how["unsaved"]))
    return EstimateRun(est, paths, seconds, drawn, how, now)


def draw_outputs(
    est: Estimate,
    out: Path,
    *,
    full: bool = False,
    progress: Callable[[str, float, float], None] | None = None,
) -> npt.NDArray[np.bool_]:
    """Draw ``est`` into ``out``'s raster and write its three summary tables beside it.

    The raster as :func:`draw_raster` draws it (its stale tiles), and the failure-rate,
    strike and hazard-area tables (:data:`ESTIMATE_FILES`) written in a thread while
    pass 2's kernels draw the tiles without holding Python's lock: at country scale an
    update's raster and tables took 1.70–1.77 s this way, against 1.84–2.09 s one after
    the other (benchmarks/README.md). Each file is written atomically. Both have stopped
    when it returns or raises (the raster's error first). Returns the tiles drawn
    (row-major).
    """
    from remnant.io.summary import write_summary_csv

    paths = {role: out / name for role, name in ESTIMATE_FILES.items()}
    out.mkdir(parents=True, exist_ok=True)

    def tables() -> None:
        write_summary_csv(est.failure_rates, paths["failure_rates"])
        write_summary_csv(est.strike_table, paths["strikes"])
        write_summary_csv(est.area_table, paths["areas"])

    with ThreadPoolExecutor(1, thread_name_prefix="summary tables") as pool:
        written = pool.submit(tables)
        stale = draw_raster(est, paths["raster"], out / STATE_FILE, full=full, progress=progress)
        written.result()
    return stale


def draw_raster(
    est: Estimate,
    raster: Path,
    state: Path,
    *,
    full: bool = False,
    progress: Callable[[str, float, float], None] | None = None,
) -> npt.NDArray[np.bool_]:
    """Draw ``est`` into ``raster``: only its stale tiles, where ``state`` allows.

    ``state`` holds what each tile of ``raster`` was drawn from
    (:class:`remnant.hazard.redraw.DrawnState`); the tiles that ``est`` could change
    by more than the tolerance are redrawn in place
    (:func:`remnant.io.geotiff.update_estimate_tiles`). Without a state or a raster,
    with ``full``, or when updates have left more than :data:`MAX_UNUSED_RASTER` of
    the file unused, the whole raster is written afresh. The state is removed while
    the raster is written and saved after it, so that a run that stops half-way
    leaves the next to draw the whole raster. Returns the tiles drawn (row-major).
    """
    from remnant.hazard.redraw import DrawnState, advanced_state, drawn_state, stale_tiles
    from remnant.io.geotiff import unused_share, update_estimate_tiles, write_estimate_strips

    previous = None if full or not raster.exists() else DrawnState.load(state)
    now = drawn_state(est)
    stale, changed = stale_tiles(previous, now, est)
    in_place = previous is not None and not stale.all()
    if in_place and unused_share(raster) > MAX_UNUSED_RASTER:
        stale[:], in_place = True, False  # written afresh: compact again
    state.unlink(missing_ok=True)
    if in_place:
        update_estimate_tiles(raster, est.grid, est.tiles(stale, progress),
                              metadata=raster_tags(est))  # fmt: skip
    else:
        write_estimate_strips(raster, est.grid, est.strips(progress), metadata=raster_tags(est))
    advanced_state(previous, now, est, stale, changed).save(state)
    return stale


def _evidence_update(
    store: Store,
    out: Path,
    catalogue: Catalogue,
    day: date | str,
    config: HazardConfig,
    full: bool,
    tell: Callable[[str, float, float], None],
    seconds: dict[str, float],
    kept: Kept | None = None,
) -> tuple[Estimate, dict[str, object], dict[str, gpd.GeoDataFrame] | None]:
    """The last estimate updated with the records imported since, or a full estimate.

    The last estimate is ``kept``'s, else the saved basis. Saves what the update of the
    next run starts from (:data:`BASIS_FILE`) after a full run, and after updates that
    read many records since the saved basis (:func:`checkpoint`); else keeps the saved
    one. Also returns the store's tables when a full run read them (None after an
    update). ``how`` says what it did, the import the estimate holds (``import_id``)
    and the records read since the saved basis (``unsaved``).
    """
    from remnant.hazard.estimate import BASIS_FORMAT, estimate
    from remnant.hazard.update import NotIncremental, update
    from remnant.io.arrays import write_arrays

    path = out / BASIS_FILE
    import_id = store.last_import_id()
    how: dict[str, object] = {"mode": "full", "reason": "asked" if full else "no earlier run"}
    est, tables, records = None, None, None
    saved: dict[str, Any] | None = None
    unsaved = 0  # records since the saved basis that the start does not count
    if full:
        pass
    elif kept is not None and kept.estimate.config == config:
        saved = {"basis": kept.estimate, "import_id": kept.import_id}
        unsaved = kept.unsaved
    else:
        saved = _saved_basis(path, catalogue, config)
    if saved is not None:
        clock = time.perf_counter()
        since = int(saved["import_id"])
        changed = store.changed_since(since, until=import_id)  # later imports: next run's
        added = {name: store.read(name, ids=ids) for name, ids in changed.items() if ids}
        seconds["read store"] = time.perf_counter() - clock
        clock = time.perf_counter()
        try:
            est = update(saved["basis"], added, catalogue, as_of=day, progress=tell)
            records = {name: len(frame) for name, frame in added.items()}
            how = {"mode": "update", "since_import": since, "records": records}
        except NotIncremental as why:
            how["reason"] = str(why)
    if est is None:
        clock = time.perf_counter()
        tables = read_all(store)
        seconds["read store"] = time.perf_counter() - clock
        clock = time.perf_counter()
        est = estimate(tables, catalogue, as_of=day, config=config, progress=tell)
    seconds["evidence update"] = time.perf_counter() - clock
    for old in OLD_STATE_FILES:
        (out / old).unlink(missing_ok=True)
    how["import_id"] = import_id
    if records is not None and not checkpoint({"since the saved basis": unsaved, **records}):
        how["basis"], how["unsaved"] = "kept", unsaved + sum(records.values())
        return est, how, tables
    how["basis"], how["unsaved"] = "saved", 0
    clock = time.perf_counter()
    state = {"format": BASIS_FORMAT, "import_id": import_id, "catalogue": catalogue.version,
             "basis": est.basis.for_update()}  # fmt: skip
    write_arrays(state, path)
    seconds["save state"] = time.perf_counter() - clock
    return est, how, tables


def checkpoint(records: Mapping[str, int]) -> bool:
    """Whether an update that read ``records`` (rows per table) saves its basis.

    When they are :data:`CHECKPOINT_RECORDS` or more; else the saved basis is kept.
    """
    return sum(records.values()) >= CHECKPOINT_RECORDS


def _saved_basis(path: Path, catalogue: Catalogue, config: HazardConfig) -> dict[str, Any] | None:
    """The saved basis, if there is one of this version, catalogue and assumptions."""
    from remnant.errors import FormatError
    from remnant.hazard.estimate import BASIS_FORMAT
    from remnant.io.arrays import read_arrays

    try:
        saved = read_arrays(path)
    except (OSError, FormatError):
        return None
    if not isinstance(saved, dict) or saved.get("format") != BASIS_FORMAT:
        return None
    if saved.get("catalogue") != catalogue.version or saved["basis"].setup.config != config:
        return None
    return saved


def raster_tags(est: Estimate) -> dict[str, str]:
    """The tags ``remnant estimate`` gives ``estimate.tif``."""
    from remnant import __version__

    return {
        "as_of": est.as_of,
        "cell_size_m": f"{est.grid.cell:g}",
        "software_version": f"remnant {__version__}",
        "total_expected_remaining": f"{est.total.mean:.6g}",
    }


def _run_record(
    est: Estimate,
    store: Store,
    seconds: dict[str, float],
    drawn: dict[str, int],
    how: dict[str, object],
) -> dict[str, object]:
    from remnant import __version__

    u = est.unrecorded
    how = dict(how)
    return {
        "software_version": f"remnant {__version__}",
        "store": str(store.path),
        "last_import_id": how.pop("import_id"),  # the last the estimate holds
        "as_of": est.as_of,
        "grid": dataclasses.asdict(est.grid),
        "total_remaining": {
            "mean": est.total.mean,
            "lower": est.total.lower,
            "upper": est.total.upper,
            "level": est.total.level,
        },
        "strikes": {
            "recorded": int((~est.strikes.pseudo).sum()),
            "pseudo": int(est.strikes.pseudo.sum()),
        },
        "unrecorded_attacks": {
            "expected": u.attacks,
            "revealed": u.revealed,
            "hidden": u.hidden,
            "reveal_rate": u.reveal_rate,
            "civilian_share": u.civilian,
            "duds_per_attack": u.size.mean,
            "remaining": float(est.unrecorded_remaining),
        },
        "attribution_evaluations": est.attribution.iterations,
        "config": est.config.as_dict(),
        "evidence_update": how,
        "raster_tiles_drawn": drawn,
        "seconds": seconds,
    }


# -- a hazard area's figures, for the sampling designs ----------------------------------


@dataclass(frozen=True)
class AreaFacts:
    """What the store and an estimate say of one hazard area: a design's inputs.

    Parameters
    ----------
    area_id, status : str
        The hazard area and its status.
    area_m2 : float
        Its area, in a local UTM projection. [m²]
    carriers : dict of str to int
        Carrier types of the strikes reported inside it, with their counts, most
        frequent first.
    expected_remaining, variance : float or None
        The estimate's expected items remaining in it and their variance [items,
        items²]; None without an estimate.
    """

    area_id: str
    status: str
    area_m2: float
    carriers: dict[str, int]
    expected_remaining: float | None = None
    variance: float | None = None


def area_facts(store: Store, area_id: str, estimate_dir: str | Path | None = None) -> AreaFacts:
    """The figures of hazard area ``area_id``, and its row of an estimate's area summary.

    ``estimate_dir`` is a folder ``remnant estimate`` wrote (its ``area_summary.csv``).

    Raises
    ------
    NotFoundError
        No such hazard area in the store, or none in the estimate (or an estimate
        written before the summary had a variance).
    """
    areas = store.read("hazard_areas", ids=[area_id])
    if not len(areas):
        raise NotFoundError(f"no hazard area {area_id!r} in {store.path}")
    area = areas.iloc[[0]]
    local = area.to_crs(area.estimate_utm_crs())
    strikes = store.read("strikes")
    inside = strikes[strikes.within(area.geometry.iloc[0])]
    counts = inside["carrier"].value_counts()
    facts = AreaFacts(
        area_id=area_id,
        status=str(area["status"].iloc[0]),
        area_m2=float(local.geometry.area.iloc[0]),
        carriers={str(k): int(v) for k, v in counts.items()},
    )
    if estimate_dir is None:
        return facts
    table = _area_summary(estimate_dir)
    row = table[table["area_id"] == area_id]
    if not len(row):
        raise NotFoundError(f"no hazard area {area_id!r} in {table.attrs['path']}")
    mean, variance = float(row["expected_remaining"].iloc[0]), float(row["variance"].iloc[0])
    return dataclasses.replace(facts, expected_remaining=mean, variance=variance)


def _area_summary(estimate_dir: str | Path) -> pd.DataFrame:
    """An estimate's ``area_summary.csv``, with the variance the survey work reads.

    Raises
    ------
    NotFoundError
        No estimate there, or one written before the summary had a variance.
    """
    path = Path(estimate_dir) / ESTIMATE_FILES["areas"]
    if not path.exists():
        raise NotFoundError(f"no estimate at {path.parent} (run remnant estimate first)")
    table = pd.read_csv(path, dtype={"area_id": str})
    if "variance" not in table.columns:
        raise NotFoundError(f"{path} has no variance column: run remnant estimate again")
    table.attrs["path"] = str(path)
    return table


# -- hazard areas proposed from the estimate --------------------------------------------

AREA_FILES = {
    "proposals": "proposed_areas.geojson",
    "suggestions": "area_suggestions.csv",
    "map": "proposed_areas.png",
}
"""The files ``remnant areas`` writes in its output folder, by role."""


@dataclass(frozen=True)
class AreaRun:
    """What :func:`propose_project_areas` found and wrote.

    Parameters
    ----------
    proposals : Proposals
        The proposed areas, in the estimate's CRS (:mod:`remnant.survey.delineation`).
    suggestions : geopandas.GeoDataFrame
        The proposals set against the recorded areas
        (:func:`remnant.survey.delineation.compare_areas`).
    standard : NationalStandard
        The rules used.
    paths : dict of str to Path
        The files written, by role (:data:`AREA_FILES`).
    """

    proposals: Proposals
    suggestions: gpd.GeoDataFrame
    standard: NationalStandard
    paths: dict[str, Path]


def propose_project_areas(
    store: Store,
    estimate_dir: str | Path,
    out: str | Path,
    standard: NationalStandard | None = None,
) -> AreaRun:
    """Hazard areas from an estimate and the store's evidence, set against those recorded.

    Writes ``proposed_areas.geojson`` (hazard areas in the exchange format, the numbers
    behind each as extra properties: importable as they are once reviewed),
    ``area_suggestions.csv`` and ``proposed_areas.png`` (the proposals over the
    estimate, beside the recorded areas) to ``out``.
    """
    from remnant.io.geojson import write_geojson
    from remnant.io.geotiff import read_estimate
    from remnant.io.summary import write_summary_csv
    from remnant.records.schema import CRS
    from remnant.survey.delineation import compare_areas, live_evidence, propose_areas
    from remnant.survey.standard import load_standard

    standard = standard or load_standard()
    raster = Path(estimate_dir) / ESTIMATE_FILES["raster"]
    if not raster.exists():
        raise NotFoundError(f"no estimate at {raster.parent} (run remnant estimate first)")
    grid, bands, _ = read_estimate(raster)
    tables = {n: store.read(n) for n in ("finds", "accidents", "activities", "hazard_areas")}
    evidence = live_evidence(tables["finds"], tables["accidents"], tables["activities"], grid.crs)
    rules = standard.hazard_areas
    mean, p_any = bands["expected_remaining"], bands["p_any"]
    proposals = propose_areas(grid, mean, p_any, evidence, rules)
    suggestions = compare_areas(
        proposals.areas, tables["hazard_areas"].to_crs(grid.crs), grid, mean, p_any,
        standard.release.tolerable_p_any.value, rules.min_area_m2.value,
    )  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {role: out / name for role, name in AREA_FILES.items()}
    write_geojson(_as_records(proposals.areas).to_crs(CRS), TABLES["hazard_areas"],
                  paths["proposals"])  # fmt: skip
    write_summary_csv(pd.DataFrame(suggestions.drop(columns="geometry")), paths["suggestions"])
    from remnant.report.maps import plot_areas

    plot_areas(raster, proposals.areas, tables["hazard_areas"], paths["map"],
               title=f"Remnant — hazard areas proposed from {raster}")  # fmt: skip
    return AreaRun(proposals, suggestions, standard, paths)


def _as_records(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Proposed areas as hazard-area records: ``evidence`` in words, the numbers kept."""
    words = [
        f"proposed by Remnant: {n} piece(s) of direct evidence, {items:,.1f} items expected"
        for n, items in zip(areas["evidence"], areas["expected_items"], strict=True)
    ]
    return areas.rename(columns={"evidence": "evidence_points"}).assign(evidence=words)


# -- release decisions and handover ------------------------------------------------------

RELEASE_FILE = "release_decisions.csv"
"""The table ``remnant release`` writes in its output folder."""

HANDOVER_DIR = "handover"
"""Where ``remnant release`` writes a handover page per cleared area."""


@dataclass(frozen=True)
class ReleaseRun:
    """What :func:`release_project` decided and wrote.

    Parameters
    ----------
    decisions : pandas.DataFrame
        One row per recorded hazard area (module :mod:`remnant.survey.release`).
    handovers : list of Path
        The handover pages written.
    path : Path
        The decisions table.
    standard : NationalStandard
        The rules used.
    """

    decisions: pd.DataFrame
    handovers: list[Path]
    path: Path
    standard: NationalStandard


def release_project(
    store: Store,
    estimate_dir: str | Path,
    out: str | Path,
    standard: NationalStandard | None = None,
    *,
    owner: str | None = None,
    handover: Sequence[str] | None = None,
    areas: AreaRun | None = None,
) -> ReleaseRun:
    """Release routes for the active hazard areas; residual risk and handover for the cleared.

    Writes ``release_decisions.csv`` and, per cleared area whose residual risk is within
    the tolerable (or per area ``handover`` names), an IMAS 08.30 handover page
    ``handover/<area_id>.html`` to ``out``.
    ``owner`` is who takes the residual risk on (named on the pages). ``areas`` is
    the run of :func:`propose_project_areas` on the same estimate, if one was made.
    """
    from remnant.io.summary import write_summary_csv
    from remnant.records.defaults import DETECTION_PROBABILITY_BY_TYPE
    from remnant.survey.release import AreaFigures, release_routes
    from remnant.survey.standard import load_standard

    standard = standard or load_standard()
    unknown = sorted(set(handover or ()) - store.ids("hazard_areas"))
    if unknown:  # before anything is written
        raise NotFoundError(f"no hazard area {unknown[0]!r} in {store.path}")
    areas = areas or propose_project_areas(store, estimate_dir, out, standard)
    summary = _area_summary(estimate_dir)
    judged = pd.DataFrame(areas.suggestions.drop(columns="geometry"))
    rows = summary.merge(judged[judged["suggestion"] != "new"], on=["area_id", "status"],
                         suffixes=("", "_polygon"))  # fmt: skip
    tolerable = standard.release.tolerable_p_any.value
    detection = DETECTION_PROBABILITY_BY_TYPE["clearance"]
    records = []
    for record in rows.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        figures = AreaFigures(*(float(row[k]) for k in _FIGURES))
        records.append(_decision_row(row, release_routes(figures, tolerable, detection),
                                     tolerable))  # fmt: skip
    decisions = pd.DataFrame(records)
    ready = (decisions["status"] == "cleared") & (decisions["recommended"] == "hand over")
    wanted = list(handover) if handover is not None else list(decisions.loc[ready, "area_id"])
    out = Path(out)
    path = out / RELEASE_FILE
    write_summary_csv(decisions, path)
    pages = _handovers(store, estimate_dir, out, wanted, decisions, standard, owner)
    return ReleaseRun(decisions, pages, path, standard)


_FIGURES = ("area_m2", "expected_remaining", "variance", "p_any", "released_m2",
            "released_items", "released_p_any_upper")  # fmt: skip
"""The columns of an area's row that make its :class:`remnant.survey.release.AreaFigures`."""


def _decision_row(
    row: dict[str, Any], decision: ReleaseDecision, tolerable: float
) -> dict[str, object]:
    """One area's row of ``release_decisions.csv``."""
    p_any = float(row["p_any"])
    out: dict[str, object] = {
        "area_id": row["area_id"], "status": row["status"], "area_m2": row["area_m2"],
        "expected_items": row["expected_remaining"], "p_any": p_any,
        "lower": row["lower"], "upper": row["upper"],
    }  # fmt: skip
    if row["status"] in ACTIVE:
        out["recommended"] = decision.recommended
        out["reason"] = decision.reason
        for route in decision.routes:
            out[f"{route.name}_released_m2"] = route.released_m2
            out[f"{route.name}_items"] = route.expected_items
            out[f"{route.name}_p_any"] = route.p_any
    else:  # released already: the residual risk the estimate sees now
        ok = p_any <= tolerable
        out["recommended"] = "hand over" if ok else "review"
        out["reason"] = (
            f"residual risk {p_any:.1%} {'within' if ok else 'above'} the tolerable {tolerable:.1%}"
        )
    return out


def _handovers(
    store: Store,
    estimate_dir: str | Path,
    out: Path,
    wanted: Sequence[str],
    decisions: pd.DataFrame,
    standard: NationalStandard,
    owner: str | None,
) -> list[Path]:
    """Write the handover page of each area ``wanted`` (:mod:`remnant.report.handover`).

    The store's activities and finds and the estimate's day are read once for all.
    """
    from remnant.io.summary import read_json
    from remnant.report.handover import handover_record, write_handover_html

    if not wanted:
        return []
    areas = store.read("hazard_areas", ids=wanted)
    activities, finds = store.read("activities"), store.read("finds")
    as_of = str(read_json(Path(estimate_dir) / ESTIMATE_FILES["record"])["as_of"])
    figures = decisions.set_index("area_id")[["expected_items", "p_any"]].to_dict("index")
    pages = []
    for area_id in wanted:
        area = areas[areas["area_id"] == area_id]
        residual = {str(k): float(v) for k, v in figures[area_id].items()}
        record = handover_record(area, activities, finds, residual, standard, as_of, owner)
        pages.append(write_handover_html(record, out / HANDOVER_DIR / f"{area_id}.html"))
    return pages


# -- a hazard area's life ---------------------------------------------------------------


def area_history(store: Store, area_id: str) -> pd.DataFrame:
    """The statuses a hazard area has had, oldest first, from the store's audit trail.

    One row when it was first written and one per change of its status or evidence:
    ``at`` (when Remnant wrote it, UTC), ``user``, ``source_file``, ``status``,
    ``evidence`` and ``status_date`` (the record's extra column of that name, the day
    of the change as the field team gives it, when there is one). The first status
    is the record's as first written: the current one, taken back through the
    changes (:mod:`remnant.records.lifecycle`).

    Raises
    ------
    NotFoundError
        No such hazard area in the store.
    """
    current = store.read("hazard_areas", ids=[area_id])
    if not len(current):
        raise NotFoundError(f"no hazard area {area_id!r} in {store.path}")
    trail = store.audit(record=("hazard_areas", area_id)).sort_values("id")
    state = {key: _value(current[key].iloc[0]) for key in ("status", "evidence", "status_date")
             if key in current.columns}  # fmt: skip
    rows = []
    for entry in reversed(trail.to_dict("records")):  # newest first: undo each change
        changes = entry["changes"] or {}
        if entry["changes"] is None or any(k in changes for k in ("status", "evidence")):
            rows.append({**_who(entry), **state})
        for key, (old, _new) in changes.items():
            if key in ("status", "evidence", "status_date"):
                state[key] = old
    frame = pd.DataFrame(rows[::-1], columns=["at", "user", "source_file", "status", "evidence",
                                              "status_date"])  # fmt: skip
    return frame


def _who(entry: Mapping[str, Any]) -> dict[str, object]:
    return {"at": entry["at"], "user": entry["user"], "source_file": entry["source_file"]}


def _value(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value
