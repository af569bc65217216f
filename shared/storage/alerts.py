"""Storage of the quality alert records: the `alerts` container, one item per (tenant,
building, day) with a deterministic id, in the tenant's partition; items expire after
the container's TTL."""

from __future__ import annotations

from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import AlreadyExists, StaleWrite, create_new, replace_if_unchanged
from shared.storage.retry import read_or_none, with_retries


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The record without the store's own fields (etag, timestamps, ttl)."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and k != "ttl"}


async def read_alert(clients: Clients, tenant_id: str, item_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.ALERTS), item_id, tenant_id, what="read alert"
    )


async def create_alert(clients: Clients, doc: dict[str, Any]) -> bool:
    """Create the record; False when one with that id exists (raised before)."""
    body = doc | {"ttl": layout.ALERTS.default_ttl}
    try:
        await create_new(clients.container(layout.ALERTS), body, what="create alert")
    except AlreadyExists:
        return False
    return True


async def replace_alert(clients: Clients, doc: dict[str, Any], etag: str) -> bool:
    """Etag-conditional replace; False when someone else wrote first (re-read, retry)."""
    body = public(doc) | {"ttl": layout.ALERTS.default_ttl}
    try:
        await replace_if_unchanged(
            clients.container(layout.ALERTS), body["id"], body, etag, what="update alert"
        )
    except StaleWrite:
        return False
    return True


async def query_alerts(
    clients: Clients, tenant_id: str, kind: str, first_day: str, last_day: str, status: str | None
) -> list[dict[str, Any]]:
    """The tenant's records of `kind` for days `first_day`..`last_day` (both included),
    of one status or (None) all."""
    query = (
        "SELECT * FROM c WHERE c.tenantId = @t AND c.kind = @k AND c.day >= @from AND c.day <= @to"
    )
    parameters: list[dict[str, Any]] = [
        {"name": "@t", "value": tenant_id},
        {"name": "@k", "value": kind},
        {"name": "@from", "value": first_day},
        {"name": "@to", "value": last_day},
    ]
    if status is not None:
        query += " AND c.status = @s"
        parameters.append({"name": "@s", "value": status})
    container = clients.container(layout.ALERTS)

    async def op() -> list[dict[str, Any]]:
        return [
            d
            async for d in container.query_items(
                query, parameters=parameters, partition_key=tenant_id
            )
        ]

    return await with_retries(op, what="list alerts")
