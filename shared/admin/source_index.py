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
- each run handles `USERS_PER_RUN` users and answers a `continuationToken` for the
  next; a run is idempotent (an id that already lists the call costs one point read and
  no write), so a run repeated, interrupted or racing the processor converges.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.merge import stored_lookup_keys
from shared.paging import decode_page_token, encode_page_token
from shared.storage.calls import directory_users_after, history_call_ids, read_call
from shared.storage.clients import Clients
from shared.storage.source_index import index_source_ids

USERS_PER_RUN = 25
CONCURRENCY = 8


async def backfill_source_index(
    clients: Clients, principal: Principal, continuation: str | None
) -> dict[str, Any]:
    """One run over the next `USERS_PER_RUN` users of the caller's tenant."""
    principal.require(ADMIN)
    tenant = principal.tenant_id
    state = decode_page_token(continuation, ("after",))
    after = state["after"] if state else ""
    users = await directory_users_after(clients, tenant, after, USERS_PER_RUN + 1)
    batch, more = users[:USERS_PER_RUN], len(users) > USERS_PER_RUN
    histories = await asyncio.gather(*(history_call_ids(clients, tenant, u) for u in batch))
    call_ids = sorted({c for ids in histories for c in ids})
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(call_id: str) -> tuple[int, int, int]:
        """(calls read, ids checked, index writes) for one call."""
        async with sem:
            doc = await read_call(clients, tenant, call_id)
            if doc is None or doc.tenantId != tenant:  # expired or purged since
                return 0, 0, 0
            keys = stored_lookup_keys(doc.fragments.values(), doc.view)
            return 1, len(keys), await index_source_ids(clients, tenant, call_id, keys)

    done = await asyncio.gather(*(one(c) for c in call_ids))
    return {
        "usersRead": len(batch),
        "callsRead": sum(d[0] for d in done),
        "idsChecked": sum(d[1] for d in done),
        "entriesWritten": sum(d[2] for d in done),
        "continuationToken": encode_page_token({"after": batch[-1]}) if more else None,
    }
