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
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.storage.batches import (
    batches_completed_since,
    batches_with_status,
    completed_by_source,
)
from shared.storage.clients import Clients
from shared.storage.probes import dependency_checks

PENDING = ("receiving", "accepted", "processing")


def build_version() -> str:
    return os.environ.get("CDC_BUILD_VERSION") or "dev"


async def public_health(clients: Clients) -> dict[str, Any]:
    checks = await dependency_checks(clients)
    ok = all(c["ok"] for c in checks)
    return {"status": "ok" if ok else "unhealthy"}


def _age_s(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    return round((now - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds(), 1)


async def admin_health(clients: Clients, principal: Principal) -> dict[str, Any]:
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
        return body
    since = (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    pending, recent, servers = await asyncio.gather(
        batches_with_status(clients, principal.tenant_id, PENDING),
        batches_completed_since(clients, principal.tenant_id, since),
        completed_by_source(clients, principal.tenant_id),
    )
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
    return body
