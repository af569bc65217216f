"""The source-id index: one small document per (tenant, source id) naming the calls that
carry it, so `GET /api/v1/calls?sourceId=` is one point read, never a scan.

Where: the `userCalls` container (the index container, 30-day TTL like the calls),
`id = src|{sha256(id)}` in one of `BUCKETS` partitions per tenant chosen by the hash,
`pk = {tenantId}|src|{0..7}`: a chunk of records writes its new ids in one transactional
batch per bucket (at most 8 requests, not one or two per id). Size: a tenant's 66 M calls
a month at ~4 ids each, ~200 bytes a document, 30 days: ~7 GB per bucket, under the
20 GB logical-partition limit.
The documents carry no `tenantId` field (the partition key holds the tenant), so queries
over the container's history entries by tenant never see them.
The id is hashed because Cosmos DB ids may not hold `/`, `?` or `#` (conference URIs and
Teams join URLs do) and because a conference URI names its organizer: the index keeps no
EUII, only the hash and our call ids.

Writes are idempotent: a call already listed costs its share of the read-many only;
adding one is a create, or an etag-conditional replace, redone from a fresh read when a
concurrent writer won, so two calls that share an id (rare: a Call-ID seen in two keys)
are both kept.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite, create_op, execute_batch, replace_op
from shared.storage.retry import read_many, read_or_none

BUCKETS = 8  # index partitions per tenant; see the module docstring


def _ident(tenant_id: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"src|{digest}", f"{tenant_id}|src|{int(digest[:2], 16) % BUCKETS}"


async def index_source_ids(clients: Clients, tenant_id: str, wanted: dict[str, set[str]]) -> int:
    """List each call id of `wanted[key]` under the normalised source id `key`; returns
    the documents written. One read-many of every document, then one transactional
    batch per index partition that needs a write (a create, or an etag-conditional
    replace adding the missing call ids); a batch that lost a race to another writer
    (409/412) is redone from a fresh read."""
    container = clients.container(layout.USER_CALLS)
    todo = {key: set(cids) for key, cids in wanted.items() if cids}
    written = 0
    for attempt in range(20):
        if not todo:
            return written
        idents = {key: _ident(tenant_id, key) for key in todo}
        stored = await read_many(container, list(idents.values()), what="read source index")
        by_pk: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        for key, (doc_id, pk) in sorted(idents.items()):
            raw = stored.get((doc_id, pk))
            have = set(raw.get("callIds", [])) if raw else set()
            if todo[key] <= have:
                continue
            body: dict[str, Any] = (
                {k: v for k, v in raw.items() if not k.startswith("_")} if raw else {}
            ) | {"id": doc_id, "pk": pk, "type": "sourceId", "callIds": sorted(have | todo[key])}
            op = replace_op(body, raw["_etag"]) if raw else create_op(body)
            by_pk.setdefault(pk, []).append((key, op))
        done = set(todo) - {key for ops in by_pk.values() for key, _ in ops}
        for pk, ops in by_pk.items():
            for i in range(0, len(ops), 100):  # Cosmos DB's limit per batch
                chunk = ops[i : i + 100]
                try:
                    await execute_batch(
                        container, [op for _, op in chunk], pk, what="write source index"
                    )
                except StaleWrite:
                    continue  # this chunk again, from a fresh read
                written += len(chunk)
                done.update(key for key, _ in chunk)
        todo = {key: cids for key, cids in todo.items() if key not in done}
        if todo:
            await asyncio.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)))
    raise RuntimeError("source index: could not write after repeated concurrent updates")


async def calls_for_source_id(clients: Clients, tenant_id: str, key: str) -> list[str]:
    """The call ids listed under one normalised source id: one point read."""
    doc_id, pk = _ident(tenant_id, key)
    raw = await read_or_none(
        clients.container(layout.USER_CALLS), doc_id, pk, what="read source index"
    )
    return list(raw.get("callIds", [])) if raw else []
