"""Purge a user's data on request (docs/reference/data.md; an admin operation,
docs/reference/roles.md).

Order matters for a purge that is retried after a failure part-way: each call is
handled before the user's history entry that leads to it is deleted, and a call's
aggregates are renamed before its ledger forgets the user, so a second run finds
whatever the first left and finishes it. The purge is recorded (who, when, a hash of
the user, never the address) in the audit log and as a status item whose URL the
answer gives.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.aggregates import ledger as ledger_rules
from shared.analytics.service import iso, normalise_user
from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.errors import NotFound
from shared.exclusions import ExclusionPolicy
from shared.merge import internal_users
from shared.models.call import CallDocument
from shared.purge import (
    PURGED,
    only_internal_participant,
    rename_counter,
    scrub_call,
    user_hash,
    without_user_counter,
)
from shared.storage import audit as audit_store
from shared.storage import purge as store
from shared.storage.call_ledger import LEDGER
from shared.storage.calls import read_call, write_user_index
from shared.storage.clients import Clients
from shared.storage.tenants import read_tenant_settings, save_exclusions

AUDIT_MONTHS = 13  # the audit log's retention, and a little more
# A run whose status still says "running" this long after it started is taken as dead
# (its process stopped) and started again; the purge is idempotent, so that is safe.
STALE_RUN = timedelta(minutes=15)
log = logging.getLogger(__name__)
# The purges this process runs, by (tenant, user hash): a request for a user already
# being purged here waits for that run instead of starting a second one.
_running: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}


async def _rename_in_aggregates(
    clients: Clients, tenant_id: str, user: str, doc_keys: set[str]
) -> int:
    def rename(doc: dict[str, Any]) -> dict[str, Any] | None:
        users = doc.get("poorUsers") or {}
        return doc | {"poorUsers": rename_counter(users, user)} if user in users else None

    changed = 0
    for doc_key in sorted(doc_keys):
        changed += await store.edit_aggregate(clients, tenant_id, doc_key, rename)
    return changed


def _forget_in_call(raw: dict[str, Any], user: str) -> dict[str, Any]:
    """The stored call with the user's counters dropped from the ledger it carries."""
    if not raw.get(LEDGER):
        return raw
    return raw | {LEDGER: ledger_rules.without_user(raw[LEDGER], user)[0]}


async def _aggregates_and_ledger(
    clients: Clients, tenant_id: str, call_id: str, user: str, raw: dict[str, Any]
) -> int:
    """Fold the user's poor-stream counters into "Purged User" in every aggregate the
    call counted them in, then drop the user from the call's ledger (the one the call
    carries is edited with the call, `_forget_in_call`; a ledger item of the layout
    before is edited here). Returns how many aggregate documents changed."""
    held: set[str] = set()
    if raw.get(LEDGER):
        held.update(ledger_rules.without_user(raw[LEDGER], user)[1])
    ledger = await store.read_ledger(clients, tenant_id, call_id)
    if ledger is not None and not raw.get(LEDGER):  # the call's own ledger supersedes it
        held.update(without_user_counter(ledger.get("applied"), user)[1])
        pending = ledger.get("pending") or {}
        held.update(without_user_counter(pending.get("contribution"), user)[1])
    changed = await _rename_in_aggregates(clients, tenant_id, user, held)
    if ledger is None:
        return changed

    def forget(doc: dict[str, Any]) -> dict[str, Any] | None:
        applied, a = without_user_counter(doc.get("applied"), user)
        out = doc | {"applied": applied}
        if doc.get("pending"):
            contribution, b = without_user_counter(doc["pending"].get("contribution"), user)
            out["pending"] = doc["pending"] | {"contribution": contribution}
        else:
            b = []
        return out if a or b else None

    await store.edit_ledger(clients, tenant_id, call_id, forget)
    return changed


async def _one_call(clients: Clients, tenant_id: str, call_id: str, user: str) -> str | None:
    """'deleted', 'scrubbed' or None (gone already)."""
    raw = await store.read_call_raw(clients, tenant_id, call_id)
    if raw is None:
        await store.delete_call(clients, tenant_id, call_id)  # chunks a crash left behind
        return None
    await _aggregates_and_ledger(clients, tenant_id, call_id, user, raw)
    doc = CallDocument.model_validate(raw)
    if only_internal_participant(internal_users(doc.view), user):
        await store.delete_call(clients, tenant_id, call_id)
        return "deleted"
    await store.edit_call(
        clients, tenant_id, call_id, lambda r: scrub_call(_forget_in_call(r, user), user)
    )
    fresh = await read_call(clients, tenant_id, call_id)
    if fresh is not None:
        await write_user_index(clients, fresh)  # the others' entries list participants
    return "scrubbed"


async def _audit_entries(clients: Clients, tenant_id: str, user: str, digest: str) -> int:
    now = datetime.now(timezone.utc).replace(day=1)
    months = []
    for _ in range(AUDIT_MONTHS + 1):
        months.append(f"{now:%Y-%m}")
        now = (now - timedelta(days=1)).replace(day=1)
    n = 0
    for month in months:
        for entry in await store.audit_entries_of(clients, tenant_id, month, user):
            await store.replace_audit(clients, entry | {"targetUser": PURGED, "userHash": digest})
            n += 1
    return n


async def _quarantined(clients: Clients, tenant_id: str, user: str) -> int:
    names = await store.quarantined_naming(clients, tenant_id, [user])
    for name in names:
        text = (await store.read_quarantined(clients, name)).decode("utf-8", "replace")
        lower, out, i = text.lower(), [], 0
        while (j := lower.find(user, i)) >= 0:
            out.append(text[i:j] + PURGED)
            i = j + len(user)
        out.append(text[i:])
        await store.rewrite_quarantined(clients, name, "".join(out).encode())
    return len(names)


async def purge_user(
    clients: Clients, principal: Principal, raw_user: str, exclude: bool = False
) -> dict[str, Any]:
    """Purge everything that names the user; idempotent (a second run finds nothing
    left and answers with zero counts)."""
    principal.require(ADMIN)
    user = normalise_user(raw_user)
    tenant_id = principal.tenant_id
    digest = user_hash(tenant_id, user)
    started = datetime.now(timezone.utc)
    entries = await store.history_entries(clients, tenant_id, user)
    outcomes: list[str | None] = []
    for entry in entries:
        outcomes.append(await _one_call(clients, tenant_id, entry["callId"], user))
    history = await store.delete_history(clients, tenant_id, user, [e["id"] for e in entries])
    directory = await store.delete_directory_entry(clients, tenant_id, user)
    audit_n, quarantined = await asyncio.gather(
        _audit_entries(clients, tenant_id, user, digest), _quarantined(clients, tenant_id, user)
    )
    excluded = False
    if exclude:
        current = await read_tenant_settings(clients, tenant_id)
        if user not in current.exclusions.users:
            policy = ExclusionPolicy(
                users=[*current.exclusions.users, user], domains=current.exclusions.domains
            )
            await save_exclusions(clients, tenant_id, policy)
        excluded = True
    done = datetime.now(timezone.utc)
    result = {
        "userHash": digest,
        "status": "completed",
        "startedAt": iso(started),
        "completedAt": iso(done),
        "requestedBy": principal.name or principal.object_id or principal.app_id,
        "callsDeleted": outcomes.count("deleted"),
        "callsScrubbed": outcomes.count("scrubbed"),
        "historyEntriesDeleted": history,
        "directoryEntryDeleted": directory,
        "auditEntriesScrubbed": audit_n,
        "quarantinedRecordsScrubbed": quarantined,
        "addedToExclusions": excluded,
    }
    await audit_store.write_entry(
        clients,
        {
            "id": str(uuid.uuid4()),
            "pk": audit_store.audit_pk(tenant_id, done),
            "tenantId": tenant_id,
            "at": iso(done),
            "action": "user.purge",
            "actorId": principal.object_id,
            "actorName": principal.name,
            "level": principal.level,
            "userHash": digest,
            "detail": {k: v for k, v in result.items() if k.endswith(("Deleted", "Scrubbed"))},
        },
    )
    await store.save_purge_status(clients, tenant_id, result)
    return result


def _fresh_run(status: dict[str, Any] | None, now: datetime) -> bool:
    if not status or status.get("status") != "running":
        return False
    started = datetime.fromisoformat(str(status["startedAt"]).replace("Z", "+00:00"))
    return now - started < STALE_RUN


async def _run_in_background(
    clients: Clients, principal: Principal, user: str, exclude: bool, running: dict[str, Any]
) -> dict[str, Any]:
    try:
        return await purge_user(clients, principal, user, exclude)
    except Exception:
        log.error("a user purge failed; a new request starts it again", exc_info=True)
        await store.save_purge_status(clients, principal.tenant_id, running | {"status": "failed"})
        raise


def _forget(key: tuple[str, str], task: asyncio.Task[dict[str, Any]]) -> None:
    _running.pop(key, None)
    if not task.cancelled():
        task.exception()  # retrieved: logged by the run itself, not as "never retrieved"


async def request_purge(
    clients: Clients, principal: Principal, raw_user: str, exclude: bool, wait_s: float
) -> tuple[bool, dict[str, Any]]:
    """Start (or join) the purge of a user and wait at most `wait_s` for it.

    Returns (finished, status). Not finished: the purge goes on in this process and its
    status item says "running" until it completes. Asking again is idempotent: while a
    run is fresh (here or in another instance) it is joined, not repeated; a finished
    purge runs again and finds nothing left to change."""
    principal.require(ADMIN)
    user = normalise_user(raw_user)
    tenant_id = principal.tenant_id
    digest = user_hash(tenant_id, user)
    key = (tenant_id, digest)
    task = _running.get(key)
    if task is None:
        now = datetime.now(timezone.utc)
        current = await store.read_purge_status(clients, tenant_id, digest)
        if _fresh_run(current, now) and current is not None:
            return False, current
        running = {
            "userHash": digest,
            "status": "running",
            "startedAt": iso(now),
            "completedAt": None,
            "requestedBy": principal.name or principal.object_id or principal.app_id,
            **{k: 0 for k in COUNTS},
            "directoryEntryDeleted": False,
            "addedToExclusions": False,
        }
        await store.save_purge_status(clients, tenant_id, running)
        task = asyncio.ensure_future(_run_in_background(clients, principal, user, exclude, running))
        _running[key] = task
        task.add_done_callback(lambda t: _forget(key, t))
    done, _ = await asyncio.wait({task}, timeout=max(0.0, wait_s))
    if task in done:
        return True, task.result()
    status = await store.read_purge_status(clients, tenant_id, digest)
    return False, status or {"userHash": digest, "status": "running"}


COUNTS = (
    "callsDeleted",
    "callsScrubbed",
    "historyEntriesDeleted",
    "auditEntriesScrubbed",
    "quarantinedRecordsScrubbed",
)


async def purge_status(clients: Clients, principal: Principal, digest: str) -> dict[str, Any]:
    principal.require(ADMIN)
    found = await store.read_purge_status(clients, principal.tenant_id, digest)
    if found is None:
        raise NotFound("no purge with that user hash", field="userHash")
    return found
