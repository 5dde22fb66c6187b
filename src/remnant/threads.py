"""Let the parallel kernels' worker threads sleep between kernels, not spin.

Remnant's parallel kernels run on numba's OpenMP threading layer (GNU ``libgomp`` on
Linux). Unless told otherwise, libgomp keeps a worker that has finished its share of a
parallel loop spinning for a while before it sleeps, so that the next loop starts a
few microseconds sooner [1]_. An estimate runs thousands of parallel loops with
Python, NumPy and the GeoTIFF's compression threads between them, and those then
share the two cores of the development machine with workers that spin and do nothing.

:func:`idle_threads_sleep` sets ``OMP_WAIT_POLICY=PASSIVE`` [2]_, which libgomp reads
when it is loaded (numba loads it at the first parallel kernel, not at import), unless
the variable is already set. On the development machine a country's incremental
update then spent 4.6–5.3 s of CPU time a repeat against 5.3–5.7 s, and took
3.28–3.72 s against 3.36–3.70 s (the medians of five repeats in each of four fresh
processes a side, in turn); the full estimate took 79.2 s against 78.0 s
(benchmarks/README.md). The wall
clock gains little on an idle machine; on a busy one, or a virtual machine whose host
is busy, the cycles a spinning worker burns are the ones the update waits for.
``remnant`` commands call it at start, and the benchmarks do too.

References
----------
.. [1] GCC, "GNU Offloading and Multi Processing Runtime Library": ``GOMP_SPINCOUNT``
   and ``OMP_WAIT_POLICY``: https://gcc.gnu.org/onlinedocs/libgomp/GOMP_005fSPINCOUNT.html
.. [2] OpenMP API 5.2, section 21.2.4 "OMP_WAIT_POLICY":
   https://www.openmp.org/spec-html/5.2/openmpse67.html
"""

from __future__ import annotations

import os

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
"""The environment variable OpenMP runtimes read for how idle threads wait."""


def idle_threads_sleep() -> str:
    """Ask the OpenMP runtime, before it loads, to let idle workers sleep.

    Returns the policy in force: ``"PASSIVE"``, or what the environment already said
    (a user's own setting wins).
    """
    return os.environ.setdefault(WAIT_POLICY_VARIABLE, "PASSIVE")
