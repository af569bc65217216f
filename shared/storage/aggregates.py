"""The quality aggregate documents, and how a group of call transitions reaches them
exactly once, even across crashes.

Why not just "add the difference between the previous and the new call": if the
processor dies after the call is written but before the aggregates are, the re-run
finds the call unchanged and the difference is lost; two processors merging the same
call concurrently could apply overlapping differences. So every change is a
*transition* written ahead in the call's own ledger (`shared/aggregates/ledger.py`,
kept in the call document by `shared/storage/call_ledger.py`), with an op id
`{callId}.{seq}`; this module adds transitions to the aggregate documents
(`{day}|{subnet}[|{facet}]`, partition `{tenantId}|{yyyy-mm}[|{facet}]`,
shared.aggregates.layout), each document recording the op ids it holds in its bounded
`ops` list in the same write, so a transition resumed after a crash reaches each
document once. The transitions of a whole commit group (many flushes of a batch) are
written together: per partition, `SLICE_DOCUMENTS` documents at a time, one read-many of
them, then transactional batches of etag-conditional creates and replaces, redone from
the read on a 412 or 409.

Bound: `ops` keeps the last `MAX_OPS` op ids per document. Exactness needs an op id only
until its group commits, which happens in the same run, or at the latest in the next
run touching that call (the host's retry of a crashed batch, minutes later). The bound
would be exceeded only if more than `MAX_OPS` other transitions hit the same
day-and-subnet document in that window (a commit group holds at most
`shared.storage.call_ledger.GROUP_CALLS` calls); a resume that finds its op id evicted
from a document that has evicted ops since the transition was written logs an error.

The ledger items of the layout before (`ledger|{callId}` in partition
`{tenantId}|ledger|{callId}`) are still read, once, for a stored call whose document
carries no ledger yet (`read_ledgers_raw`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from shared.aggregates.contribution import Contribution
from shared.aggregates.layout import (
    DAY,
    Facet,
    month_partition,
    new_document,
    partition_key,
    split_doc_key,
)
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite, create_op, execute_batch, replace_op
from shared.storage.retry import read_many, with_retries
from shared.tenant_settings import day_ttl

log = logging.getLogger(__name__)

MAX_OPS = 1000
MAX_KEEP_S = layout.AGGREGATES.default_ttl or 396 * 86_400
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


def _add_map(target: dict[str, int], part: dict[str, int]) -> None:
    for k, n in part.items():
        v = target.get(k, 0) + n
        if v:
            target[k] = v
        else:
            target.pop(k, None)


@dataclass(slots=True)  # ~20,000 of them per commit group: no per-instance __dict__
class _Pending:
    key: str  # the aggregate document's key ({day}|{subnet})
    op: str
    entries: dict[str, int]
    since: float
    keep_s: int = layout.AGGREGATES.default_ttl or 0  # the tenant's aggregate retention


BATCH_OPERATIONS = 100  # Cosmos DB's limit per transactional batch
# Partitions applied at once (each in slices of `SLICE_DOCUMENTS`). A month partition of
# a 400-call group holds about a thousand of the documents its calls touch, each with its
# `ops` list (up to `MAX_OPS` pairs); gathering every partition, each read whole, held all
# of them at once and was the processor's peak (tracemalloc, bench/pipeline `--only
# rss`); two at a time keeps some overlap of the round trips and the same requests.
PARTITIONS_AT_ONCE = 2
BATCH_BYTES = 1_500_000  # under its 2 MB request limit, with room for the envelope
# Documents read and rewritten together: what a commit group holds at once no longer
# grows with the documents a partition has (a month partition of a large batch holds a
# thousand or more), for ~0.03 more read-many requests a call (bench/writes); a slice
# fits one transactional batch unless its documents pass `BATCH_BYTES`.
SLICE_DOCUMENTS = BATCH_OPERATIONS


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
    not hold yet, `SLICE_DOCUMENTS` documents at a time (`_apply_slice`)."""
    container = clients.container(layout.AGGREGATES)
    by_doc: dict[str, list[_Pending]] = {}
    for p in batch:
        by_doc.setdefault(p.key, []).append(p)
    keys = sorted(by_doc)
    for start in range(0, len(keys), SLICE_DOCUMENTS):
        part = {k: by_doc.pop(k) for k in keys[start : start + SLICE_DOCUMENTS]}
        await _apply_slice(container, tenant_id, pk, part)


async def _apply_slice(
    container: Any, tenant_id: str, pk: str, by_doc: dict[str, list[_Pending]]
) -> None:
    """The transitions of `by_doc`'s documents: read in one read-many, then written in
    transactional batches, each document created or replaced only if its etag is
    unchanged. A concurrent writer fails the batch (412, or 409 for a create): read
    again, re-apply."""
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
        # the documents as read are not needed once their writes are built (a 412 reads
        # again): dropped before the batches, so a slice is not held twice
        del stored
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


async def apply_transitions(
    clients: Clients,
    tenant_id: str,
    items: list[tuple[str, int, Contribution, float]],
    keep_s: int | None = None,
) -> None:
    """Add each transition (call id, seq, delta, since) to its aggregate documents
    unless they hold its op id already: a partition's documents `SLICE_DOCUMENTS` at a
    time, each slice read in one read-many and written in transactional batches,
    `PARTITIONS_AT_ONCE` partitions at a time (each partition's transitions dropped once
    applied).
    `keep_s`: the tenant's aggregate retention (None: the service maximum)."""
    keep = min(keep_s or MAX_KEEP_S, MAX_KEEP_S)
    by_pk: dict[str, list[_Pending]] = {}
    for call_id, seq, delta, since in items:
        op = op_id(call_id, seq)
        for key, entries in sorted(delta.items()):
            by_pk.setdefault(partition_key(tenant_id, key), []).append(
                _Pending(key, op, entries, since, keep)
            )
    sem = asyncio.Semaphore(PARTITIONS_AT_ONCE)

    async def one(pk: str) -> None:
        async with sem:
            await _apply_many(clients, tenant_id, pk, by_pk.pop(pk))

    await asyncio.gather(*(one(pk) for pk in sorted(by_pk)))


async def read_ledgers_raw(
    clients: Clients, tenant_id: str, call_ids: list[str]
) -> dict[str, dict[str, Any] | None]:
    """The ledger items (the layout before the ledger moved into the call document) of
    `call_ids` in one read-many: by call id, raw or None."""
    idents = {cid: (ledger_id(cid), ledger_pk(tenant_id, cid)) for cid in call_ids}
    found = await read_many(
        clients.container(layout.AGGREGATES), list(idents.values()), what="read ledgers"
    )
    return {cid: found.get(ident) for cid, ident in idents.items()}


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
