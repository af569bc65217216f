"""Reachability probes of the two stores, each bounded by a timeout: the health routes
must answer quickly even when a dependency hangs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients

PROBE_TIMEOUT_S = 3.0


async def _probe(name: str, op: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(op(), PROBE_TIMEOUT_S)
        return {
            "name": name,
            "ok": True,
            "latencyMs": round((time.perf_counter() - start) * 1000, 1),
        }
    except Exception as exc:
        return {"name": name, "ok": False, "error": type(exc).__name__}


async def dependency_checks(clients: Clients) -> list[dict[str, Any]]:
    async def blob() -> None:
        await clients.blobs(layout.INCOMING).get_container_properties()

    async def cosmos() -> None:
        await clients.container(layout.BATCHES).read()

    return list(await asyncio.gather(_probe("blob", blob), _probe("cosmos", cosmos)))
