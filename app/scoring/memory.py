"""Keep the memory a detection run frees for the runs after it, instead of handing it back to the kernel.

A run allocates and frees gigabytes of short-lived arrays.  glibc's malloc returns large blocks to the kernel as
soon as they are freed (blocks of 128 kB to 32 MB and more are mapped one by one, and the top of each heap is
trimmed), so the next array of that size is mapped again and every page of it is faulted in once more.  On a
virtual machine whose host reclaims the memory its guest frees (free page reporting, ballooning: Firecracker,
most clouds' VMs), such a fault costs far more than on bare metal: on the benchmark machine a run spent a quarter
of its CPU time in the kernel, ~2 ms per MB taken afresh (README.md, Detection runs).

:func:`keep_freed_memory` makes the process keep what it freed for reuse: no block is mapped on its own (all come
from the heap), the heap is not trimmed, and all threads allocate from one arena, so memory that the linking
thread frees serves the feature thread's next array (with an arena per thread, each kept its own peak).  The cost
is that a worker's resident memory stays at its peak between runs, where a run would take it again anyway.
``DISTILLGUARD_DETECTION_KEEP_MEMORY=false`` turns it off.  It changes how memory is allocated, never what is
computed.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading

log = logging.getLogger(__name__)

# mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
# the largest value mallopt takes (an int): the heap is trimmed only once 2 GB at its top are free
NEVER_TRIM = 2**31 - 1

_lock = threading.Lock()
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory (once per process); whether it is set.  False where the C library
    is not glibc (musl, macOS): there the allocator is left as it is."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    settings = {"M_MMAP_MAX": (M_MMAP_MAX, 0), "M_TRIM_THRESHOLD": (M_TRIM_THRESHOLD, NEVER_TRIM),
                "M_ARENA_MAX": (M_ARENA_MAX, 1)}  # fmt: skip
    failed = [name for name, (parameter, value) in settings.items() if libc.mallopt(parameter, value) != 1]
    if failed:
        log.warning("malloc settings refused", extra={"parameters": failed})
    return not failed
