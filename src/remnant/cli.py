"""The ``remnant`` command line: thin, it calls the rooms and shows what they return."""

from __future__ import annotations

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
from remnant.errors import RemnantError, ValidationError

if TYPE_CHECKING:
    from remnant.catalogue import Carrier
    from remnant.hazard.estimate import Estimate
    from remnant.project import ImportReport
    from remnant.store import Store

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


@app.command()
def estimate(
    project: Annotated[Path, typer.Argument(help="The project store (.gpkg).")],
    out: Annotated[Path, typer.Option(help="Folder for estimate.tif and its tables.")],
    cell: Annotated[float, typer.Option(help="Side of a grid cell, in metres.", min=1.0)] = 25.0,
    as_of: Annotated[
        str | None, typer.Option(help="Day of the estimate (ISO); default today.")
    ] = None,
    no_map: Annotated[bool, typer.Option("--no-map", help="Do not draw estimate.png.")] = False,
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
    from remnant.project import estimate_project, import_files, read_all
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
    console.rule("Files")
    console.print(f"  scenario (exchange format): {scenario}", highlight=False)
    console.print(f"  ground truth:               {scenario / 'truth'}", highlight=False)
    console.print(f"  project store (open in QGIS): {project}", highlight=False)
    console.print(f"  map:                        {map_path}", highlight=False)
    console.print(f"  estimate (GeoTIFF):         {run.paths['raster']}", highlight=False)
    console.print(f"  estimate map:               {run.paths['map']}", highlight=False)
    console.print(f"Done in {time.perf_counter() - start:.1f} s.", highlight=False)


if __name__ == "__main__":
    main()
