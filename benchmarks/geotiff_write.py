"""GeoTIFF writer: ``write_estimate_strips`` against rasterio in one go with GDAL overviews.

A synthetic estimate the size of the country grid (10,161 × 32,536 cells of 25 m, four
float32 bands) is written to ``estimate.tif`` twice, each in its own child process
(started one after the other, so that each has its own peak memory):

- **Remnant**: :func:`remnant.io.geotiff.write_estimate_strips`, fed one strip of 256
  rows at a time as the estimate's raster pass feeds it; the time spent making the
  strips is left out.
- **Baseline**: the straightforward way with rasterio: the whole raster made first
  (not timed), then, timed, one ``dst.write`` of all four bands with the same
  creation options (:data:`remnant.io.geotiff.CREATION_OPTIONS`: 256 × 256 tiles,
  DEFLATE level 1, floating-point predictor, all cores), and
  ``dst.build_overviews(factors, Resampling.average)`` at the same factors. GDAL
  computes each overview level from the one below, a mean of means, and where the
  factor does not divide a side of the grid it spreads the remainder over the row or
  column, so its blocks drift off the cells; Remnant's overviews are the mean of the
  valid cells each pixel covers. The two files' overviews differ where a block is
  partly outside the studied area, and at the levels where GDAL's blocks drift.

The synthetic estimate: the grid's tiles are studied or not (``--nan-share`` of them,
70 % by default, are all NaN) in patches a few tiles wide; a studied tile is one of 48
tiles drawn once: small positive ``expected_remaining`` (gamma, mean 0.001 items per
cell), one tile in six with one to three hot spots of up to 5 items per cell, one in
five cut by a straight edge of the studied area (NaN beyond it); ``p_any`` =
1 − exp(−expected); ``lower_90`` and ``upper_90`` whole numbers (a normal
approximation of Poisson quantiles). DEFLATE compresses each tile on its own, so
repeating 48 tiles makes the work no lighter than distinct ones.

Printed: each writer's wall time, CPU time (all threads; for Remnant less the wall
time of making the strips, taken as one core's), the ratio baseline / Remnant of wall
times, each child's peak resident set size (``ru_maxrss``, which
includes the interpreter, the libraries and, for the baseline, the whole raster;
GB are 10⁹ bytes) and the file sizes. The machine's load average is printed too:
with other work on the two cores the wall times overstate both writers'.
``--check`` then reads both files back and compares them: full resolution must be
equal; for each overview level, the share of pixels where GDAL's average differs
from Remnant's.

Usage::

    .venv/bin/python benchmarks/geotiff_write.py                       # country grid
    .venv/bin/python benchmarks/geotiff_write.py --scale 0.25 --check   # 1/16 of the cells
    .venv/bin/python benchmarks/geotiff_write.py --rows 2000 --cols 3000 --no-baseline
    .venv/bin/python benchmarks/geotiff_write.py --json /tmp/geotiff_write.json

At the country grid the baseline holds the whole raster, 5.3 GB, in memory, and the
run takes about two minutes on the 2-core development machine; ``--scale`` shrinks
both sides of the grid.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine

from remnant.hazard.grid import TILE, Grid
from remnant.io.geotiff import (
    BAND_UNITS,
    CREATION_OPTIONS,
    ESTIMATE_BANDS,
    overview_factors,
    write_estimate_strips,
)

COUNTRY_ROWS, COUNTRY_COLS = 10_161, 32_536
"""The country grid of ``benchmarks/estimate_scale.py`` at 25 m cells. [cells]"""

POOL_TILES = 48
"""Distinct studied tiles the synthetic raster is made of."""

PATCH_TILES = 6
"""Side of the patches of studied or unstudied tiles. [tiles]"""

Z90 = 1.6448536269514722
"""Standard normal 95th percentile (the 90 % interval's upper end). [-]"""

META = {"as_of": "2025-06-30", "cell_size_m": "25", "software_version": "benchmark"}


# -- the synthetic estimate -----------------------------------------------------------


@dataclass(frozen=True)
class Synthetic:
    """A synthetic estimate: which tiles are studied, and what each holds."""

    grid: Grid
    studied: np.ndarray  # bool (tile rows, tile cols)
    choice: np.ndarray  # int (tile rows, tile cols), index into pool
    pool: np.ndarray  # float32 (POOL_TILES, 4, TILE, TILE)

    def strips(self) -> Iterator[tuple[int, np.ndarray]]:
        """The ``(row0, bands)`` strips of 256 rows, in order."""
        g = self.grid
        for tile_row in range(self.studied.shape[0]):
            row0 = tile_row * TILE
            rows = min(TILE, g.ny - row0)
            strip = np.full((4, rows, g.nx), np.nan, np.float32)
            for tile_col in np.flatnonzero(self.studied[tile_row]).tolist():
                col0 = tile_col * TILE
                cols = min(TILE, g.nx - col0)
                tile = self.pool[self.choice[tile_row, tile_col]]
                strip[:, :, col0 : col0 + cols] = tile[:, :rows, :cols]
            yield row0, strip

    def array(self) -> np.ndarray:
        """The whole raster, ``(4, ny, nx)``."""
        out = np.empty((4, self.grid.ny, self.grid.nx), np.float32)
        for row0, strip in self.strips():
            out[:, row0 : row0 + strip.shape[1]] = strip
        return out


def _pool(rng: np.random.Generator) -> np.ndarray:
    """The studied tiles: small values, some hot spots, some cut by the area's edge."""
    pool = np.empty((POOL_TILES, 4, TILE, TILE), np.float32)
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    for i in range(POOL_TILES):
        expected = rng.gamma(0.5, 2e-3, (TILE, TILE))
        if i % 6 == 0:
            for _ in range(rng.integers(1, 4)):
                cy, cx = rng.uniform(0, TILE, 2)
                sigma, peak = rng.uniform(8, 40), rng.uniform(0.5, 5)
                expected += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        if i % 5 == 1:
            angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(-60, 60)
            beyond = (yy - TILE / 2) * np.cos(angle) + (xx - TILE / 2) * np.sin(angle) > offset
            expected[beyond] = np.nan
        spread = Z90 * np.sqrt(expected)
        pool[i] = (
            expected,
            -np.expm1(-expected),
            np.floor(np.maximum(expected - spread, 0.0)),
            np.floor(expected + spread + 0.5),
        )
    return pool


def synthetic(rows: int, cols: int, nan_share: float, seed: int) -> Synthetic:
    """The synthetic estimate on a ``rows × cols`` grid of 25 m cells (module doc)."""
    rng = np.random.default_rng(seed)
    grid = Grid(crs="EPSG:32637", x0=200_000.0, y0=4_900_000.0, cell=25.0, nx=cols, ny=rows)
    tile_rows, tile_cols = -(-rows // TILE), -(-cols // TILE)
    patches = rng.random((-(-tile_rows // PATCH_TILES), -(-tile_cols // PATCH_TILES)))
    field = np.kron(patches, np.ones((PATCH_TILES, PATCH_TILES)))[:tile_rows, :tile_cols]
    field += 0.4 * rng.random((tile_rows, tile_cols))
    studied = field > np.quantile(field, nan_share)
    choice = rng.integers(0, POOL_TILES, (tile_rows, tile_cols))
    return Synthetic(grid, studied, choice, _pool(rng))


# -- the two writers, each in a child process -------------------------------------------


@dataclass(frozen=True)
class Run:
    """One writer's figures: seconds [s], peak memory [GB], file size [MB]."""

    wall_s: float
    cpu_s: float
    making_s: float
    rss_gb: float
    file_mb: float


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def _warm_up() -> None:
    """Compile (or load) the writer's numba kernels on a small raster, untimed."""
    with tempfile.TemporaryDirectory(prefix="geotiff_write.") as scratch:
        small = synthetic(600, 700, 0.5, 0)
        write_estimate_strips(Path(scratch) / "warm.tif", small.grid, small.strips())


def run_remnant(rows: int, cols: int, nan_share: float, seed: int, path: Path) -> Run:
    """Write the synthetic estimate with :func:`write_estimate_strips` (child process)."""
    _warm_up()
    syn = synthetic(rows, cols, nan_share, seed)
    making = 0.0

    def timed_strips() -> Iterator[tuple[int, np.ndarray]]:
        nonlocal making
        strips = syn.strips()
        while True:
            start = time.perf_counter()
            strip = next(strips, None)
            making += time.perf_counter() - start
            if strip is None:
                return
            yield strip

    start, cpu = time.perf_counter(), _cpu_s()
    write_estimate_strips(path, syn.grid, timed_strips(), metadata=META)
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu
    return Run(wall - making, cpu - making, making, _rss_gb(), path.stat().st_size / 1e6)


def run_baseline(rows: int, cols: int, nan_share: float, seed: int, path: Path) -> Run:
    """Write the synthetic estimate in one go, GDAL building the overviews (child process)."""
    syn = synthetic(rows, cols, nan_share, seed)
    start = time.perf_counter()
    array = syn.array()
    making = time.perf_counter() - start
    g = syn.grid
    profile = {
        "driver": "GTiff", "width": g.nx, "height": g.ny, "count": 4, "dtype": "float32",
        "crs": g.crs, "transform": Affine(*g.transform), "nodata": np.nan, **CREATION_OPTIONS,
    }  # fmt: skip
    start, cpu = time.perf_counter(), _cpu_s()
    with rasterio.open(path, "w", **profile) as dst:
        for index, name in enumerate(ESTIMATE_BANDS, start=1):
            dst.set_band_description(index, name)
            dst.set_band_unit(index, BAND_UNITS[name])
        dst.update_tags(**META)
        dst.write(array)
        dst.build_overviews(overview_factors(g.nx, g.ny), Resampling.average)
        dst.update_tags(ns="rio_overview", resampling="average")
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu
    return Run(wall, cpu, making, _rss_gb(), path.stat().st_size / 1e6)


def in_child(target: Callable[..., Run], *args: object) -> Run:
    """Run ``target(*args)`` in a fresh (spawned) process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(target, *args).result()


# -- the comparison -------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The two files compared: full resolution equal; share of overview pixels differing."""

    full_resolution_equal: bool
    overview_share_differing: list[float]


def compare(ours: Path, baseline: Path) -> Check:
    """Full resolution equal? Per overview level, the share of pixels that differ."""
    with rasterio.open(ours) as a, rasterio.open(baseline) as b:
        equal = all(
            np.array_equal(a.read(window=w), b.read(window=w), equal_nan=True)
            for _, w in a.block_windows(1)
        )
        levels = len(a.overviews(1))
    differ = []
    for level in range(levels):
        with (
            rasterio.open(ours, overview_level=level) as a,
            rasterio.open(baseline, overview_level=level) as b,
        ):
            x, y = a.read(), b.read()
        same = np.isclose(x, y, rtol=1e-6, atol=0.0, equal_nan=True)
        differ.append(float(1.0 - same.mean()))
    return Check(equal, differ)


@dataclass(frozen=True)
class Figures:
    """What the benchmark measured."""

    rows: int
    cols: int
    nan_share: float
    studied_tile_share: float
    overview_factors: list[int]
    remnant: Run
    baseline: Run | None
    check: Check | None
    load_average: tuple[float, float]
    machine: str

    @property
    def ratio(self) -> float | None:
        """Baseline wall time over Remnant's. [-]"""
        return None if self.baseline is None else self.baseline.wall_s / self.remnant.wall_s

    def as_dict(self) -> dict[str, object]:
        """The figures and the ratio, for JSON."""
        return {**asdict(self), "ratio": self.ratio}


def run(args: argparse.Namespace) -> Figures:
    """Time both writers on the same synthetic estimate."""
    rows = args.rows or round(COUNTRY_ROWS * args.scale)
    cols = args.cols or round(COUNTRY_COLS * args.scale)
    syn = synthetic(rows, cols, args.nan_share, args.seed)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="geotiff_write.") as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        common = (rows, cols, args.nan_share, args.seed)
        ours = in_child(run_remnant, *common, out / "remnant.tif")
        base = check = None
        if args.baseline:
            base = in_child(run_baseline, *common, out / "baseline.tif")
            if args.check:
                check = compare(out / "remnant.tif", out / "baseline.tif")
    return Figures(
        rows, cols, args.nan_share, float(syn.studied.mean()),
        overview_factors(cols, rows), ours, base, check, (load, os.getloadavg()[0]),
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"GDAL {rasterio.__gdal_version__}",
    )  # fmt: skip


def _line(name: str, r: Run) -> str:
    return (
        f"{name:<40} {r.wall_s:7.1f} s  [CPU {r.cpu_s:6.1f} s; peak RSS {r.rss_gb:5.2f} GB; "
        f"{r.file_mb:,.0f} MB; making the data {r.making_s:.1f} s, not timed]"
    )


def report(f: Figures) -> str:
    """The figures as a short text."""
    lines = [
        f"grid {f.rows:,} × {f.cols:,} cells × 4 bands ({4 * f.rows * f.cols * 4 / 1e9:.2f} GB "
        f"as float32); {f.studied_tile_share:.0%} of the tiles studied; overview factors "
        f"{f.overview_factors}",
        _line("Remnant write_estimate_strips:", f.remnant),
    ]
    if f.baseline is not None:
        lines.append(_line("baseline write + build_overviews(average):", f.baseline))
        lines.append(f"ratio baseline / Remnant (wall): {f.ratio:.2f}")
    if f.check is not None:
        shares = ", ".join(f"{s:.1%}" for s in f.check.overview_share_differing)
        lines.append(
            f"check: full resolution equal: {f.check.full_resolution_equal}; overview "
            f"pixels where GDAL's average differs (by level): {shares}"
        )
    lines.append(
        f"1-minute load average {f.load_average[0]:.2f} at the start, {f.load_average[1]:.2f} "
        f"at the end; {f.machine}"
    )
    return "\n".join(lines)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="both sides of the grid × this")
    parser.add_argument("--rows", type=int, help="grid rows (overrides --scale)")
    parser.add_argument("--cols", type=int, help="grid columns (overrides --scale)")
    parser.add_argument("--nan-share", type=float, default=0.7, help="share of all-NaN tiles")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false", help="time Remnant alone"
    )
    parser.add_argument("--check", action="store_true", help="compare the two files")
    parser.add_argument("--out", type=Path, help="keep the files in this folder")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    return parser.parse_args()


def main() -> int:
    args = _args()
    figures = run(args)
    print(report(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
