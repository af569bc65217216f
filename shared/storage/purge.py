"""The store side of a user purge: every item that names the user, found by the user's
own partitions (history), the calls those point at, the calls' aggregate ledgers, and
the audit months; each change an etag-conditional replace or a delete, so a purge that
is retried (or runs beside the processor) converges. The rules are in `shared.purge`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.aggregates.layout import partition_key
from shared.storage import cosmos_errors, layout
from shared.storage.aggregates import agg_doc_id, ledger_id, ledger_pk
from shared.storage.call_chunks import delete_call_item, read_call_item, write_call_item
from shared.storage.calls import _query, forget_directory_entry, user_pk
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite, replace_if_unchanged
from shared.storage.retry import read_or_none, with_retries

Edit = Callable[[dict[str, Any]], dict[str, Any] | None]
MAX_TRIES = 20


async def history_entries(clients: Clients, tenant_id: str, user: str) -> list[dict[str, Any]]:
    """Every history entry of the user (one partition), whatever its date."""
    pk = user_pk(tenant_id, user)
    return await _query(
        clients.container(layout.USER_CALLS),
        "SELECT c.id, c.callId, c.start FROM c WHERE c.pk = @pk",
        {"@pk": pk},
        pk,
    )


async def _delete(container: Any, item_id: str, pk: str, what: str) -> bool:
    async def op() -> bool:
        try:
            await container.delete_item(item_id, partition_key=pk)
            return True
        except cosmos_errors.CosmosResourceNotFoundError:
            return False  # already gone: a retried purge

    return await with_retries(op, what=what)


async def delete_history(clients: Clients, tenant_id: str, user: str, ids: list[str]) -> int:
    container = clients.container(layout.USER_CALLS)
    pk = user_pk(tenant_id, user)
    return sum([await _delete(container, i, pk, "delete history entry") for i in ids])


async def delete_directory_entry(clients: Clients, tenant_id: str, user: str) -> bool:
    forget_directory_entry(clients, tenant_id, user)
    return await _delete(
        clients.container(layout.TENANTS), f"user|{user}", tenant_id, "delete directory entry"
    )


async def read_call_raw(clients: Clients, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    """The whole stored call, its chunks joined (a large meeting's are scrubbed too)."""
    stored = await read_call_item(
        clients.container(layout.CALLS), call_id, f"{tenant_id}|{call_id}"
    )
    return stored.body if stored else None


async def delete_call(clients: Clients, tenant_id: str, call_id: str) -> bool:
    """The call and every chunk of it, also chunks a crash left behind a deleted head."""
    return await delete_call_item(
        clients.container(layout.CALLS), call_id, f"{tenant_id}|{call_id}"
    )


async def edit_item(container: Any, item_id: str, pk: str, edit: Edit, what: str) -> bool:
    """Read, `edit` (None: nothing to change), replace if unchanged; again on a race."""
    for _ in range(MAX_TRIES):
        raw = await read_or_none(container, item_id, pk, what=what)
        if raw is None:
            return False
        body = edit(raw)
        if body is None:
            return False
        clean = {k: v for k, v in body.items() if not k.startswith("_")}
        try:
            await replace_if_unchanged(container, item_id, clean, raw["_etag"], what=what)
            return True
        except StaleWrite:
            continue
    raise RuntimeError(f"{what}: {item_id} kept changing")


async def edit_call(clients: Clients, tenant_id: str, call_id: str, edit: Edit) -> bool:
    """`edit_item` for a call: the whole call (chunks joined) is edited and written back
    as a head and new chunks; the old chunks, holding the old text, are deleted."""
    container, pk = clients.container(layout.CALLS), f"{tenant_id}|{call_id}"
    for _ in range(MAX_TRIES):
        stored = await read_call_item(container, call_id, pk)
        if stored is None:
            return False
        body = edit(stored.body)
        if body is None:
            return False
        try:
            await write_call_item(container, body, stored, what="purge call")
            return True
        except StaleWrite:
            continue
    raise RuntimeError(f"purge call: {call_id} kept changing")


async def edit_ledger(clients: Clients, tenant_id: str, call_id: str, edit: Edit) -> bool:
    return await edit_item(
        clients.container(layout.AGGREGATES),
        ledger_id(call_id),
        ledger_pk(tenant_id, call_id),
        edit,
        "purge ledger",
    )


async def edit_aggregate(clients: Clients, tenant_id: str, doc_key: str, edit: Edit) -> bool:
    return await edit_item(
        clients.container(layout.AGGREGATES),
        agg_doc_id(doc_key),
        partition_key(tenant_id, doc_key),
        edit,
        "purge aggregate",
    )


async def audit_entries_of(
    clients: Clients, tenant_id: str, month: str, user: str
) -> list[dict[str, Any]]:
    pk = f"{tenant_id}|{month}"
    return await _query(
        clients.container(layout.AUDIT),
        "SELECT * FROM c WHERE c.pk = @pk AND c.targetUser = @u",
        {"@pk": pk, "@u": user},
        pk,
    )


async def replace_audit(clients: Clients, entry: dict[str, Any]) -> None:
    body = {k: v for k, v in entry.items() if not k.startswith("_")}
    await with_retries(
        lambda: clients.container(layout.AUDIT).upsert_item(body), what="purge audit entry"
    )


async def quarantined_naming(clients: Clients, tenant_id: str, needles: list[str]) -> list[str]:
    """Names of the tenant's quarantined records whose text names the user."""
    container = clients.blobs(layout.QUARANTINE)
    found = []
    async for blob in container.list_blobs(name_starts_with=f"{tenant_id}/"):
        data = await (await container.get_blob_client(blob.name).download_blob()).readall()
        text = data.decode("utf-8", "replace").lower()
        if any(n in text for n in needles):
            found.append(blob.name)
    return found


async def read_quarantined(clients: Clients, name: str) -> bytes:
    blob = clients.blobs(layout.QUARANTINE).get_blob_client(name)
    return bytes(await (await blob.download_blob()).readall())


async def rewrite_quarantined(clients: Clients, name: str, body: bytes) -> None:
    blob = clients.blobs(layout.QUARANTINE).get_blob_client(name)
    await with_retries(lambda: blob.upload_blob(body, overwrite=True), what="purge quarantine")


async def read_ledger(clients: Clients, tenant_id: str, call_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.AGGREGATES),
        ledger_id(call_id),
        ledger_pk(tenant_id, call_id),
        what="read ledger",
    )


PURGE_FIELDS = (
    "userHash",
    "status",
    "startedAt",
    "completedAt",
    "requestedBy",
    "callsDeleted",
    "callsScrubbed",
    "historyEntriesDeleted",
    "directoryEntryDeleted",
    "auditEntriesScrubbed",
    "quarantinedRecordsScrubbed",
    "addedToExclusions",
)


async def save_purge_status(clients: Clients, tenant_id: str, result: dict[str, Any]) -> None:
    """The last purge of a user, by hash (never the address), in the tenant's partition."""
    body = {"id": f"purge|{result['userHash']}", "tenantId": tenant_id, "type": "purge"}
    body |= {k: result[k] for k in PURGE_FIELDS}
    await with_retries(
        lambda: clients.container(layout.TENANTS).upsert_item(body), what="save purge status"
    )


async def read_purge_status(clients: Clients, tenant_id: str, digest: str) -> dict[str, Any] | None:
    raw = await read_or_none(
        clients.container(layout.TENANTS), f"purge|{digest}", tenant_id, what="read purge"
    )
    return {k: raw.get(k) for k in PURGE_FIELDS} if raw else None
