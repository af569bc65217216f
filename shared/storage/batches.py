"""Batch status documents: the idempotency record of ingest and the processor's ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import clock
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite, replace_if_unchanged
from shared.storage.retry import read_or_none, with_retries

MAX_ERRORS = 100
PUBLIC_FIELDS = (
    "batchId",
    "tenantId",
    "status",
    "received",
    "stored",
    "quarantined",
    "excluded",
    "calls",
    "errors",
    "receivedAt",
    "completedAt",
)


def utcnow() -> str:
    """Batch status stamps: milliseconds (see `shared.clock`)."""
    return clock.utcnow("milliseconds")


def public_status(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in PUBLIC_FIELDS}
    out["errors"] = (doc.get("errors") or [])[:MAX_ERRORS]
    for k in ("received", "stored", "quarantined", "excluded", "calls"):
        out[k] = out[k] or 0
    return out


def _container(clients: Clients) -> Any:
    return clients.container(layout.BATCHES)


async def read_batch(clients: Clients, tenant_id: str, batch_id: str) -> dict[str, Any] | None:
    return await read_or_none(_container(clients), batch_id, tenant_id, what="read batch status")


async def create_batch(clients: Clients, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Create the status document; returns None if it exists already (a concurrent or
    earlier post of the same batchId)."""

    async def op() -> dict[str, Any] | None:
        try:
            return await _container(clients).create_item(doc)
        except cosmos_errors.CosmosResourceExistsError:
            return None

    return await with_retries(op, what="create batch status")


async def save_batch(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in doc.items() if not k.startswith("_")}
    return await with_retries(
        lambda: _container(clients).upsert_item(body), what="save batch status"
    )


async def update_batch(
    clients: Clients,
    tenant_id: str,
    batch_id: str,
    changes: dict[str, Any],
    *,
    unless_status: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Read-modify-write with the etag, so concurrent writers never lose each other's
    fields; skipped when the current status is one of `unless_status`."""

    def change(doc: dict[str, Any]) -> dict[str, Any] | None:
        return None if doc.get("status") in unless_status else changes

    return await change_batch(clients, tenant_id, batch_id, change)


async def change_batch(
    clients: Clients,
    tenant_id: str,
    batch_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """Write the changes `change` computes from the current document, only if that
    document is still current (else it is read again and `change` asked again), so a
    count moved relative to what was read is never moved from a stale value. `change`
    answers None when there is nothing to write. Returns the document as it now is
    (None: no such batch)."""
    for _ in range(10):
        doc = await read_batch(clients, tenant_id, batch_id)
        if doc is None:
            return None
        changes = change(doc)
        if not changes:
            return doc
        etag = str(doc["_etag"])
        body = {k: v for k, v in doc.items() if not k.startswith("_")} | changes
        try:
            return await replace_if_unchanged(
                _container(clients), batch_id, body, etag, what="change batch status"
            )
        except StaleWrite:
            continue
    raise RuntimeError(f"batch {batch_id}: status kept changing under us")


async def _select(
    clients: Clients, tenant_id: str, query: str, params: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        b
        async for b in _container(clients).query_items(
            query, parameters=[{"name": "@t", "value": tenant_id}, *params], partition_key=tenant_id
        )
    ]


async def batches_with_status(
    clients: Clients, tenant_id: str, statuses: tuple[str, ...]
) -> list[dict[str, Any]]:
    """batchId, receivedAt and status of the tenant's batches in one of `statuses`."""
    return await _select(
        clients,
        tenant_id,
        "SELECT c.batchId, c.receivedAt, c.status FROM c WHERE c.tenantId = @t AND "
        "ARRAY_CONTAINS(@pending, c.status)",
        [{"name": "@pending", "value": list(statuses)}],
    )


async def batches_completed_since(
    clients: Clients, tenant_id: str, since: str
) -> list[dict[str, Any]]:
    """The outcome fields of the tenant's batches completed at or after `since`."""
    return await _select(
        clients,
        tenant_id,
        "SELECT c.batchId, c.status, c.quarantined, c.sourceFqdn, c.completedAt, c.failure "
        "FROM c WHERE c.tenantId = @t AND c.completedAt >= @since",
        [{"name": "@since", "value": since}],
    )


async def completed_by_source(clients: Clients, tenant_id: str) -> list[dict[str, Any]]:
    """sourceFqdn and completedAt of every successfully completed batch of the tenant."""
    return await _select(
        clients,
        tenant_id,
        "SELECT c.sourceFqdn, c.completedAt FROM c WHERE c.tenantId = @t AND "
        "(c.status = 'completed' OR c.status = 'completedWithErrors')",
        [],
    )
