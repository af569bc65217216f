"""The audit log of Call Analytics reads (docs/reference/roles.md, "Audit").

Who read whose data: appended for every read, in the tenant's month partition, kept a
year. A failed audit write never blocks the read (the helpdesk must keep working) but
is logged as an error so operators see it.

The record is written while the read runs, not after it: on the request path it costs
the slower of the two instead of their sum (a Cosmos DB write is the dearest step of a
call detail). So it records every read a Call Analytics user asked for, including one
that found nothing or that the read itself refused (a search too short, a bad date
range); a request refused for its role or for an unreadable user is not.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from shared.analytics.service import iso, parse_time
from shared.auth.levels import ADMIN, CALL_ANALYTICS
from shared.auth.tokens import Principal
from shared.errors import Invalid
from shared.paging import decode_page_token, encode_page_token
from shared.storage import audit as audit_store
from shared.storage.audit import audit_pk
from shared.storage.clients import Clients

log = logging.getLogger(__name__)
MAX_MONTHS = 13
T = TypeVar("T")


async def record_read(
    clients: Clients,
    principal: Principal,
    action: str,
    *,
    user: str | None = None,
    call_id: str | None = None,
) -> None:
    now = datetime.now(timezone.utc)
    doc = {
        "id": str(uuid.uuid4()),
        "pk": audit_pk(principal.tenant_id, now),
        "tenantId": principal.tenant_id,
        "at": iso(now),
        "action": action,
        "actorId": principal.object_id,
        "actorName": principal.name,
        "level": principal.level,
        "targetUser": user,
        "callId": call_id,
    }
    try:
        await audit_store.write_entry(clients, doc)
    except Exception:
        log.error(
            "audit record could not be written for a %s read",
            action,
            exc_info=True,
            extra={"tenantId": principal.tenant_id},
        )


async def audited(
    clients: Clients,
    principal: Principal,
    action: str,
    read: Callable[[], Awaitable[T]],
    *,
    user: str | None = None,
    call_id: str | None = None,
) -> T:
    """Run `read` and write its audit record concurrently; the read's outcome decides the
    response, the audit write never fails it. Both finish before the response leaves,
    so no audit write is left running when the host freezes the worker."""
    principal.require(CALL_ANALYTICS)
    result, _ = await asyncio.gather(
        read(),
        record_read(clients, principal, action, user=user, call_id=call_id),
        return_exceptions=True,
    )
    if isinstance(result, BaseException):
        raise result
    return result


def _months(start: datetime, end: datetime) -> list[datetime]:
    months, cur = [], start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while cur <= end:
        months.append(cur)
        cur = (cur + timedelta(days=32)).replace(day=1)
    return months


async def read_audit(
    clients: Clients,
    principal: Principal,
    frm: str | None,
    to: str | None,
    continuation: str | None,
    limit: int = 200,
) -> dict[str, Any]:
    principal.require(ADMIN)
    now = datetime.now(timezone.utc)
    end = parse_time(to, "to", now)
    start = parse_time(frm, "from", end - timedelta(days=7))
    months = _months(start, end)
    if len(months) > MAX_MONTHS:
        raise Invalid(f"an audit query spans at most {MAX_MONTHS} months", field="from")
    state = decode_page_token(continuation, ("pk", "at", "id")) or {}
    if state and not (
        state.get("pk") in {audit_pk(principal.tenant_id, m) for m in months}
        and isinstance(state.get("at"), str)
        and isinstance(state.get("id"), str)
    ):
        # A token from another query (another month range, another tenant) or a forged
        # one: refused, never compared with the partition keys (a number would raise).
        raise Invalid("continuation token is not valid for this query", field="continuationToken")
    entries: list[dict[str, Any]] = []
    # Newest month first; within a month newest first; the token remembers where we were.
    for month in reversed(months):
        pk = audit_pk(principal.tenant_id, month)
        if state.get("pk") and pk > state["pk"]:
            continue
        items = await audit_store.month_page(
            clients,
            pk,
            iso(start),
            iso(end),
            limit + 1 - len(entries),
            state if state.get("pk") == pk else None,
        )
        entries += [i | {"_month": pk} for i in items]
        if len(entries) > limit:
            break
    page, more = entries[:limit], len(entries) > limit
    last = page[-1] if more else None
    token = (
        encode_page_token({"pk": last["_month"], "at": last["at"], "id": last["id"]})
        if last
        else None
    )
    fields = (
        "at",
        "action",
        "actorId",
        "actorName",
        "level",
        "targetUser",
        "callId",
        "field",
        "userHash",
    )
    return {"entries": [{k: e.get(k) for k in fields} for e in page], "continuationToken": token}
