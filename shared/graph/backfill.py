"""Backfill: every call record Graph lists in a window, fetched like a notification.

Why a list and not a replay: Graph has no replay of notifications. `GET
/communications/callRecords?$filter=startDateTime ge .. and startDateTime lt ..`
(paged by `@odata.nextLink`) names the records of a window; each id becomes a normal
fetch message, so a record already stored costs one GET and changes nothing.
Started by the admin API, once when a tenant's first subscription is created, and by
the lifecycle events that mean notifications were lost. The window is clamped to
Graph's 30-day retention. Progress and counts live in a `backfill` document (admin
health shows the latest runs).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.errors import Invalid
from shared.graph.client import GraphClient, Throttled
from shared.graph.config import GraphConfig
from shared.graph.subscriptions import RETENTION_DAYS, iso, now, parse_iso
from shared.storage import graph_state
from shared.storage.clients import Clients
from shared.storage.queues import send_messages

log = logging.getLogger(__name__)
QUEUE_CHUNK = 100


def window(start: str | None, end: str | None, at: datetime) -> tuple[datetime, datetime]:
    """Validate an admin's `from`/`to` (ISO-8601); 400 naming the field otherwise."""
    parsed: dict[str, datetime] = {}
    for name, value in (("from", start), ("to", end)):
        if not isinstance(value, str) or not value:
            raise Invalid(f"`{name}` is required (ISO-8601 date-time)", field=name)
        try:
            parsed[name] = parse_iso(value)
        except ValueError:
            raise Invalid(f"`{name}` is not an ISO-8601 date-time", field=name) from None
    if parsed["to"] <= parsed["from"]:
        raise Invalid("`to` must be after `from`", field="to")
    if parsed["to"] > at + timedelta(minutes=5):
        raise Invalid("`to` is in the future", field="to")
    if parsed["from"] < at - timedelta(days=RETENTION_DAYS):
        raise Invalid(
            f"Graph keeps call records {RETENTION_DAYS} days: `from` is older", field="from"
        )
    return parsed["from"], parsed["to"]


async def start(
    config: GraphConfig, tenant_id: str, begin: datetime, end: datetime, reason: str
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:16]
    await send_messages(
        config.queue,
        [
            {
                "op": "backfill",
                "tenantId": tenant_id,
                "from": iso(begin),
                "to": iso(end),
                "reason": reason,
                "runId": run_id,
            }
        ],
    )
    return {
        "runId": run_id,
        "tenantId": tenant_id,
        "from": iso(begin),
        "to": iso(end),
        "status": "queued",
        "reason": reason,
    }


async def run(
    clients: Clients, graph: GraphClient, config: GraphConfig, message: dict[str, Any]
) -> str:
    tenant = str(message["tenantId"]).lower()
    at = now()
    begin = max(parse_iso(str(message["from"])), at - timedelta(days=RETENTION_DAYS))
    end = parse_iso(str(message["to"]))
    run_id = str(
        message.get("runId")
        or uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}|{message['from']}|{message['to']}").hex[:16]
    )
    if "runId" not in message:
        message = message | {"runId": run_id}
    doc_id = f"backfill:{run_id}"
    await graph_state.upsert_doc(
        clients,
        {
            "id": doc_id,
            "tenantId": tenant,
            "kind": "backfill",
            "runId": run_id,
            "from": iso(begin),
            "to": iso(end),
            "reason": message.get("reason"),
            "status": "listing",
            "startedAt": iso(at),
            "listed": 0,
            "queued": 0,
            "ttl": 90 * 86_400,
        },
    )
    ids: list[str] = []
    try:
        async for item in graph.list_call_records(tenant, begin, end):
            if isinstance(item.get("id"), str):
                ids.append(item["id"])
    except Throttled as exc:  # start over later: fetches of listed ids are idempotent
        await send_messages(
            config.queue, [message], visibility_timeout=max(1, int(exc.retry_after))
        )
        return "throttled"
    for i in range(0, len(ids), QUEUE_CHUNK):
        await send_messages(
            config.queue,
            [
                {
                    "op": "fetch",
                    "tenantId": tenant,
                    "recordId": rid,
                    "notifiedAt": iso(at),
                    "attempt": 0,
                    "backfill": run_id,
                }
                for rid in ids[i : i + QUEUE_CHUNK]
            ],
        )
    logs_queued = False
    if message.get("logs", True):
        from shared.graph.pstn import queue_logs

        logs_queued = await queue_logs(config, tenant, begin, end)

    def done(doc: dict[str, Any]) -> None:
        doc.update(
            {
                "status": "queued",
                "listed": len(ids),
                "queued": len(ids),
                "logsQueued": logs_queued,
                "completedAt": iso(now()),
            }
        )

    await graph_state.update_doc(clients, tenant, doc_id, done)
    log.info("graph backfill listed %d call records", len(ids))
    return "backfill"
