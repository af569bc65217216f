"""The processor's release of freed heap between commit groups (shared.storage.heap)."""

from __future__ import annotations

import platform

from shared.storage import heap


def test_release_memory_trims_on_glibc_and_is_harmless_elsewhere() -> None:
    released = heap.release_memory()
    assert released is (platform.libc_ver()[0] == "glibc")
    assert heap.release_memory() is released  # the library is looked up once
