"""The source-id index: one small document per (tenant, source id) naming the calls that
carry it, so `GET /api/v1/calls?sourceId=` is one point read, never a scan.

Where: the `userCalls` container (the index container, 30-day TTL like the calls), in a
partition of its own per id: `pk = {tenantId}|src|{sha256(id)}`, `id = src|{sha256(id)}`.
The documents carry no `tenantId` field (the partition key holds the tenant), so queries
over the container's history entries by tenant never see them.
The id is hashed because Cosmos DB ids may not hold `/`, `?` or `#` (conference URIs and
Teams join URLs do) and because a conference URI names its organizer: the index keeps no
EUII, only the hash and our call ids.

Writes are idempotent: a call already listed costs the point read only; adding one is a
create, or an etag-conditional replace redone on a concurrent writer, so two calls that
share an id (rare: a Call-ID seen in two keys) are both kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import AlreadyExists, StaleWrite, create_new, replace_if_unchanged
from shared.storage.retry import read_or_none


def _ident(tenant_id: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"src|{digest}", f"{tenant_id}|src|{digest}"


async def index_source_ids(clients: Clients, tenant_id: str, call_id: str, keys: list[str]) -> int:
    """List `call_id` under each normalised source id `keys`; returns the writes made."""
    container = clients.container(layout.USER_CALLS)
    written = 0
    for key in keys:
        doc_id, pk = _ident(tenant_id, key)
        for _ in range(20):
            raw = await read_or_none(container, doc_id, pk, what="read source index")
            if raw is not None and call_id in raw.get("callIds", []):
                break
            if raw is None:
                body: dict[str, Any] = {
                    "id": doc_id,
                    "pk": pk,
                    "type": "sourceId",
                    "callIds": [call_id],
                }
                try:
                    await create_new(container, body, what="create source index")
                    written += 1
                    break
                except AlreadyExists:
                    continue
            body = {k: v for k, v in raw.items() if not k.startswith("_")} | {
                "callIds": sorted({*raw.get("callIds", []), call_id})
            }
            try:
                await replace_if_unchanged(
                    container, doc_id, body, raw["_etag"], what="replace source index"
                )
                written += 1
                break
            except StaleWrite:
                continue
    return written


async def calls_for_source_id(clients: Clients, tenant_id: str, key: str) -> list[str]:
    """The call ids listed under one normalised source id: one point read."""
    doc_id, pk = _ident(tenant_id, key)
    raw = await read_or_none(
        clients.container(layout.USER_CALLS), doc_id, pk, what="read source index"
    )
    return list(raw.get("callIds", [])) if raw else []
