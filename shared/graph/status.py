"""What admin health shows of the Graph fetch path (never the clientState)."""

from __future__ import annotations

from typing import Any

from shared.storage import graph_state
from shared.storage.clients import Clients

_PUBLIC = ("subscriptionId", "status", "expiresAt", "createdAt", "lastRenewalAt",
           "lastNotificationAt", "lastRejectedAt", "notifications", "rejected", "renewals",
           "creations", "errors", "lifecycle", "lastLifecycleAt", "createReason")


def public_subscription(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not doc:
        return None
    return {k: doc.get(k) for k in _PUBLIC if k in doc}


async def graph_status(clients: Clients, tenant_id: str) -> dict[str, Any]:
    doc = await graph_state.read_subscription(clients, tenant_id)
    runs = await graph_state.query_kind(clients, tenant_id, "backfill")
    runs.sort(key=lambda r: r.get("startedAt") or "", reverse=True)
    return {
        "subscription": public_subscription(doc),
        "backfills": [{k: r.get(k) for k in ("runId", "reason", "from", "to", "status",
                                             "listed", "queued", "startedAt", "completedAt")}
                      for r in runs[:10]],
    }
