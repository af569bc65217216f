"""Giving freed heap back to the operating system between a batch's commit groups.

A commit group's aggregate documents are read, changed and written as hundreds of
thousands of small Python objects (`shared.storage.aggregates`); once the group is done
they are freed, but glibc keeps the freed pages of its heap and arenas for reuse, so the
processor's resident size stepped up at every group of a large batch and never came
down (bench/pipeline `--only rss`). `malloc_trim(0)` hands the free pages back; it costs
well under a millisecond per call here, once per group of up to 400 calls. Not glibc
(musl, macOS): nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_memory() -> bool:
    """Return the allocator's free pages to the OS; whether it could (glibc only)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
