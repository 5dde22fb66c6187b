"""Calibration over simulated worlds: do the estimate's intervals mean what they say?

Runs ``benchmarks/calibration.py`` as a user runs it, on 50 worlds of different seeds
(about three minutes on two cores), and checks the issue's calibration lines:

- the 90 % interval of the total remaining covers the truth in 85–95 % of the worlds;
- the learned failure rate's 90 % interval covers the simulated rate at its level
  (within two binomial standard errors of 90 %);
- the reliability of ``p_any``: in every judged decile (at least 200 cells) the share
  of cells that truly hold an item is within 0.05 of the mean prediction
  (benchmarks/README.md, "Calibration").
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLDS = 50


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("calibration") / "calibration.json"
    script = ROOT / "benchmarks" / "calibration.py"
    args = ["--worlds", str(WORLDS), "--first-seed", "1000", "--jobs", "2", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text())["summary"]


def test_the_total_interval_covers_the_truth_at_its_level(summary) -> None:
    assert summary["worlds"] == WORLDS
    assert 0.85 <= summary["total_coverage"] <= 0.95, summary["total_covered"]


def test_the_learned_failure_rates_cover_the_simulated_ones(summary) -> None:
    n = summary["rate_intervals"]
    assert n >= 250
    se = math.sqrt(0.9 * 0.1 / n)
    assert abs(summary["rate_coverage"] - 0.9) <= 2 * se, summary["rate_coverage"]


def test_p_any_is_reliable_in_every_judged_decile(summary) -> None:
    judged = [b for b in summary["reliability"] if b["judged"]]
    assert len(judged) >= 9
    for b in judged:
        gap = b["observed"] - b["predicted"]
        assert abs(gap) <= 0.05, (b["bin"], gap)
