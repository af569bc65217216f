"""Backfill of the source-id index (`GET /api/v1/calls?sourceId=`) for calls stored
before the index existed, or whose index writes were lost.

The processor indexes a call's ids when it writes the call; calls already stored then
had none. This walks the tenant's calls and writes what is missing:

- the walk goes user by user through the tenant's directory (one query in the tenant's
  partition, in key order), each user's history (one query in the user's partition),
  then one point read per call: only indexed paths and point reads, never a scan of
  the calls container (which indexes nothing). A call with no internal participant has
  no history entry and is not reached; its ids are indexed when one of its records
  arrives again.
- the ids come from the stored fragments (`shared.merge.stored_lookup_keys`), so a call
  whose view predates `sourceIds` is found by its Graph ids, SIP Call-IDs and
  conference URIs too.
- each run handles at most `CALLS_PER_RUN` calls and stops after about `RUN_SECONDS`
  (a short request, however many calls a user has or however slow the account), and
  answers a `continuationToken` for the next: the user and call it stopped at. A run is
  idempotent (an id that already lists the call costs one point read and no write), so
  a run repeated, interrupted or racing the processor converges.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.merge import stored_lookup_keys
from shared.paging import decode_page_token, encode_page_token
from shared.storage.calls import directory_users_from, history_call_ids, read_call
from shared.storage.clients import Clients
from shared.storage.source_index import index_source_ids

CALLS_PER_RUN = 100
USERS_PER_QUERY = 25
CONCURRENCY = 8
# A run stops at the first chunk boundary past this budget (the token continues from
# there), so a request stays short on a slow or throttled account too.
RUN_SECONDS = 2.0

Position = dict[str, str]  # {"user": ..., "call": ...}: where the walk is


async def _next_calls(
    clients: Clients, tenant: str, state: Position | None
) -> tuple[list[Position], int, bool]:
    """The next `CALLS_PER_RUN` positions of the walk (user by user, each user's calls
    in id order) after `state`, how many histories were read, and whether the walk
    reached the end of the directory."""
    todo: list[Position] = []
    users_seen = 0
    start, inclusive = (state["user"], True) if state else ("", False)
    while True:
        users = await directory_users_from(clients, tenant, start, inclusive, USERS_PER_QUERY)
        histories = await asyncio.gather(*(history_call_ids(clients, tenant, u) for u in users))
        for user, ids in zip(users, histories, strict=True):
            if state and user == state["user"]:
                ids = [c for c in ids if c > state["call"]]
            users_seen += 1
            for call_id in ids:
                if len(todo) == CALLS_PER_RUN:
                    return todo, users_seen, False
                todo.append({"user": user, "call": call_id})
        if len(users) < USERS_PER_QUERY:
            return todo, users_seen, True
        start, inclusive = users[-1], False


async def backfill_source_index(
    clients: Clients, principal: Principal, continuation: str | None
) -> dict[str, Any]:
    """One run over the next calls of the caller's tenant (at most `CALLS_PER_RUN`,
    about `RUN_SECONDS`)."""
    principal.require(ADMIN)
    tenant = principal.tenant_id
    started = time.monotonic()
    state = decode_page_token(continuation, ("user", "call"))
    todo, users_read, at_end = await _next_calls(clients, tenant, state)
    done: dict[str, tuple[int, int, int]] = {}

    async def one(call_id: str) -> tuple[int, int, int]:
        """(calls read, ids checked, index writes) for one call."""
        doc = await read_call(clients, tenant, call_id)
        if doc is None or doc.tenantId != tenant:  # expired or purged since
            return 0, 0, 0
        keys = stored_lookup_keys(doc.fragments.values(), doc.view)
        return 1, len(keys), await index_source_ids(clients, tenant, {k: {call_id} for k in keys})

    handled = 0
    while handled < len(todo):
        if handled and time.monotonic() - started > RUN_SECONDS:
            break
        chunk = todo[handled : handled + CONCURRENCY]
        # a call with several internal users is in each one's history: once a run
        fresh = list(dict.fromkeys(p["call"] for p in chunk if p["call"] not in done))
        for call_id, out in zip(fresh, await asyncio.gather(*map(one, fresh)), strict=True):
            done[call_id] = out
        handled += len(chunk)
    finished = at_end and handled == len(todo)
    return {
        "usersRead": users_read,
        "callsRead": sum(d[0] for d in done.values()),
        "idsChecked": sum(d[1] for d in done.values()),
        "entriesWritten": sum(d[2] for d in done.values()),
        "continuationToken": None if finished or not todo else encode_page_token(todo[handled - 1]),
    }
