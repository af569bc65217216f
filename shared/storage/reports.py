"""Storage of the tenant's custom report definitions: one item per report in the
tenant's partition of the `tenants` container (`type = "report"`,
`id = "report|{reportId}"`)."""

from __future__ import annotations

from typing import Any

from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.items import create_new, replace_if_unchanged
from shared.storage.retry import read_or_none, with_retries

REPORT_TYPE = "report"


def item_id(report_id: str) -> str:
    return f"report|{report_id}"


async def list_custom(clients: Clients, tenant_id: str) -> list[dict[str, Any]]:
    container = clients.container(layout.TENANTS)
    query = "SELECT * FROM c WHERE c.tenantId = @t AND c.type = @type"
    params = [{"name": "@t", "value": tenant_id}, {"name": "@type", "value": REPORT_TYPE}]

    async def op() -> list[dict[str, Any]]:
        return [
            d
            async for d in container.query_items(query, parameters=params, partition_key=tenant_id)
        ]

    return await with_retries(op, what="list reports")


async def read_custom(clients: Clients, tenant_id: str, report_id: str) -> dict[str, Any] | None:
    """The stored definition, or None (also when the id names another kind of item)."""
    doc = await read_or_none(
        clients.container(layout.TENANTS), item_id(report_id), tenant_id, what="read report"
    )
    return doc if doc and doc.get("type") == REPORT_TYPE else None


async def create_custom(clients: Clients, doc: dict[str, Any]) -> None:
    await create_new(
        clients.container(layout.TENANTS), doc | {"type": REPORT_TYPE}, what="create report"
    )


async def replace_custom(clients: Clients, doc: dict[str, Any], etag: str) -> None:
    """Etag-conditional; `StaleWrite` when someone replaced it since it was read."""
    await replace_if_unchanged(
        clients.container(layout.TENANTS), doc["id"], doc, etag, what="replace report"
    )


async def delete_custom(clients: Clients, tenant_id: str, report_id: str) -> bool:
    """False when there was no such item."""

    async def op() -> None:
        await clients.container(layout.TENANTS).delete_item(
            item_id(report_id), partition_key=tenant_id
        )

    try:
        await with_retries(op, what="delete report")
    except cosmos_errors.CosmosResourceNotFoundError:
        return False
    return True
