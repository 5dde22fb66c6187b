"""Calibration of the hazard estimate on simulated worlds: do its intervals mean what they say?

For each seed, a demo-sized world is simulated (its truth kept apart), the estimate
is run on its records as of the world's day, and three things are checked against
the truth:

- the 90 % interval of the total remaining covers the true total (in 85–95 % of
  worlds, if calibrated);
- reliability of ``p_any``: cells pooled over worlds, binned by predicted
  probability in deciles; in each bin the share of cells that truly hold an item
  should match the mean prediction (within 0.05 where the bin has enough cells);
- the learned failure rate of each carrier type: its 90 % interval covers the
  world's true rate about 90 % of the time.

Where the total misses, :data:`SOURCES` say from what: the gap between the estimate
and the truth is split among the recorded strikes whose record names the carrier that
fired, those whose record names another, those recorded as of an unknown carrier, and
the unrecorded attacks (pseudo-strikes and the background against the attacks that
were never recorded). For the recorded strikes with finds, the exposure ``e_s`` the
model gives them is set beside the share of their duds truly found, by quartile of
``e_s`` (by quartile of the true share, strikes whose items happened to lie under the
searches would make even an unbiased model look short). Each recorded strike's row of
the strike table is judged too: how often its interval holds its true remaining, by
group of ``e_s``. ``--clean`` simulates records without faults (every attack
recorded, every carrier named right), to tell the model's own errors from the
records'.

Usage::

    .venv/bin/python benchmarks/calibration.py --worlds 100 --jobs 2 --json out.json

Results are recorded in ``benchmarks/README.md`` ("Calibration").
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BINS = np.linspace(0.0, 1.0, 11)
"""Edges of the ``p_any`` reliability bins (deciles of probability)."""

MIN_CELLS = 200
"""A bin is judged only with at least this many cells: the standard error of an
observed share is then at most 0.035."""


SOURCES = ("carrier right", "carrier wrong", "carrier unknown", "unrecorded attacks")
"""Where a world's gap between estimate and truth comes from (module doc)."""


@dataclass
class WorldResult:
    """What one world says about calibration."""

    seed: int
    truth: int
    mean: float
    lower: float
    upper: float
    bin_cells: list[int]
    bin_predicted: list[float]
    bin_observed: list[int]
    rates: list[tuple[str, float, float, float]]
    gaps: dict[str, float]
    exposures: list[tuple[float, float, float, float]]
    strike_rows: list[tuple[float, float, float, float, float]]
    seconds: float


CLEAN_RECORDS = {"unreported_fraction": 0.0, "wrong_carrier_fraction": 0.0,
                 "unknown_carrier_fraction": 0.0}  # fmt: skip
"""``--clean``: the simulator's reporting faults turned off."""


def one_world(seed: int, strikes: int, clean: bool = False) -> WorldResult:
    """Simulate, estimate and compare one world (run in a worker process)."""
    import dataclasses

    from remnant.catalogue import load_catalogue
    from remnant.hazard.estimate import estimate
    from remnant.simulate import simulate_world
    from remnant.simulate.config import WorldConfig

    start = time.perf_counter()
    config = WorldConfig()
    if clean:
        config = dataclasses.replace(
            config, reporting=dataclasses.replace(config.reporting, **CLEAN_RECORDS)
        )
    world = simulate_world(seed, strikes, config=config)
    as_of = world.truth.parameters["as_of"]
    est = estimate(world.tables, load_catalogue(), as_of=as_of)
    bands = est.bands()
    counts, _ = world.truth.remaining_on(est.grid)
    p_any = bands["p_any"]
    studied = ~np.isnan(p_any)
    p, holds = p_any[studied], counts[studied] > 0
    which = np.clip(np.digitize(p, BINS) - 1, 0, len(BINS) - 2)
    joined = _strikes_against_truth(world, est)
    rates = []
    truth_rates = world.truth.parameters["failure_rate"]
    for row in est.failure_rates.itertuples(index=False):
        if row.carrier in truth_rates:
            rates.append(
                (str(row.carrier), float(row.posterior_lower), float(row.posterior_upper),
                 float(truth_rates[row.carrier]))
            )  # fmt: skip
    return WorldResult(
        seed=seed,
        truth=int(world.truth.submunitions["remains"].sum()),
        mean=est.total.mean,
        lower=est.total.lower,
        upper=est.total.upper,
        bin_cells=np.bincount(which, minlength=len(BINS) - 1).tolist(),
        bin_predicted=np.bincount(which, p, len(BINS) - 1).tolist(),
        bin_observed=np.bincount(which, holds, len(BINS) - 1).astype(int).tolist(),
        rates=rates,
        gaps=_gaps(world, est, joined),
        exposures=_exposures(joined),
        strike_rows=_strike_rows(joined),
        seconds=time.perf_counter() - start,
    )


def _strikes_against_truth(world: Any, est: Any) -> Any:
    """The estimate's strike table beside each strike's record and truth.

    Adds the carrier the record names (``named``), the true carrier
    (``carrier_true``), the true duds, those still there and those found
    (``n_duds``, ``n_remaining``, ``true_found``); pseudo-strikes get none of them.
    """
    sub = world.truth.submunitions
    duds = sub[sub["is_dud"].astype(bool)]
    found = duds[duds["found_by"].notna()].groupby("strike_index").size()
    truth = world.truth.strikes.reset_index(drop=True)
    truth = truth.assign(true_found=found.reindex(range(len(truth))).fillna(0).to_numpy())
    named = world.tables["strikes"][["strike_id", "carrier"]].rename(columns={"carrier": "named"})
    wanted = ["strike_id", "carrier", "n_duds", "n_remaining", "true_found"]
    return est.strike_table.merge(named, on="strike_id", how="left").merge(
        truth[wanted], on="strike_id", how="left", suffixes=("", "_true")
    )


def _gaps(world: Any, est: Any, rows: Any) -> dict[str, float]:
    """Estimated minus true items remaining, by :data:`SOURCES` (``rows``: the joined table)."""
    pseudo = rows["pseudo"].astype(bool)
    recorded = rows[~pseudo]
    gap = recorded["expected_remaining"] - recorded["n_remaining"]
    source = np.full(len(recorded), SOURCES[0], dtype=object)
    source[(recorded["named"] != recorded["carrier_true"]).to_numpy()] = SOURCES[1]
    source[(recorded["named"] == "unknown").to_numpy()] = SOURCES[2]
    out = {name: float(gap[source == name].sum()) for name in SOURCES[:3]}
    truth = world.truth.strikes
    never = float(truth.loc[~truth["reported"].astype(bool), "n_remaining"].sum())
    in_pseudo = float(rows.loc[pseudo, "expected_remaining"].sum())
    out[SOURCES[3]] = in_pseudo + est.unrecorded_remaining - never
    return out


def _exposures(rows: Any) -> list[tuple[float, float, float, float]]:
    """Per recorded strike with finds: model ``e_s``, true share found, posterior and true duds."""
    rows = rows[rows["true_found"] > 0]
    share = rows["true_found"] / rows["n_duds"].clip(lower=1)
    return list(zip(rows["exposure"].astype(float), share.astype(float),
                    rows["posterior_duds"].astype(float), rows["n_duds"].astype(float),
                    strict=True))  # fmt: skip


def _strike_rows(rows: Any) -> list[tuple[float, float, float, float, float]]:
    """Per recorded strike: ``e_s``, expected remaining, interval, true remaining."""
    rows = rows[~rows["pseudo"].astype(bool)]
    columns = ("exposure", "expected_remaining", "lower", "upper", "n_remaining")
    return list(zip(*(rows[c].astype(float) for c in columns), strict=True))


STRIKE_GROUPS = (0.0, 1e-12, 0.2, 0.5, 0.8, 1.0 + 1e-12)
"""Edges of the exposure groups of the strike table's check: never searched, then by
``e_s``. [-]"""


def _strike_interval_table(results: list[WorldResult]) -> list[dict[str, float]]:
    """How often each recorded strike's interval holds its true remaining, by ``e_s`` group."""
    rows = np.array([e for r in results for e in r.strike_rows]).reshape(-1, 5)
    e, mean, lower, upper, truth = rows.T
    group = np.clip(np.searchsorted(STRIKE_GROUPS, e, side="right") - 1, 0, len(STRIKE_GROUPS) - 2)
    table = []
    for g in range(len(STRIKE_GROUPS) - 1):
        at = group == g
        if not at.any():
            continue
        table.append({
            "exposure_from": STRIKE_GROUPS[g], "exposure_to": min(STRIKE_GROUPS[g + 1], 1.0),
            "strikes": float(at.sum()),
            "covered": float(np.mean((truth[at] >= lower[at]) & (truth[at] <= upper[at]))),
            "below": float(np.mean(truth[at] < lower[at])),
            "above": float(np.mean(truth[at] > upper[at])),
            "expected": float(mean[at].sum()), "truth": float(truth[at].sum()),
        })  # fmt: skip
    return table


def _exposure_table(results: list[WorldResult]) -> list[dict[str, float]]:
    """Mean model ``e_s`` and true share found, and summed duds, by quartile of ``e_s``."""
    rows = np.array([e for r in results for e in r.exposures]).reshape(-1, 4)
    if len(rows) < 4:
        return []
    edges = np.quantile(rows[:, 0], [0.0, 0.25, 0.5, 0.75, 1.0])
    which = np.clip(np.searchsorted(edges, rows[:, 0], side="right") - 1, 0, 3)
    table = []
    for q in range(4):
        part = rows[which == q]
        table.append({
            "exposure_from": float(edges[q]), "exposure_to": float(edges[q + 1]),
            "strikes": float(len(part)), "model_exposure": float(part[:, 0].mean()),
            "true_share": float(part[:, 1].mean()), "posterior_duds": float(part[:, 2].sum()),
            "true_duds": float(part[:, 3].sum()),
        })  # fmt: skip
    return table


def summarise(results: list[WorldResult]) -> dict[str, object]:
    """Coverage of the total, reliability table, failure-rate coverage."""
    covered = sum(r.lower <= r.truth <= r.upper for r in results)
    cells = np.sum([r.bin_cells for r in results], axis=0)
    predicted = np.sum([r.bin_predicted for r in results], axis=0)
    observed = np.sum([r.bin_observed for r in results], axis=0)
    table = []
    for k in range(len(BINS) - 1):
        n = int(cells[k])
        row = {"bin": f"{BINS[k]:.1f}-{BINS[k + 1]:.1f}", "cells": n}
        if n:
            row.update(predicted=float(predicted[k] / n), observed=float(observed[k] / n))
            row["judged"] = n >= MIN_CELLS
        table.append(row)
    rates = [rate for r in results for rate in r.rates]
    rate_hits = sum(lo <= t <= hi for _, lo, hi, t in rates)
    return {
        "worlds": len(results),
        "total_covered": covered,
        "total_coverage": covered / len(results),
        "reliability": table,
        "rate_intervals": len(rates),
        "rate_coverage": rate_hits / max(len(rates), 1),
        "gaps": _gap_table(results),
        "exposures": _exposure_table(results),
        "strike_intervals": _strike_interval_table(results),
        "seconds_per_world": float(np.mean([r.seconds for r in results])),
    }


def _gap_table(results: list[WorldResult]) -> dict[str, dict[str, float]]:
    """Mean gap by source over the worlds missed high, missed low, and all of them."""
    groups = {
        "missed high": [r for r in results if r.truth < r.lower],
        "missed low": [r for r in results if r.truth > r.upper],
        "all": results,
    }
    table = {}
    for group, rs in groups.items():
        row = {"worlds": float(len(rs))}
        for name in SOURCES:
            row[name] = float(np.mean([r.gaps[name] for r in rs])) if rs else 0.0
        table[group] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--strikes", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--clean", action="store_true", help="records without faults")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.worlds)
    with ProcessPoolExecutor(args.jobs) as pool:
        n = args.worlds
        results = list(pool.map(one_world, seeds, [args.strikes] * n, [args.clean] * n))
    summary = summarise(results)
    for r in results:
        flag = "ok" if r.lower <= r.truth <= r.upper else ("LOW" if r.truth > r.upper else "HIGH")
        interval = f"[{r.lower:.0f}, {r.upper:.0f}]"
        print(f"seed {r.seed}: truth {r.truth}, estimate {r.mean:.0f} {interval} {flag}")
    print(json.dumps(summary, indent=2))
    print("mean gap, estimate − truth [items]: " + " | ".join(SOURCES))
    for group, row in summary["gaps"].items():  # type: ignore[attr-defined]
        gaps = " | ".join(f"{row[name]:+.0f}" for name in SOURCES)
        print(f"  {group} ({row['worlds']:.0f} worlds): {gaps}")
    print("recorded strikes with finds, by quartile of the model's exposure e_s:")
    for q in summary["exposures"]:  # type: ignore[attr-defined]
        print(f"  {q['exposure_from']:.3f}-{q['exposure_to']:.3f}: {q['strikes']:.0f} strikes, "
              f"model e_s {q['model_exposure']:.3f}, true share {q['true_share']:.3f}, "
              f"posterior duds {q['posterior_duds']:,.0f}, "
              f"true duds {q['true_duds']:,.0f}")  # fmt: skip
    print("recorded strikes, their 90 % interval against their true remaining, by e_s:")
    for g in summary["strike_intervals"]:  # type: ignore[attr-defined]
        span = ("never searched" if g["exposure_to"] < 1e-9
                else f"e_s {g['exposure_from']:.1f}-{g['exposure_to']:.1f}")  # fmt: skip
        print(f"  {span}: {g['strikes']:.0f} strikes, covered {g['covered']:.3f} "
              f"(truth below {g['below']:.3f}, above {g['above']:.3f}), expected "
              f"{g['expected']:,.0f}, true {g['truth']:,.0f}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps({"summary": summary, "worlds": [r.__dict__ for r in results]}, indent=2)
        )


if __name__ == "__main__":
    main()
