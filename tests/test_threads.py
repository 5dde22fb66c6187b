"""Idle OpenMP workers sleep (remnant.threads): what libgomp itself reports it was told."""

from __future__ import annotations

import os
import subprocess
import sys

from remnant.threads import WAIT_POLICY_VARIABLE

_PROBE = """
import sys
import numpy as np
from remnant.threads import idle_threads_sleep
from remnant.hazard.failure_rate import _ratio_moments_direct

if sys.argv[1] == "ask":
    print(idle_threads_sleep())
m1, _ = _ratio_moments_direct(np.ones(4), np.ones(4), np.full(3, 0.1), np.full(3, 1 / 3))
print(round(float(m1[0]), 6))  # a parallel kernel ran: the OpenMP runtime is loaded
"""


def _run(mode: str, policy: str | None) -> tuple[list[str], str]:
    """Run the probe in a fresh process whose OpenMP runtime prints its settings.

    Returns the probe's output lines and how long libgomp said, as it loaded, that an
    idle worker spins before it sleeps (``OMP_DISPLAY_ENV=VERBOSE``, GCC's libgomp
    manual): its ``OMP_WAIT_POLICY`` line reads ``PASSIVE`` also when unset, when the
    workers spin 300,000 rounds; ``GOMP_SPINCOUNT`` tells the two apart.
    """
    env = {k: v for k, v in os.environ.items() if k != WAIT_POLICY_VARIABLE}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"
    if policy is not None:
        env[WAIT_POLICY_VARIABLE] = policy
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], check=True, capture_output=True,
                          text=True, env=env)  # fmt: skip
    shown = [line for line in done.stderr.splitlines() if "GOMP_SPINCOUNT =" in line]
    assert len(shown) == 1, f"numba ran no OpenMP (libgomp1 missing?): {done.stderr}"
    return done.stdout.split(), shown[0].split("=")[1].strip(" '")


def test_idle_workers_are_told_to_sleep_before_the_runtime_loads() -> None:
    out, spins = _run("ask", None)
    assert out == ["PASSIVE", "0.090909"] and spins == "0"  # 0.1 / (1 + 0.1): it ran
    _, default = _run("leave", None)
    assert int(default) > 0  # libgomp's own default: spin a while, then sleep


def test_a_users_own_policy_wins() -> None:
    out, spins = _run("ask", "ACTIVE")
    assert out[0] == "ACTIVE" and int(spins) > 0


def test_remnant_commands_ask_for_it_at_start() -> None:
    probe = (
        "import atexit, os, sys\n"
        f"atexit.register(lambda: print(os.environ.get({WAIT_POLICY_VARIABLE!r})))\n"
        "sys.argv = ['remnant', '--version']\n"
        "from remnant.cli import main\n"
        "main()"
    )
    env = {k: v for k, v in os.environ.items() if k != WAIT_POLICY_VARIABLE}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.stdout.split()[-1] == "PASSIVE", done.stdout + done.stderr
