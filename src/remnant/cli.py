"""The ``remnant`` command line: thin, it calls the rooms and shows what they return."""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from remnant import __version__
from remnant.allocator import keep_freed_memory
from remnant.errors import BusyError, RemnantError, StoreError, ValidationError
from remnant.threads import idle_threads_sleep

if TYPE_CHECKING:
    from remnant.catalogue import Carrier
    from remnant.hazard.estimate import Estimate
    from remnant.project import (
        AreaFacts,
        AreaRun,
        EstimateRun,
        ImportReport,
        Kept,
        ReleaseRun,
    )
    from remnant.store import Store
    from remnant.survey.compliance import ComplianceDesign

app = typer.Typer(
    name="remnant",
    help="Where unexploded cluster submunitions remain, and where to clear next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def main() -> None:
    """Entry point: run the app, turning Remnant's errors into clear messages."""
    keep_freed_memory()  # large arrays reused, not mapped afresh (remnant.allocator)
    idle_threads_sleep()  # parallel kernels' workers sleep between kernels (remnant.threads)
    try:
        app()
    except ValidationError as exc:
        err.print(f"[bold red]Rejected[/]: {len(exc.problems)} problem(s); nothing was written.")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        sys.exit(2)
    except RemnantError as exc:
        err.print(f"[bold red]Error[/]: {exc}", highlight=False)
        sys.exit(1)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version.")] = False,
) -> None:
    if version:
        console.print(f"remnant {__version__}")
        raise typer.Exit()


@contextmanager
def _progress() -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    with bar:
        yield bar


def _tracker(bar: Progress) -> Callable[[str, float, float], None]:
    """A ``progress(label, done, total)`` callback drawing one bar per label."""
    tasks: dict[str, TaskID] = {}

    def update(label: str, done: float, total: float) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=done, total=total)

    return update


# --------------------------------------------------------------------------- catalogue


@app.command()
def catalogue(
    carrier_id: Annotated[str | None, typer.Argument(help="Show one carrier in full.")] = None,
) -> None:
    """List the munition catalogue, or show one carrier with its sources."""
    from remnant.catalogue import load_catalogue

    cat = load_catalogue()
    if carrier_id is None:
        console.print(_catalogue_table(cat.carriers.values()))
        console.print(
            f"Items valid in finds: {', '.join(cat.item_ids)}", highlight=False, soft_wrap=True
        )
        return
    _show_carrier(cat.carrier(cat.resolve(carrier_id, "carrier") or carrier_id))


def _catalogue_table(carriers: Iterable[Carrier]) -> Table:
    table = Table(title="Munition catalogue (failure-rate prior: mean and 90 % interval)")
    for name in (
        "id",
        "kind",
        "submunitions",
        "per carrier",
        "failure rate",
        "footprint",
        "carriers / attack",
    ):
        table.add_column(name, overflow="fold")
    for c in carriers:
        lo, hi = c.failure_rate.interval(0.9)
        fp = c.footprint
        table.add_row(
            c.id,
            c.kind,
            ", ".join(f"{k}×{v}" for k, v in c.submunitions.items()),
            str(c.submunitions_per_carrier),
            f"{c.failure_rate.mean:.1%} ({lo:.1%}–{hi:.1%})",
            f"{fp.length_m:.0f} × {fp.width_m:.0f} m",
            f"{c.carrier_count.mean:g}",
        )
    return table


def _show_carrier(c: Carrier) -> None:
    from remnant.catalogue import load_catalogue

    cat = load_catalogue()
    prior = c.failure_rate
    lo, hi = prior.interval(0.9)
    console.print(f"[bold]{c.id}[/] — {c.name} ({c.kind})", highlight=False)
    console.print(
        f"  submunitions: {dict(c.submunitions)}, {c.submunitions_per_carrier} per carrier"
    )
    console.print(
        f"  failure-rate prior: Beta({prior.alpha:.3g}, {prior.beta:.3g}), mean {prior.mean:.2%},"
        f" 90 % interval {lo:.2%}–{hi:.2%}; method: {prior.method}",
        highlight=False,
    )
    fp = c.footprint
    console.print(
        f"  footprint: ellipse {fp.length_m:.0f} × {fp.width_m:.0f} m "
        f"({fp.area_m2:,.0f} m²), log-sd {fp.log_sd:g}; source: {fp.source or '—'}",
        highlight=False,
    )
    console.print(
        f"  carriers per attack: mean {c.carrier_count.mean:g}; aim-point spread "
        f"{c.volley_spread_m:g} m (1σ)",
        highlight=False,
    )
    table = Table(title="Published figures")
    for name in ("figure", "value", "source", "note"):
        table.add_column(name, overflow="fold")
    for f in c.figures:
        table.add_row(f.name, f"{f.value:g}", f"[{f.source}]", f.note)
    console.print(table)
    for a in c.assumptions:
        console.print(f"  [yellow]ASSUMPTION[/]: {a}", highlight=False)
    console.print("Sources:")
    used = {f.source for f in c.figures} | {fp.source, c.carrier_count.source}
    for key in sorted(k for k in used if k in cat.sources):
        s = cat.sources[key]
        console.print(f"  \\[{key}] {s.citation} {s.url or ''}", highlight=False)


# --------------------------------------------------------------------------- store


@app.command()
def init(
    project: Annotated[Path, typer.Argument(help="The project store to create (.gpkg).")],
) -> None:
    """Create an empty project store (a GeoPackage that QGIS opens directly)."""
    from remnant.store import init_store

    init_store(project).close()
    console.print(f"Created project store {project}", highlight=False)


@app.command("import")
def import_(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    files: Annotated[list[Path], typer.Argument(help="Exchange-format files.")],
    table: Annotated[
        str | None, typer.Option(help="Table of every file (default: file name).")
    ] = None,
    repair: Annotated[bool, typer.Option(help="Repair invalid polygons.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option(help="Write the valid rows; report and skip the rejected ones.")
    ] = False,
    user: Annotated[str | None, typer.Option(help="Who imports, for the audit trail.")] = None,
    today: Annotated[str | None, typer.Option(help="Reject dates after this day (ISO).")] = None,
) -> None:
    """Validate files and write them to the store, all in one transaction."""
    from remnant.project import import_files
    from remnant.store import open_store

    with open_store(project) as store, _progress() as bar:
        report = import_files(
            store,
            files,
            table=table,
            repair=repair,
            skip_invalid=skip_invalid,
            user=user,
            today=date.fromisoformat(today) if today else None,
            progress=_tracker(bar),
        )
    _print_import(report)


def _print_import(report: ImportReport) -> None:
    table = Table(title="Import")
    for name in ("file", "table", "read", "rejected", "inserted", "updated", "unchanged"):
        table.add_column(name, overflow="fold")
    for f in report.files:
        table.add_row(
            f.file,
            f.table,
            *(str(v) for v in (f.read, f.rejected, f.inserted, f.updated, f.unchanged)),
        )
    console.print(table)
    for p in report.problems:
        err.print(f"  [red]rejected[/] {p}", highlight=False)
    for w in report.warnings:
        err.print(f"  [yellow]warning[/] {w}", highlight=False)


@app.command()
def export(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    out: Annotated[Path, typer.Option(help="Folder to write to.")],
    format: Annotated[str, typer.Option("--format", help="gpkg, geojson or csv.")] = "gpkg",
) -> None:
    """Write every table of the store in the exchange format."""
    from remnant.project import export_project
    from remnant.store import open_store

    with open_store(project) as store:
        paths = export_project(store, format, out)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


@app.command()
def summary(project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")]) -> None:
    """Records per table and the per-carrier table of a store."""
    from remnant.store import open_store

    with open_store(project) as store:
        _print_summary(store)


def _print_summary(store: Store) -> None:
    from remnant.project import carrier_summary

    counts = Table(title=f"Records in {store.path}")
    counts.add_column("table")
    counts.add_column("records", justify="right")
    for name, n in store.counts().items():
        counts.add_row(name, f"{n:,}")
    console.print(counts)
    per = carrier_summary(store)
    table = Table(title="Per carrier type: prior expectation of duds, and items found")
    headers = ("carrier", "strikes", "carriers", "submunitions", "dud prior", "exp. duds", "found")
    for name in headers:
        table.add_column(name, justify="right" if name != "carrier" else "left")
    for row in per.itertuples(index=False):
        table.add_row(
            str(row.carrier),
            f"{row.strikes:,}",
            f"{row.carriers:,}",
            f"{row.submunitions:,}",
            f"{row.failure_rate_prior:.1%}",
            f"{row.expected_duds:,.0f}",
            f"{row.items_found:,}",
        )
    console.print(table)


@app.command("map")
def map_(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("map.png"),
) -> None:
    """Draw strikes, finds, accidents, activities and hazard areas to a PNG."""
    from remnant.project import read_all
    from remnant.report.maps import plot_overview
    from remnant.store import open_store

    with open_store(project) as store:
        plot_overview(read_all(store), out, title=f"Remnant — {project.name}")
    console.print(f"wrote {out}", highlight=False)


# --------------------------------------------------------------------------- estimate


StoreArgument = Annotated[Path, typer.Argument(help="The project store (.gpkg).")]
EstimateOut = Annotated[Path, typer.Option(help="Folder for estimate.tif and its tables.")]
CellOption = Annotated[float, typer.Option(help="Side of a grid cell, in metres.", min=1.0)]
AsOfOption = Annotated[str | None, typer.Option(help="Day of the estimate (ISO); default today.")]
NoMapOption = Annotated[bool, typer.Option("--no-map", help="Do not draw estimate.png.")]


@app.command()
def estimate(
    project: StoreArgument,
    out: EstimateOut,
    cell: CellOption = 25.0,
    as_of: AsOfOption = None,
    no_map: NoMapOption = False,
    full: Annotated[
        bool, typer.Option("--full", help="Draw the whole raster, not only the stale tiles.")
    ] = False,
) -> None:
    """Estimate where unexploded items remain, how many, how sure, and write the results.

    Run again into the same folder after an import, it redraws only the tiles of
    estimate.tif that the new records change.
    """
    from remnant.project import estimate_project
    from remnant.store import open_store

    start = time.perf_counter()
    with open_store(project) as store, _progress() as bar:
        run = estimate_project(
            store,
            out,
            cell_m=cell,
            as_of=_day(as_of),
            draw_map=not no_map,
            full=full,
            progress=_tracker(bar),
        )
    _print_estimate(run.estimate)
    console.print(
        f"Raster: drew {run.drawn['tiles']:,} of {run.drawn['of']:,} tiles.", highlight=False
    )
    console.print(_evidence_line(run.evidence), highlight=False)
    for role, path in run.paths.items():
        console.print(f"  {role:>14}: {path}", highlight=False)
    console.print(f"Done in {time.perf_counter() - start:.1f} s.", highlight=False)


@app.command()
def watch(
    project: StoreArgument,
    out: EstimateOut,
    cell: CellOption = 25.0,
    as_of: AsOfOption = None,
    no_map: NoMapOption = False,
    every: Annotated[
        float, typer.Option(help="Seconds between looks at the store for imports.", min=0.1)
    ] = 5.0,
    updates: Annotated[
        int | None,
        typer.Option(help="Stop after this many updates; default: until interrupted.", min=1),
    ] = None,
) -> None:
    """Keep an estimate up to date: update it after every import, in a process that stays up.

    Runs remnant estimate into --out, then looks at the store every --every seconds and,
    after each import, updates the estimate from the one it keeps in memory: no basis
    read back and memory already grown, so a country's day of records takes seconds
    where a fresh process may take several times as long (benchmarks/README.md,
    "Incremental update"). Stop it with Ctrl-C; the folder always holds a whole estimate.
    """
    from remnant.project import estimate_project
    from remnant.store import open_store

    def run_once(kept: Kept | None, bar: Progress | None) -> EstimateRun:
        tell = None if bar is None else _tracker(bar)
        return estimate_project(store, out, cell_m=cell, as_of=_day(as_of), draw_map=not no_map,
                                kept=kept, progress=tell)  # fmt: skip

    with open_store(project) as store:
        with _progress() as bar:
            run = run_once(None, bar)
        _print_estimate(run.estimate)
        console.print(_evidence_line(run.evidence), highlight=False)
        assert run.kept is not None
        kept, done = run.kept, 0
        console.print(
            f"Watching {project} (import {kept.import_id}) every {every:g} s; Ctrl-C stops.",
            highlight=False,
        )
        try:
            while updates is None or done < updates:
                time.sleep(every)
                last = store.last_import_id()
                if last == kept.import_id:
                    continue
                changed = store.changed_since(kept.import_id, until=last)
                if not any(changed.values()):  # an import that changed nothing
                    kept = dataclasses.replace(kept, import_id=last)
                    continue
                start = time.perf_counter()
                try:
                    run = run_once(kept, None)
                except (BusyError, StoreError) as exc:  # another writer: try again later
                    err.print(f"Not updated yet: {exc}", highlight=False)
                    continue
                assert run.kept is not None
                kept, done = run.kept, done + 1
                console.print(_watch_line(run, time.perf_counter() - start), highlight=False)
        except KeyboardInterrupt:
            pass
    console.print(f"Stopped; {out} holds the estimate of import {kept.import_id}.",
                  highlight=False)  # fmt: skip


def _watch_line(run: EstimateRun, seconds: float) -> str:
    """One update of ``remnant watch``: what it read, how long it took, the new total."""
    how, est = run.evidence, run.estimate
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in run.seconds.items())
    if how["mode"] == "update":
        records = how["records"]
        n = sum(records.values()) if isinstance(records, dict) else 0
        what = f"{n:,} new records"
    else:
        what = f"read in full ({how['reason']})"
    return (
        f"{time.strftime('%H:%M:%S')} import {how['import_id']}: {what}; updated in "
        f"{seconds:.1f} s ({steps}); drew {run.drawn['tiles']:,} of {run.drawn['of']:,} tiles; "
        f"{est.total.mean:,.0f} items remaining as of {est.as_of} (90 % interval "
        f"{est.total.lower:,.0f}–{est.total.upper:,.0f})."
    )


def _evidence_line(how: dict[str, object]) -> str:
    """What the evidence update read, and what it saved for the next run."""
    if how["mode"] != "update":
        return f"Evidence: read in full ({how['reason']}); its basis saved for the next run."
    records = how["records"]
    n = sum(records.values()) if isinstance(records, dict) else 0
    basis = (
        "kept: the next run starts from it again"
        if how["basis"] == "kept"
        else "saved anew for the next run"
    )
    return f"Evidence: updated with the {n:,} records imported since the saved basis ({basis})."


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _print_estimate(est: Estimate) -> None:
    total = est.total
    console.print(
        f"Expected unexploded items remaining as of {est.as_of}: [bold]{total.mean:,.0f}[/] "
        f"(90 % interval {total.lower:,.0f}–{total.upper:,.0f}), of which "
        f"{est.unrecorded_remaining:,.0f} from unrecorded attacks not yet revealed.",
        highlight=False,
    )
    table = Table(title="Failure rate per carrier type: prior, and learned from the records")
    for name in ("carrier", "strikes", "items found", "prior (90 %)", "learned (90 %)"):
        table.add_column(name, justify="left" if name == "carrier" else "right")
    for row in est.failure_rates.to_dict("records"):
        inferred = int(row["pseudo_strikes"])
        table.add_row(
            str(row["carrier"]),
            f"{int(row['strikes']):,}" + (f" + {inferred:,} inferred" if inferred else ""),
            f"{row['found']:,.0f}",
            f"{row['prior_mean']:.1%} ({row['prior_lower']:.1%}–{row['prior_upper']:.1%})",
            f"{row['posterior_mean']:.1%} "
            f"({row['posterior_lower']:.1%}–{row['posterior_upper']:.1%})",
        )
    console.print(table)


# --------------------------------------------------------------------------- areas

StandardOption = Annotated[
    Path | None,
    typer.Option("--standard", help="National standard (TOML or YAML); Remnant's default without."),
]


@app.command()
def areas(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    estimate: Annotated[Path, typer.Option(help="The folder remnant estimate wrote.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the proposals; default --estimate.")
    ] = None,
    standard: StandardOption = None,
) -> None:
    """Propose confirmed and suspected hazardous areas, and compare them with those recorded.

    Areas are drawn where the estimate may leave an item in a block of land, widened
    by the fade-out distance around direct evidence, by the rules of the national
    standard (docs/survey.md). Writes proposed_areas.geojson (importable once
    reviewed) and area_suggestions.csv.
    """
    from remnant.project import propose_project_areas
    from remnant.store import open_store
    from remnant.survey.standard import load_standard

    rules = load_standard(standard)
    with open_store(project) as store:
        run = propose_project_areas(store, estimate, out or estimate, rules)
    _print_areas(run)
    for role, path in run.paths.items():
        console.print(f"  {role:>12}: {path}", highlight=False)


def _print_areas(run: AreaRun) -> None:
    found = run.proposals.areas
    h = run.standard.hazard_areas
    confirmed = int((found["status"] == "confirmed").sum())
    console.print(
        f"Proposed: [bold]{len(found):,}[/] hazard areas ({confirmed:,} confirmed, "
        f"{len(found) - confirmed:,} suspected), {found['area_m2'].sum() / 1e6:,.2f} km², "
        f"holding {_pct(run.proposals.captured)} of the items the estimate expects "
        f"(blocks of {h.block_m.value:g} m that may hold an item with "
        f"{_pct(h.p_any_threshold.value)} or more; fade-out {h.fade_out_m.value:g} m; "
        f"standard: {run.standard.path}).",
        highlight=False,
    )
    table = Table(title="Against the hazard areas recorded")
    for name in ("suggestion", "areas", "area km²", "items expected", "released km²",
                 "items left in released land"):  # fmt: skip
        table.add_column(name, justify="left" if name == "suggestion" else "right")
    s = run.suggestions
    for what in ("new", "reduce", "cancel", "keep", "review", "released"):
        rows = s[s["suggestion"] == what]
        if len(rows):
            table.add_row(
                what, f"{len(rows):,}", f"{rows['area_m2'].sum() / 1e6:,.2f}",
                f"{rows['expected_items'].sum():,.1f}", f"{rows['released_m2'].sum() / 1e6:,.2f}",
                f"{rows['released_items'].sum():,.2f}",
            )  # fmt: skip
    console.print(table)
    console.print(
        f"  reduce / cancel: the part no proposal covers may hold an item with at most "
        f"{_pct(run.standard.release.tolerable_p_any.value)} probability (the tolerable "
        "risk); review: released land where the estimate now sees more.",
        highlight=False,
    )


@app.command()
def release(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    estimate: Annotated[Path, typer.Option(help="The folder remnant estimate wrote.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the decisions; default --estimate.")
    ] = None,
    standard: StandardOption = None,
    owner: Annotated[
        str | None, typer.Option(help="Who takes on the residual risk (named on handover pages).")
    ] = None,
    handover: Annotated[
        list[str] | None,
        typer.Option(
            help="Write the handover page of this area (repeat); default: every cleared one."
        ),
    ] = None,
) -> None:
    """Release decisions: the route for each active hazard area, and handover pages.

    For each active area the route (cancel, reduce, clear) and the residual risk each
    leaves against the national standard's tolerable risk; for released land the risk
    the estimate sees now, and an IMAS 08.30 handover page per cleared area within it.
    """
    from remnant.project import release_project
    from remnant.store import open_store
    from remnant.survey.standard import load_standard

    rules = load_standard(standard)
    with open_store(project) as store:
        run = release_project(store, estimate, out or estimate, rules, owner=owner,
                              handover=handover)  # fmt: skip
    _print_release(run)


def _print_release(run: ReleaseRun) -> None:
    from remnant.records.lifecycle import ACTIVE

    d = run.decisions
    tolerable = run.standard.release.tolerable_p_any.value
    table = Table(title=f"Release decisions (tolerable risk {_pct(tolerable)})")
    for name in ("area", "status", "m²", "items expected", "P(any)", "recommended",
                 "P(any) left by it"):  # fmt: skip
        table.add_column(
            name, justify="left" if name in ("area", "status", "recommended") else "right"
        )
    active = d[d["status"].isin(ACTIVE)]
    for row in active.to_dict("records"):
        left = row.get(f"{row['recommended']}_p_any")
        table.add_row(
            str(row["area_id"]), str(row["status"]), f"{row['area_m2']:,.0f}",
            f"{row['expected_items']:,.2f}", _pct(row["p_any"]), str(row["recommended"]),
            "" if left is None else _pct(float(left)),
        )  # fmt: skip
    console.print(table)
    done = d[~d.index.isin(active.index)]
    over = int((done["recommended"] == "review").sum())
    console.print(
        f"Released land: {len(done):,} areas; {len(done) - over:,} within the tolerable risk, "
        f"{over:,} above it (to review). Handover pages: {len(run.handovers):,}.",
        highlight=False,
    )
    console.print(f"  decisions: {run.path}", highlight=False)
    for page in run.handovers[:3]:
        console.print(f"  handover:  {page}", highlight=False)
    if len(run.handovers) > 3:
        console.print(f"  … and {len(run.handovers) - 3:,} more in {run.handovers[0].parent}")


@app.command()
def history(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    area_id: Annotated[str, typer.Argument(help="The hazard area.")],
) -> None:
    """The life of a hazard area: each status it has had, when, by whom, on what evidence.

    Status changes are checked on import (suspected, confirmed, in progress, then
    cancelled, reduced or cleared; released land opens again only on new evidence).
    """
    from remnant.project import area_history
    from remnant.store import open_store

    with open_store(project) as store:
        life = area_history(store, area_id)
    table = Table(title=f"Hazard area {area_id}")
    for name in ("written (UTC)", "status", "status date", "evidence", "by", "file"):
        table.add_column(name)
    for row in life.astype(object).where(life.notna(), "").to_dict("records"):
        table.add_row(*(str(row[k]) for k in ("at", "status", "status_date", "evidence", "user",
                                               "source_file")))  # fmt: skip
    console.print(table)


# --------------------------------------------------------------------------- design

design_app = typer.Typer(
    help="Sampling designs for survey and quality control (docs/survey.md).",
    no_args_is_help=True,
)
app.add_typer(design_app, name="design")


ProjectOption = Annotated[
    Path | None, typer.Option("--project", help="Project store (.gpkg) holding --area.")
]
AreaOption = Annotated[
    str | None, typer.Option("--area", help="Take the inputs from this hazard area (--project).")
]


@contextmanager
def _design_inputs() -> Iterator[None]:
    """A design's out-of-range input as a clear error naming the argument."""
    try:
        yield
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@design_app.command("compliance")
def design_compliance(
    units: Annotated[
        int | None, typer.Option(help="Units (lanes, boxes) the cleared area is cut into.")
    ] = None,
    confidence: Annotated[
        float | None, typer.Option(help="Confidence wanted, X (0-1), e.g. 0.95.")
    ] = None,
    acceptable: Annotated[
        float | None, typer.Option(help="Fraction of units that must be acceptable, Y (0-1).")
    ] = None,
    inspected: Annotated[
        int | None,
        typer.Option(help="Units already inspected and found clean: what they show instead."),
    ] = None,
    project: ProjectOption = None,
    area: AreaOption = None,
    unit_area: Annotated[
        float | None, typer.Option(help="With --area: the area of one unit. [m²]", min=1.0)
    ] = None,
    standard: StandardOption = None,
) -> None:
    """Accept-on-zero sampling after clearance: how many units to inspect (Bowen and Bennett).

    The units to inspect for --confidence and --acceptable; either left out is the
    national standard's (quality_control). With --inspected and one of them, the
    other: the confidence reached, or the fraction of acceptable units shown. The
    units are --units, or a hazard area's (--project, --area) cut in --unit-area (the
    standard's unit without it).
    """
    from remnant.survey import compliance as cs
    from remnant.survey.standard import load_standard

    with _design_inputs():
        qc = load_standard(standard).quality_control
        taken: list[str] = []  # what the standard gave, said aloud
        if area is not None:
            if unit_area is None:
                unit_area = qc.unit_area_m2.value
                taken.append(f"unit area {unit_area:,.0f} m²")
            units = math.ceil(_area(project, area).area_m2 / unit_area)
            console.print(f"Units of {unit_area:,.0f} m²: {units:,}.", highlight=False)
        if units is None:
            raise ValueError("give --units, or --area with --project")
        if inspected is None:
            if confidence is None:
                confidence = qc.confidence.value
                taken.append(f"confidence X = {_pct(confidence)}")
            if acceptable is None:
                acceptable = qc.acceptable.value
                taken.append(f"acceptable Y = {_pct(acceptable)}")
            if taken:
                console.print(
                    f"From the national standard ({_standard_name(standard)}): {', '.join(taken)}.",
                    highlight=False,
                )
            _print_compliance(cs.compliance_design(units, confidence, acceptable))
        elif acceptable is not None:
            x = cs.confidence_of(inspected, units, acceptable)
            exact = cs.confidence_of(inspected, units, acceptable, exact=True)
            console.print(
                f"{inspected:,} of {units:,} units inspected and found clean show with "
                f"[bold]{_pct(x)}[/] confidence (exact hypergeometric: {_pct(exact)}) that at "
                f"least {_pct(acceptable)} of the units are acceptable.",
                highlight=False,
            )
        elif confidence is not None:
            y = cs.acceptable_fraction(inspected, units, confidence)
            console.print(
                f"{inspected:,} of {units:,} units inspected and found clean show with "
                f"{_pct(confidence)} confidence that at least [bold]{_pct(y)}[/] of the units "
                "are acceptable.",
                highlight=False,
            )
        else:
            raise ValueError("with --inspected, give --confidence or --acceptable")


def _standard_name(path: Path | None) -> str:
    """The national standard's file, or that it is Remnant's default."""
    return "Remnant's default, values stated as assumptions" if path is None else str(path)


def _pct(fraction: float) -> str:
    """A fraction as a percentage to two decimals at most: 0.95 → "95 %", 0.9502 → "95.02 %"."""
    return f"{100 * fraction:.2f}".rstrip("0").rstrip(".") + " %"


def _print_compliance(d: ComplianceDesign) -> None:
    console.print(
        f"Inspect [bold]{d.inspect:,}[/] of {d.units:,} units, chosen at random; accept the "
        f"area if none holds an item. Then you are {_pct(d.confidence)} confident that at "
        f"least {_pct(d.acceptable)} of its units are acceptable (at most "
        f"{d.unacceptable_units:,.1f} unacceptable).",
        highlight=False,
    )
    gap = d.inspect_exact - d.inspect
    units = f"{abs(gap)} unit{'s' if abs(gap) > 1 else ''} {'more' if gap > 0 else 'fewer'}"
    differs = "the same" if gap == 0 else f"{d.inspect_exact:,} ({units})"
    console.print(
        f"  Bowen and Bennett (1988) approximation: n = (1 − (1 − X)^(1/D))·(N − (D − 1)/2); "
        f"exact hypergeometric answer: {differs}; the {d.inspect:,} units give "
        f"{_pct(d.confidence_exact)} confidence exactly.",
        highlight=False,
    )


def _area(project: Path | None, area: str | None, estimate: Path | None = None) -> AreaFacts:
    """The figures of hazard area ``area`` of ``project`` (and of an estimate in ``estimate``)."""
    from remnant.project import area_facts
    from remnant.store import open_store

    if project is None:
        raise typer.BadParameter("--area needs --project PROJECT.gpkg")
    assert area is not None
    with open_store(project) as store:
        facts = area_facts(store, area, estimate)
    console.print(
        f"Hazard area {facts.area_id} ({facts.status}): {facts.area_m2:,.0f} m²"
        + (f", expected items remaining {facts.expected_remaining:,.2f}" if estimate else "")
        + ".",
        highlight=False,
    )
    return facts


@design_app.command("count")
def design_count(
    coverage: Annotated[
        float | None,
        typer.Option(
            help="Probability p that the search found a given item: the share of the area "
            "covered times the detection probability (0-1).",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    found: Annotated[int, typer.Option(help="Items the search found.", min=0)] = 0,
    max_items: Annotated[
        int, typer.Option(help="Items that may at most remain for the area to pass.", min=0)
    ] = 0,
    confidence: Annotated[
        float | None,
        typer.Option(help="Without --coverage: the confidence wanted; prints the coverage."),
    ] = None,
    prior_mean: Annotated[
        float | None, typer.Option(help="Gamma-Poisson prior: expected items. [items]")
    ] = None,
    prior_variance: Annotated[
        float | None, typer.Option(help="Gamma-Poisson prior: their variance. [items²]")
    ] = None,
    project: ProjectOption = None,
    area: AreaOption = None,
    estimate: Annotated[
        Path | None,
        typer.Option(help="With --area: the estimate folder whose figures are the prior."),
    ] = None,
) -> None:
    """Items left after a search (Bayesian count, as VSP); or the coverage a search needs.

    The prior is flat unless given: by --prior-mean and --prior-variance, or by the
    hazard estimate of --area (--project, --estimate).
    """
    from remnant.survey import item_count as ic

    with _design_inputs():
        if area is not None:
            if estimate is None:
                raise ValueError("--area needs --estimate DIR for the prior of its items")
            facts = _area(project, area, estimate)
            prior_mean, prior_variance = facts.expected_remaining, facts.variance
        prior: ic.Prior = None
        if (prior_mean is None) != (prior_variance is None):
            raise ValueError("give both --prior-mean and --prior-variance, or neither")
        if prior_mean is not None and prior_variance is not None:
            prior = ic.GammaPoisson.from_moments(prior_mean, prior_variance)
        console.print(f"Prior of the items: {_prior_words(prior)}.", highlight=False)
        if coverage is None:
            if confidence is None:
                raise ValueError("give --coverage (what a search did) or --confidence")
            p = ic.coverage_needed(confidence, max_items, prior)
            console.print(
                f"A search that finds nothing must find each item with probability "
                f"[bold]{_pct(p)}[/] (coverage × detection) for {_pct(confidence)} "
                f"confidence that at most {max_items} item(s) remain.",
                highlight=False,
            )
            return
        left = ic.remaining_after_search(coverage, found, prior)
        sure = left.prob_at_most(max_items)
        console.print(
            f"After a search of p = {_pct(coverage)} that found {found}: expected items "
            f"remaining [bold]{left.mean:,.2f}[/] (90 % interval {left.quantile(0.05):,}–"
            f"{left.quantile(0.95):,}); probability that at most {max_items} remain: "
            f"[bold]{_pct(sure)}[/].",
            highlight=False,
        )


@design_app.command("transects")
def design_transects(
    probability: Annotated[
        float,
        typer.Option(help="Probability wanted of crossing (and finding items in) the target."),
    ],
    width: Annotated[float, typer.Option(help="Width of the swath searched along a transect. [m]")],
    semi_major: Annotated[
        float | None, typer.Option(help="Target ellipse: half its long axis. [m]")
    ] = None,
    semi_minor: Annotated[
        float | None, typer.Option(help="Target ellipse: half its short axis. [m]")
    ] = None,
    carrier: Annotated[
        str | None, typer.Option(help="Target: one carrier's footprint, from the catalogue.")
    ] = None,
    density: Annotated[
        float | None,
        typer.Option(help="Items per m² in the target; with it, the items must also be found."),
    ] = None,
    detection_probability: Annotated[
        float | None,
        typer.Option(
            help="Chance an item inside the swath is found; default: technical survey's.",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    min_items: Annotated[int, typer.Option(help="Items that must be found.", min=1)] = 1,
    project: ProjectOption = None,
    area: AreaOption = None,
) -> None:
    """Transect spacing to cross, and find items in, a strike footprint (Gilbert et al. 2005).

    The target is an ellipse: --semi-major and --semi-minor, or the footprint of one
    --carrier, or that of the carrier most reported in a hazard area (--project,
    --area). With a carrier the items are its expected duds over its footprint.
    """
    from remnant.catalogue import load_catalogue
    from remnant.records.defaults import DETECTION_PROBABILITY_BY_TYPE
    from remnant.survey.transects import design_transects as design

    with _design_inputs():
        if area is not None:
            facts = _area(project, area)
            if not facts.carriers:
                raise ValueError(f"no strike reported in {area}: give --carrier or the axes")
            carrier = next(iter(facts.carriers))
        if carrier is not None:
            c = load_catalogue().carrier(carrier)
            semi_major, semi_minor = c.footprint.length_m / 2, c.footprint.width_m / 2
            duds = c.expected_duds_per_carrier * c.footprint.share_inside
            density = density or duds / c.footprint.area_m2
            console.print(
                f"Target: one {c.id} footprint, {c.footprint.length_m:,.0f} × "
                f"{c.footprint.width_m:,.0f} m, {duds:,.1f} expected duds inside "
                f"({density * 1e4:,.2f} per hectare).",
                highlight=False,
            )
        if semi_major is None or semi_minor is None:
            raise ValueError("give --semi-major and --semi-minor, --carrier, or --area")
        p_detect = (
            DETECTION_PROBABILITY_BY_TYPE["technical_survey"]
            if detection_probability is None
            else detection_probability
        )
        d = design(probability, width, semi_major, semi_minor, density, p_detect, min_items)
    found = (
        ""
        if d.find_probability is None
        else f" and to find {min_items} item(s) {_pct(d.find_probability)} "
        f"(detection probability {_pct(p_detect)})"
    )
    console.print(
        f"Walk transects [bold]{d.spacing:,.1f} m[/] apart (swath {width:g} m, "
        f"{_pct(d.coverage)} of the ground searched, {d.length_per_km2 / 1000:,.1f} km of "
        f"transect per km²). The chance to cross the target is {_pct(d.traverse_probability)}"
        f"{found}.",
        highlight=False,
    )


def _prior_words(prior: object) -> str:
    from remnant.survey import item_count as ic

    if isinstance(prior, ic.GammaPoisson):
        return (
            f"Gamma-Poisson, mean {prior.mean:,.3g}, variance {prior.variance:,.3g} "
            f"(shape {prior.shape:.3g}, rate {prior.rate:.3g})"
        )
    if isinstance(prior, ic.Poisson):
        return f"Poisson, mean {prior.mean:,.3g} (the variance given is not above the mean)"
    return "flat (no prior knowledge of the count, as UXO Estimator)"


# --------------------------------------------------------------------------- simulate, demo


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the scenario to.")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same world.")] = 1,
    strikes: Annotated[int, typer.Option(help="Number of attacks, reported or not.")] = 40,
) -> None:
    """Write a synthetic scenario in the exchange format, its ground truth apart."""
    from remnant.simulate import simulate_world, write_world

    with _progress() as bar:
        task = bar.add_task("simulating", total=1.0)

        def tick(stage: str, fraction: float) -> None:
            bar.update(task, description=f"simulating: {stage}", completed=fraction)

        world = simulate_world(seed, strikes, progress=tick)
        paths = write_world(world, out)
    for name, path in paths.items():
        console.print(f"  {name}: {path}", highlight=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's files.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic world.")] = 1,
    strikes: Annotated[int, typer.Option(help="Attacks in the synthetic world.")] = 40,
) -> None:
    """Simulate a world, build a store from it, summarise it, map it, and estimate its hazard."""
    from remnant.project import (
        estimate_project,
        import_files,
        propose_project_areas,
        read_all,
        release_project,
    )
    from remnant.report.maps import plot_overview
    from remnant.simulate import simulate_world, write_world
    from remnant.store import init_store, open_store

    start = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    scenario = out / "scenario"
    project = out / "demo.gpkg"
    console.rule("1. A synthetic world (ground truth kept apart)")
    world = simulate_world(seed, strikes)
    files = write_world(world, scenario)
    console.rule("2. A project store, and the scenario imported into it")
    with init_store(project) as store, _progress() as bar:
        tables = [files[t] for t in ("strikes", "activities", "finds", "accidents", "hazard_areas")]
        report = import_files(store, tables, user="demo", progress=_tracker(bar))
    _print_import(report)
    console.rule("3. What the store holds")
    with open_store(project) as store:
        _print_summary(store)
        map_path = out / "map.png"
        plot_overview(read_all(store), map_path, title=f"Remnant demo — seed {seed}")
    console.rule("4. The hazard estimate: where items remain, how many, how sure")
    with open_store(project) as store, _progress() as bar:
        run = estimate_project(
            store, out / "estimate", as_of=world.truth.parameters["as_of"],
            progress=_tracker(bar),
        )  # fmt: skip
    _print_estimate(run.estimate)
    truth = int(world.truth.submunitions["remains"].sum())
    console.print(f"  (the simulated world holds {truth:,} — known here, never to the model)")
    console.rule("5. Hazard areas proposed from the estimate, against those recorded")
    with open_store(project) as store:
        proposed = propose_project_areas(store, out / "estimate", out / "areas")
    _print_areas(proposed)
    console.rule("6. Release decisions and handover")
    with open_store(project) as store:
        released = release_project(store, out / "estimate", out / "areas", areas=proposed)
    _print_release(released)
    console.rule("Files")
    console.print(f"  scenario (exchange format): {scenario}", highlight=False)
    console.print(f"  ground truth:               {scenario / 'truth'}", highlight=False)
    console.print(f"  project store (open in QGIS): {project}", highlight=False)
    console.print(f"  map:                        {map_path}", highlight=False)
    console.print(f"  estimate (GeoTIFF):         {run.paths['raster']}", highlight=False)
    console.print(f"  estimate map:               {run.paths['map']}", highlight=False)
    console.print(f"  proposed hazard areas:      {proposed.paths['proposals']}", highlight=False)
    console.print(f"  release decisions:          {released.path}", highlight=False)
    if released.handovers:
        console.print(f"  a handover page:            {released.handovers[0]}", highlight=False)
    console.print(f"Done in {time.perf_counter() - start:.1f} s.", highlight=False)


if __name__ == "__main__":
    main()
