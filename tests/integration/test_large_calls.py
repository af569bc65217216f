"""Large meetings through the emulators, the local Cosmos server refusing items over
2 MB with 413 as Cosmos DB does: stored whole in a head and chunks of the call's
partition, every participant and session visible, the call detail paged, a re-post a
no-op, a purge scrubbing the chunks too."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from devhost.teams_generator import call_record
from shared.admin.purge import purge_user
from shared.analytics.service import SESSION_PAGE, call_detail
from shared.auth.tokens import Principal
from shared.chunking import ITEM_LIMIT, json_size
from shared.identity import call_id
from shared.ingest import BodyFormat, accept_batch
from shared.merge import call_pk
from shared.processor import BatchProcessor
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.calls import read_call
from shared.storage.clients import get_clients
from tests.factories import TENANT, cdr_record, envelope, gz, meeting_legs

pytestmark = [pytest.mark.stack, pytest.mark.slow]
GZ = BodyFormat("application/json", "gzip")
INGEST = Principal(tenant_id=TENANT, object_id="agent", name="agent", levels=("ingest",))
ADMIN = Principal(tenant_id=TENANT, object_id="admin-1", name="Admin", levels=("admin",))
ENGINEER = Principal(tenant_id=TENANT, object_id="eng-1", name="Eng", levels=("engineer",))
SPECIALIST = Principal(tenant_id=TENANT, object_id="spec-1", name="Spec", levels=("specialist",))
# this module's own attendee names: other tests hold meetings of the same tenant
ATTENDEE = f"attendee{uuid.uuid4().hex[:6]}-"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _post(env: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    settings = get_settings()
    r = await accept_batch(get_clients(settings), settings, INGEST, gz(env), GZ)
    return (202 if r.created else 200), r.body


async def _process(batch_id: str) -> dict[str, Any]:
    settings = get_settings()
    c = get_clients().blobs(layout.INCOMING)
    [name] = [b.name async for b in c.list_blobs(name_starts_with=TENANT) if batch_id in b.name]
    return await BatchProcessor(get_clients(settings), settings).process(f"incoming/{name}")


async def _partition(cid: str) -> list[dict[str, Any]]:
    """Every item of the call's partition: its head and its chunks."""
    container = get_clients().container(layout.CALLS)
    return [
        i
        async for i in container.query_items("SELECT * FROM c", partition_key=call_pk(TENANT, cid))
    ]


def _meeting(n: int) -> tuple[str, list[dict[str, Any]]]:
    return meeting_legs(n, attendee=ATTENDEE, long_user_agent=True)


async def _detail(principal: Principal, cid: str, user: str | None, token: str | None) -> Any:
    return await call_detail(get_clients(), principal, cid, user, token)


async def _purge(user: str) -> dict[str, Any]:
    return await purge_user(get_clients(), ADMIN, user)


async def _read(cid: str) -> Any:
    return await read_call(get_clients(), TENANT, cid)


async def _all_pages(principal: Principal, cid: str, user: str | None) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        page = await call_detail(get_clients(), principal, cid, user, token)
        pages.append(page)
        token = page["continuationToken"]
        if token is None:
            return pages


def test_a_1000_participant_sfb_meeting_is_stored_whole_and_paged(stack) -> None:
    focus, meeting = _meeting(1000)
    others = [cdr_record(n=5000 + i, call_id=f"{uuid.uuid4()}@fe01") for i in range(40)]
    env = envelope(meeting[:500] + others + meeting[500:])

    async def scenario() -> dict[str, Any]:
        assert (await _post(env))[0] == 202
        status = await _process(env["batchId"])
        key = "sip:" + others[0]["data"]["callId"]
        other = await read_call(get_clients(), TENANT, call_id(TENANT, key))
        assert other is not None
        return status

    status = run(scenario())
    assert status["status"] == "completed", status
    assert (status["received"], status["stored"], status["quarantined"]) == (1040, 1040, 0)
    assert status["received"] == status["stored"] + status["excluded"] + status["quarantined"]
    assert status["calls"] == 41

    async def stored() -> tuple[Any, list[dict[str, Any]]]:
        from shared.storage.source_index import calls_for_source_id

        [meeting_id] = await calls_for_source_id(get_clients(), TENANT, focus.lower())
        return await read_call(get_clients(), TENANT, meeting_id), await _partition(meeting_id)

    doc, items = run(stored())
    cid = doc.id
    # its legs came over ten chunks of the batch: held over to the last, written once
    assert doc.revision == 1
    assert len(doc.view.participants) == 1000 and len(doc.view.sessions) == 1000
    assert len(doc.fragments) == 1000
    whole = json_size(doc.to_cosmos())
    assert whole > ITEM_LIMIT  # it could not have been one item
    assert len(items) >= 2 and all(json_size(i) < ITEM_LIMIT for i in items)
    print(f"\n1,000-leg SfB meeting: {whole} bytes in {len(items)} items")

    # the call detail: participants whole on every page, sessions by page
    pages = run(_all_pages(ENGINEER, cid, None))
    assert len(pages) == -(-1000 // SESSION_PAGE)
    assert all(p["participantCount"] == 1000 and len(p["participants"]) == 1000 for p in pages)
    assert all(p["sessionCount"] == 1000 for p in pages)
    ids = [s["id"] for p in pages for s in p["sessions"]]
    assert len(ids) == len(set(ids)) == 1000
    assert max(len(json.dumps(p)) for p in pages) < 1_000_000

    # a specialist, per page: only the searched user's own session, the others anonymised
    who = f"{ATTENDEE}0733@contoso.com"
    own = [s for p in run(_all_pages(SPECIALIST, cid, who)) for s in p["sessions"]]
    assert len(own) == 1 and own[0]["caller"]["uri"] == "sip:" + who
    page = run(_detail(SPECIALIST, cid, who, None))
    assert "ipAddress" not in json.dumps(page) and "userAgent" not in json.dumps(page)
    names = {p.get("displayName") for p in page["participants"] if p.get("uri") != "sip:" + who}
    assert names <= {"Internal User", "External User", "Conference"}

    # re-posting the batch is a no-op, and so is processing its blob again
    revision, chunk_ids = doc.revision, sorted(i["id"] for i in items)

    async def again() -> tuple[int, Any, list[dict[str, Any]]]:
        code, _ = await _post(env)
        return code, await read_call(get_clients(), TENANT, cid), await _partition(cid)

    code, after, items_after = run(again())
    assert code == 200
    assert after.revision == revision and sorted(i["id"] for i in items_after) == chunk_ids

    # an admin purge of one attendee scrubs the head and every chunk
    gone = f"{ATTENDEE}0042@contoso.com"
    result = run(_purge(gone))
    assert result["callsScrubbed"] == 1
    items = run(_partition(cid))
    assert items and not any(gone in json.dumps(i).lower() for i in items)
    assert not any(i["id"] in chunk_ids for i in items if "|chunk|" in i["id"])  # all new
    scrubbed = run(_read(cid))
    assert len(scrubbed.view.sessions) == 1000 and scrubbed.revision == revision + 1


def test_a_1000_session_graph_meeting_is_stored_whole_and_paged(stack) -> None:
    users = [f"member{i:04d}" for i in range(1000)]
    record = call_record(TENANT, kind="groupCall", sessions=1000, users=users, seed=18)
    env = envelope([{"kind": "callRecord", "format": "graph-v1", "data": record}])

    async def scenario() -> tuple[dict[str, Any], Any, list[dict[str, Any]]]:
        await _post(env)
        status = await _process(env["batchId"])
        cid = call_id(TENANT, "graph:" + record["id"])
        return status, await read_call(get_clients(), TENANT, cid), await _partition(cid)

    status, doc, items = run(scenario())
    assert status["status"] == "completed", status
    assert (status["stored"], status["quarantined"], status["calls"]) == (1, 0, 1)
    assert doc is not None and len(doc.view.sessions) == 1000
    [fragment] = doc.fragments.values()
    assert len(fragment.sessions) == 1000  # one record: its own sessions were cut too
    assert len(items) >= 3 and all(json_size(i) < ITEM_LIMIT for i in items)
    pages = run(_all_pages(ADMIN, doc.id, None))
    ids = [s["id"] for p in pages for s in p["sessions"]]
    assert len(ids) == len(set(ids)) == 1000
    assert ids == [s.id for s in doc.view.sessions]
    assert all(len(p["participants"]) == len(doc.view.participants) for p in pages)

    async def repost() -> tuple[int, dict[str, Any], Any]:
        code, body = await _post(env)
        return code, body, await read_call(get_clients(), TENANT, doc.id)

    code, body, after = run(repost())
    assert code == 200 and body["status"] == "completed" and after.revision == doc.revision


def test_a_bad_continuation_token_for_call_detail_is_400(stack) -> None:
    from shared.analytics.service import encode_page_token
    from shared.errors import Invalid

    for token in (
        "not-a-token",
        encode_page_token({"session": "-1"}),
        encode_page_token({"x": "1"}),
    ):
        with pytest.raises(Invalid) as info:
            run(_detail(ADMIN, str(uuid.uuid4()), None, token))
        assert info.value.field == "continuationToken"
