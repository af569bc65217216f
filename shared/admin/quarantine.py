"""Quarantined records (docs/reference/data.md, "nothing lost"): an admin lists them by
batch and reason, reads one (audited: a record holds EUII), replays one or all of a
batch after a parser fix, or discards one.

Counts stay reconciled (received = stored + excluded + quarantined): a replay that
stores or excludes the record moves it from `quarantined` to `stored` or `excluded` in
the same etag-conditional write of the batch status that records its index in
`replayed`, so a retried replay moves it once. A discarded record keeps its place and
its reason, counted as quarantined, with the record itself removed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from shared import paging
from shared.analytics.service import iso
from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.errors import Conflict, Invalid, NotFound
from shared.models.envelope import BATCH_ID_RE
from shared.paging import decode_page_token, encode_page_token, fingerprint
from shared.processor import BatchProcessor
from shared.settings import Settings
from shared.storage import audit as audit_store
from shared.storage import quarantine as store
from shared.storage.batches import read_batch, update_batch
from shared.storage.clients import Clients
from shared.storage.layout import quarantine_blob_name


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchId": doc.get("batchId"),
        "index": doc.get("index"),
        "reason": doc.get("reason"),
        "discarded": bool(doc.get("discardedAt")),
        "discardedAt": doc.get("discardedAt"),
        "lastReplayAt": doc.get("lastReplayAt"),
    }


async def list_quarantine(
    clients: Clients,
    principal: Principal,
    batch_id: str | None,
    reason: str | None,
    continuation: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The tenant's quarantined records (of one batch, with a reason containing
    `reason`), a page at a time in blob-name order; `byReason` and `count` are the
    page's. The token is the last blob name returned, so a record replayed or discarded
    in between shifts nothing."""
    principal.require(ADMIN)
    if batch_id and not BATCH_ID_RE.match(batch_id):
        # not a blob prefix any batch can have (control characters would reach storage)
        raise Invalid("batchId is not a batch id", field="batchId")
    query = {"batchId": batch_id, "reason": reason}
    state = decode_page_token(continuation, ("q", "after"))
    if state is not None and state["q"] != fingerprint(query):
        raise Invalid("continuation token is not valid for this query", field="continuationToken")
    text = (reason or "").lower()
    docs, last = await store.page_records(
        clients,
        principal.tenant_id,
        batch_id,
        state["after"] if state else None,
        lambda d: text in str(d.get("reason")).lower(),
        paging.PAGE_ROWS if limit is None else limit,
    )
    items = [_summary(d) for d in docs]
    reasons: dict[str, int] = {}
    for item in items:
        reasons[str(item["reason"])] = reasons.get(str(item["reason"]), 0) + 1
    token = encode_page_token({"q": fingerprint(query), "after": last}) if last else None
    return {
        "items": items,
        "byReason": dict(sorted(reasons.items())),
        "count": len(items),
        "continuationToken": token,
    }


def _index(raw: str) -> int:
    if not raw.isdigit():
        raise Invalid("index must be a record index (0, 1, ...)", field="index")
    return int(raw)


async def _record(clients: Clients, tenant_id: str, batch_id: str, index: int) -> dict[str, Any]:
    doc = await store.read_record(clients, quarantine_blob_name(tenant_id, batch_id, index))
    if doc is None or doc.get("tenantId") != tenant_id:
        raise NotFound("no quarantined record with that batch and index", field="index")
    return doc


async def read_quarantined(
    clients: Clients, principal: Principal, batch_id: str, raw_index: str
) -> dict[str, Any]:
    """The record itself; every read leaves an audit record (who, which record)."""
    principal.require(ADMIN)
    index = _index(raw_index)
    doc = await _record(clients, principal.tenant_id, batch_id, index)
    now = datetime.now(timezone.utc)
    await audit_store.write_entry(
        clients,
        {
            "id": str(uuid.uuid4()),
            "pk": audit_store.audit_pk(principal.tenant_id, now),
            "tenantId": principal.tenant_id,
            "at": iso(now),
            "action": "quarantine.read",
            "actorId": principal.object_id,
            "actorName": principal.name,
            "level": principal.level,
            "field": f"{batch_id}/{index}",
        },
    )
    return _summary(doc) | {"record": doc.get("record")}


async def _move_counts(
    clients: Clients, tenant_id: str, batch_id: str, index: int, outcome: str
) -> None:
    """quarantined -1, `outcome` +1, once per index (the index goes into `replayed` in
    the same conditional write)."""
    for _ in range(10):
        batch = await read_batch(clients, tenant_id, batch_id)
        if batch is None:
            raise NotFound("the record's batch status no longer exists", field="batchId")
        replayed = list(batch.get("replayed") or [])
        if index in replayed:
            return
        changes = {
            "replayed": [*replayed, index],
            "quarantined": max(0, int(batch.get("quarantined") or 0) - 1),
            outcome: int(batch.get(outcome) or 0) + 1,
        }
        done = await update_batch(clients, tenant_id, batch_id, changes)
        if done is not None and index in (done.get("replayed") or []):
            return
    raise Conflict("the batch status kept changing; replay again", field="batchId")


async def _replay(
    clients: Clients, settings: Settings, tenant_id: str, batch_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    index = int(doc["index"])
    name = quarantine_blob_name(tenant_id, batch_id, index)
    if doc.get("discardedAt"):
        return {"index": index, "outcome": "discarded", "reason": doc.get("reason")}
    processor = BatchProcessor(clients, settings)
    outcome, reason = await processor.replay_record(tenant_id, batch_id, index, doc["record"])
    if outcome == "quarantined":
        await store.write_record(
            clients, name, doc | {"reason": reason, "lastReplayAt": iso(datetime.now(timezone.utc))}
        )
        return {"index": index, "outcome": outcome, "reason": reason}
    await _move_counts(clients, tenant_id, batch_id, index, outcome)
    await store.delete_record(clients, name)
    return {"index": index, "outcome": outcome, "reason": None}


async def replay(
    clients: Clients,
    settings: Settings,
    principal: Principal,
    batch_id: str,
    raw_index: str | None,
) -> dict[str, Any]:
    """Replay one record (`raw_index`) or every record of the batch."""
    principal.require(ADMIN)
    tenant_id = principal.tenant_id
    if await read_batch(clients, tenant_id, batch_id) is None:
        raise NotFound("no batch with that id", field="batchId")
    if raw_index is not None:
        docs = [await _record(clients, tenant_id, batch_id, _index(raw_index))]
    else:
        docs = await store.list_records(clients, tenant_id, batch_id)
    results = [await _replay(clients, settings, tenant_id, batch_id, d) for d in docs]
    batch = await read_batch(clients, tenant_id, batch_id) or {}
    return {
        "batchId": batch_id,
        "results": results,
        "counts": {k: batch.get(k, 0) for k in ("received", "stored", "excluded", "quarantined")},
    }


async def discard(
    clients: Clients, principal: Principal, batch_id: str, raw_index: str
) -> dict[str, Any]:
    """Remove the record, keep its place and reason (it stays counted as quarantined)."""
    principal.require(ADMIN)
    index = _index(raw_index)
    name = quarantine_blob_name(principal.tenant_id, batch_id, index)
    doc = await _record(clients, principal.tenant_id, batch_id, index)
    if not doc.get("discardedAt"):
        doc = doc | {
            "record": None,
            "discardedAt": iso(datetime.now(timezone.utc)),
            "discardedBy": principal.name or principal.object_id or principal.app_id,
        }
        await store.write_record(clients, name, doc)
    return _summary(doc)
