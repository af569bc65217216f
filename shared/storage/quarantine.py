"""Quarantined records in Blob storage (`quarantine/{tenantId}/{batchId}/{index}.json`,
written by the processor) as the admin operations read, rewrite and remove them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import with_retries


def _container(clients: Clients) -> Any:
    return clients.blobs(layout.QUARANTINE)


async def record_indexes(clients: Clients, tenant_id: str, batch_id: str) -> list[int]:
    """The indexes of the batch's quarantined records, ascending. Names only, no record
    read: a batch has at most the envelope's record limit, a few listing pages."""
    prefix = f"{tenant_id}/{batch_id}/"
    out = []
    async for blob in _container(clients).list_blobs(name_starts_with=prefix):
        stem = blob.name[len(prefix) :].removesuffix(".json")
        if stem.isdigit():
            out.append(int(stem))
    return sorted(out)


async def page_records(
    clients: Clients,
    tenant_id: str,
    batch_id: str | None,
    after: str | None,
    keep: Callable[[dict[str, Any]], bool],
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` records that `keep` accepts, in blob-name order after the blob
    `after`, and the name of the last one when more may follow (None: the end)."""
    prefix = f"{tenant_id}/{batch_id}/" if batch_id else f"{tenant_id}/"
    out: list[dict[str, Any]] = []
    last = None
    async for blob in _container(clients).list_blobs(name_starts_with=prefix):
        if after is not None and blob.name <= after:
            continue
        if len(out) >= limit:
            return out, last
        doc = await read_record(clients, blob.name)
        if doc is not None and keep(doc):
            out.append(doc)
            last = blob.name
    return out, None


async def read_record(clients: Clients, name: str) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    blob = _container(clients).get_blob_client(name)
    try:
        data = await (await blob.download_blob()).readall()
    except ResourceNotFoundError:
        return None
    doc: dict[str, Any] = json.loads(data)
    return doc


async def write_record(clients: Clients, name: str, doc: dict[str, Any]) -> None:
    blob = _container(clients).get_blob_client(name)
    body = json.dumps(doc, default=str).encode()
    await with_retries(lambda: blob.upload_blob(body, overwrite=True), what="rewrite quarantine")


async def delete_record(clients: Clients, name: str) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    blob = _container(clients).get_blob_client(name)
    try:
        await blob.delete_blob()
    except ResourceNotFoundError:
        pass
