"""Estimate at country scale: wall time and peak memory of the full hazard estimate.

The estimate is run as ``remnant estimate`` runs it, on a country-scale synthetic
world (``WorldConfig.country_scale()``; 100,000 attacks give about 80,000 recorded
strikes, 1 M finds rows and 100,000 activities):

- **evidence update**: :func:`remnant.hazard.estimate.estimate` on the canonical
  tables, with the default assumptions and the cell size of ``--cell`` (25 m);
- **raster**: every strip of the raster (:meth:`Estimate.strips`, pass 2) written to
  ``estimate.tif`` by :func:`remnant.io.geotiff.write_estimate_strips` with the
  command's tags, in a temporary folder (or ``--out``). The time spent computing the
  strips is reported apart from the rest (compression, overviews).

Not timed: reading the tables (from the store for the command; here from a pickle)
and the command's summary CSVs, ``estimate.json`` and map. The world is loaded from
``--cache`` (a pickle of ``world.tables``) when that file exists; otherwise it is
simulated, in a child process so that the simulation's memory stays out of the
figures, and saved there. A cache is loaded whatever ``--seed`` and ``--n-strikes``
say. ``--subset`` keeps the rows of every table south of the latitude that holds that
fraction of the strikes (rows without a geometry are dropped), for quick runs.

numba: a warm-up estimate on a small part of the world runs first, untimed, so the
timed figure leaves out compiling the kernels (once after installing or changing
them); ``--no-warm-up`` times the first call of the process instead.

The issue's targets, on the 2-core development machine: the full estimate (evidence
update + raster) in at most :data:`TIME_TARGET_S` and a peak memory of at most
:data:`MEMORY_TARGET_GB`. Peak memory is the process's maximum resident set size
(``ru_maxrss``), which includes the interpreter, the libraries and the loaded tables;
the increment over the loaded tables is reported too. GB are 10⁹ bytes. The process's
CPU time (all threads) and the machine's load average are printed beside the wall
times: with other work on the two cores the wall time overstates the estimate's.

Usage::

    .venv/bin/python benchmarks/estimate_scale.py --cache /tmp/world100k/tables.pkl
    .venv/bin/python benchmarks/estimate_scale.py --n-strikes 2000 --config default
    .venv/bin/python benchmarks/estimate_scale.py --cache /tmp/world100k/tables.pkl \\
        --subset 0.1 --json /tmp/estimate_scale.json

Exits with status 1 when a target is not met. Results are recorded in
``benchmarks/README.md`` ("Estimate at country scale").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pickle
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import geopandas as gpd
import numpy as np

from remnant.allocator import keep_freed_memory
from remnant.catalogue import load_catalogue
from remnant.catalogue.model import Catalogue
from remnant.hazard.config import HazardConfig
from remnant.hazard.estimate import Estimate, estimate
from remnant.io.geotiff import write_estimate_strips
from remnant.project import raster_tags
from remnant.simulate import WorldConfig, simulate_world
from remnant.threads import idle_threads_sleep

Tables = dict[str, gpd.GeoDataFrame]
Strip = tuple[int, np.ndarray]

TIME_TARGET_S = 120.0
"""The issue's target for the full estimate (evidence update + raster). [s]"""

MEMORY_TARGET_GB = 6.0
"""The issue's target for the process's peak resident set size. [GB]"""

WARM_UP_FRACTION = 0.005
"""Share of the strikes (a southern band, see ``--subset``) of the warm-up run. [-]"""

RASTER_STEPS = 10
"""Progress lines printed over the raster pass (plus its first and last strip)."""


def _rss_gb() -> float:
    """The process's peak resident set size so far. [GB]"""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def _cpu_s() -> float:
    """CPU time of the process so far, all threads, user and system. [s]"""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the world ------------------------------------------------------------------------


def _simulate_to(path: Path, seed: int, n_strikes: int, as_of: str, config: str) -> None:
    """Simulate a world and pickle its tables to ``path`` (run in a child process)."""
    world_config = WorldConfig.country_scale() if config == "country" else WorldConfig()
    log = StageLog("simulate")
    world = simulate_world(
        seed, n_strikes, as_of=as_of, config=world_config,
        progress=lambda stage, fraction: log(stage, fraction, 1.0),
    )  # fmt: skip
    with path.open("wb") as file:
        pickle.dump(dict(world.tables), file, protocol=pickle.HIGHEST_PROTOCOL)


def world_tables(args: argparse.Namespace) -> tuple[Tables, str]:
    """Load the tables from the cache, or simulate them first; and say which."""
    with tempfile.TemporaryDirectory(prefix="estimate_scale.") as scratch:
        path = args.cache or Path(scratch) / "tables.pkl"
        source = f"cache {path}"
        if not path.exists():
            source = f"simulated ({args.n_strikes:,} attacks, seed {args.seed}, {args.config})"
            path.parent.mkdir(parents=True, exist_ok=True)
            context = get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                pool.submit(
                    _simulate_to, path, args.seed, args.n_strikes, args.as_of, args.config
                ).result()
            source += f", saved to {path}" if args.cache else ""
        with path.open("rb") as file:
            tables: Tables = pickle.load(file)
    return tables, source


def subset_tables(tables: Mapping[str, gpd.GeoDataFrame], fraction: float) -> Tables:
    """The rows south of the latitude that holds ``fraction`` of the strikes.

    A row's latitude is the middle of its bounding box; rows without a geometry are
    dropped. ``fraction >= 1`` keeps every table whole.
    """
    if fraction >= 1.0:
        return dict(tables)
    cut = float(np.quantile(tables["strikes"].geometry.y.to_numpy(), fraction))
    kept = {}
    for name, frame in tables.items():
        bounds = frame.geometry.bounds
        middle = ((bounds["miny"] + bounds["maxy"]) / 2.0).to_numpy()
        kept[name] = frame[middle <= cut].reset_index(drop=True)
    return kept


# -- progress -------------------------------------------------------------------------


@dataclass
class StageLog:
    """A ``progress(stage, done, total)`` callback printing stage lines with elapsed time.

    A line is printed when a stage starts, at every whole step of a stage of at most
    :data:`RASTER_STEPS` steps, about :data:`RASTER_STEPS` times over a longer one (the
    raster's strips), and when a stage ends. ``marks`` keeps the elapsed time of each
    printed line.
    """

    name: str
    start: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def elapsed(self) -> float:
        """Seconds since the log was made. [s]"""
        return time.perf_counter() - self.start

    def __call__(self, stage: str, done: float, total: float) -> None:
        step = math.ceil(total / RASTER_STEPS) if total > RASTER_STEPS else 1
        new = stage not in self.seen
        self.seen.add(stage)
        if not (new or done >= total or (float(done).is_integer() and done % step == 0)):
            return
        elapsed = self.elapsed()
        label = f"{stage} {done:g}/{total:g}"
        self.marks.setdefault(label, elapsed)
        print(f"[{self.name} {elapsed:7.1f} s] {label}", file=sys.stderr, flush=True)


# -- the timed estimate ---------------------------------------------------------------


@dataclass
class StripClock:
    """Wrap :meth:`Estimate.strips`, adding up the time spent computing the strips."""

    seconds: float = 0.0

    def __call__(self, strips: Iterator[Strip]) -> Iterator[Strip]:
        while True:
            start = time.perf_counter()
            strip = next(strips, None)
            self.seconds += time.perf_counter() - start
            if strip is None:
                return
            yield strip


def warm_up(tables: Tables, catalogue: Catalogue, as_of: str, config: HazardConfig) -> float:
    """Estimate a small part of the world and compute its strips; return the seconds."""
    start = time.perf_counter()
    small = subset_tables(tables, WARM_UP_FRACTION)
    for _ in estimate(small, catalogue, as_of=as_of, config=config).strips():
        pass
    return time.perf_counter() - start


@dataclass(frozen=True)
class Timed:
    """The estimate, and what it took (seconds [s], memory [GB], file size [MB])."""

    est: Estimate
    estimate_s: float
    estimate_steps_s: dict[str, float]
    total_s: float
    estimate_cpu_s: float
    total_cpu_s: float
    raster_strips_s: float
    raster_mb: float
    rss_after_estimate_gb: float


def timed_estimate(
    tables: Tables, catalogue: Catalogue, as_of: str, config: HazardConfig, out: Path
) -> Timed:
    """Estimate, then compute every strip and write ``out/estimate.tif``, timed."""
    log, cpu = StageLog("estimate"), _cpu_s()
    est = estimate(tables, catalogue, as_of=as_of, config=config, progress=log)
    estimate_s, estimate_cpu = log.elapsed(), _cpu_s() - cpu
    rss_after_estimate = _rss_gb()
    steps = dict(log.marks)
    clock = StripClock()
    path = out / "estimate.tif"
    write_estimate_strips(path, est.grid, clock(est.strips(log)), metadata=raster_tags(est))
    return Timed(
        est, estimate_s, steps, log.elapsed(), estimate_cpu, _cpu_s() - cpu, clock.seconds,
        path.stat().st_size / 1e6, rss_after_estimate,
    )  # fmt: skip


# -- the figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What the benchmark measured (seconds [s], memory [GB], file size [MB])."""

    world: str
    as_of: str
    cell_m: float
    rows: dict[str, int]
    load_s: float
    warm_up_s: float | None
    estimate_s: float
    estimate_steps_s: dict[str, float]
    raster_s: float
    raster_strips_s: float
    total_s: float
    estimate_cpu_s: float
    total_cpu_s: float
    load_average: tuple[float, float]
    rss_loaded_gb: float
    rss_after_estimate_gb: float
    rss_end_gb: float
    grid: dict[str, float | int | str]
    strikes: int
    pseudo_strikes: int
    total_remaining: dict[str, float]
    raster_mb: float
    machine: str

    @property
    def time_ratio(self) -> float:
        """Full estimate over its target. [-]"""
        return self.total_s / TIME_TARGET_S

    @property
    def memory_ratio(self) -> float:
        """Peak resident set size over its target. [-]"""
        return self.rss_end_gb / MEMORY_TARGET_GB

    @property
    def met(self) -> bool:
        """Both targets met."""
        return self.time_ratio <= 1.0 and self.memory_ratio <= 1.0

    def as_dict(self) -> dict[str, object]:
        """The figures, the targets and the verdicts, for JSON."""
        return {
            **dataclasses.asdict(self),
            "rss_increment_gb": self.rss_end_gb - self.rss_loaded_gb,
            "time_target_s": TIME_TARGET_S,
            "time_ratio": self.time_ratio,
            "time_target_met": self.time_ratio <= 1.0,
            "memory_target_gb": MEMORY_TARGET_GB,
            "memory_ratio": self.memory_ratio,
            "memory_target_met": self.memory_ratio <= 1.0,
        }


def figures_of(
    t: Timed, world: str, as_of: str, rows: dict[str, int], load_s: float,
    warm_up_s: float | None, rss_loaded_gb: float, load_average: float,
) -> Figures:  # fmt: skip
    """Gather the figures of a run."""
    est = t.est
    g = est.grid
    return Figures(
        world=world, as_of=est.as_of, cell_m=g.cell, rows=rows, load_s=load_s,
        warm_up_s=warm_up_s, estimate_s=t.estimate_s, estimate_steps_s=t.estimate_steps_s,
        raster_s=t.total_s - t.estimate_s, raster_strips_s=t.raster_strips_s,
        total_s=t.total_s, estimate_cpu_s=t.estimate_cpu_s, total_cpu_s=t.total_cpu_s,
        load_average=(load_average, os.getloadavg()[0]), rss_loaded_gb=rss_loaded_gb,
        rss_after_estimate_gb=t.rss_after_estimate_gb, rss_end_gb=_rss_gb(),
        grid={"crs": g.crs, "nx": g.nx, "ny": g.ny, "cells": g.nx * g.ny},
        strikes=int((~est.strikes.pseudo).sum()), pseudo_strikes=int(est.strikes.pseudo.sum()),
        total_remaining={"mean": est.total.mean, "lower": est.total.lower,
                         "upper": est.total.upper},
        raster_mb=t.raster_mb,
        machine=f"{platform.machine()}, {platform.node()}, Python {platform.python_version()}",
    )  # fmt: skip


def run(args: argparse.Namespace) -> Figures:
    """Load or simulate the world, warm up, and time the estimate."""
    start = time.perf_counter()
    tables, world = world_tables(args)
    tables = subset_tables(tables, args.subset)
    load_s = time.perf_counter() - start
    rss_loaded = _rss_gb()
    catalogue = load_catalogue()
    config = dataclasses.replace(HazardConfig(), cell_m=args.cell)
    warm_s = warm_up(tables, catalogue, args.as_of, config) if args.warm_up else None
    rows = {name: len(frame) for name, frame in tables.items()}
    if args.subset < 1.0:
        world += f", subset {args.subset:g} of the strikes (southern band)"
    with tempfile.TemporaryDirectory(prefix="estimate_scale.") as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        load_average = os.getloadavg()[0]
        timed = timed_estimate(tables, catalogue, args.as_of, config, out)
    return figures_of(timed, world, args.as_of, rows, load_s, warm_s, rss_loaded, load_average)


def _verdict(ratio: float) -> str:
    return "MET" if ratio <= 1.0 else "NOT MET"


def report(f: Figures) -> str:
    """The figures as a short text."""
    g, r = f.grid, f.total_remaining
    steps = ", ".join(f"{k} at {v:.1f} s" for k, v in f.estimate_steps_s.items())
    warm = "skipped" if f.warm_up_s is None else f"{f.warm_up_s:.1f} s"
    lines = [
        f"world: {f.world}; loaded in {f.load_s:.1f} s (not timed)",
        "rows: " + ", ".join(f"{k} {v:,}" for k, v in f.rows.items()),
        f"estimate as of {f.as_of}, {f.cell_m:g} m cells: {f.strikes:,} strikes + "
        f"{f.pseudo_strikes:,} pseudo-strikes; grid {g['nx']:,} × {g['ny']:,} = "
        f"{g['cells']:,} cells ({g['crs']}); total remaining {r['mean']:,.0f} "
        f"(90 % interval {r['lower']:,.0f}–{r['upper']:,.0f})",
        f"numba warm-up ({WARM_UP_FRACTION:.1%} of the strikes, not timed): {warm}",
        f"evidence update (estimate()):  {f.estimate_s:7.1f} s   [CPU {f.estimate_cpu_s:.1f} s; "
        f"{steps}]",
        f"raster pass + write:           {f.raster_s:7.1f} s   [CPU "
        f"{f.total_cpu_s - f.estimate_cpu_s:.1f} s; computing the strips "
        f"{f.raster_strips_s:.1f} s, writing {f.raster_s - f.raster_strips_s:.1f} s; "
        f"estimate.tif {f.raster_mb:,.0f} MB]",
        f"full estimate:                 {f.total_s:7.1f} s   target ≤ {TIME_TARGET_S:g} s: "
        f"ratio {f.time_ratio:.2f}, {_verdict(f.time_ratio)}",
        f"  process CPU time {f.total_cpu_s:.1f} s ({f.total_cpu_s / f.total_s:.2f} cores busy on "
        f"average); 1-minute load average {f.load_average[0]:.2f} at the start, "
        f"{f.load_average[1]:.2f} at the end ({os.cpu_count()} cores)",
        f"peak RSS after loading the tables {f.rss_loaded_gb:.2f} GB, after estimate() "
        f"{f.rss_after_estimate_gb:.2f} GB, at the end {f.rss_end_gb:.2f} GB "
        f"(+{f.rss_end_gb - f.rss_loaded_gb:.2f} GB over the loaded tables)",
        f"peak memory:                   {f.rss_end_gb:7.2f} GB  target ≤ "
        f"{MEMORY_TARGET_GB:g} GB: ratio {f.memory_ratio:.2f}, {_verdict(f.memory_ratio)}",
        f"machine: {f.machine}",
    ]
    return "\n".join(lines)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="pickle of world.tables: load, or make")
    parser.add_argument("--n-strikes", type=int, default=100_000, help="attacks simulated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-06-30", help="day of the world and estimate")
    parser.add_argument(
        "--config",
        choices=("country", "default"),
        default="country",
        help="WorldConfig.country_scale() (default) or WorldConfig(), when simulating",
    )
    parser.add_argument("--cell", type=float, default=25.0, help="grid cell side [m]")
    parser.add_argument(
        "--subset", type=float, default=1.0, help="fraction of the strikes (southern band)"
    )
    parser.add_argument(
        "--no-warm-up", dest="warm_up", action="store_false", help="time the first call"
    )
    parser.add_argument("--out", type=Path, help="keep estimate.tif in this folder")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--default-malloc", action="store_true",
        help="leave glibc's allocation as it is (remnant commands keep freed memory)",
    )  # fmt: skip
    return parser.parse_args()


def main() -> int:
    args = _args()
    print(f"idle OpenMP workers, as remnant commands run them: {idle_threads_sleep()}",
          file=sys.stderr)  # fmt: skip
    if not args.default_malloc:
        print(f"freed memory kept for reuse, as remnant commands do: {keep_freed_memory()}",
              file=sys.stderr)  # fmt: skip
    figures = run(args)
    print(report(figures))
    if args.json is not None:
        text = json.dumps(figures.as_dict(), indent=2)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if figures.met else 1


if __name__ == "__main__":
    sys.exit(main())
