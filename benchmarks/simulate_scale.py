"""Simulator scale: wall time, peak memory and table sizes of a large synthetic world.

Usage::

    .venv/bin/python benchmarks/simulate_scale.py                 # 100,000 attacks
    .venv/bin/python benchmarks/simulate_scale.py --n-strikes 20000 --config default
    .venv/bin/python benchmarks/simulate_scale.py --out /tmp/world  # also time write_world

Peak memory is the process's maximum resident set size (``ru_maxrss``), which
includes the interpreter and libraries (about 0.25 GB). Results are recorded in
``benchmarks/README.md`` ("Simulator scale").
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

from remnant.simulate import WorldConfig, simulate_world, write_world


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-strikes", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-06-30")
    parser.add_argument(
        "--config",
        choices=("country", "default"),
        default="country",
        help="WorldConfig.country_scale() (default) or WorldConfig()",
    )
    parser.add_argument("--out", type=Path, help="also write the world here and time it")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    return parser.parse_args()


def main() -> None:
    args = _args()
    config = WorldConfig.country_scale() if args.config == "country" else WorldConfig()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        stages.setdefault(stage, time.perf_counter() - t0)

    world = simulate_world(
        args.seed, args.n_strikes, as_of=args.as_of, config=config, progress=progress
    )
    figures: dict[str, object] = {
        "n_strikes": args.n_strikes,
        "config": args.config,
        "seed": args.seed,
        "simulate_s": round(time.perf_counter() - t0, 1),
        "stage_start_s": {k: round(v, 1) for k, v in stages.items()},
        "peak_rss_gb_after_simulate": round(_peak_rss_gb(), 2),
        "tables": {name: len(frame) for name, frame in world.tables.items()},
        "finds_quantity": int(world.tables["finds"]["quantity"].sum()),
        "submunitions": len(world.truth.submunitions),
        "duds": int(world.truth.submunitions["is_dud"].sum()),
        "remaining": int(world.truth.submunitions["remains"].sum()),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    if args.out is not None:
        t1 = time.perf_counter()
        paths = write_world(world, args.out)
        figures["write_s"] = round(time.perf_counter() - t1, 1)
        figures["file_mb"] = {k: round(p.stat().st_size / 1e6, 1) for k, p in paths.items()}
        figures["peak_rss_gb_after_write"] = round(_peak_rss_gb(), 2)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
