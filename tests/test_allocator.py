"""Freed memory kept for reuse (remnant.allocator): a freed large array stays in the process."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from remnant.allocator import ARROW_POOL_VARIABLE

_PROBE = """
import sys
import numpy as np
from remnant.allocator import keep_freed_memory

def resident():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096

kept = keep_freed_memory() if sys.argv[1] == "keep" else None
a = np.ones(25_000_000)  # 200 MB, one country's pair weights
before = resident()
del a
print(kept, before - resident())
"""


def _freed_bytes(mode: str) -> tuple[str, int]:
    """Run the probe in a fresh process; whether it kept memory, and how much it gave back."""
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], check=True, capture_output=True,
                         text=True).stdout.split()  # fmt: skip
    return out[0], int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_freed_large_array_stays_for_reuse_only_when_asked() -> None:
    kept, returned = _freed_bytes("keep")
    assert kept == "True" and returned < 10_000_000  # kept in the heap for the next array
    default, returned = _freed_bytes("default")
    assert default == "None" and returned > 150_000_000  # glibc unmaps it by default


def test_numpy_is_asked_not_to_advise_huge_pages() -> None:
    """After the call, NumPy no longer advises transparent huge pages for large arrays."""
    probe = (
        "from numpy._core import multiarray as m\n"
        "from remnant.allocator import keep_freed_memory\n"
        "before = m._get_madvise_hugepage(); keep_freed_memory()\n"
        "print(before, m._get_madvise_hugepage())"
    )
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1"}  # on at import, whatever the kernel
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True, env=env).stdout.split()  # fmt: skip
    assert out == ["True", "False"]


_ARROW_PROBE = """
import sys
from remnant.allocator import keep_freed_memory

if sys.argv[1] == "keep-first":  # as a command does, before anything imports Arrow
    keep_freed_memory()
import pyarrow as pa
if sys.argv[1] == "keep":  # after Arrow is imported
    keep_freed_memory()
texts = pa.array([f"FIND-{i:09d}" for i in range(2_000_000)])  # a million finds' ids, twice
address = texts.buffers()[2].address
with open("/proc/self/smaps") as fh:
    lines = fh.read().splitlines()
flags = None
for line in lines:
    head = line.split()
    if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
        lo, hi = (int(x, 16) for x in head[0].split("-"))
        inside = lo <= address < hi
    elif line.startswith("VmFlags:") and inside:
        flags = line.split()[1:]
print(pa.default_memory_pool().backend_name, "hg" in flags)
"""


@pytest.mark.skipif(platform.system() != "Linux", reason="/proc/self/smaps is Linux's")
def test_arrow_text_columns_are_not_advised_huge_pages() -> None:
    """After the call, Arrow allocates from the system pool, whose mappings carry no
    ``MADV_HUGEPAGE`` advice (the ``hg`` flag of ``/proc/self/smaps``)."""

    env = {k: v for k, v in os.environ.items() if k != ARROW_POOL_VARIABLE}

    def probe(mode: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", _ARROW_PROBE, mode], check=True,
                              capture_output=True, text=True, env=env).stdout.split()  # fmt: skip

    assert probe("keep-first") == ["system", "False"]
    assert probe("keep") == ["system", "False"]
    assert probe("default")[0] != "system"  # Arrow's own pool (mimalloc or jemalloc) by default
