"""Storage of the Call Analytics audit log: the `audit` container, one item per read,
partitioned by tenant and month (`{tenantId}|{yyyy-mm}`) so a period query reads only
its months. Each item carries the tenant's audit retention as its own `ttl` (never more
than the container's maximum); the retention is read from the tenant settings at most
once a minute per tenant and process, since every Call Analytics read writes an entry."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import with_retries
from shared.storage.tenants import read_tenant_settings

MAX_TTL_S = layout.AUDIT.default_ttl or 365 * 86_400
TTL_CACHE_S = 60.0
_ttl_cache: dict[str, tuple[float, int]] = {}


def audit_pk(tenant_id: str, when: datetime) -> str:
    return f"{tenant_id}|{when:%Y-%m}"


async def write_entry(clients: Clients, entry: dict[str, Any]) -> None:
    """Append one entry (`entry` has `id` and `pk`); a few retries, never more: the
    caller's read must not wait long for its audit record."""
    body = entry | {"ttl": await audit_ttl(clients, str(entry["tenantId"]))}
    await with_retries(
        lambda: clients.container(layout.AUDIT).create_item(body), attempts=3, what="write audit"
    )


async def audit_ttl(clients: Clients, tenant_id: str) -> int:
    """The `ttl` of a new audit entry of the tenant: its audit retention, capped."""
    now = time.monotonic()
    cached = _ttl_cache.get(tenant_id)
    if cached and now - cached[0] < TTL_CACHE_S:
        return cached[1]
    tenant = await read_tenant_settings(clients, tenant_id)
    ttl = min(tenant.classification.retention.ttl_seconds("audit"), MAX_TTL_S)
    _ttl_cache[tenant_id] = (now, ttl)
    return ttl


def forget_audit_ttl(tenant_id: str) -> None:
    """Called when the tenant's settings change, so this process uses the new value at once."""
    _ttl_cache.pop(tenant_id, None)


async def month_page(
    clients: Clients, pk: str, first: str, end: str, limit: int, after: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Up to `limit` entries of one month partition with `first <= at < end`, newest
    first (then by id); `after` = {"at", "id"} continues below that entry."""
    query = "SELECT TOP @n * FROM c WHERE c.pk = @pk AND c.at >= @from AND c.at < @to"
    params = [
        {"name": "@n", "value": limit},
        {"name": "@pk", "value": pk},
        {"name": "@from", "value": first},
        {"name": "@to", "value": end},
    ]
    if after:
        query += " AND (c.at < @at OR (c.at = @at AND c.id < @id))"
        params += [{"name": "@at", "value": after["at"]}, {"name": "@id", "value": after["id"]}]
    query += " ORDER BY c.at DESC, c.id DESC"
    container = clients.container(layout.AUDIT)
    return [i async for i in container.query_items(query, parameters=params, partition_key=pk)]
