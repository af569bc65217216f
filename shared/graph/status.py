"""What admin health shows of the Graph fetch path (never the clientState)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.storage import graph_state
from shared.storage.clients import Clients

_PUBLIC = (
    "subscriptionId",
    "status",
    "expiresAt",
    "createdAt",
    "lastRenewalAt",
    "lastNotificationAt",
    "lastRejectedAt",
    "notifications",
    "rejected",
    "renewals",
    "creations",
    "errors",
    "lifecycle",
    "lastLifecycleAt",
    "createReason",
)


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
        "backfills": [
            {
                k: r.get(k)
                for k in (
                    "runId",
                    "reason",
                    "from",
                    "to",
                    "status",
                    "listed",
                    "queued",
                    "startedAt",
                    "completedAt",
                )
            }
            for r in runs[:10]
        ],
    }


async def health_section(clients: Clients, tenant_id: str, now: datetime) -> dict[str, Any] | None:
    """For a tenant configured for Graph: the subscription and the latest backfills;
    degraded when the subscription is missing, expired or expires within 12 hours
    (the renewal timer should have renewed it a day ahead)."""
    from shared.graph.config import graph_config
    from shared.graph.subscriptions import parse_iso

    if not graph_config().is_tenant(tenant_id):
        return None
    out = await graph_status(clients, tenant_id)
    sub = out["subscription"] or {}
    expires = sub.get("expiresAt")
    left_h = (parse_iso(expires) - now).total_seconds() / 3600 if expires else None
    out["subscriptionHoursLeft"] = round(left_h, 1) if left_h is not None else None
    out["degraded"] = left_h is None or left_h < 12 or sub.get("status") != "active"
    return out
