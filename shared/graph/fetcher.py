"""The queue trigger's work: fetch a call record whole and hand it to the pipeline.

Why through the ingest path: the fetched record becomes a `callRecord`/`graph-v1`
batch in `incoming/` exactly as if an on-prem sender had posted it, so idempotency,
classification, exclusions, quarantine and aggregates are the ones that already
exist and are tested; nothing here writes a call.

Queue messages (one per call record id, base64 JSON): `{op: fetch, tenantId,
recordId, notifiedAt, attempt}`; the same queue carries `lifecycle`, `backfill` and
`logs` (PSTN / Direct Routing) work so all Graph traffic shares one throttle budget.

Outcomes of a fetch:
- stored: a newer version/lastModifiedDateTime than the last one handed over;
- unchanged: older or equal (duplicate notification, backfill overlap): nothing;
- retryLater: 404 shortly after the notification (Graph has not published it yet):
  re-queued with a doubling delay, up to NOT_FOUND_ATTEMPTS, never poisoned;
- throttled: 429/503/504 whose Retry-After exceeds the in-process budget: re-queued,
  invisible for Retry-After;
- notFound: still 404 after every retry (kept in the state with its time).
Anything else raises, and the host retries the message (then its poison queue).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Any

from shared.auth.tokens import Principal
from shared.graph.client import GraphClient, NotFound, Throttled
from shared.graph.config import GraphConfig
from shared.graph.subscriptions import iso, now
from shared.settings import Settings
from shared.storage import graph_state
from shared.storage.clients import Clients
from shared.storage.queues import send_messages

log = logging.getLogger(__name__)
NOT_FOUND_ATTEMPTS = 8  # 1 + 2 + ... + 128 x the first delay (60 s: about 4 hours)
MAX_DELAY_S = 1800


def _version_key(record: dict[str, Any]) -> tuple[int, str]:
    version = record.get("version")
    return (
        version if isinstance(version, int) and not isinstance(version, bool) else 0,
        str(record.get("lastModifiedDateTime") or ""),
    )


def batch_id(record: dict[str, Any]) -> str:
    """Deterministic per record version: a re-fetch of the same version is the same
    batch (the ingest answers 200, nothing is processed twice)."""
    version, modified = _version_key(record)
    digest = hashlib.sha256(modified.encode()).hexdigest()[:10]
    return f"graph-{record['id']}-v{version}-{digest}"[:128]


def envelope(tenant_id: str, record: dict[str, Any], config: GraphConfig) -> dict[str, Any]:
    clean = {
        k: v
        for k, v in record.items()
        if not k.endswith("@odata.context") and k != "@odata.context"
    }
    host = config.origin.split("://", 1)[-1]
    return {
        "schemaVersion": "1.0",
        "batchId": batch_id(record),
        "tenantId": tenant_id,
        "source": {"type": "teams-graph", "fqdn": host or "graph.microsoft.com", "version": "v1.0"},
        "sentAt": iso(now()),
        "records": [{"kind": "callRecord", "format": "graph-v1", "data": clean}],
    }


async def submit(clients: Clients, settings: Settings, tenant_id: str, body: dict[str, Any]) -> int:
    """Through `accept_batch` as the service itself (level ingest, the record's tenant):
    the same limits, validation and idempotency as a posted batch."""
    from shared.ingest import BodyFormat, accept_batch

    principal = Principal(
        tenant_id=tenant_id, object_id=None, name="graph-fetcher", levels=("ingest",)
    )
    raw = json.dumps(body, separators=(",", ":")).encode()
    result = await accept_batch(clients, settings, principal, raw, BodyFormat("application/json"))
    return 202 if result.created else 200


async def _requeue(config: GraphConfig, message: dict[str, Any], delay_s: float) -> None:
    await send_messages(
        config.queue, [message], visibility_timeout=max(1, min(math.ceil(delay_s), 7 * 86_400))
    )


async def fetch(
    clients: Clients,
    settings: Settings,
    graph: GraphClient,
    config: GraphConfig,
    message: dict[str, Any],
) -> str:
    tenant, record_id = str(message["tenantId"]).lower(), str(message["recordId"])
    attempt = int(message.get("attempt") or 0)
    try:
        record = await graph.call_record(tenant, record_id)
    except NotFound:
        if attempt + 1 < NOT_FOUND_ATTEMPTS:
            delay = min(config.not_found_delay_s * 2**attempt, MAX_DELAY_S)
            await _requeue(config, message | {"attempt": attempt + 1}, delay)
            return "retryLater"
        await graph_state.save_record_version(
            clients,
            tenant,
            record_id,
            {
                "status": "notFound",
                "notifiedAt": message.get("notifiedAt"),
                "checkedAt": iso(now()),
            },
        )
        log.warning("graph call record still 404 after %d attempts", attempt + 1)
        return "notFound"
    except Throttled as exc:
        await _requeue(config, message, exc.retry_after)
        return "throttled"
    key = _version_key(record)
    previous = await graph_state.read_record_version(clients, tenant, record_id)
    if (
        previous
        and previous.get("status") == "stored"
        and (int(previous.get("version") or 0), str(previous.get("lastModified") or "")) >= key
    ):
        return "unchanged"
    body = envelope(tenant, record, config)
    await submit(clients, settings, tenant, body)
    await graph_state.save_record_version(
        clients,
        tenant,
        record_id,
        {
            "status": "stored",
            "version": key[0],
            "lastModified": key[1],
            "batchId": body["batchId"],
            "notifiedAt": message.get("notifiedAt"),
            "storedAt": iso(now()),
            "sessions": len(record.get("sessions") or []),
        },
    )
    return "stored"


async def handle_message(
    clients: Clients,
    settings: Settings,
    graph: GraphClient,
    config: GraphConfig,
    message: dict[str, Any],
) -> str:
    """Dispatch one queue message; returns the outcome (for logs and tests)."""
    from shared.graph import backfill, subscriptions

    op = message.get("op", "fetch")
    if op == "fetch":
        return await fetch(clients, settings, graph, config, message)
    if op == "lifecycle":
        return await subscriptions.handle_lifecycle(
            clients, graph, config, str(message["tenantId"]), str(message["event"])
        )
    if op == "backfill":
        return await backfill.run(clients, graph, config, message)
    if op == "logs":
        from shared.graph import pstn

        return await pstn.run(clients, settings, graph, config, message)
    log.warning("graph queue: unknown op %r dropped", op)
    return "ignored"
