"""Usefulness of the hazard estimate: how much land must be searched to find 80 % of the duds?

The ranking measure of the statistics reference ("how much land must be searched to
find x % of items"), asked of three ways to decide where to search first. For each
seed, a demo-sized world is simulated (its truth kept apart) and the cells of the
estimate's grid are searched in the order of:

- **estimate**: the hazard estimate on all records as of the world's day, cells in
  descending ``expected_remaining``;
- **prior**: the same estimate on the ``strikes`` table alone (no evidence update:
  no find, accident, survey or clearance), placed on the estimate's grid (both grids
  are snapped to multiples of the cell size, so they share cell edges); cells the
  prior's grid does not reach are NaN;
- **CMRS buffers**: what a CMRS desk assessment draws, the union of discs of a fixed
  radius around every recorded strike point and every evidence point (finds of any
  item, fragments, strike marks, containers, and accidents), searched uniformly at
  random inside; each radius of ``--radii`` is reported, and the best radius of each
  world (chosen knowing the truth, so the most generous competitor).

Cells with NaN expected values (outside the studied area) are searched last; ties
are broken by a random permutation of the cells drawn from the world's seed. The
truth is the remaining duds of the world rasterised onto the estimate's grid, and
the target is 80 % of the remaining duds that lie inside that grid (those outside,
if any, can be found by no ordering and are counted apart). An ordering's area is
the number of cells searched until the target is reached, times the cell area.

Uniform search inside the buffers: if the union covers an area ``U`` holding a share
``s`` of the duds and its cells are searched in a uniformly random order, each cell
is equally likely to come at any place, so after searching an area ``a ≤ U`` the
expected share found is ``s·a/U`` (linearity of expectation). The expected curve
reaches the target ``t = 0.8`` at ``a = t/s·U`` when ``s ≥ t``. (The expected
*stopping* area of one random order differs from this by the scatter of the duds
between cells; with hundreds of duds the two are close, and the ranked orderings
are judged on the same expected-share curve.) When ``s < t`` the buffers alone never
reach the target ("never"); the area reported then is that of searching the buffers
first and the rest of the grid ``G`` afterwards in random order,
``U + (t − s)/(1 − s)·(G − U)``. This finite area is the one compared, which favours
the buffers. Cell membership of a disc is decided by the distance between cell
centres (each point is taken at the centre of its cell: at most ``cell/√2`` off).

Usage::

    .venv/bin/python benchmarks/usefulness.py --worlds 30 --jobs 2 \\
        --json out.json --plot usefulness.png

Prints one line per world and the medians and means over worlds, then ``TARGET MET``
if the estimate's median area is smaller than both the prior's and the best-radius
buffers', else ``TARGET MISSED`` (exit status 1). Results are recorded in
``benchmarks/README.md`` ("Usefulness: where to search first").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import ndimage

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd

    from remnant.hazard.grid import Grid

TARGET = 0.8
"""Share of the remaining duds to find. [-]"""

RADII_M = (250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0)
"""Default buffer radii around strike and evidence points; wide enough that a world's
best radius is rarely at either end. [m]"""

CURVE_KM2 = np.geomspace(0.01, 1e4, 241)
"""Areas at which the share found is sampled for the plot. [km²]"""


@dataclass
class WorldResult:
    """Areas to reach the target in one world, and its curves on :data:`CURVE_KM2`."""

    seed: int
    remaining: int
    outside: int
    grid_km2: float
    estimate_km2: float
    prior_km2: float
    radii_m: list[float]
    buffer_km2: list[float]
    buffer_union_km2: list[float]
    buffer_share: list[float]
    estimate_curve: list[float]
    prior_curve: list[float]
    buffer_curves: list[list[float]]
    seconds: float

    @property
    def best(self) -> int:
        """Index of this world's best radius (smallest area)."""
        return int(np.argmin(self.buffer_km2))


# -- one world --------------------------------------------------------------------------


def one_world(seed: int, strikes: int, radii: tuple[float, ...]) -> WorldResult:
    """Simulate, estimate with and without evidence, and rank three orderings."""
    from remnant.catalogue import load_catalogue
    from remnant.hazard.estimate import estimate
    from remnant.simulate import simulate_world

    start = time.perf_counter()
    world = simulate_world(seed, strikes)
    as_of = world.truth.parameters["as_of"]
    catalogue = load_catalogue()
    full = estimate(world.tables, catalogue, as_of=as_of)
    prior = estimate({"strikes": world.tables["strikes"]}, catalogue, as_of=as_of,
                     crs=full.grid.crs)  # fmt: skip
    grid = full.grid
    counts, outside = world.truth.remaining_on(full.grid)
    cell_km2 = grid.cell**2 / 1e6
    grid_km2 = counts.size * cell_km2
    perm = np.random.default_rng(seed).permutation(counts.size)
    est = _found_in_order(full.bands()["expected_remaining"], counts, perm)
    pri = _found_in_order(
        _on_grid(prior.bands()["expected_remaining"], prior.grid, grid), counts, perm
    )
    distance = _distance_to_points(grid, *_evidence_points(world.tables, as_of, grid.crs))
    buffers = [_buffer(distance <= r, counts, cell_km2) for r in radii]
    return WorldResult(
        seed=seed,
        remaining=int(counts.sum()),
        outside=outside,
        grid_km2=grid_km2,
        estimate_km2=_ranked_area(est, cell_km2),
        prior_km2=_ranked_area(pri, cell_km2),
        radii_m=list(radii),
        buffer_km2=[_buffer_area(u, s, grid_km2) for u, s in buffers],
        buffer_union_km2=[u for u, _ in buffers],
        buffer_share=[s for _, s in buffers],
        estimate_curve=_ranked_curve(est, cell_km2).tolist(),
        prior_curve=_ranked_curve(pri, cell_km2).tolist(),
        buffer_curves=[_buffer_curve(u, s, grid_km2).tolist() for u, s in buffers],
        seconds=time.perf_counter() - start,
    )


def _on_grid(values: np.ndarray, src: Grid, dst: Grid) -> np.ndarray:
    """A band of grid ``src`` on grid ``dst`` (same CRS and cell), NaN where it does not reach."""
    col_f, row_f = (src.x0 - dst.x0) / dst.cell, (dst.top - src.top) / dst.cell
    col0, row0 = round(col_f), round(row_f)
    if src.crs != dst.crs or src.cell != dst.cell or abs(col_f - col0) + abs(row_f - row0) > 1e-6:
        raise ValueError(f"grids do not share cell edges: {src} and {dst}")
    out = np.full((dst.ny, dst.nx), np.nan, dtype=np.float32)
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + src.ny, dst.ny), min(col0 + src.nx, dst.nx)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = values[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    return out


# -- ranked orderings -------------------------------------------------------------------


def _found_in_order(values: np.ndarray, counts: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Duds found after each cell when cells are searched by descending ``values``.

    NaN cells come last; ties keep the order of the random permutation ``perm``.
    """
    key = -values.ravel()[perm]
    key[np.isnan(key)] = np.inf
    order = perm[np.argsort(key, kind="stable")]
    return np.cumsum(counts.ravel()[order], dtype=np.int64)


def _ranked_area(found: np.ndarray, cell_km2: float) -> float:
    """Area searched until the target share of the duds is found. [km²]"""
    cells = int(np.searchsorted(found, TARGET * found[-1], side="left")) + 1
    return cells * cell_km2


def _ranked_curve(found: np.ndarray, cell_km2: float) -> np.ndarray:
    """Share of the duds found after searching each area of :data:`CURVE_KM2`."""
    cells = np.minimum(np.floor(CURVE_KM2 / cell_km2).astype(np.int64), found.size)
    done = np.where(cells > 0, found[np.maximum(cells - 1, 0)], 0)
    return done / max(int(found[-1]), 1)


# -- CMRS buffers -----------------------------------------------------------------------


def _evidence_points(
    tables: Mapping[str, gpd.GeoDataFrame], as_of: str, crs: str
) -> tuple[np.ndarray, np.ndarray]:
    """Recorded strike points, finds and accidents dated on or before ``as_of``, in ``crs``."""
    xs, ys = [], []
    for name in ("strikes", "finds", "accidents"):
        frame = tables.get(name)
        if frame is None or len(frame) == 0:
            continue
        dated = pd.to_datetime(frame["date"], errors="coerce")
        points = frame[~(dated > pd.Timestamp(as_of))].geometry.to_crs(crs)
        points = points[~points.is_empty & points.notna()]
        xs.append(points.x.to_numpy())
        ys.append(points.y.to_numpy())
    return np.concatenate(xs), np.concatenate(ys)


def _distance_to_points(grid: Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from each cell centre to the centre of the nearest cell holding a point. [m]"""
    row, col = grid.cell_of(x, y)
    inside = (row >= 0) & (row < grid.ny) & (col >= 0) & (col < grid.nx)
    empty = np.ones((grid.ny, grid.nx), dtype=bool)
    empty[row[inside], col[inside]] = False
    return ndimage.distance_transform_edt(empty, sampling=grid.cell).astype(np.float32)


def _buffer(union: np.ndarray, counts: np.ndarray, cell_km2: float) -> tuple[float, float]:
    """Area of the union of buffers [km²] and the share of the duds inside it [-]."""
    total = int(counts.sum())
    share = int(counts[union].sum()) / total if total else 0.0
    return int(union.sum()) * cell_km2, share


def _buffer_area(union_km2: float, share: float, grid_km2: float) -> float:
    """Expected area to the target: the buffers at random, then the rest at random. [km²]"""
    if share >= TARGET:
        return TARGET / share * union_km2
    return union_km2 + (TARGET - share) / (1.0 - share) * (grid_km2 - union_km2)


def _alone_km2(union_km2: float, share: float) -> float:
    """Expected area to the target searching the buffers only (infinite if never). [km²]"""
    return TARGET / share * union_km2 if share >= TARGET else math.inf


def _buffer_curve(union_km2: float, share: float, grid_km2: float) -> np.ndarray:
    """Expected share found: linear to ``share`` over the buffers, then to 1 over the rest."""
    a = np.minimum(CURVE_KM2, grid_km2)
    inside = share * np.minimum(a, union_km2) / max(union_km2, 1e-12)
    rest = (1.0 - share) * np.maximum(a - union_km2, 0.0) / max(grid_km2 - union_km2, 1e-12)
    return np.minimum(inside + rest, 1.0)


# -- summary, report, plot --------------------------------------------------------------


def summarise(results: list[WorldResult]) -> dict[str, object]:
    """Median and mean areas over worlds; how often the estimate beats each competitor."""
    radii = results[0].radii_m
    rows = {
        "estimate": [r.estimate_km2 for r in results],
        "prior": [r.prior_km2 for r in results],
    }
    for i, radius in enumerate(radii):
        rows[f"buffers {radius:g} m"] = [r.buffer_km2[i] for r in results]
    rows["buffers, best radius"] = [r.buffer_km2[r.best] for r in results]
    table = {name: _row(results, np.array(a)) for name, a in rows.items()}
    for i, radius in enumerate(radii):
        table[f"buffers {radius:g} m"].update(_buffer_row(results, i))
    median = {name: row["median_km2"] for name, row in table.items()}
    return {
        "worlds": len(results),
        "target_share": TARGET,
        "duds_inside_grid": sum(r.remaining for r in results),
        "duds_outside_grid": sum(r.outside for r in results),
        "areas": table,
        "best_radius_counts": {
            f"{x:g}": sum(r.best == i for r in results) for i, x in enumerate(radii)
        },
        "target_met": bool(
            median["estimate"] < min(median["prior"], median["buffers, best radius"])
        ),
        "seconds_per_world": float(np.mean([r.seconds for r in results])),
    }


def _row(results: list[WorldResult], areas: np.ndarray) -> dict[str, float]:
    est = np.array([r.estimate_km2 for r in results])
    return {
        "median_km2": float(np.median(areas)),
        "mean_km2": float(np.mean(areas)),
        "estimate_smaller": int(np.sum(est < areas)),
    }


def _buffer_row(results: list[WorldResult], i: int) -> dict[str, float]:
    """Radius ``i``: the union, the share of duds inside, the area with the buffers alone."""
    alone = [_alone_km2(r.buffer_union_km2[i], r.buffer_share[i]) for r in results]
    return {
        "median_union_km2": float(np.median([r.buffer_union_km2[i] for r in results])),
        "median_share_inside": float(np.median([r.buffer_share[i] for r in results])),
        "alone_reach": sum(math.isfinite(a) for a in alone),
        "alone_median_km2": float(np.median(alone)),
    }


def _world_line(r: WorldResult) -> str:
    parts = []
    for i, radius in enumerate(r.radii_m):
        never = "" if r.buffer_share[i] >= TARGET else "*"
        parts.append(f"{radius:g}:{r.buffer_km2[i]:.0f}{never}")
    best = r.buffer_km2[r.best]
    wins = ("beats prior" if r.estimate_km2 < r.prior_km2 else "LOSES to prior") + (
        ", beats buffers" if r.estimate_km2 < best else ", LOSES to buffers"
    )
    return (
        f"seed {r.seed}: {r.remaining} duds ({r.outside} outside grid), grid {r.grid_km2:.0f}"
        f" km² | estimate {r.estimate_km2:.1f}, prior {r.prior_km2:.1f}, buffers [m:km²] "
        f"{' '.join(parts)} (best {r.radii_m[r.best]:g} m: {best:.1f}) | {wins}"
    )


def _print_summary(summary: dict[str, object]) -> None:
    n = summary["worlds"]
    print(f"\nArea searched to find {TARGET:.0%} of the remaining duds, over {n} worlds [km²]")
    print(f"{'ordering':<24}{'median':>10}{'mean':>10}   estimate smaller in")
    for name, row in summary["areas"].items():  # type: ignore[attr-defined]
        extra = ""
        if "alone_reach" in row:
            extra = (
                f"   union {row['median_union_km2']:.1f} km² holds {row['median_share_inside']:.0%}"
                f"; alone reach {TARGET:.0%} in {row['alone_reach']}/{n}, median "
                f"{row['alone_median_km2']:.2f}"
            )
        versus = "" if name == "estimate" else f"{row['estimate_smaller']}/{n} worlds"
        print(f"{name:<24}{row['median_km2']:>10.2f}{row['mean_km2']:>10.2f}   {versus}{extra}")
    print(f"best radius per world (counts): {summary['best_radius_counts']}")
    inside, outside = summary["duds_inside_grid"], summary["duds_outside_grid"]
    print(
        f"remaining duds outside the estimate's grid (found by no ordering, not counted): "
        f"{outside} of {inside + outside} ({outside / (inside + outside):.1%})"  # type: ignore[operator]
    )


def plot(results: list[WorldResult], path: Path, examples: int = 2) -> None:
    """Share found against area searched: example worlds, and the median over worlds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = results[:examples]
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(5 * (len(shown) + 1), 4.2), sharey=True)
    for ax, r in zip(axes, shown, strict=False):
        curves = (r.estimate_curve, r.prior_curve, r.buffer_curves[r.best])
        _draw(ax, curves, f"world {r.seed}", r.radii_m[r.best])
    median = (
        np.median([r.estimate_curve for r in results], axis=0),
        np.median([r.prior_curve for r in results], axis=0),
        np.median([r.buffer_curves[r.best] for r in results], axis=0),
    )
    _draw(axes[-1], median, f"median over {len(results)} worlds", None)
    axes[0].set_ylabel("share of remaining duds found")
    for ax in axes:
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _draw(ax, curves, title: str, radius: float | None) -> None:  # type: ignore[no-untyped-def]
    buffers = "CMRS buffers, " + (f"{radius:g} m" if radius else "best radius per world")
    for curve, label, style in zip(
        curves, ("estimate", "prior (no evidence)", buffers), ("-", "--", ":"), strict=True
    ):
        ax.plot(CURVE_KM2, curve, style, label=label, linewidth=2)
    ax.axhline(TARGET, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("area searched [km²]")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--strikes", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--radii", type=float, nargs="+", default=list(RADII_M))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.worlds))
    radii = tuple(args.radii)
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one_world, seeds, [args.strikes] * len(seeds),
                                [radii] * len(seeds)))  # fmt: skip
    results = [r for r in results if r.remaining > 0]
    print(f"Area to find {TARGET:.0%} of the remaining duds [km²] (*: buffers alone never do)")
    for r in results:
        print(_world_line(r))
    summary = summarise(results)
    _print_summary(summary)
    if args.json:
        worlds = [r.__dict__ for r in results]
        payload = {"summary": summary, "curve_km2": CURVE_KM2.tolist(), "worlds": worlds}
        args.json.write_text(json.dumps(payload, indent=2))
    if args.plot:
        plot(results, args.plot)
    print("TARGET MET" if summary["target_met"] else "TARGET MISSED")
    return 0 if summary["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
