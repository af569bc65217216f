"""Call documents and the per-user history index in Cosmos DB.

Writes are optimistic: create for a new call (one request: the common case), else
read, union the fragments and replace with the etag; a concurrent writer makes the
replace fail with 412 and the merge is simply redone. When the union adds nothing the
document is not written at all, so re-running a batch costs reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from azure.core import MatchConditions

from shared.identity import call_id as make_call_id
from shared.merge import build_view, internal_users, union
from shared.models.call import CallDocument, Fragment
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries


def call_pk(tenant_id: str, call_id: str) -> str:
    return f"{tenant_id}|{call_id}"


def user_pk(tenant_id: str, user: str) -> str:
    return f"{tenant_id}|{user}"


@dataclass
class MergeResult:
    call_id: str
    changed: bool
    document: CallDocument
    previous: CallDocument | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_document(
    tenant_id: str, key: str, fragments: dict[str, Fragment], profile: str | None
) -> CallDocument:
    cid = make_call_id(tenant_id, key)
    return CallDocument(
        id=cid,
        pk=call_pk(tenant_id, cid),
        tenantId=tenant_id,
        key=key,
        fragments=fragments,
        view=build_view(fragments, profile=profile),
        updatedAt=_now(),
    )


async def read_call(clients: Clients, tenant_id: str, call_id: str) -> CallDocument | None:
    raw = await read_or_none(
        clients.container(layout.CALLS), call_id, call_pk(tenant_id, call_id), what="read call"
    )
    return CallDocument.model_validate(raw) if raw else None


async def merge_call(
    clients: Clients, tenant_id: str, key: str, new: list[Fragment], profile: str | None = None
) -> MergeResult:
    container = clients.container(layout.CALLS)
    cid = make_call_id(tenant_id, key)
    pk = call_pk(tenant_id, cid)
    fresh = union({}, new)
    for _ in range(20):
        try:
            doc = build_document(tenant_id, key, fresh, profile)
            await with_retries(
                lambda doc=doc: container.create_item(doc.to_cosmos()), what="create call"
            )
            return MergeResult(cid, True, doc, None)
        except cosmos_errors.CosmosResourceExistsError:
            pass

        raw = await read_or_none(container, cid, pk, what="read call")
        if raw is None:
            continue  # deleted in between (TTL, purge): create again
        current = CallDocument.model_validate(raw)
        merged = union(current.fragments, new)
        if merged.keys() == current.fragments.keys():
            return MergeResult(cid, False, current, current)
        doc = build_document(tenant_id, key, merged, profile)
        try:
            await with_retries(
                lambda doc=doc, etag=raw["_etag"]: container.replace_item(
                    cid, doc.to_cosmos(), etag=etag, match_condition=MatchConditions.IfNotModified
                ),
                what="replace call",
            )
            return MergeResult(cid, True, doc, current)
        except cosmos_errors.CosmosAccessConditionFailedError:
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
                "updatedAt": doc.updatedAt,
            }
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
        "lastSeen": _now(),
        "ttl": layout.CALLS.default_ttl,  # gone with the user's last call
    }


async def write_user_index(
    clients: Clients, doc: CallDocument, seen: set[tuple[str, str | None]] | None = None
) -> int:
    """Upsert the call's history entries, and each user's directory entry once per
    batch (`seen`), not once per call."""
    container = clients.container(layout.USER_CALLS)
    entries = user_index_docs(doc)
    for entry in entries:
        await with_retries(
            lambda entry=entry: container.upsert_item(entry), what="upsert user history"
        )
        marker = (entry["user"], entry["displayName"])
        if seen is not None and marker in seen:
            continue
        if seen is not None:
            seen.add(marker)
        entry_doc = directory_doc(doc.tenantId, entry["user"], entry["displayName"])
        await with_retries(
            lambda d=entry_doc: clients.container(layout.TENANTS).upsert_item(d),
            what="upsert user directory",
        )
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
        if not _same(stored, entry):
            await with_retries(
                lambda entry=entry: history.upsert_item(entry), what="upsert user history"
            )
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
            await with_retries(
                lambda d=entry_doc: directory.upsert_item(d), what="upsert user directory"
            )
            written += 1
    return written
