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

Ordering is `shared.parsing.graph.record_order`: (version, lastModifiedDateTime). The
fetch reads the last handed-over key at the same time as the GET, submits only a
strictly greater one, and records of concurrent fetches travel together in one batch
(`shared.graph.handover`), each invocation returning once its batch is durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from typing import Any

from shared.auth.tokens import Principal
from shared.graph.client import GraphClient, NotFound, Throttled
from shared.graph.config import GraphConfig
from shared.graph.handover import handover
from shared.graph.subscriptions import iso, now
from shared.parsing.graph import record_order
from shared.settings import Settings
from shared.storage import graph_state
from shared.storage.clients import Clients
from shared.storage.queues import send_messages

log = logging.getLogger(__name__)
NOT_FOUND_ATTEMPTS = 8  # 1 + 2 + ... + 128 x the first delay (60 s: about 4 hours)
MAX_DELAY_S = 1800


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.endswith("@odata.context")}


def batch_id(records: list[dict[str, Any]]) -> str:
    """Derived from the records' content: the same group sent again (a retried
    invocation) is the same batch, so the ingest answers 200 and nothing is processed
    twice; a different group is a different batch, never a conflict."""
    canonical = json.dumps(
        sorted((_clean(r) for r in records), key=lambda r: str(r.get("id"))),
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
    first = records[0]
    version, _ = record_order(first)
    label = f"{first['id']}-v{version}" if len(records) == 1 else f"{len(records)}x"
    return f"graph-{label}-{digest}"[:128]


def envelope(tenant_id: str, records: list[dict[str, Any]], config: GraphConfig) -> dict[str, Any]:
    host = config.origin.split("://", 1)[-1]
    return {
        "schemaVersion": "1.0",
        "batchId": batch_id(records),
        "tenantId": tenant_id,
        "source": {"type": "teams-graph", "fqdn": host or "graph.microsoft.com", "version": "v1.0"},
        "sentAt": iso(now()),
        "records": [
            {"kind": "callRecord", "format": "graph-v1", "data": _clean(r)} for r in records
        ],
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


def newer(record: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """Whether a fetched copy must be handed over: strictly greater on `record_order`
    than the last copy handed over (none yet: yes). Equal is a redelivery or a backfill
    overlap, smaller an older copy: both change nothing."""
    if not previous or previous.get("status") != "stored":
        return True
    before = record_order(
        {"version": previous.get("version"), "lastModifiedDateTime": previous.get("lastModified")}
    )
    return record_order(record) > before


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
    got, previous = await asyncio.gather(
        graph.call_record(tenant, record_id),
        graph_state.read_record_version(clients, tenant, record_id),
        return_exceptions=True,
    )
    try:
        if isinstance(got, BaseException):
            raise got
        if isinstance(previous, BaseException):
            raise previous
        record = got
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
    if not newer(record, previous):
        return "unchanged"
    key = record_order(record)

    async def send(group_tenant: str, records: list[dict[str, Any]]) -> str:
        body = envelope(group_tenant, records, config)
        await submit(clients, settings, group_tenant, body)
        return str(body["batchId"])

    handed = await handover().hand_over(tenant, record, send, scope=(id(clients), config))
    await graph_state.save_record_version(
        clients,
        tenant,
        record_id,
        {
            "status": "stored",
            "version": key[0],
            "lastModified": key[1],
            "batchId": handed,
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
