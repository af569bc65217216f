"""Batch status documents: the idempotency record of ingest and the processor's ledger."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
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
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    from azure.core import MatchConditions

    for _ in range(10):
        doc = await read_batch(clients, tenant_id, batch_id)
        if doc is None:
            return None
        if doc.get("status") in unless_status:
            return doc
        etag = doc.get("_etag")
        doc.update(changes)
        body = {k: v for k, v in doc.items() if not k.startswith("_")}
        try:
            return await with_retries(
                lambda body=body, etag=etag: _container(clients).replace_item(
                    batch_id, body, etag=etag, match_condition=MatchConditions.IfNotModified
                ),
                what="update batch status",
            )
        except cosmos_errors.CosmosAccessConditionFailedError:
            continue
    raise RuntimeError(f"batch {batch_id}: status kept changing under us")
