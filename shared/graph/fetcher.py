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

Ordering is `shared.parsing.graph.record_order`: (version, lastModifiedDateTime); only
a copy strictly greater than the one last handed over is submitted. The records of
concurrent fetches are handed over as a group (`shared.graph.handover`): one read of
their version marks, one batch, one write of the marks; each invocation returns once
its group is done, so the message is deleted only after its record is durable.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import time
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


async def hand_over_group(
    clients: Clients,
    settings: Settings,
    config: GraphConfig,
    tenant_id: str,
    records: list[dict[str, Any]],
    extras: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """A hand-over group's work, in three storage steps whatever its size: read the
    group's version marks (one query), submit the records that are strictly newer as
    one batch, write their marks (one transactional batch)."""
    ids = [str(r["id"]) for r in records]
    marks = await graph_state.read_record_versions(clients, tenant_id, ids)
    fresh = [r for r in records if newer(r, marks.get(str(r["id"])))]
    outcomes = dict.fromkeys(ids, "unchanged")
    if not fresh:
        return outcomes
    batches = await _submit_group(clients, settings, config, tenant_id, fresh)
    stored_at, done = iso(now()), time.perf_counter()
    new_marks: dict[str, dict[str, Any]] = {}
    for record in fresh:
        if isinstance(batches[str(record["id"])], BaseException):
            continue
        rid, (version, modified) = str(record["id"]), record_order(record)
        extra = extras.get(rid, {})
        new_marks[rid] = {
            "status": "stored",
            "version": version,
            "lastModified": modified,
            "batchId": batches[rid],
            "notifiedAt": extra.get("notifiedAt"),
            "storedAt": stored_at,
            "sessions": len(record.get("sessions") or []),
            # where a fetch spends its time (bench/graph reports these)
            "fetchMs": extra.get("fetchMs"),
            "handoverMs": round((done - float(extra.get("handedAt") or done)) * 1000, 1),
            "groupSize": len(fresh),
        }
        outcomes[rid] = "stored"
    await graph_state.save_record_versions(clients, tenant_id, new_marks)
    failed = {rid: b for rid, b in batches.items() if isinstance(b, BaseException)}
    return outcomes | failed


async def _submit_group(
    clients: Clients,
    settings: Settings,
    config: GraphConfig,
    tenant_id: str,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Record id -> the id of the batch that holds it. A group the ingest refuses as a
    whole (a domain error: invalid, too large) is sent again one record per batch, so one
    bad record fails only its own message (its error in place of a batch id) and never
    poisons the records fetched beside it."""
    from shared.errors import DomainError, Unavailable

    body = envelope(tenant_id, records, config)
    try:
        await submit(clients, settings, tenant_id, body)
        return dict.fromkeys((str(r["id"]) for r in records), str(body["batchId"]))
    except DomainError as exc:
        if len(records) == 1 or isinstance(exc, Unavailable):
            raise
    out: dict[str, Any] = {}
    for record in records:
        one = envelope(tenant_id, [record], config)
        try:
            await submit(clients, settings, tenant_id, one)
            out[str(record["id"])] = str(one["batchId"])
        except DomainError as exc:
            if isinstance(exc, Unavailable):
                raise
            out[str(record["id"])] = exc
    return out


async def fetch(
    clients: Clients,
    settings: Settings,
    graph: GraphClient,
    config: GraphConfig,
    message: dict[str, Any],
) -> str:
    tenant, record_id = str(message["tenantId"]).lower(), str(message["recordId"])
    attempt = int(message.get("attempt") or 0)
    started = time.perf_counter()
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
    handed_at = time.perf_counter()
    extra = {
        "notifiedAt": message.get("notifiedAt"),
        "fetchMs": round((handed_at - started) * 1000, 1),
        "handedAt": handed_at,
    }
    return await handover().hand_over(
        tenant,
        record,
        functools.partial(hand_over_group, clients, settings, config),
        scope=(id(clients), config),
        extra=extra,
    )


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
