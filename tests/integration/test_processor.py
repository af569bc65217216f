"""The processor against the real emulators: storage, counts, quarantine, idempotency."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from shared.auth.tokens import Principal
from shared.exclusions import ExclusionPolicy
from shared.ingest import BodyFormat, accept_batch
from shared.processor import BatchProcessor
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.batches import read_batch
from shared.storage.calls import read_call
from shared.storage.clients import get_clients
from shared.storage.tenants import save_exclusions
from tests.factories import TENANT, cdr_record, envelope, gz, meeting_legs

pytestmark = pytest.mark.stack
GZ = BodyFormat("application/json", "gzip")
INGEST = Principal(tenant_id=TENANT, object_id="agent", name="agent", levels=("ingest",))


def run(coro):
    return asyncio.run(coro)


async def _post(env: dict) -> tuple[int, dict]:
    settings = get_settings()
    r = await accept_batch(get_clients(settings), settings, INGEST, gz(env), GZ)
    return (202 if r.created else 200), r.body


async def _blob_names(container: str, prefix: str) -> list[str]:
    c = get_clients().blobs(container)
    return [b.name async for b in c.list_blobs(name_starts_with=prefix)]


async def _process(batch_id: str) -> dict:
    settings = get_settings()
    [name] = [n for n in await _blob_names(layout.INCOMING, TENANT) if batch_id in n]
    return await BatchProcessor(get_clients(settings), settings).process(f"incoming/{name}")


def _unique(n: int) -> dict:
    return cdr_record(n=n, call_id=f"{uuid.uuid4()}@fe01")


def test_batch_is_stored_counted_and_quarantined(stack):
    async def scenario():
        records = [_unique(i) for i in range(20)]
        records.insert(5, {"kind": "cdr", "format": "sfb-cdr-json", "data": {"callId": "x"}})
        env = envelope(records)
        assert (await _post(env))[0] == 202
        status = await _process(env["batchId"])
        assert status["status"] == "completedWithErrors"
        assert (status["received"], status["stored"], status["quarantined"]) == (21, 20, 1)
        assert status["received"] == status["stored"] + status["excluded"] + status["quarantined"]
        first_error = status["errors"][0]
        assert first_error["index"] == 5 and "sessionIdTime" in first_error["reason"]
        [q] = await _blob_names(layout.QUARANTINE, f"{TENANT}/{env['batchId']}/")
        body = await (
            await get_clients().blobs(layout.QUARANTINE).get_blob_client(q).download_blob()
        ).readall()
        parked = json.loads(body)
        assert parked["index"] == 5 and parked["record"]["data"] == {"callId": "x"}
        assert not [n for n in await _blob_names(layout.INCOMING, TENANT) if env["batchId"] in n], (
            "raw blob is removed after processing"
        )
        from shared.identity import call_id

        key = "sip:" + records[0]["data"]["callId"]
        call = await read_call(get_clients(), TENANT, call_id(TENANT, key))
        assert call is not None and call.view.participants[0].uri == "sip:alice@contoso.com"

    run(scenario())


def test_rerun_and_repost_change_nothing(stack):
    async def scenario():
        env = envelope([_unique(i) for i in range(10)])
        await _post(env)
        [name] = [n for n in await _blob_names(layout.INCOMING, TENANT) if env["batchId"] in n]
        blob = get_clients().blobs(layout.INCOMING).get_blob_client(name)
        raw = await (await blob.download_blob()).readall()
        first = await _process(env["batchId"])
        # the trigger fires again on the same blob (e.g. a duplicate Event Grid event)
        await blob.upload_blob(raw, overwrite=True, metadata={"contenthash": "x"})
        second = await _process(env["batchId"])
        keys = ("status", "received", "stored", "quarantined", "excluded", "calls")
        assert {k: first[k] for k in keys} == {k: second[k] for k in keys}
        code, body = await _post(env)
        assert code == 200 and body["status"] == "completed"
        other = json.loads(json.dumps(env))
        other["records"][0]["data"]["responseCode"] = 486
        from functions.problems import as_problem
        from shared.errors import DomainError

        with pytest.raises(DomainError) as info:
            await _post(other)
        assert as_problem(info.value).status == 409

    run(scenario())


def test_split_batches_build_the_same_call(stack):
    conf = f"sip:org@contoso.com;gruu;opaque=app:conf:focus:id:{uuid.uuid4().hex[:8]}"
    legs = [
        cdr_record(
            n=i, caller=f"sip:u{i}@contoso.com", conference=conf, call_id=f"{uuid.uuid4()}@fe"
        )
        for i in range(6)
    ]

    async def scenario():
        for part in (legs[:2], legs[4:], legs[2:5]):  # overlapping and out of order
            env = envelope(part)
            await _post(env)
            await _process(env["batchId"])
        from shared.identity import call_id, normalise_uri

        cid = call_id(TENANT, "conf:" + normalise_uri(conf))
        call = await read_call(get_clients(), TENANT, cid)
        assert call is not None
        assert len(call.fragments) == 6 and len(call.view.sessions) == 6
        assert call.view.call_type == "conference"
        entries = [
            e
            async for e in get_clients()
            .container(layout.USER_CALLS)
            .query_items(
                "SELECT * FROM c WHERE c.pk = @pk AND c.callId = @id",
                parameters=[
                    {"name": "@pk", "value": f"{TENANT}|u3@contoso.com"},
                    {"name": "@id", "value": cid},
                ],
                partition_key=f"{TENANT}|u3@contoso.com",
            )
        ]
        assert len(entries) == 1 and entries[0]["participantCount"] == 6

    run(scenario())


def test_excluded_users_are_counted_never_stored(stack):
    tenant_policy = ExclusionPolicy(users=["sip:ceo@contoso.com"], domains=["board.contoso.com"])

    async def scenario():
        await save_exclusions(get_clients(), TENANT, tenant_policy)
        try:
            records = [
                cdr_record(n=1, caller="sip:ceo@contoso.com", call_id=f"{uuid.uuid4()}@x"),
                cdr_record(n=2, callee="sip:jane@board.contoso.com", call_id=f"{uuid.uuid4()}@x"),
                _unique(3),
            ]
            env = envelope(records)
            await _post(env)
            status = await _process(env["batchId"])
            assert (status["stored"], status["excluded"]) == (1, 2)
            from shared.identity import call_id

            for r in records[:2]:
                cid = call_id(TENANT, "sip:" + r["data"]["callId"])
                assert await read_call(get_clients(), TENANT, cid) is None
        finally:
            await save_exclusions(get_clients(), TENANT, ExclusionPolicy())

    run(scenario())


def test_corrupt_blob_goes_to_poison_with_reason(stack):
    async def scenario():
        batch_id = f"poison-{uuid.uuid4()}"
        name = f"{TENANT}/2026/11/21/{batch_id}.json.gz"
        await get_clients().blobs(layout.INCOMING).get_blob_client(name).upload_blob(b"garbage")
        settings = get_settings()
        status = await BatchProcessor(get_clients(settings), settings).process(f"incoming/{name}")
        assert status["status"] == "failed" and "gzip" in status["failure"]
        poison = get_clients().blobs(layout.POISON)
        props = await poison.get_blob_client(name).get_blob_properties()
        assert "gzip" in props.metadata["reason"]
        doc = await read_batch(get_clients(), TENANT, batch_id)
        assert doc["status"] == "failed"

    run(scenario())


def test_transient_failures_retry_then_poison_after_five_attempts(stack, monkeypatch):
    import shared.processor as proc

    calls = {"n": 0}

    async def broken(*a, **k):
        calls["n"] += 1
        raise ConnectionError("cosmos went away")

    async def scenario():
        env = envelope([_unique(1)])
        await _post(env)
        monkeypatch.setattr(proc, "merge_call", broken)
        outcomes = []
        for _ in range(5):
            try:
                outcomes.append((await _process(env["batchId"]))["status"])
            except ConnectionError:
                outcomes.append("raised")
        assert outcomes == ["raised"] * 4 + ["failed"]
        doc = await read_batch(get_clients(), TENANT, env["batchId"])
        assert doc["attempts"] == 5 and "cosmos went away" in doc["failure"]
        assert [n for n in await _blob_names(layout.POISON, TENANT) if env["batchId"] in n]

    run(scenario())


def test_a_repeated_event_after_completion_changes_nothing(stack):
    async def scenario():
        env = envelope([_unique(i) for i in range(3)])
        await _post(env)
        [name] = [n for n in await _blob_names(layout.INCOMING, TENANT) if env["batchId"] in n]
        first = await _process_name(name)
        assert first["status"] == "completed"
        again = await _process_name(name)  # Event Grid delivers at least once
        doc = await read_batch(get_clients(), TENANT, env["batchId"])
        poisoned = [n for n in await _blob_names(layout.POISON, TENANT) if env["batchId"] in n]
        return first, again, doc, poisoned

    first, again, doc, poisoned = run(scenario())
    assert again["status"] == doc["status"] == "completed" and not poisoned
    assert doc["attempts"] == first["attempts"] and not doc.get("failure")


async def _process_name(name: str) -> dict:
    settings = get_settings()
    return await BatchProcessor(get_clients(settings), settings).process(f"incoming/{name}")


def test_exclusion_comes_before_parsing_and_matches_object_ids(stack):
    """An excluded user's malformed CDR and QoE report are counted as excluded, never
    quarantined; a Graph record without any UPN is excluded by its user's object id."""
    from pathlib import Path

    golden = Path(__file__).resolve().parents[1] / "golden" / "graph"
    graph = json.loads((golden / "ms_get_callrecord_expanded.json").read_text())
    graph["id"] = str(uuid.uuid4())
    text = json.dumps(graph)
    for upn in ("abbie.wilkins@contoso.com", "owen.franklin@contoso.com"):
        text = text.replace(f'"userPrincipalName": "{upn}"', '"userPrincipalName": null')
    oid = "821809f5-0000-0000-0000-3b5136c0e777"  # Abbie's Entra object id
    policy = ExclusionPolicy(users=["sip:secret.user@contoso.com", oid])

    async def scenario():
        await save_exclusions(get_clients(), TENANT, policy)
        try:
            broken_cdr = cdr_record(caller="sip:secret.user@contoso.com", call_id="x@y")
            del broken_cdr["data"]["sessionIdTime"]  # would be quarantined
            broken_qoe = {
                "kind": "qoe",
                "format": "ms-qoe-xml",
                "data": "<VQReportEvent><From>sip:Secret.User@contoso.com</From><broken",
            }
            no_upn = {"kind": "callRecord", "format": "graph-v1", "data": json.loads(text)}
            env = envelope([broken_cdr, broken_qoe, no_upn, _unique(7)])
            await _post(env)
            status = await _process(env["batchId"])
            parked = await _blob_names(layout.QUARANTINE, f"{TENANT}/{env['batchId']}/")
            return status, parked
        finally:
            await save_exclusions(get_clients(), TENANT, ExclusionPolicy())

    status, parked = run(scenario())
    counts = (status["excluded"], status["quarantined"], status["stored"])
    assert counts == (3, 0, 1), status
    assert parked == []


def test_history_converges_when_the_older_views_write_lands_last(stack, monkeypatch):
    """Two processors merge one call. The history write of the first (older) view is
    delayed, as a 429 retry would delay it, and lands after the second's: the entries
    must still be those of the stored call."""
    import shared.storage.calls as calls_store
    from shared.identity import call_id
    from shared.storage.calls import user_index_docs

    sip_call = f"{uuid.uuid4()}@fe01"
    first = cdr_record(n=1, call_id=sip_call)
    second = cdr_record(n=2, call_id=sip_call)  # another session (tags) of the same call
    second["data"]["user1DisplayName"] = "Alice Renamed"

    def slow(fn):
        async def wrapper(container, *args, **kwargs):
            body = next((a for a in args if isinstance(a, dict)), kwargs.get("body"))
            if body is None and args and isinstance(args[0], dict):
                body = args[0]
            if isinstance(body, dict) and len(body.get("ownSessionIds") or []) == 1:
                await asyncio.sleep(1.0)  # the one-session view's history write
            return await fn(container, *args, **kwargs)

        return wrapper

    for name in ("upsert", "create_new", "replace_if_unchanged"):
        monkeypatch.setattr(calls_store, name, slow(getattr(calls_store, name)))

    async def scenario():
        a, b = envelope([first]), envelope([second])
        await _post(a)
        await _post(b)

        async def later():
            await asyncio.sleep(0.4)  # after the first call write, before its history
            return await _process(b["batchId"])

        await asyncio.gather(_process(a["batchId"]), later())
        cid = call_id(TENANT, "sip:" + sip_call)
        call = await read_call(get_clients(), TENANT, cid)
        history = get_clients().container(layout.USER_CALLS)
        stored = [
            await history.read_item(e["id"], partition_key=e["pk"]) for e in user_index_docs(call)
        ]
        return call, stored

    call, stored = run(scenario())
    assert len(call.view.sessions) == 2
    wanted = {e["pk"]: e for e in user_index_docs(call)}
    for entry in stored:
        want = wanted[entry["pk"]]
        for key in ("ownSessionIds", "displayName", "rating", "participantCount", "end"):
            assert entry.get(key) == want.get(key), (key, entry.get(key), want.get(key))


@pytest.mark.slow
def test_a_call_that_cannot_be_stored_does_not_hold_back_its_batch(stack, monkeypatch):
    """A call that still cannot be stored, with 40 unrelated calls in the same batch:
    every unrelated call is stored, that call's records are quarantined alone with the
    reason, and the batch completes (with errors), not poisoned. Here the cut into
    chunks is switched off, so the 1,000-leg meeting goes to the local server as one
    item over 2 MB and is refused with 413, as Cosmos DB refuses it."""
    from shared.chunking import Split
    from shared.storage import call_chunks

    monkeypatch.setattr(call_chunks, "split_item", lambda body: Split(dict(body), [], []))
    _, meeting = meeting_legs(1000, long_user_agent=True)
    others = [_unique(5000 + i) for i in range(40)]
    records = meeting[:500] + others + meeting[500:]

    async def scenario():
        env = envelope(records)
        await _post(env)
        status = await _process(env["batchId"])
        parked = await _blob_names(layout.QUARANTINE, f"{TENANT}/{env['batchId']}/")
        from shared.identity import call_id

        stored = [
            await read_call(get_clients(), TENANT, call_id(TENANT, "sip:" + r["data"]["callId"]))
            for r in others
        ]
        return status, parked, stored

    status, parked, stored = run(scenario())
    assert status["status"] == "completedWithErrors", status
    assert all(c is not None for c in stored)  # none of the 40 held back
    assert status["received"] == 1040
    assert status["received"] == status["stored"] + status["quarantined"] + status["excluded"]
    assert status["quarantined"] > 0 and len(parked) == status["quarantined"]
    assert "too large" in status["errors"][0]["reason"]


def test_a_batch_read_in_many_small_ranges_counts_exactly(stack, monkeypatch):
    """The raw batch comes in ranges (here 512 bytes: dozens of GETs) and rejected
    records are parked by size as well as by count: every record still ends up stored or
    quarantined, once, with its own index."""
    from shared import processor as processor_module
    from shared.storage import blobs as blob_store

    monkeypatch.setattr(blob_store, "INCOMING_RANGE_BYTES", 512)
    monkeypatch.setattr(processor_module, "QUARANTINE_BUFFER_BYTES", 2_000)

    async def scenario():
        records = [_unique(i) for i in range(30)]
        bad = {"kind": "cdr", "format": "sfb-cdr-json", "data": {"callId": "y" * 900}}
        for at in (3, 9, 17, 25):
            records.insert(at, bad)
        env = envelope(records)
        assert (await _post(env))[0] == 202
        status = await _process(env["batchId"])
        assert (status["received"], status["stored"], status["quarantined"]) == (34, 30, 4)
        parked = await _blob_names(layout.QUARANTINE, f"{TENANT}/{env['batchId']}/")
        assert sorted(int(n.rsplit("/", 1)[1].split(".")[0]) for n in parked) == [3, 9, 17, 25]
        assert status["calls"] == 30

    run(scenario())
