"""Quarantined records (docs/reference/data.md, "nothing lost"): an admin lists them by
batch and reason, reads one (audited: a record holds EUII), replays one or all of a
batch after a parser fix, or discards one. Replaying a whole batch goes in bounded runs
chained by a continuation token, like the other long admin walks, so no request runs
for as long as the batch is big and none stops at a limit without saying so.

Counts stay reconciled (received = stored + excluded + quarantined): a replay that
stores or excludes the record moves it from `quarantined` to `stored` or `excluded` in
the same etag-conditional write of the batch status that records its index in
`replayed`, so a retried replay moves it once. A discarded record keeps its place and
its reason, counted as quarantined, with the record itself removed.
"""

from __future__ import annotations

import asyncio
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
from shared.storage.batches import change_batch, read_batch
from shared.storage.clients import Clients
from shared.storage.layout import quarantine_blob_name

# One replay run of a batch (`POST .../quarantine/{batchId}/replay`) is a short request
# however many records the batch has: a window of at most RECORDS_PER_RUN records (a
# fixed number, not a time budget, so a retried run covers the same records); the
# continuation token carries the rest to the next run. A chunk is merged in one
# processor flush (one read-many, one merge per call).
RECORDS_PER_RUN = 100
CHUNK_RECORDS = 50


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
    clients: Clients, tenant_id: str, batch_id: str, moved: dict[int, str]
) -> dict[str, Any]:
    """For each index not yet in `replayed`: quarantined -1, its outcome (stored or
    excluded) +1, in one etag-conditional write that also adds the indexes to
    `replayed`, so a retried or concurrent replay moves each record once."""

    def change(batch: dict[str, Any]) -> dict[str, Any] | None:
        replayed = list(batch.get("replayed") or [])
        done = set(replayed)
        new = {i: o for i, o in sorted(moved.items()) if i not in done}
        if not new:
            return None
        changes: dict[str, Any] = {
            "replayed": [*replayed, *new],
            "quarantined": max(0, int(batch.get("quarantined") or 0) - len(new)),
        }
        for outcome in set(new.values()):
            added = sum(1 for o in new.values() if o == outcome)
            changes[outcome] = int(batch.get(outcome) or 0) + added
        return changes

    try:
        batch = await change_batch(clients, tenant_id, batch_id, change)
    except RuntimeError:
        raise Conflict("the batch status kept changing; replay again", field="batchId") from None
    if batch is None:
        raise NotFound("the record's batch status no longer exists", field="batchId")
    return batch


async def _replay_docs(
    clients: Clients,
    settings: Settings,
    tenant_id: str,
    batch_id: str,
    docs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Replay records of one batch together. A record still unusable keeps its blob with
    the new reason; one stored or excluded has its counts moved, then its blob removed
    (in that order: a run cut in between replays it again, which changes nothing)."""
    outcomes: dict[int, tuple[str, str | None]] = {}
    live = []
    for doc in docs:
        if doc.get("discardedAt"):
            outcomes[int(doc["index"])] = ("discarded", doc.get("reason"))
        else:
            live.append(doc)
    if live:
        processor = BatchProcessor(clients, settings)
        outcomes |= await processor.replay_records(
            tenant_id, batch_id, [(int(d["index"]), d["record"]) for d in live]
        )
    now = iso(datetime.now(timezone.utc))
    kept, moved = [], {}
    for doc in live:
        index = int(doc["index"])
        outcome, reason = outcomes[index]
        if outcome == "quarantined":
            kept.append(doc | {"reason": reason, "lastReplayAt": now})
        else:
            moved[index] = outcome
    names = {
        int(d["index"]): quarantine_blob_name(tenant_id, batch_id, int(d["index"])) for d in docs
    }
    await asyncio.gather(*(store.write_record(clients, names[int(d["index"])], d) for d in kept))
    if moved:
        await _move_counts(clients, tenant_id, batch_id, moved)
        await asyncio.gather(*(store.delete_record(clients, names[i]) for i in moved))
    return [
        {"index": i, "outcome": o, "reason": r if o in ("quarantined", "discarded") else None}
        for i, (o, r) in sorted(outcomes.items())
    ]


def _counts(batch: dict[str, Any] | None) -> dict[str, int]:
    return {
        k: int((batch or {}).get(k) or 0) for k in ("received", "stored", "excluded", "quarantined")
    }


async def replay(
    clients: Clients,
    settings: Settings,
    principal: Principal,
    batch_id: str,
    raw_index: str,
) -> dict[str, Any]:
    """Replay one record of a batch."""
    principal.require(ADMIN)
    tenant_id = principal.tenant_id
    if await read_batch(clients, tenant_id, batch_id) is None:
        raise NotFound("no batch with that id", field="batchId")
    doc = await _record(clients, tenant_id, batch_id, _index(raw_index))
    results = await _replay_docs(clients, settings, tenant_id, batch_id, [doc])
    return {
        "batchId": batch_id,
        "results": results,
        "counts": _counts(await read_batch(clients, tenant_id, batch_id)),
    }


async def _read_live(
    clients: Clients, tenant_id: str, batch_id: str, indexes: list[int]
) -> list[dict[str, Any]]:
    """The records at `indexes` that are still there (another run may have replayed one
    since the listing)."""
    docs = await asyncio.gather(
        *(store.read_record(clients, quarantine_blob_name(tenant_id, batch_id, i)) for i in indexes)
    )
    return [d for d in docs if d is not None and d.get("tenantId") == tenant_id]


async def replay_batch(
    clients: Clients,
    settings: Settings,
    principal: Principal,
    batch_id: str,
    continuation: str | None,
) -> dict[str, Any]:
    """One run over the batch's next window of `RECORDS_PER_RUN` record places, in
    index order; `remaining` counts the quarantined records after the window, and
    `continuationToken` starts the next run (null: the pass is over).

    A place is an index the batch ever quarantined: a record still in quarantine, or
    one a replay stored or excluded (`replayed` in the batch status). A replay moves a
    record from one to the other, so the window a token names is the same set of places
    every time it is run: a retried run replays only what is still quarantined in it
    (with the same outcome) and moves no count twice, and never reaches into the next
    window. The price is that a second pass walks the places the first one emptied too
    (no record read there, just the listing)."""
    principal.require(ADMIN)
    tenant_id = principal.tenant_id
    if not BATCH_ID_RE.match(batch_id):
        raise Invalid("batchId is not a batch id", field="batchId")
    query = {"batchId": batch_id}
    state = decode_page_token(continuation, ("q", "after"))
    if state is not None and (state["q"] != fingerprint(query) or not state["after"].isdigit()):
        raise Invalid("continuation token is not valid for this batch", field="continuationToken")
    after = int(state["after"]) if state else -1
    batch = await read_batch(clients, tenant_id, batch_id)
    if batch is None:
        raise NotFound("no batch with that id", field="batchId")
    quarantined = [i for i in await store.record_indexes(clients, tenant_id, batch_id) if i > after]
    moved = {int(i) for i in batch.get("replayed") or [] if int(i) > after}
    window = sorted(moved.union(quarantined))[:RECORDS_PER_RUN]
    end = window[-1] if window else after
    todo = [i for i in quarantined if i <= end]
    results: list[dict[str, Any]] = []
    for start in range(0, len(todo), CHUNK_RECORDS):
        docs = await _read_live(clients, tenant_id, batch_id, todo[start : start + CHUNK_RECORDS])
        results += await _replay_docs(clients, settings, tenant_id, batch_id, docs)
    remaining = sum(1 for i in quarantined if i > end)  # the window's replay moves none of them
    return {
        "batchId": batch_id,
        "results": results,
        "counts": _counts(await read_batch(clients, tenant_id, batch_id)),
        "replayed": len(results),
        "remaining": remaining,
        "continuationToken": (
            encode_page_token({"q": fingerprint(query), "after": str(end)}) if remaining else None
        ),
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
