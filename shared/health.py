"""Health: is the service able to take and process batches, and is data flowing?

The anonymous probe says only ok / unhealthy (load balancers and uptime checks need no
more, and an anonymous caller must learn nothing). The admin view names what is wrong:
storage reachability, batches waiting, quarantines and poisoned batches in the last
24 h, and the last successful batch per on-prem server, so a server that stopped
sending shows up before anyone misses its calls.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.storage import layout
from shared.storage.clients import Clients

PROBE_TIMEOUT_S = 3.0
PENDING = ("receiving", "accepted", "processing")


def build_version() -> str:
    return os.environ.get("CDC_BUILD_VERSION") or "dev"


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


async def public_health(clients: Clients) -> tuple[int, dict[str, Any]]:
    checks = await dependency_checks(clients)
    ok = all(c["ok"] for c in checks)
    return (200 if ok else 503), {"status": "ok" if ok else "unhealthy"}


def _age_s(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    return round((now - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds(), 1)


async def admin_health(clients: Clients, principal: Principal) -> tuple[int, dict[str, Any]]:
    principal.require(ADMIN)
    now = datetime.now(timezone.utc)
    checks = await dependency_checks(clients)
    body: dict[str, Any] = {
        "status": "ok",
        "version": build_version(),
        "checks": checks,
        "tenantId": principal.tenant_id,
    }
    if not all(c["ok"] for c in checks):
        body["status"] = "unhealthy"
        return 503, body
    since = (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    container = clients.container(layout.BATCHES)
    pending = [
        b
        async for b in container.query_items(
            "SELECT c.batchId, c.receivedAt, c.status FROM c WHERE c.tenantId = @t AND "
            "ARRAY_CONTAINS(@pending, c.status)",
            parameters=[
                {"name": "@t", "value": principal.tenant_id},
                {"name": "@pending", "value": list(PENDING)},
            ],
            partition_key=principal.tenant_id,
        )
    ]
    recent = [
        b
        async for b in container.query_items(
            "SELECT c.batchId, c.status, c.quarantined, c.sourceFqdn, c.completedAt, c.failure "
            "FROM c WHERE c.tenantId = @t AND c.completedAt >= @since",
            parameters=[
                {"name": "@t", "value": principal.tenant_id},
                {"name": "@since", "value": since},
            ],
            partition_key=principal.tenant_id,
        )
    ]
    servers = [
        b
        async for b in container.query_items(
            "SELECT c.sourceFqdn, c.completedAt FROM c WHERE c.tenantId = @t AND "
            "(c.status = 'completed' OR c.status = 'completedWithErrors')",
            parameters=[{"name": "@t", "value": principal.tenant_id}],
            partition_key=principal.tenant_id,
        )
    ]
    oldest = min((b["receivedAt"] for b in pending if b.get("receivedAt")), default=None)
    last_by_server: dict[str, str] = {}
    for b in servers:  # aggregate in Python: no GROUP BY on the emulator, few rows
        fqdn, at = b.get("sourceFqdn") or "unknown", b.get("completedAt") or ""
        if at > last_by_server.get(fqdn, ""):
            last_by_server[fqdn] = at
    poisoned = [b for b in recent if b.get("status") == "failed"]
    body |= {
        "pendingBatches": len(pending),
        "oldestUnprocessedBatchAgeS": _age_s(oldest, now),
        "last24h": {
            "batches": len(recent),
            "quarantinedRecords": sum(int(b.get("quarantined") or 0) for b in recent),
            "poisonedBatches": len(poisoned),
            "poisoned": [
                {"batchId": b["batchId"], "reason": (b.get("failure") or "")[:300]}
                for b in poisoned[:20]
            ],
        },
        "sources": [
            {"fqdn": f, "lastSuccessAt": at, "ageS": _age_s(at, now)}
            for f, at in sorted(last_by_server.items())
        ],
    }
    if poisoned or (body["oldestUnprocessedBatchAgeS"] or 0) > 900:
        body["status"] = "degraded"
    from shared.graph.status import health_section  # Teams tenants only (Microsoft Graph)

    graph = await health_section(clients, principal.tenant_id, now)
    if graph is not None:
        body["graph"] = graph
        if graph.get("degraded"):
            body["status"] = "degraded"
    return 200, body
