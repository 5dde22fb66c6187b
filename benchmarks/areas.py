"""Proposed hazard areas on simulated worlds: do they hold the remaining duds, in less land?

For each seed a demo-sized world is simulated (its truth kept apart), the estimate is
run on its records as of the world's day, and hazard areas are proposed from it and
the live direct evidence by the default national standard
(:func:`remnant.survey.delineation.propose_areas`). Against the truth:

- **proposed areas**: the share of the world's remaining duds inside them (all, and
  the confirmed ones alone), and their area;
- **CMRS buffers**: discs of one fixed radius around every recorded strike point and
  every find and accident dated by the world's day, what a desk assessment draws
  (as in ``benchmarks/usefulness.py``); each radius of ``--radii``, and the smallest
  radius whose buffers hold at least :data:`TARGET` of the duds of all worlds pooled
  (chosen knowing the truth: the most generous competitor).

A dud counts as inside when the centre of its cell of the estimate's grid is (duds
outside the grid are counted against both). The duds are counted twice: all of
them, and those of the attacks the records *know* — recorded, or revealed by a find
or an accident by the world's day. The duds of an attack that nothing recorded and
nothing revealed lie where no evidence points; the estimate spreads them thinly over
the whole study area, and neither areas drawn from evidence nor buffers around it
can hold them short of the whole area (9–23 % of the duds of the first four worlds).
The target of issue 4, read so: the proposals hold at least 95 % of the known
attacks' remaining duds, pooled over worlds, in less area than the buffers of the
smallest radius that hold as many.

``--clean`` simulates records without faults (every attack recorded, every carrier
named right): all duds are then of known attacks.

Usage::

    .venv/bin/python benchmarks/areas.py --worlds 20 --jobs 2 --json out.json
    .venv/bin/python benchmarks/areas.py --worlds 20 --jobs 2 --clean

Prints one line per world, then the pooled shares and total areas, and ``TARGET MET``
or ``TARGET MISSED`` (exit status 1). Results are recorded in ``benchmarks/README.md``
("Proposed hazard areas").
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from affine import Affine

from calibration import CLEAN_RECORDS
from remnant.hazard.grid import Grid
from remnant.simulate import World
from usefulness import _distance_to_points, _evidence_points

TARGET = 0.95
"""Share of the remaining duds the proposed areas must hold (issue 4). [-]"""

RADII_M = (100.0, 250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0)
"""Buffer radii tried. [m]"""


@dataclass
class WorldResult:
    """One world: duds (all, and of known attacks), what proposals and buffers hold."""

    seed: int
    remaining: int
    known: int
    outside: int
    grid_km2: float
    proposed_km2: float
    proposed_duds: int
    proposed_known: int
    confirmed_km2: float
    confirmed_known: int
    areas: int
    radii_m: list[float]
    buffer_km2: list[float]
    buffer_duds: list[int]
    buffer_known: list[int]
    seconds: float


def one_world(
    seed: int, strikes: int, radii: tuple[float, ...], clean: bool = False
) -> WorldResult:
    """Simulate, estimate, propose, and count the duds inside proposals and buffers."""
    import dataclasses

    from remnant.catalogue import load_catalogue
    from remnant.hazard.estimate import estimate
    from remnant.simulate import simulate_world
    from remnant.simulate.config import WorldConfig
    from remnant.survey.delineation import live_evidence, propose_areas
    from remnant.survey.standard import load_standard

    start = time.perf_counter()
    config = WorldConfig()
    if clean:  # every attack recorded, every carrier named right
        reporting = dataclasses.replace(config.reporting, **CLEAN_RECORDS)
        config = dataclasses.replace(config, reporting=reporting)
    world = simulate_world(seed, strikes, config=config)
    as_of = world.truth.parameters["as_of"]
    est = estimate(world.tables, load_catalogue(), as_of=as_of)
    grid, bands = est.grid, est.bands()
    t = world.tables
    dated = {n: t[n][~(t[n]["date"].astype(str).str[:10] > as_of)] for n in ("finds", "accidents")}
    evidence = live_evidence(dated["finds"], dated["accidents"], t["activities"], grid.crs)
    rules = load_standard().hazard_areas
    areas = propose_areas(grid, bands["expected_remaining"], bands["p_any"], evidence, rules).areas
    confirmed = areas[areas["status"] == "confirmed"]
    row, col, known = _duds(world, grid, as_of)
    cell_of = _cell_lookup(row, col, grid)
    proposed, firm = cell_of(_mask(areas, grid)), cell_of(_mask(confirmed, grid))
    distance = _distance_to_points(grid, *_evidence_points(world.tables, as_of, grid.crs))
    held = [cell_of(distance <= r) for r in radii]
    cell_km2 = grid.cell**2 / 1e6
    return WorldResult(
        seed=seed,
        remaining=len(row),
        known=int(known.sum()),
        outside=int(np.sum(cell_of(np.ones((grid.ny, grid.nx), dtype=bool)) == 0)),
        grid_km2=grid.nx * grid.ny * cell_km2,
        proposed_km2=float(areas.area.sum()) / 1e6,
        proposed_duds=int(proposed.sum()),
        proposed_known=int(proposed[known].sum()),
        confirmed_km2=float(confirmed.area.sum()) / 1e6,
        confirmed_known=int(firm[known].sum()),
        areas=len(areas),
        radii_m=list(radii),
        buffer_km2=[float((distance <= r).sum()) * cell_km2 for r in radii],
        buffer_duds=[int(h.sum()) for h in held],
        buffer_known=[int(h[known].sum()) for h in held],
        seconds=time.perf_counter() - start,
    )


def _duds(world: World, grid: Grid, as_of: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each remaining dud's cell, and whether its attack is known by ``as_of``.

    Known: recorded, or one of its submunitions found or in an accident by then.
    """
    import pyproj

    sub = world.truth.submunitions
    strikes = world.truth.strikes.reset_index(drop=True)
    found = sub["found_date"].notna() & (sub["found_date"].astype(str).str[:10] <= as_of)
    seen = found | sub["accident_id"].notna()
    known = set(sub.loc[seen, "strike_index"]) | set(np.flatnonzero(strikes["reported"]))
    left = sub[sub["remains"].to_numpy()]
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    x, y = to_grid.transform(left["lon"].to_numpy(), left["lat"].to_numpy())
    row, col = grid.cell_of(x, y)
    return row, col, left["strike_index"].isin(known).to_numpy()


def _cell_lookup(
    row: np.ndarray, col: np.ndarray, grid: Grid
) -> Callable[[np.ndarray], np.ndarray]:
    """``lookup(mask)``: per dud, whether its cell is marked (False off the grid)."""
    ok = (row >= 0) & (row < grid.ny) & (col >= 0) & (col < grid.nx)

    def lookup(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(len(row), dtype=bool)
        out[ok] = mask[row[ok], col[ok]]
        return out

    return lookup


def _mask(areas: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """The cells whose centres lie inside the areas."""
    geometries = [g for g in areas.geometry.to_numpy() if not shapely.is_empty(g)]
    shape = (grid.ny, grid.nx)
    if not geometries:
        return np.zeros(shape, dtype=bool)
    transform = Affine(*grid.transform)
    return rasterio.features.geometry_mask(geometries, out_shape=shape, transform=transform,
                                           invert=True)  # fmt: skip


def summarise(results: list[WorldResult]) -> dict[str, object]:
    """Pooled shares and total areas; the smallest radius holding the target of known duds."""
    duds, known = sum(r.remaining for r in results), sum(r.known for r in results)
    known_shares = np.sum([r.buffer_known for r in results], axis=0) / known
    shares = np.sum([r.buffer_duds for r in results], axis=0) / duds
    areas = np.sum([r.buffer_km2 for r in results], axis=0)
    reach = np.flatnonzero(known_shares >= TARGET)
    best = int(reach[0]) if reach.size else None
    proposed_known = sum(r.proposed_known for r in results) / known
    proposed_km2 = sum(r.proposed_km2 for r in results)
    met = proposed_known >= TARGET and (best is None or proposed_km2 < areas[best])
    return {
        "worlds": len(results),
        "remaining_duds": duds,
        "known_duds": known,
        "outside_grid": sum(r.outside for r in results),
        "proposed_known_share": proposed_known,
        "proposed_share": sum(r.proposed_duds for r in results) / duds,
        "proposed_km2": proposed_km2,
        "confirmed_known_share": sum(r.confirmed_known for r in results) / known,
        "confirmed_km2": sum(r.confirmed_km2 for r in results),
        "grid_km2": sum(r.grid_km2 for r in results),
        "radii_m": list(results[0].radii_m),
        "buffer_known_share": known_shares.tolist(),
        "buffer_share": shares.tolist(),
        "buffer_km2": areas.tolist(),
        "best_radius_m": None if best is None else results[0].radii_m[best],
        "best_buffer_km2": None if best is None else float(areas[best]),
        "met": bool(met),
    }


def _world_line(r: WorldResult) -> str:
    def share(n: int, of: int) -> str:
        return f"{n / of:.0%}" if of else "-"

    buffers = " ".join(
        f"{m:g}:{a:.0f}/{share(k, r.known)}"
        for m, a, k in zip(r.radii_m, r.buffer_km2, r.buffer_known, strict=True)
    )
    return (
        f"seed {r.seed}: {r.remaining} duds, {r.known} of known attacks ({r.outside} off the "
        f"grid), grid {r.grid_km2:.0f} km² | proposed {r.areas} areas {r.proposed_km2:.1f} km² "
        f"hold {share(r.proposed_known, r.known)} of known, {share(r.proposed_duds, r.remaining)}"
        f" of all (confirmed {r.confirmed_km2:.1f} km², {share(r.confirmed_known, r.known)}) | "
        f"buffers [m:km²/known] {buffers} | {r.seconds:.0f} s"
    )


def _print_summary(s: dict[str, object]) -> None:
    print(f"\nPooled over {s['worlds']} worlds: {s['remaining_duds']:,} remaining duds, "
          f"{s['known_duds']:,} of them of known attacks ({s['outside_grid']} off the grids); "
          f"grids {s['grid_km2']:,.0f} km²")  # fmt: skip
    print(f"{'':<26}{'known held':>12}{'all held':>10}{'area km²':>12}")
    print(f"{'proposed areas':<26}{s['proposed_known_share']:>12.1%}{s['proposed_share']:>10.1%}"
          f"{s['proposed_km2']:>12.1f}")  # fmt: skip
    print(f"{'  of them confirmed':<26}{s['confirmed_known_share']:>12.1%}{'':>10}"
          f"{s['confirmed_km2']:>12.1f}")  # fmt: skip
    rows = zip(s["radii_m"], s["buffer_known_share"], s["buffer_share"], s["buffer_km2"],
               strict=True)  # fmt: skip
    for m, known, share, km2 in rows:
        print(f"{f'buffers {m:g} m':<26}{known:>12.1%}{share:>10.1%}{km2:>12.1f}")
    if s["best_radius_m"] is None:
        print(f"no buffer radius holds {TARGET:.0%} of the known attacks' duds")
    else:
        print(f"smallest radius holding {TARGET:.0%} of the known attacks' duds: "
              f"{s['best_radius_m']:g} m, {s['best_buffer_km2']:,.1f} km²; proposed / buffers"
              f" = {s['proposed_km2'] / s['best_buffer_km2']:.2f}")  # fmt: skip
    print("TARGET MET" if s["met"] else "TARGET MISSED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=3000)
    parser.add_argument("--strikes", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--radii", type=float, nargs="+", default=list(RADII_M))
    parser.add_argument("--clean", action="store_true", help="every attack recorded")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.worlds)
    radii = tuple(args.radii)
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(one_world, s, args.strikes, radii, args.clean) for s in seeds]
        results = []
        for future in futures:
            results.append(future.result())
            print(_world_line(results[-1]), flush=True)
    summary = summarise(results)
    _print_summary(summary)
    if args.json:
        record = {"summary": summary, "worlds": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(record, indent=2))
    return 0 if summary["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
