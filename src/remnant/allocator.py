"""Keep freed memory in the process for reuse: what a long estimate runs with.

An estimate allocates and frees arrays of tens to hundreds of megabytes again and
again (a country's pairs are 25 M rows). By default glibc's ``malloc`` gives each
allocation above 32 MB a mapping of its own and hands it back to the kernel when it
is freed, and an allocation above 128 KB may trim the heap; the next large array then
gets fresh pages, which the kernel must zero and a virtual machine may first have to
get from its host. On the development machine (a 2-core VM) writing a freshly mapped
gigabyte took 1.1–3.7 s and writing a reused one 0.06–0.10 s, so an incremental update
spent more time on fresh pages than on its arithmetic.

:func:`keep_freed_memory` raises glibc's mmap and trim thresholds (``mallopt``), so
that freed arrays stay in the heap and the next ones reuse them. The peak memory is
the same or a little higher (a freed block is reused only by an array that fits in
it; ``benchmarks/README.md`` measures it); the process simply does not shrink again
until it exits. ``remnant`` commands call it at start, and the benchmarks do too, so
that they time what the command does. Elsewhere than on glibc it does nothing.

It also asks NumPy not to advise transparent huge pages for its large arrays
(``madvise(MADV_HUGEPAGE)`` on arrays of 4 MB or more, NumPy's default on Linux
kernels 4.6 and newer [2]_). In a heap kept for reuse the advice costs more than it
saves: the first touch of a huge page zeroes all 2 MB of it, also where an array is
written sparsely (a mask of a million points set at a few thousand, a grid written in
a few tiles). On the development machine a country's incremental evidence update
spent 2.2–2.8 s of system time with the advice and 0.7–0.9 s without, and took
7.1–9.9 s against 5.6–5.7 s (three fresh processes each, in turn;
``benchmarks/README.md``).

The same holds for Arrow, which holds pandas' text columns: its default memory pool,
mimalloc, reserves arenas of a gigabyte with ``madvise(MADV_HUGEPAGE)`` (seen with
``strace -k``: a country's incremental update took 7–38 huge pages there). On the
development machine the first touch of a 2 MB page took 14–16 ms, a gigabyte 15–17 s
against 0.6–0.9 s in 4 KB pages (benchmarks/README.md), so :func:`keep_freed_memory`
also makes the system allocator, glibc's with the thresholds above, Arrow's default
pool [3]_.

References
----------
.. [1] glibc manual, "Memory Allocation Tunables" and ``mallopt(3)``:
   https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html
.. [2] NumPy, "Global state: madvise hugepage on Linux" (the
   ``NUMPY_MADVISE_HUGEPAGE`` environment variable, checked at import):
   https://numpy.org/doc/stable/reference/global_state.html
.. [3] Apache Arrow, "Memory Management: Memory Pools" (``pyarrow.set_memory_pool``,
   ``pyarrow.system_memory_pool``): https://arrow.apache.org/docs/python/memory.html,
   and "Environment Variables" (``ARROW_DEFAULT_MEMORY_POOL``):
   https://arrow.apache.org/docs/cpp/env_vars.html
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

from numpy._core import multiarray

MMAP_THRESHOLD = 1 << 30
"""Allocations at least this large still get a mapping of their own (none of an
estimate's arrays at country scale is this large). [bytes]"""

TRIM_THRESHOLD = (1 << 31) - 1
"""Free memory at the top of the heap kept rather than trimmed: ``mallopt`` takes an
``int``, so the largest it accepts. [bytes]"""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
"""The environment variable that names Arrow's default pool when Arrow first makes it
[3]_: set, rather than importing Arrow at every command's start (a third of a second)
to set the pool itself."""


def keep_freed_memory() -> bool:
    """Keep freed memory for reuse and small pages (module doc); whether glibc could."""
    set_hugepage = getattr(multiarray, "_set_madvise_hugepage", None)
    if set_hugepage is not None:  # NumPy's own switch, as NUMPY_MADVISE_HUGEPAGE=0 sets it
        set_hugepage(False)
    os.environ[ARROW_POOL_VARIABLE] = "system"  # read when Arrow first makes its pool
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:  # imported already: its pool may be made
        arrow.set_memory_pool(arrow.system_memory_pool())
    if platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD))
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(TRIM_THRESHOLD))
    return bool(ok)
