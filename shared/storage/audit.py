"""Storage of the Call Analytics audit log: the `audit` container, one item per read,
partitioned by tenant and month (`{tenantId}|{yyyy-mm}`) so a period query reads only
its months, and items expire after the container's TTL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import with_retries


def audit_pk(tenant_id: str, when: datetime) -> str:
    return f"{tenant_id}|{when:%Y-%m}"


async def write_entry(clients: Clients, entry: dict[str, Any]) -> None:
    """Append one entry (`entry` has `id` and `pk`); a few retries, never more: the
    caller's read must not wait long for its audit record."""
    body = entry | {"ttl": layout.AUDIT.default_ttl}
    await with_retries(
        lambda: clients.container(layout.AUDIT).create_item(body), attempts=3, what="write audit"
    )


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
