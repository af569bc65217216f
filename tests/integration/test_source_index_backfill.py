"""The source-id index backfill against the emulators: calls stored the way they were
before the index existed (no index entries, no `sourceIds` in the view, fragments
without the ids added since) are found by their Graph, SIP and conference ids after
the backfill runs; a run again writes nothing; runs page by continuationToken."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

import shared.admin.source_index as backfill
from shared.admin.source_index import backfill_source_index
from shared.analytics.service import calls_by_source_id
from shared.auth.tokens import Principal
from shared.errors import Forbidden, Invalid
from shared.merge import lookup_keys
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.clients import get_clients
from shared.storage.source_index import _ident
from tests.e2e.test_api_contract import graph_record
from tests.factories import cdr_record
from tests.integration.test_quality import post_and_process

pytestmark = pytest.mark.stack


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def who(level: str, tenant: str) -> Principal:
    return Principal(
        tenant_id=tenant, object_id=f"oid-{level}", name=f"{level}@contoso.com", levels=(level,)
    )


async def _as_before_the_index(tenant: str, call_id: str) -> None:
    """Rewrite a stored call as an older version of the processor left it, and delete
    its index entries."""
    clients = get_clients()
    calls = clients.container(layout.CALLS)
    raw = await calls.read_item(call_id, partition_key=f"{tenant}|{call_id}")
    doc = CallDocument.model_validate(raw)
    for key in lookup_keys(doc.view):
        item, pk = _ident(tenant, key)
        await clients.container(layout.USER_CALLS).delete_item(item, partition_key=pk)
    body = {k: v for k, v in raw.items() if not k.startswith("_")}
    body["view"].pop("source_ids", None)
    for frag in body["fragments"].values():
        frag.pop("report_id", None)
        for s in frag.get("sessions", []):
            for st in s.get("streams", []):
                st.pop("segment_id", None)
                st.pop("stream_id", None)
    await calls.replace_item(call_id, body)


async def _found(tenant: str, source_id: str) -> list[str]:
    body = await calls_by_source_id(get_clients(), who("engineer", tenant), source_id)
    return [c["callId"] for c in body["calls"]]


async def _run_all(tenant: str) -> list[dict[str, Any]]:
    runs, token = [], None
    for _ in range(50):
        out = await backfill_source_index(get_clients(), who("admin", tenant), token)
        runs.append(out)
        token = out["continuationToken"]
        if token is None:
            return runs
    raise AssertionError("the backfill never finished")


def test_backfill_indexes_calls_stored_before_the_index(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:8]
    start = datetime(2031, 6, 2, 9, tzinfo=timezone.utc)
    graph = graph_record(1, start)
    p2p = f"{tag}-p2p@fe01.contoso.local"
    conf = f"sip:org{tag}@contoso.com;gruu;opaque=app:conf:focus:id:M{tag.upper()}"
    records = [
        {"kind": "callRecord", "format": "graph-v1", "data": graph},
        cdr_record(n=1, caller=f"sip:a{tag}@contoso.com", call_id=p2p, start=start),
        *(
            cdr_record(
                n=10 + i,
                caller=f"sip:u{i}{tag}@contoso.com",
                conference=conf,
                call_id=f"{tag}-leg{i}@fe01.contoso.local",
                start=start,
            )
            for i in range(3)
        ),
    ]
    run(post_and_process(tenant, records))
    ids = {
        "graph": graph["id"],
        "session": graph["sessions"][0]["id"],
        "sip": p2p,
        "conference": conf,
        "conferenceId": f"M{tag.upper()}",
        "leg": f"{tag}-leg2@fe01.contoso.local",
    }
    found = {name: run(_found(tenant, sid)) for name, sid in ids.items()}
    assert all(len(v) == 1 for v in found.values()), found
    call_ids = sorted({v[0] for v in found.values()})
    assert len(call_ids) == 3
    for cid in call_ids:
        run(_as_before_the_index(tenant, cid))
    assert {name: run(_found(tenant, sid)) for name, sid in ids.items()} == {
        name: [] for name in ids
    }

    # one call a run, two users a directory query: runs resume within a user's history
    # and across directory pages, each answering the next one's token
    monkeypatch.setattr(backfill, "CALLS_PER_RUN", 1)
    monkeypatch.setattr(backfill, "USERS_PER_QUERY", 2)
    runs = run(_run_all(tenant))
    assert len(runs) >= 3 and all(r["callsRead"] <= 1 for r in runs)
    assert sum(r["entriesWritten"] for r in runs) > 0
    assert {name: run(_found(tenant, sid)) for name, sid in ids.items()} == found

    # again: every entry is there already, nothing is written
    monkeypatch.setattr(backfill, "CALLS_PER_RUN", 100)
    monkeypatch.setattr(backfill, "USERS_PER_QUERY", 25)
    (again,) = run(_run_all(tenant))
    assert again["entriesWritten"] == 0 and again["callsRead"] == 3, again
    assert again["idsChecked"] > 0

    # a run past its time budget stops at the next chunk (one call here) and continues
    monkeypatch.setattr(backfill, "RUN_SECONDS", 0.0)
    monkeypatch.setattr(backfill, "CONCURRENCY", 1)
    timed = run(_run_all(tenant))
    assert len(timed) >= 3 and all(r["callsRead"] <= 1 for r in timed)
    assert {r["continuationToken"] is None for r in timed[:-1]} == {False}


def test_backfill_is_admin_only_and_refuses_a_tampered_token(stack: Any) -> None:
    tenant = str(uuid.uuid4())

    async def once(level: str, token: str | None) -> dict[str, Any]:
        return await backfill_source_index(get_clients(), who(level, tenant), token)

    for level in ("engineer", "specialist", "reader"):
        with pytest.raises(Forbidden):
            run(once(level, None))
    with pytest.raises(Invalid) as err:
        run(once("admin", "!!nope!!"))
    assert err.value.field == "continuationToken"
    empty = run(once("admin", None))
    assert empty == {
        "usersRead": 0,
        "callsRead": 0,
        "idsChecked": 0,
        "entriesWritten": 0,
        "continuationToken": None,
    }
