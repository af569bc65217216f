"""Call Analytics reads: user search, a user's call history, call detail.

Each read is the cheapest Cosmos DB operation that answers it: search is a query in
the tenant's directory partition, history a single-partition query in the user's
partition (keyset paging: no OFFSET, stable under inserts), detail one point read (a
large meeting stored in chunks: the head and the chunks of the page asked for).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.analytics.visibility import mask_phones, project_call
from shared.auth.levels import CALL_ANALYTICS, CALL_LOOKUP
from shared.auth.tokens import Principal
from shared.errors import Invalid, NotFound
from shared.identity import normalise_uri, user_key
from shared.merge import HISTORY_PARTICIPANTS, normalise_source_id
from shared.models.call import CallDocument
from shared.paging import decode_page_token, encode_page_token
from shared.reports.places import add_places, load_place_context
from shared.storage.calls import history_page, read_call, read_call_sessions, search_directory
from shared.storage.clients import Clients
from shared.storage.source_index import calls_for_source_id

SEARCH_LIMIT = 25
PAGE_SIZE = 50
SESSION_PAGE = 100  # sessions per page of a call detail (a few hundred KB at most)
DEFAULT_DAYS = 30


def parse_time(value: str | None, name: str, default: datetime) -> datetime:
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} must be an ISO-8601 date or time", field=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def normalise_user(raw: str) -> str:
    key = user_key(normalise_uri(raw))
    if key is None:
        raise Invalid("user must be a UPN or SIP URI", field="user")
    return key


async def search_users(clients: Clients, principal: Principal, text: str | None) -> dict[str, Any]:
    principal.require(CALL_ANALYTICS)
    q = (text or "").strip().lower()
    if q.startswith("sip:"):
        q = q[4:]
    if len(q) < 2:
        raise Invalid("search needs at least 2 characters", field="search")
    items = await search_directory(clients, principal.tenant_id, q, SEARCH_LIMIT)
    users = [
        {
            "user": i["user"],
            "displayName": i.get("displayName"),
            "sipUri": i.get("sipUri"),
            "lastSeen": i.get("lastSeen"),
        }
        for i in items
    ]
    users.sort(key=lambda u: (u["displayName"] or u["user"]).lower())
    return {"users": users[:SEARCH_LIMIT]}


async def user_calls(
    clients: Clients,
    principal: Principal,
    user: str,
    frm: str | None,
    to: str | None,
    continuation: str | None,
    limit: int = PAGE_SIZE,
) -> dict[str, Any]:
    principal.require(CALL_ANALYTICS)
    key = normalise_user(user)
    now = datetime.now(timezone.utc)
    end = parse_time(to, "to", now)
    start = parse_time(frm, "from", end - timedelta(days=DEFAULT_DAYS))
    if start >= end:
        raise Invalid("from must be before to", field="from")
    state = decode_page_token(continuation, ("start", "id"))
    items = await history_page(
        clients, principal.tenant_id, key, iso(start), iso(end), limit + 1, state
    )
    page, more = items[:limit], len(items) > limit
    calls = []
    for i in page:
        entry = {
            "callId": i["callId"],
            "callType": i.get("callType"),
            "start": i.get("start"),
            "end": i.get("end"),
            "durationS": i.get("durationS"),
            "rating": i.get("rating"),
            "reasons": i.get("reasons") or [],
            "participantCount": i.get("participantCount"),
        }
        if principal.level == "admin":
            entry["participants"] = i.get("participants") or []
        elif principal.level == "engineer":  # phone numbers masked, as in call detail
            entry["participants"] = mask_phones(i.get("participants") or [])
        calls.append(entry)
    token = encode_page_token({"start": page[-1]["start"], "id": page[-1]["id"]}) if more else None
    return {
        "user": key,
        "from": iso(start),
        "to": iso(end),
        "calls": calls,
        "continuationToken": token,
    }


def detail_dict(doc: CallDocument) -> dict[str, Any]:
    """The full call-detail body, camelCase by the models' alias rule (before projection)."""
    view = doc.view.model_dump(mode="json", exclude_none=True, by_alias=True)
    view["participantCount"] = len(doc.view.participants)
    return {"callId": doc.id, **view}


def _session_position(continuation: str | None) -> int:
    state = decode_page_token(continuation, ("session",))
    if state is None:
        return 0
    if not state["session"].isdigit() or len(state["session"]) > 9:
        raise Invalid("continuation token is not valid", field="continuationToken")
    return int(state["session"])


async def call_detail(
    clients: Clients,
    principal: Principal,
    call_id: str,
    searched_user: str | None,
    continuation: str | None = None,
) -> dict[str, Any]:
    """The call, its participants and one page of its sessions (`SESSION_PAGE`, in the
    view's order); `continuationToken` asks for the next page. A large meeting's call
    detail is never one multi-megabyte answer, and a page reads only the stored chunks
    it needs. Each page is projected for the caller's level like a whole call (a
    specialist sees only the searched user's own sessions of a conference, so a page
    can hold fewer than the page size, or none)."""
    principal.require(CALL_ANALYTICS)
    level = principal.level
    searched = normalise_user(searched_user) if searched_user else None
    first = _session_position(continuation)
    if level == "specialist" and not searched:
        raise Invalid(
            "a specialist reads a call for the user searched for: add ?user=", field="user"
        )
    # `place` (building file + topology, resolved at read time) is "advanced":
    # only engineer and admin see it, so only they load its context (cached per tenant
    # for 30 s; otherwise two point reads), in parallel with the call read.
    with_place = level in ("admin", "engineer")
    end = first + SESSION_PAGE
    found, context = await asyncio.gather(
        read_call_sessions(clients, principal.tenant_id, call_id, first, end),
        load_place_context(clients, principal.tenant_id) if with_place else _none(),
    )
    if found is None or found[0].tenantId != principal.tenant_id:
        raise NotFound("no such call for this tenant", field="callId")
    doc, total = found
    if searched and searched not in {user_key(p.uri) for p in doc.view.participants}:
        raise NotFound("the user did not take part in this call", field="user")
    detail = detail_dict(doc)
    detail["sessionCount"] = total
    detail["continuationToken"] = encode_page_token({"session": str(end)}) if end < total else None
    if context is not None:
        add_places(detail, doc.view.sessions, *context)
    return project_call(detail, level, searched)  # type: ignore[arg-type]


MAX_SOURCE_ID = 512


async def calls_by_source_id(
    clients: Clients, principal: Principal, source_id: str | None
) -> dict[str, Any]:
    """The caller's tenant's calls that carry `source_id`: a Graph callRecord or session
    id, a SIP Call-ID, a conference URI or id, a QoE report id, or our own call id. One
    point read in the source-id index plus one per call found (no scan)."""
    principal.require(CALL_LOOKUP)
    if not source_id or not source_id.strip():
        raise Invalid("sourceId is required", field="sourceId")
    if len(source_id) > MAX_SOURCE_ID:
        raise Invalid(f"sourceId is longer than {MAX_SOURCE_ID} characters", field="sourceId")
    key = normalise_source_id(source_id)
    tenant = principal.tenant_id
    own, indexed = await asyncio.gather(
        # our own call ids are UUIDs; anything else (a URL, a Call-ID) is never an item id
        read_call(clients, tenant, key) if key and _is_uuid(key) else _none(),
        calls_for_source_id(clients, tenant, key or ""),
    )
    docs = [own] if own is not None and own.tenantId == tenant else []
    for call_id in indexed:
        if any(d.id == call_id for d in docs):
            continue
        doc = await read_call(clients, tenant, call_id)
        if doc is not None and doc.tenantId == tenant:  # expired calls leave stale entries
            docs.append(doc)
    docs.sort(key=lambda d: (d.view.start or "", d.id), reverse=True)
    return {
        "sourceId": source_id.strip(),
        "calls": [
            {
                "callId": d.id,
                "callType": d.view.call_type,
                "start": d.view.start,
                "end": d.view.end,
                "durationS": d.view.duration_s,
                "rating": d.view.rating,
                "reasons": d.view.reasons,
                "participantCount": len(d.view.participants),
                "participants": [p.uri for p in d.view.participants[:HISTORY_PARTICIPANTS]],
            }
            for d in docs
        ],
        "continuationToken": None,
    }


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


async def _none() -> None:
    return None
