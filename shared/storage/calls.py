"""Call documents and the per-user history index in Cosmos DB.

Writes are optimistic: create for a new call (one request: the common case), else
read, union the fragments and replace with the etag; a concurrent writer makes the
replace fail with 412 and the merge is simply redone. When the union adds nothing the
document is not written at all, so re-running a batch costs reads only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.clock import utcnow
from shared.identity import call_id as make_call_id
from shared.merge import call_pk, internal_users
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.call_chunks import (
    read_call_item,
    read_call_page,
    write_call_item,
)
from shared.storage.clients import Clients
from shared.storage.items import AlreadyExists, StaleWrite, create_new, replace_if_unchanged, upsert
from shared.storage.retry import read_or_none, with_retries


def user_pk(tenant_id: str, user: str) -> str:
    return f"{tenant_id}|{user}"


@dataclass
class MergeResult:
    call_id: str
    changed: bool
    document: CallDocument
    previous: CallDocument | None


async def read_call(clients: Clients, tenant_id: str, call_id: str) -> CallDocument | None:
    """The whole call, its chunks joined if it has any (`call_chunks`)."""
    stored = await read_call_item(
        clients.container(layout.CALLS), call_id, call_pk(tenant_id, call_id)
    )
    return CallDocument.model_validate(stored.body) if stored else None


async def read_call_sessions(
    clients: Clients, tenant_id: str, call_id: str, first: int, end: int
) -> tuple[CallDocument, int] | None:
    """The call with only its sessions [first, end) (a page of the call detail), and
    how many sessions it has: the head and the chunks that page needs, no more."""
    stored = await read_call_page(
        clients.container(layout.CALLS), call_id, call_pk(tenant_id, call_id), first, end
    )
    if stored is None:
        return None
    return CallDocument.model_validate(stored.body), stored.session_count


Combine = Callable[[CallDocument | None], CallDocument | None]


async def merge_call(clients: Clients, tenant_id: str, key: str, combine: Combine) -> MergeResult:
    """Persist `combine(stored call or None)` with optimistic concurrency (a call too
    large for one item is stored as a head and chunks: `call_chunks`). `combine` is
    the domain's pure merge (`shared.merge.merged_document`): it returns the new
    document, or None when the stored one already holds everything. Storage only
    decides create vs. conditional replace, and calls `combine` again on top of a
    concurrent writer's result."""
    container = clients.container(layout.CALLS)
    cid = make_call_id(tenant_id, key)
    pk = call_pk(tenant_id, cid)
    for _ in range(20):
        fresh = combine(None)
        if fresh is not None:
            try:
                await write_call_item(container, fresh.to_cosmos(), None, what="call")
                return MergeResult(cid, True, fresh, None)
            except AlreadyExists:
                pass

        stored = await read_call_item(container, cid, pk)
        if stored is None:
            continue  # deleted in between (TTL, purge): create again
        current = CallDocument.model_validate(stored.body)
        doc = combine(current)
        if doc is None:
            return MergeResult(cid, False, current, current)
        try:
            await write_call_item(container, doc.to_cosmos(), stored, what="call")
            return MergeResult(cid, True, doc, current)
        except StaleWrite:
            continue  # another writer merged first: merge again on top of theirs
    raise RuntimeError(f"call {cid}: could not merge after repeated concurrent updates")


def user_index_docs(doc: CallDocument) -> list[dict[str, Any]]:
    """One small history entry per internal user of the call (the user's partition)."""
    view = doc.view
    out = []
    for user in internal_users(view):
        names = {p.uri: p.display_name for p in view.participants}
        own = [
            s for s in view.sessions if user in ((s.caller.uri or "")[4:], (s.callee.uri or "")[4:])
        ]
        out.append(
            {
                "id": doc.id,
                "pk": user_pk(doc.tenantId, user),
                "tenantId": doc.tenantId,
                "user": user,
                "displayName": names.get("sip:" + user),
                "callId": doc.id,
                "callType": view.call_type,
                "start": view.start,
                "end": view.end,
                "durationS": view.duration_s,
                "rating": view.rating,
                "reasons": view.reasons,
                "participantCount": len(view.participants),
                "participants": [p.uri for p in view.participants],
                "ownSessionIds": [s.id for s in own],
                "callRevision": doc.revision,
                "updatedAt": doc.updatedAt,
            }
            # the tenant's retention: a history entry goes with its call
            | ({"ttl": doc.ttl} if doc.ttl else {})
        )
    return out


def directory_doc(tenant_id: str, user: str, display_name: str | None) -> dict[str, Any]:
    """The user's entry in the tenant's directory of users seen in call data (search).
    Kept in the tenant's partition: a single-partition prefix query finds users."""
    return {
        "id": f"user|{user}",
        "tenantId": tenant_id,
        "type": "user",
        "user": user,
        "sipUri": "sip:" + user,
        "displayName": display_name,
        "nameLower": (display_name or "").lower(),
        "lastSeen": utcnow(),
        "ttl": layout.CALLS.default_ttl,  # gone with the user's last call
    }


async def put_history_entry(
    container: Any, entry: dict[str, Any], stored: dict[str, Any] | None = None
) -> bool:
    """Write a history entry unless the stored one was built from the same or a later
    revision of the call. Two processors merging one call each write the entries of
    the view they committed; the one whose write lands last must not be the one with
    the older view (a 429 retry can delay either), so the write is conditional: create
    when absent, else replace only the etag that was compared. Returns whether it wrote.
    `stored`: the entry as already read, if the caller has it."""
    revision = int(entry.get("callRevision") or 0)
    for _ in range(10):
        if stored is None:
            try:
                await create_new(container, entry, what="create user history")
                return True
            except AlreadyExists:
                pass
            stored = await read_or_none(
                container, entry["id"], entry["pk"], what="read user history"
            )
            if stored is None:
                continue
        if int(stored.get("callRevision") or 0) >= revision and revision:
            return False  # built from a view at least as recent: it stands
        try:
            await replace_if_unchanged(
                container, entry["id"], entry, stored["_etag"], what="replace user history"
            )
            return True
        except StaleWrite:
            stored = None  # another writer got there: compare with theirs
    raise RuntimeError("history entry: could not write after repeated concurrent updates")


async def write_user_index(
    clients: Clients, doc: CallDocument, seen: set[tuple[str, str | None]] | None = None
) -> int:
    """Write the call's history entries (`put_history_entry`: never over a newer one),
    and each user's directory entry once per batch (`seen`), not once per call."""
    container = clients.container(layout.USER_CALLS)
    entries = user_index_docs(doc)
    for entry in entries:
        # a call's first revision has no entries yet: create straight away; a later
        # one most likely has them: read, compare, replace
        stored = (
            await read_or_none(container, entry["id"], entry["pk"], what="read user history")
            if doc.revision > 1
            else None
        )
        await put_history_entry(container, entry, stored)
        marker = (entry["user"], entry["displayName"])
        if seen is not None and marker in seen:
            continue
        if seen is not None:
            seen.add(marker)
        entry_doc = directory_doc(doc.tenantId, entry["user"], entry["displayName"])
        await upsert(clients.container(layout.TENANTS), entry_doc, what="upsert user directory")
    return len(entries)


_VOLATILE = ("updatedAt", "lastSeen")


def _same(stored: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    return stored is not None and all(
        stored.get(k) == v for k, v in wanted.items() if k not in _VOLATILE
    )


async def ensure_user_index(
    clients: Clients, doc: CallDocument, seen: set[tuple[str, str | None]] | None = None
) -> int:
    """For a merge that found the call unchanged (a re-run, a duplicate record): the
    history and directory entries a crash between the call write and
    `write_user_index` left missing or stale are written now; present ones cost a
    point read each and no write. Returns the number of entries written."""
    history, directory = clients.container(layout.USER_CALLS), clients.container(layout.TENANTS)
    written = 0
    for entry in user_index_docs(doc):
        stored = await read_or_none(history, entry["id"], entry["pk"], what="read user history")
        if not _same(stored, entry) and await put_history_entry(history, entry, stored):
            written += 1
        marker = (entry["user"], entry["displayName"])
        if seen is not None and marker in seen:
            continue
        if seen is not None:
            seen.add(marker)
        entry_doc = directory_doc(doc.tenantId, entry["user"], entry["displayName"])
        if (
            await read_or_none(directory, entry_doc["id"], doc.tenantId, what="read user directory")
            is None
        ):
            await upsert(directory, entry_doc, what="upsert user directory")
            written += 1
    return written


async def _query(
    container: Any, query: str, params: dict[str, Any], partition_key: str
) -> list[dict[str, Any]]:
    parameters = [{"name": k, "value": v} for k, v in params.items()]

    async def op() -> list[dict[str, Any]]:
        return [
            item
            async for item in container.query_items(
                query, parameters=parameters, partition_key=partition_key
            )
        ]

    return await with_retries(op, what="query")


async def search_directory(
    clients: Clients, tenant_id: str, prefix: str, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` directory entries whose user key or lower-cased name starts with
    `prefix` (one query in the tenant's partition)."""
    return await _query(
        clients.container(layout.TENANTS),
        "SELECT TOP @n c.user, c.displayName, c.sipUri, c.lastSeen FROM c "
        "WHERE c.tenantId = @t AND c.type = 'user' AND "
        "(STARTSWITH(c.user, @q) OR STARTSWITH(c.nameLower, @q))",
        {"@n": limit, "@t": tenant_id, "@q": prefix},
        tenant_id,
    )


async def history_page(
    clients: Clients,
    tenant_id: str,
    user: str,
    first: str,
    end: str,
    limit: int,
    after: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """Up to `limit` history entries of `user` with `first <= start < end`, newest first
    (then by id); `after` = {"start", "id"} continues below that entry."""
    pk = user_pk(tenant_id, user)
    query = "SELECT TOP @n * FROM c WHERE c.pk = @pk AND c.start >= @from AND c.start < @to"
    params: dict[str, Any] = {"@n": limit, "@pk": pk, "@from": first, "@to": end}
    if after:
        query += " AND (c.start < @s OR (c.start = @s AND c.id < @id))"
        params |= {"@s": after.get("start"), "@id": after.get("id")}
    query += " ORDER BY c.start DESC, c.id DESC"
    return await _query(clients.container(layout.USER_CALLS), query, params, pk)


async def directory_users_from(
    clients: Clients, tenant_id: str, start: str, inclusive: bool, limit: int
) -> list[str]:
    """Up to `limit` user keys of the tenant's directory from `start` (itself too when
    `inclusive`), in key order (one query in the tenant's partition): how a walk over
    the tenant's calls goes without a cross-partition scan of the calls container,
    which indexes nothing."""
    items = await _query(
        clients.container(layout.TENANTS),
        "SELECT TOP @n c.user FROM c WHERE c.tenantId = @t AND c.type = 'user' "
        f"AND c.user {'>=' if inclusive else '>'} @start ORDER BY c.user",
        {"@n": limit, "@t": tenant_id, "@start": start},
        tenant_id,
    )
    return [str(i["user"]) for i in items if i.get("user")]


async def history_call_ids(clients: Clients, tenant_id: str, user: str) -> list[str]:
    """The call ids of every history entry of the user (one partition, any date)."""
    pk = user_pk(tenant_id, user)
    items = await _query(
        clients.container(layout.USER_CALLS),
        "SELECT c.callId FROM c WHERE c.pk = @pk",
        {"@pk": pk},
        pk,
    )
    return sorted({str(i["callId"]) for i in items if i.get("callId")})
