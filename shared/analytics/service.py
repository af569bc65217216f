"""Call Analytics reads: user search, a user's call history, call detail.

Each read is the cheapest Cosmos DB operation that answers it: search is a query in
the tenant's directory partition, history a single-partition query in the user's
partition (keyset paging: no OFFSET, stable under inserts), detail one point read.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.analytics.visibility import project_call
from shared.auth.levels import CALL_ANALYTICS
from shared.auth.tokens import Principal
from shared.identity import normalise_uri, user_key
from shared.models.call import CallDocument
from shared.problems import Problem
from shared.reports.places import add_places, load_place_context
from shared.storage import layout
from shared.storage.calls import read_call, user_pk
from shared.storage.clients import Clients
from shared.storage.retry import with_retries

SEARCH_LIMIT = 25
PAGE_SIZE = 50
DEFAULT_DAYS = 30


def parse_time(value: str | None, name: str, default: datetime) -> datetime:
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, f"{name} must be an ISO-8601 date or time", field=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(state, dict):
            raise ValueError
        return state
    except ValueError:
        raise Problem(400, "continuation token is not valid", field="continuationToken") from None


def normalise_user(raw: str) -> str:
    key = user_key(normalise_uri(raw))
    if key is None:
        raise Problem(400, "user must be a UPN or SIP URI", field="user")
    return key


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


async def search_users(clients: Clients, principal: Principal, text: str | None) -> dict[str, Any]:
    principal.require(CALL_ANALYTICS)
    q = (text or "").strip().lower()
    if q.startswith("sip:"):
        q = q[4:]
    if len(q) < 2:
        raise Problem(400, "search needs at least 2 characters", field="search")
    items = await _query(
        clients.container(layout.TENANTS),
        "SELECT TOP @n c.user, c.displayName, c.sipUri, c.lastSeen FROM c "
        "WHERE c.tenantId = @t AND c.type = 'user' AND "
        "(STARTSWITH(c.user, @q) OR STARTSWITH(c.nameLower, @q))",
        {"@n": SEARCH_LIMIT, "@t": principal.tenant_id, "@q": q},
        principal.tenant_id,
    )
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
        raise Problem(400, "from must be before to", field="from")
    state = decode_token(continuation)
    pk = user_pk(principal.tenant_id, key)
    query = "SELECT TOP @n * FROM c WHERE c.pk = @pk AND c.start >= @from AND c.start < @to"
    params: dict[str, Any] = {"@n": limit + 1, "@pk": pk, "@from": iso(start), "@to": iso(end)}
    if state:
        query += " AND (c.start < @s OR (c.start = @s AND c.id < @id))"
        params |= {"@s": state.get("start"), "@id": state.get("id")}
    query += " ORDER BY c.start DESC, c.id DESC"
    items = await _query(clients.container(layout.USER_CALLS), query, params, pk)
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
        if principal.level in ("admin", "engineer"):
            entry["participants"] = i.get("participants") or []
        calls.append(entry)
    token = encode_token({"start": page[-1]["start"], "id": page[-1]["id"]}) if more else None
    return {
        "user": key,
        "from": iso(start),
        "to": iso(end),
        "calls": calls,
        "continuationToken": token,
    }


def detail_dict(doc: CallDocument) -> dict[str, Any]:
    view = doc.view.model_dump(mode="json", exclude_none=True)
    view["participant_count"] = len(doc.view.participants)
    return {"callId": doc.id, **view}


async def call_detail(
    clients: Clients, principal: Principal, call_id: str, searched_user: str | None
) -> dict[str, Any]:
    principal.require(CALL_ANALYTICS)
    level = principal.level
    searched = normalise_user(searched_user) if searched_user else None
    if level == "specialist" and not searched:
        raise Problem(
            400, "a specialist reads a call for the user searched for: add ?user=", field="user"
        )
    # (issue 10) `place` (building file + topology, resolved at read time) is "advanced":
    # only engineer and admin see it, so only they load its context (cached per tenant
    # for 30 s; otherwise two point reads), in parallel with the call read.
    with_place = level in ("admin", "engineer")
    doc, context = await asyncio.gather(
        read_call(clients, principal.tenant_id, call_id),
        load_place_context(clients, principal.tenant_id) if with_place else _none(),
    )
    if doc is None or doc.tenantId != principal.tenant_id:
        raise Problem(404, "no such call for this tenant", field="callId")
    if searched and searched not in {user_key(p.uri) for p in doc.view.participants}:
        raise Problem(404, "the user did not take part in this call", field="user")
    detail = detail_dict(doc)
    if context is not None:
        add_places(detail, doc.view.sessions, *context)
    return project_call(detail, level, searched)  # type: ignore[arg-type]


async def _none() -> None:
    return None
