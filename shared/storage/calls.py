"""Call documents and the per-user history index in Cosmos DB.

Writes are optimistic: create for a new call (one request: the common case), else
read, union the fragments and replace with the etag; a concurrent writer makes the
replace fail with 412 and the merge is simply redone. When the union adds nothing the
document is not written at all, so re-running a batch costs reads only.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.clock import utcnow
from shared.identity import call_id as make_call_id
from shared.merge import HISTORY_PARTICIPANTS, call_pk, internal_users
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.call_chunks import (
    MANIFEST,
    SESSION_COUNT,
    StoredCall,
    read_call_item,
    read_call_page,
    write_call_item,
)
from shared.storage.call_ledger import LEDGER, CommitGroup
from shared.storage.clients import Clients
from shared.storage.items import (
    BATCH_LIMIT,
    AlreadyExists,
    StaleWrite,
    create_new,
    execute_batch,
    replace_if_unchanged,
    upsert,
    upsert_op,
)
from shared.storage.retry import read_many, read_or_none, with_retries


def user_pk(tenant_id: str, user: str) -> str:
    return f"{tenant_id}|{user}"


@dataclass
class MergeResult:
    call_id: str
    changed: bool
    document: CallDocument
    previous: CallDocument | None
    # the call item as read, for a merge that found nothing to add (a re-run settles
    # the aggregate ledger it holds: `call_ledger.CommitGroup.found_unchanged`)
    stored: StoredCall | None = None


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


UNREAD: Any = object()  # "not read yet", as opposed to None: read and absent


def call_key(tenant_id: str, key: str) -> tuple[str, str]:
    """(id, partition key) of the call document of call key `key`."""
    cid = make_call_id(tenant_id, key)
    return cid, call_pk(tenant_id, cid)


async def read_calls_raw(
    clients: Clients, tenant_id: str, keys: list[str]
) -> dict[str, dict[str, Any] | None]:
    """The stored call items (heads, for a chunked call) of a flush's call keys in one
    read-many: by call key, the raw item or None (no such call yet)."""
    idents = {key: call_key(tenant_id, key) for key in keys}
    found = await read_many(
        clients.container(layout.CALLS), list(idents.values()), what="read calls"
    )
    return {key: found.get(ident) for key, ident in idents.items()}


async def _from_head(container: Any, cid: str, pk: str, head: dict[str, Any]) -> StoredCall | None:
    """The call the flush's read-many found: whole when its item holds all of it; a
    chunked call's head names chunks, so that call is read whole (`read_call_item`)."""
    if head.get(MANIFEST):
        return await read_call_item(container, cid, pk)
    body = {k: v for k, v in head.items() if k not in (MANIFEST, SESSION_COUNT)}
    count = len((body.get("view") or {}).get("sessions") or [])
    return StoredCall(body, str(head.get("_etag")), [], count)


def _body(doc: CallDocument, item: StoredCall | None, group: CommitGroup | None) -> dict[str, Any]:
    """The item to write for `doc` over the stored `item`: with the aggregate ledger the
    commit group computes, or (no group) the stored ledger carried over unchanged."""
    body = doc.to_cosmos()
    if group is not None:
        body[LEDGER] = group.state_for(doc.id, item.body if item else None, doc)
    elif item is not None and LEDGER in item.body:
        body[LEDGER] = item.body[LEDGER]
    return body


async def merge_call(
    clients: Clients,
    tenant_id: str,
    key: str,
    combine: Combine,
    stored: Any = UNREAD,
    group: CommitGroup | None = None,
) -> MergeResult:
    """Persist `combine(stored call or None)` with optimistic concurrency (a call too
    large for one item is stored as a head and chunks: `call_chunks`). `combine` is
    the domain's pure merge (`shared.merge.merged_document`): it returns the new
    document, or None when the stored one already holds everything. Storage only
    decides create vs. conditional replace, and calls `combine` again on top of a
    concurrent writer's result. `stored`: the raw item as the flush's read-many found
    it (None: absent; the `group` has `learn`ed it), so a stored call costs its replace
    only; left out, a create is tried first (one request for a new call) and the call
    read on a conflict. `group`: the commit group whose transition of the call's
    aggregate ledger the write carries (`call_ledger`), told of the outcome."""
    container = clients.container(layout.CALLS)
    cid, pk = call_key(tenant_id, key)
    for _ in range(20):
        if stored is UNREAD or stored is None:
            fresh = combine(None)
            if fresh is not None:
                body = _body(fresh, None, group)
                try:
                    await write_call_item(container, body, None, what="call")
                    if group is not None:
                        group.wrote(cid, body[LEDGER])
                    return MergeResult(cid, True, fresh, None)
                except AlreadyExists:
                    pass
            item = await read_call_item(container, cid, pk)
            if item is not None and group is not None:
                await group.learn([(cid, item.body)])
        else:
            item = await _from_head(container, cid, pk, stored)
        stored = UNREAD  # a retry reads again
        if item is None:
            continue  # deleted in between (TTL, purge): create again
        current = CallDocument.model_validate(item.body)
        doc = combine(current)
        if doc is None:
            if group is not None:
                group.found_unchanged(cid, item)
            return MergeResult(cid, False, current, current, item)
        body = _body(doc, item, group)
        try:
            await write_call_item(container, body, item, what="call")
        except StaleWrite:
            continue  # another writer merged first: merge again on top of theirs
        if group is not None:
            group.wrote(cid, body[LEDGER])
        return MergeResult(cid, True, doc, current)
    raise RuntimeError(f"call {cid}: could not merge after repeated concurrent updates")


def user_index_docs(doc: CallDocument) -> list[dict[str, Any]]:
    """One small history entry per internal user of the call (the user's partition).
    Built in one pass over sessions and participants: a 1,000-leg meeting has 1,000
    users, and a per-user scan of every session made each merge of it quadratic."""
    view = doc.view
    names = {p.uri: p.display_name for p in view.participants}
    # a history row names the first participants; participantCount counts them all and
    # the call detail lists everyone (a 1,000-leg meeting would otherwise write 1,000
    # addresses into each of its 1,000 entries at every merge)
    uris = [p.uri for p in view.participants[:HISTORY_PARTICIPANTS]]
    own: dict[str, list[str]] = defaultdict(list)
    for s in view.sessions:
        ends = {(s.caller.uri or "")[4:], (s.callee.uri or "")[4:]}
        for end in ends:
            own[end].append(s.id)
    base = {
        "tenantId": doc.tenantId,
        "callId": doc.id,
        "callType": view.call_type,
        "start": view.start,
        "end": view.end,
        "durationS": view.duration_s,
        "rating": view.rating,
        "reasons": view.reasons,
        "participantCount": len(view.participants),
        "participants": uris,
        "callRevision": doc.revision,
        "updatedAt": doc.updatedAt,
    }
    # the tenant's retention: a history entry goes with its call
    kept = {"ttl": doc.ttl} if doc.ttl else {}
    return [
        {
            "id": doc.id,
            "pk": user_pk(doc.tenantId, user),
            "user": user,
            "displayName": names.get("sip:" + user),
            "ownSessionIds": list(own.get(user, ())),
        }
        | base
        | kept
        for user in internal_users(view)
    ]


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


# Per process and database: the directory entries this process wrote or found, with
# the display name and the UTC day they were written. A user seen again the same day
# under the same name needs no write (the entry lives 30 days from its last write, so one
# write a day keeps it; a new name is written at once). Keyed by the database client, so
# another account or a re-created database (the emulator restarted) starts empty.
_directory: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], tuple[str | None, str]]] = (
    weakref.WeakKeyDictionary()
)


def _directory_known(clients: Clients, tenant_id: str, user: str, name: str | None) -> bool:
    """Written today under this name, or under a name when this view has none (a QoE
    report names no one: writing it would only blank the name a CDR gave)."""
    known = _directory.get(clients.database, {}).get((tenant_id, user))
    if known is None or known[1] != utcnow()[:10]:
        return False
    return known[0] == name or (name is None and known[0] is not None)


def _directory_written(clients: Clients, tenant_id: str, user: str, name: str | None) -> None:
    _directory.setdefault(clients.database, {})[(tenant_id, user)] = (name, utcnow()[:10])


def forget_directory_entry(clients: Clients, tenant_id: str, user: str) -> None:
    """A purge removed the entry: the next call of the user writes it again."""
    _directory.get(clients.database, {}).pop((tenant_id, user), None)


# A flush's directory entries to write, by user: written together (`write_directory`).
Directory = dict[str, tuple[str | None, dict[str, Any]]]


async def _put_directory(
    clients: Clients,
    tenant_id: str,
    user: str,
    name: str | None,
    directory: Directory | None = None,
) -> None:
    """Write the user's directory entry now, or (`directory` given) leave it for the
    flush's `write_directory`; a name never gives way to none."""
    entry_doc = directory_doc(tenant_id, user, name)
    if directory is not None:
        if name is not None or user not in directory:
            directory[user] = (name, entry_doc)
        return
    await upsert(clients.container(layout.TENANTS), entry_doc, what="upsert user directory")
    _directory_written(clients, tenant_id, user, name)


async def write_directory(clients: Clients, tenant_id: str, directory: Directory) -> None:
    """A flush's directory entries as upserts in transactional batches of the tenant's
    partition (where they all live): a request per 100 users instead of one each.
    Upserts need no etag: the last write of a user's entry wins, as it did one by one."""
    if not directory:
        return
    container = clients.container(layout.TENANTS)
    ops = [upsert_op(doc) for _, (_, doc) in sorted(directory.items())]
    for i in range(0, len(ops), BATCH_LIMIT):
        await execute_batch(container, ops[i : i + BATCH_LIMIT], tenant_id, what="write directory")
    for user, (name, _) in directory.items():
        _directory_written(clients, tenant_id, user, name)


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


def history_keys(doc: CallDocument) -> list[tuple[str, str]]:
    """(id, partition key) of the call's history entries, for a flush's read-many."""
    return [(doc.id, user_pk(doc.tenantId, user)) for user in internal_users(doc.view)]


async def read_history_raw(
    clients: Clients, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored history entries of `keys` in one read-many (missing: absent)."""
    return await read_many(clients.container(layout.USER_CALLS), keys, what="read user history")


async def write_user_index(
    clients: Clients,
    doc: CallDocument,
    seen: set[tuple[str, str | None]] | None = None,
    stored: dict[tuple[str, str], dict[str, Any]] | None = None,
    directory: Directory | None = None,
) -> int:
    """Write the call's history entries (`put_history_entry`: never over a newer one),
    and each user's directory entry once per batch (`seen`), not once per call, and not
    again the same day by the same process under the same name (`_directory`).
    `stored`: the entries as the flush's read-many found them (absent: not stored); left
    out, a call's first revision creates straight away and a later one reads each.
    `directory`: the flush's directory entries, written together after it."""
    container = clients.container(layout.USER_CALLS)
    entries = user_index_docs(doc)
    for entry in entries:
        # a call's first revision has no entries yet: create straight away; a later
        # one most likely has them: read, compare, replace
        if stored is not None:  # the flush read them all at once
            current = stored.get((entry["id"], entry["pk"]))
        elif doc.revision > 1:
            current = await read_or_none(
                container, entry["id"], entry["pk"], what="read user history"
            )
        else:
            current = None
        await put_history_entry(container, entry, current)
        marker = (entry["user"], entry["displayName"])
        if seen is not None and marker in seen:
            continue
        if seen is not None:
            seen.add(marker)
        if _directory_known(clients, doc.tenantId, entry["user"], entry["displayName"]):
            continue
        await _put_directory(clients, doc.tenantId, entry["user"], entry["displayName"], directory)
    return len(entries)


_VOLATILE = ("updatedAt", "lastSeen")


def _same(stored: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    return stored is not None and all(
        stored.get(k) == v for k, v in wanted.items() if k not in _VOLATILE
    )


async def ensure_user_index(
    clients: Clients,
    doc: CallDocument,
    seen: set[tuple[str, str | None]] | None = None,
    stored_entries: dict[tuple[str, str], dict[str, Any]] | None = None,
    directory: Directory | None = None,
) -> int:
    """For a merge that found the call unchanged (a re-run, a duplicate record): the
    history and directory entries a crash between the call write and
    `write_user_index` left missing or stale are written now; present ones cost a
    point read each and no write. Returns the number of entries written."""
    history, entries_c = clients.container(layout.USER_CALLS), clients.container(layout.TENANTS)
    written = 0
    for entry in user_index_docs(doc):
        if stored_entries is not None:  # the flush read them all at once
            stored = stored_entries.get((entry["id"], entry["pk"]))
        else:
            stored = await read_or_none(history, entry["id"], entry["pk"], what="read user history")
        if not _same(stored, entry) and await put_history_entry(history, entry, stored):
            written += 1
        marker = (entry["user"], entry["displayName"])
        if seen is not None and marker in seen:
            continue
        if seen is not None:
            seen.add(marker)
        if _directory_known(clients, doc.tenantId, entry["user"], entry["displayName"]):
            continue
        entry_doc = directory_doc(doc.tenantId, entry["user"], entry["displayName"])
        if (
            await read_or_none(entries_c, entry_doc["id"], doc.tenantId, what="read user directory")
            is None
        ):
            await _put_directory(
                clients, doc.tenantId, entry["user"], entry["displayName"], directory
            )
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
