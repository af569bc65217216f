"""Applying a call's change to the aggregates exactly once, even across crashes.

Why not just "add the difference between result.previous and result.document": if the
processor dies after the call is written but before the aggregates are, the re-run finds
the call unchanged (previous == document) and the difference is lost forever; and two
processors merging the same call concurrently could apply overlapping differences. So
the aggregates themselves remember what they reflect, in three steps:

1. A per-call *ledger* document (aggregates container, its own partition
   `{tenantId}|ledger|{callId}`) holds the contribution the aggregates currently include
   for the call (`applied`), the record versions it was computed from (`records`), and
   a sequence number. It is the true "previous": whatever happened before, the
   aggregates equal the sum of every ledger's `applied` (plus in-flight transitions).
2. A change is a *transition* `seq`: first the ledger is written (etag-conditional) with
   `pending = {seq, contribution, records}`; then each affected aggregate document
   (`{day}|{subnet}[|{facet}]`, partition `{tenantId}|{yyyy-mm}[|{facet}]`,
   shared.aggregates.layout) gets `pending - applied`, and records the op id
   `{callId}.{seq}` in its bounded `ops` list in the same write (the transitions
   waiting for one partition are written together: one read-many of their documents,
   then a transactional batch of etag-conditional creates and replaces, redone from the
   read on a 412 or 409); then the ledger is committed (`applied = pending`), again
   etag-conditional.
3. Every call of `apply_call_delta` first finishes any pending transition it finds
   (roll-forward): documents whose `ops` already hold the op id are skipped, so a
   transition is applied to each document exactly once however many times it is
   resumed. Only then is a new transition started, so each document sees a call's
   transitions in order.

Crash points: before the ledger write, nothing happened (the re-run computes the same
transition); after it, the re-run resumes the pending transition; after the commit,
the re-run finds the ledger equal to the call and writes nothing. That is why the hook
runs after *every* merge, changed or not: a re-run of a crashed batch sees unchanged
calls, and only the ledger can tell whether their aggregates were applied. For an
unchanged, already-applied call this costs one point read.

Stale writers: the ledger records each record's (version, fragment id); a call document
only ever grows under `merge.union`, so a writer holding an older document than the
ledger's (a concurrent merge won) sees that the ledger dominates it and writes nothing.

Bound: `ops` keeps the last `MAX_OPS` op ids per document. Exactness needs an op id only
until its transition is committed, which happens in the same call, or at the latest in
the next run touching that call (the host's retry of a crashed batch, minutes later).
The bound would be exceeded only if more than `MAX_OPS` other transitions hit the same
day-and-subnet document in that window; a resume that finds its op id evicted from a
document that has evicted ops since the pending was written logs an error.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shared.aggregates.contribution import call_contribution, difference
from shared.aggregates.layout import (
    DAY,
    Facet,
    month_partition,
    new_document,
    partition_key,
    split_doc_key,
)
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import (
    StaleWrite,
    create_new,
    create_op,
    execute_batch,
    replace_if_unchanged,
    replace_op,
)
from shared.storage.retry import read_many, read_or_none, with_retries
from shared.tenant_settings import day_ttl

log = logging.getLogger(__name__)

MAX_OPS = 1000
MAX_KEEP_S = layout.AGGREGATES.default_ttl or 396 * 86_400
LEDGER_TTL = 40 * 86_400  # outlives the 30-day call document it shadows
MAX_ATTEMPTS = 50


def month_pk(tenant_id: str, day: str) -> str:
    return f"{tenant_id}|{day[:7]}"


def agg_doc_id(key: str) -> str:
    return f"agg|{key}"


def ledger_id(call_id: str) -> str:
    return f"ledger|{call_id}"


def ledger_pk(tenant_id: str, call_id: str) -> str:
    return f"{tenant_id}|ledger|{call_id}"


def op_id(call_id: str, seq: int) -> str:
    return f"{call_id.replace('-', '')[:16]}.{seq}"


Records = dict[str, list[Any]]


def records_of(doc: CallDocument) -> Records:
    return {f.record_id: [f.version, f.fragment_id] for f in doc.fragments.values()}


def dominates(newer: Records, older: Records) -> bool:
    """Every record of `older` is in `newer` at the same or a higher (version, hash)."""
    for rid, mark in older.items():
        have = newer.get(rid)
        if have is None or tuple(have) < tuple(mark):
            return False
    return True


async def _read(container: Any, item_id: str, pk: str) -> dict[str, Any] | None:
    return await read_or_none(container, item_id, pk, what="read aggregate")


def _add_map(target: dict[str, int], part: dict[str, int]) -> None:
    for k, n in part.items():
        v = target.get(k, 0) + n
        if v:
            target[k] = v
        else:
            target.pop(k, None)


@dataclass
class _Pending:
    key: str  # the aggregate document's key ({day}|{subnet})
    op: str
    entries: dict[str, int]
    since: float
    done: asyncio.Future[None]
    keep_s: int = layout.AGGREGATES.default_ttl or 0  # the tenant's aggregate retention


@dataclass
class _PartitionQueue:
    items: list[_Pending] = field(default_factory=list)
    running: bool = False
    task: asyncio.Task[None] | None = None  # held so the drain is not garbage-collected


# Per event loop and aggregate partition ({tenant}|{yyyy-mm}): transitions waiting for
# its documents. Calls of one day and subnet arrive together (a batch is mostly one
# site, one day), and applying them one read/replace each makes them fight over the
# etag; queued transitions are applied together instead, each with its own op id
# (exactness unchanged): every document they touch is read in one read-many and written
# in one transactional batch (`execute_item_batch`, one partition key), two requests
# for the lot instead of two per document.
_queues: dict[tuple[int, str, str], _PartitionQueue] = {}

BATCH_OPERATIONS = 100  # Cosmos DB's limit per transactional batch
BATCH_BYTES = 1_500_000  # under its 2 MB request limit, with room for the envelope


async def _apply_to_doc(
    clients: Clients,
    tenant_id: str,
    key: str,
    entries: dict[str, int],
    op: str,
    pending_since: float,
    keep_s: int,
) -> None:
    """Add `entries` to one aggregate document unless it already holds `op`; coalesced
    with the other transitions waiting for the same partition in this process."""
    loop = asyncio.get_running_loop()
    pk = partition_key(tenant_id, key)
    qkey = (id(loop), tenant_id, pk)
    queue = _queues.setdefault(qkey, _PartitionQueue())
    item = _Pending(key, op, entries, pending_since, loop.create_future(), keep_s)
    queue.items.append(item)
    if not queue.running:
        queue.running = True
        queue.task = asyncio.ensure_future(_drain(clients, tenant_id, pk, qkey, queue))
    await item.done


async def _drain(
    clients: Clients,
    tenant_id: str,
    pk: str,
    qkey: tuple[int, str, str],
    queue: _PartitionQueue,
) -> None:
    try:
        while queue.items:
            batch, queue.items = queue.items, []
            try:
                await _apply_many(clients, tenant_id, pk, batch)
            except Exception as exc:
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
            else:
                for p in batch:
                    if not p.done.done():
                        p.done.set_result(None)
    finally:
        queue.running = False
        if _queues.get(qkey) is queue and not queue.items:
            del _queues[qkey]


def _with_transitions(
    raw: dict[str, Any] | None, tenant_id: str, key: str, batch: list[_Pending]
) -> dict[str, Any] | None:
    """The aggregate document `key` (stored `raw`, or new) with every transition of
    `batch` it does not hold yet added and its op id recorded; None when it holds all."""
    day, _, _ = split_doc_key(key)
    item_id, pk = agg_doc_id(key), partition_key(tenant_id, key)
    doc = (
        {k: v for k, v in raw.items() if not k.startswith("_")}
        if raw
        else new_document(tenant_id, key, item_id, pk)
    )
    ops: list[list[Any]] = list(doc.get("ops") or [])
    held = {o[0] for o in ops}
    todo = []
    for p in batch:  # the same transition may be queued twice (concurrent resumes)
        if p.op not in held:
            held.add(p.op)
            todo.append(p)
    if not todo:
        return None  # every transition already reached this document
    cells: dict[str, dict[str, int]] = doc.setdefault("cells", {})
    now = round(time.time(), 3)
    for p in todo:
        if raw is not None and float(doc.get("evictedAt") or 0) >= p.since:
            log.error(
                "aggregate %s: op %s may be applied twice (ops list overflowed)", item_id, p.op
            )
        for entry, n in p.entries.items():
            if entry.startswith("@"):  # the day document's poor users only
                _add_map(doc.setdefault("poorUsers", {}), {entry[1:]: n})
            else:
                cell, measure = entry.split("#", 1)
                _add_map(cells.setdefault(cell, {}), {measure: n})
                if not cells[cell]:
                    del cells[cell]
        ops.append([p.op, now])
    if len(ops) > MAX_OPS:
        doc["evictedAt"] = max(o[1] for o in ops[:-MAX_OPS])
        ops = ops[-MAX_OPS:]
    doc["ops"] = ops
    # The tenant's retention, counted from the day (docs/reference/settings.md).
    doc["ttl"] = day_ttl(day, min(p.keep_s for p in batch), time.time())
    return doc


def _chunks(operations: list[tuple[Any, ...]], sizes: list[int]) -> list[list[tuple[Any, ...]]]:
    """Transactional batches within Cosmos DB's limits (operations and bytes)."""
    out: list[list[tuple[Any, ...]]] = [[]]
    used = 0
    for operation, size in zip(operations, sizes, strict=True):
        if out[-1] and (len(out[-1]) >= BATCH_OPERATIONS or used + size > BATCH_BYTES):
            out.append([])
            used = 0
        out[-1].append(operation)
        used += size
    return out


async def _apply_many(clients: Clients, tenant_id: str, pk: str, batch: list[_Pending]) -> None:
    """Every transition of `batch` (documents of partition `pk`) that its document does
    not hold yet: the documents read in one read-many, then written in transactional
    batches, each document created or replaced only if its etag is unchanged. A
    concurrent writer fails the batch (412, or 409 for a create): read again, re-apply."""
    container = clients.container(layout.AGGREGATES)
    by_doc: dict[str, list[_Pending]] = {}
    for p in batch:
        by_doc.setdefault(p.key, []).append(p)
    for attempt in range(MAX_ATTEMPTS):
        stored = await read_many(
            container, [(agg_doc_id(k), pk) for k in by_doc], what="read aggregates"
        )
        operations: list[tuple[Any, ...]] = []
        sizes: list[int] = []
        for key, items in sorted(by_doc.items()):
            raw = stored.get((agg_doc_id(key), pk))
            doc = _with_transitions(raw, tenant_id, key, items)
            if doc is None:
                continue
            if raw is None:
                operations.append(create_op(doc))
            else:
                operations.append(replace_op(doc, raw["_etag"]))
            sizes.append(len(json.dumps(doc, separators=(",", ":"))))
        if not operations:
            return  # every transition already reached its documents
        try:
            for chunk in _chunks(operations, sizes):
                await execute_batch(container, chunk, pk, what="write aggregates")
            return
        except StaleWrite:
            # another process wrote first: re-read and re-apply, backing off a little
            # (documents an earlier chunk wrote now hold their op ids: skipped)
            await asyncio.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)))
    raise RuntimeError(f"aggregates {pk}: too many concurrent updates")


async def _run_transition(
    clients: Clients, tenant_id: str, call_id: str, ledger: dict[str, Any], keep_s: int
) -> None:
    pending = ledger["pending"]
    delta = difference(pending["contribution"], ledger.get("applied") or {})
    op = op_id(call_id, int(pending["seq"]))
    since = float(pending["since"])
    # all at once: the partition's queue writes them together (one read-many, one batch)
    await asyncio.gather(
        *(
            _apply_to_doc(clients, tenant_id, k, v, op, since, keep_s)
            for k, v in sorted(delta.items())
        )
    )


async def _write_ledger(container: Any, body: dict[str, Any], etag: str | None) -> str | None:
    """Create (etag None) or conditionally replace; the new etag, or None on a conflict."""
    try:
        if etag is None:
            out = await create_new(container, body, what="create ledger")
        else:
            out = await replace_if_unchanged(
                container, body["id"], body, etag, what="replace ledger"
            )
    except StaleWrite:
        return None
    return str(out.get("_etag")) if isinstance(out, dict) else ""


def _clean(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if not k.startswith("_")}


_UNREAD: Any = object()  # "not read yet", as opposed to None: read and absent


async def read_ledgers_raw(
    clients: Clients, tenant_id: str, call_ids: list[str]
) -> dict[str, dict[str, Any] | None]:
    """The ledgers of a flush's calls in one read-many: by call id, raw or None."""
    idents = {cid: (ledger_id(cid), ledger_pk(tenant_id, cid)) for cid in call_ids}
    found = await read_many(
        clients.container(layout.AGGREGATES), list(idents.values()), what="read ledgers"
    )
    return {cid: found.get(ident) for cid, ident in idents.items()}


# The ledgers a flush read in one read-many after its merges (`read_ledgers_raw`), by
# call id (None: absent), set by the processor around the flush's `apply_call_delta`
# calls: each takes its own once instead of a point read (a conflict reads again).
prefetched_ledgers: contextvars.ContextVar[dict[str, dict[str, Any] | None] | None] = (
    contextvars.ContextVar("prefetched_ledgers", default=None)
)


async def apply_call_delta(
    clients: Clients,
    tenant_id: str,
    previous: CallDocument | None,
    document: CallDocument,
    keep_s: int | None = None,
) -> bool:
    """Bring the aggregates to `contribution(document)` for this call, exactly once.

    `previous` is the merge's view of the old call; it is not trusted for the delta (the
    ledger is, see the module docstring) and only serves as a hint here: None (a call
    this merge created) saves the ledger read, and so does a ledger the flush read
    already (`prefetched_ledgers`). `keep_s`: the tenant's aggregate retention in
    seconds (None: the service maximum). Returns True when something was written.
    """
    keep = min(keep_s or MAX_KEEP_S, MAX_KEEP_S)
    call_id = document.id
    container = clients.container(layout.AGGREGATES)
    lid, lpk = ledger_id(call_id), ledger_pk(tenant_id, call_id)
    target_records = records_of(document)
    wrote = False
    # A call this merge created has no ledger yet (the ledger is only written after its
    # call): skip the read and create it; a conflict (say, a call that expired and came
    # back) falls through to the general path, which reads.
    assume_new = previous is None
    hints = prefetched_ledgers.get()
    ledger_raw = hints.pop(call_id, _UNREAD) if hints is not None else _UNREAD
    for _ in range(MAX_ATTEMPTS):
        if ledger_raw is not _UNREAD:
            raw, ledger_raw = ledger_raw, _UNREAD
        else:
            raw = None if assume_new else await _read(container, lid, lpk)
        assume_new = False
        etag = raw.get("_etag") if raw else None
        ledger = (
            _clean(raw)
            if raw
            else {
                "id": lid,
                "pk": lpk,
                "tenantId": tenant_id,
                "kind": "ledger",
                "callId": call_id,
                "seq": 0,
                "records": {},
                "applied": {},
                "pending": None,
            }
        )
        if ledger.get("pending"):
            await _run_transition(clients, tenant_id, call_id, ledger, keep)
            ledger["applied"] = ledger["pending"]["contribution"]
            ledger["records"] = ledger["pending"]["records"]
            ledger["seq"] = ledger["pending"]["seq"]
            ledger["pending"] = None
            ledger["ttl"] = LEDGER_TTL
            etag = await _write_ledger(container, ledger, etag)
            wrote = True
            if etag is None:
                continue  # someone else moved the ledger on: look again
        records: Records = ledger.get("records") or {}
        if records == target_records or not dominates(target_records, records):
            return wrote  # the aggregates already reflect this call, or a newer one
        new = call_contribution(document)
        if not difference(new, ledger.get("applied") or {}):
            return wrote  # the change does not touch any count: nothing to write
        ledger["pending"] = {
            "seq": int(ledger.get("seq") or 0) + 1,
            "contribution": new,
            "records": target_records,
            "since": round(time.time(), 3),
        }
        ledger["ttl"] = LEDGER_TTL
        etag = await _write_ledger(container, ledger, etag)
        if etag is None:
            continue
        wrote = True
        await _run_transition(clients, tenant_id, call_id, ledger, keep)
        ledger["applied"], ledger["records"] = new, target_records
        ledger["seq"], ledger["pending"] = ledger["pending"]["seq"], None
        if await _write_ledger(container, ledger, etag) is not None:
            return True
        # The commit lost a race: a concurrent run saw our pending and finished it (or
        # moved further); loop to check rather than assume.
    raise RuntimeError(f"call {call_id}: could not update the aggregates (contention)")


async def read_days(
    clients: Clients,
    tenant_id: str,
    first_day: str,
    last_day: str,
    months: list[str],
    fields: str = "c.day, c.subnet, c.prefix, c.cells",
    concurrency: int = 4,
    facet: Facet = DAY,
) -> list[dict[str, Any]]:
    """The documents of one facet (shared.aggregates.layout; the day documents by
    default) of the days `first_day`..`last_day` (YYYY-MM-DD, both included), which fall
    in the month partitions `months` (YYYY-MM): one query per month, in parallel, at the
    default page size (a smaller `max_item_count` makes the emulator re-run the query for
    every continuation page)."""
    container = clients.container(layout.AGGREGATES)
    sem = asyncio.Semaphore(concurrency)
    query = (
        f"SELECT {fields} FROM c WHERE c.pk = @pk AND c.kind = '{facet.kind}' "
        "AND c.day >= @from AND c.day <= @to"
    )

    async def month(m: str) -> list[dict[str, Any]]:
        pk = month_partition(tenant_id, m, facet)
        params = [
            {"name": "@pk", "value": pk},
            {"name": "@from", "value": first_day},
            {"name": "@to", "value": last_day},
        ]

        async def op() -> list[dict[str, Any]]:
            return [
                d async for d in container.query_items(query, parameters=params, partition_key=pk)
            ]

        async with sem:
            return await with_retries(op, what="read aggregates")

    parts = await asyncio.gather(*(month(m) for m in months))
    return [d for part in parts for d in part]
