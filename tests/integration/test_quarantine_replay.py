"""Quarantined records against the emulators: an admin lists them by batch and reason,
reads one (audited), discards one, and replays after a parser fix; the batch counts
reconcile after every step (received = stored + excluded + quarantined) and a replay
done twice moves a record once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import shared.parsing as parsing
from shared.admin.quarantine import (
    RECORDS_PER_RUN,
    discard,
    list_quarantine,
    read_quarantined,
    replay,
    replay_batch,
)
from shared.errors import Forbidden, Invalid, NotFound
from shared.settings import get_settings
from shared.storage.audit import month_page
from shared.storage.batches import read_batch
from shared.storage.calls import history_page
from shared.storage.clients import get_clients
from tests.factories import cdr, envelope
from tests.integration.test_alerts import post_and_process, who

pytestmark = pytest.mark.stack


def _reconciled(batch: dict[str, Any]) -> bool:
    return batch["received"] == batch["stored"] + batch["excluded"] + batch["quarantined"]


def test_quarantine_list_read_discard_replay(stack, monkeypatch) -> None:
    asyncio.run(_scenario(monkeypatch))


async def _scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:8]
    clients, settings = get_clients(get_settings()), get_settings()
    good = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": cdr(n=i, caller=f"sip:g{i}{tag}@contoso.com"),
        }
        for i in range(3)
    ]
    fixable = []
    for i in (10, 11):
        data = cdr(n=i, caller=f"sip:f{i}{tag}@contoso.com") | {"responseCode": "OK"}
        fixable.append({"kind": "cdr", "format": "sfb-cdr-json", "data": data})
    hopeless = {"kind": "cdr", "format": "sfb-cdr-json", "data": {"note": "not a cdr"}}
    env = envelope(good + fixable + [hopeless], tenant=tenant)
    batch_id = env["batchId"]
    status = await post_and_process(tenant, env)
    assert (status["stored"], status["quarantined"]) == (3, 3), status

    admin = who("admin", tenant)
    with pytest.raises(Forbidden):
        await list_quarantine(clients, who("engineer", tenant), None, None)
    listed = await list_quarantine(clients, admin, batch_id, None)
    assert listed["count"] == 3 and sum(listed["byReason"].values()) == 3
    assert [i["index"] for i in listed["items"]] == [3, 4, 5]
    only = await list_quarantine(clients, admin, None, "responseCode")
    assert {i["index"] for i in only["items"]} == {3, 4}, only
    # one record a page: the same three, each once, in order; the filter holds per page
    pages, token = [], None
    for _ in range(5):
        page = await list_quarantine(clients, admin, batch_id, None, token, limit=1)
        pages += [i["index"] for i in page["items"]]
        token = page["continuationToken"]
        if token is None:
            break
    assert pages == [3, 4, 5]
    first = await list_quarantine(clients, admin, None, "responseCode", None, limit=1)
    rest = await list_quarantine(
        clients, admin, None, "responseCode", first["continuationToken"], limit=5
    )
    assert [i["index"] for i in first["items"] + rest["items"]] == [3, 4]
    assert rest["continuationToken"] is None
    with pytest.raises(Invalid) as err:  # a token of another query
        await list_quarantine(clients, admin, batch_id, None, first["continuationToken"])
    assert err.value.field == "continuationToken"

    record = await read_quarantined(clients, admin, batch_id, "3")
    assert record["record"]["data"]["responseCode"] == "OK"
    audit = await month_page(clients, f"{tenant}|{record_month()}", "2000", "2100", 50, None)
    assert any(a["action"] == "quarantine.read" and a["field"] == f"{batch_id}/3" for a in audit)

    discarded = await discard(clients, admin, batch_id, "5")
    assert discarded["discarded"]
    assert (await read_quarantined(clients, admin, batch_id, "5"))["record"] is None
    batch = await read_batch(clients, tenant, batch_id)
    assert batch is not None and batch["quarantined"] == 3 and _reconciled(batch)

    # Before the fix a replay finds the record still unusable: nothing moves.
    same = await replay(clients, settings, admin, batch_id, "3")
    assert same["results"][0]["outcome"] == "quarantined"
    assert same["counts"]["quarantined"] == 3

    original = parsing._PARSERS[("cdr", "sfb-cdr-json")]

    def fixed(data: Any, ctx: Any) -> Any:  # the parser fix: "OK" means 200
        if isinstance(data, dict) and data.get("responseCode") == "OK":
            data = data | {"responseCode": 200}
        return original(data, ctx)

    monkeypatch.setitem(parsing._PARSERS, ("cdr", "sfb-cdr-json"), fixed)
    one = await replay(clients, settings, admin, batch_id, "3")
    assert one["results"] == [{"index": 3, "outcome": "stored", "reason": None}]
    assert (one["counts"]["stored"], one["counts"]["quarantined"]) == (4, 2)
    with pytest.raises(NotFound):
        await replay(clients, settings, admin, batch_id, "3")  # gone from quarantine

    rest = await replay_batch(clients, settings, admin, batch_id, None)
    assert {r["index"]: r["outcome"] for r in rest["results"]} == {4: "stored", 5: "discarded"}
    assert (rest["replayed"], rest["remaining"], rest["continuationToken"]) == (2, 0, None)
    batch = await read_batch(clients, tenant, batch_id)
    assert batch is not None and (batch["stored"], batch["quarantined"]) == (5, 1)
    assert _reconciled(batch)
    again = await replay_batch(clients, settings, admin, batch_id, None)
    assert again["counts"] == rest["counts"]  # a second replay of the batch moves nothing
    for i in (10, 11):
        entries = await history_page(
            clients, tenant, f"f{i}{tag}@contoso.com", "2000", "2100", 5, None
        )
        assert len(entries) == 1  # the replayed records' calls are stored


def record_month() -> str:
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc):%Y-%m}"


def test_a_batch_of_more_records_than_a_run_is_replayed_over_several_runs(
    stack, monkeypatch
) -> None:
    """2.4 runs' worth of quarantined records (some still unusable after the fix, one
    discarded) replayed through the route until the token is null: each run handles at
    most RECORDS_PER_RUN records, `remaining` counts down to 0, every fixable record is
    stored once and the counts reconcile after every run; each run sent again with the
    same token changes nothing (same counts, same token, nothing stored); a second pass
    from the start stores nothing either."""
    from functions.admin import replay_batch as route
    from tests.integration.test_alerts import http

    tenant = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:8]
    settings = get_settings()

    def on_stack(use: Callable[[Any], Awaitable[Any]]) -> Any:
        """Clients belong to an event loop: one per call here, as the handler runs in its own."""

        async def go() -> Any:
            return await use(get_clients(settings))

        return asyncio.run(go())

    many = RECORDS_PER_RUN * 2 + RECORDS_PER_RUN // 2 - 10
    hopeless = set(range(0, many, 25))  # 10 records no parser fix helps
    records = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": cdr(n=1, caller=f"sip:ok{tag}@contoso.com"),
        }
    ]
    for i in range(many):
        data = cdr(n=100 + i, caller=f"sip:m{i}{tag}@contoso.com") | {"responseCode": "OK"}
        records.append(
            {
                "kind": "cdr",
                "format": "sfb-cdr-json",
                "data": {"note": i} if i in hopeless else data,
            }
        )
    env = envelope(records, tenant=tenant)
    batch_id = env["batchId"]
    status = asyncio.run(post_and_process(tenant, env))
    assert (status["stored"], status["quarantined"]) == (1, many), status
    admin = who("admin", tenant)
    on_stack(lambda c: discard(c, admin, batch_id, "2"))  # record 1 of the many: fixable

    original = parsing._PARSERS[("cdr", "sfb-cdr-json")]

    def fixed(data: Any, ctx: Any) -> Any:
        if isinstance(data, dict) and data.get("responseCode") == "OK":
            data = data | {"responseCode": 200}
        return original(data, ctx)

    monkeypatch.setitem(parsing._PARSERS, ("cdr", "sfb-cdr-json"), fixed)

    def run_once(token: str | None) -> tuple[dict[str, Any], str | None]:
        params = {"continuationToken": token} if token else {}
        took = time.perf_counter()
        resp = http(route, admin, monkeypatch, "POST", params, {"batchId": batch_id})
        timings.append(time.perf_counter() - took)
        assert resp.status_code == 200, resp.get_body()
        return json.loads(resp.get_body()), resp.headers.get("X-Continuation-Token")

    timings: list[float] = []

    def whole_pass(left: int) -> list[dict[str, Any]]:
        runs, token = [], None
        for _ in range(many):
            body, header = run_once(token)
            assert header == body["continuationToken"]  # the header carries it too
            assert len(body["results"]) == body["replayed"] <= RECORDS_PER_RUN
            assert body["remaining"] == left - body["replayed"], body
            left = body["remaining"]
            batch = on_stack(lambda c: read_batch(c, tenant, batch_id))
            assert batch is not None and _reconciled(batch)
            assert body["counts"] == {k: batch[k] for k in body["counts"]}
            again, _ = run_once(token)  # the same run again: a no-op
            assert again["counts"] == body["counts"], (again, body)
            assert (again["remaining"], again["continuationToken"]) == (
                body["remaining"],
                body["continuationToken"],
            )
            assert {r["outcome"] for r in again["results"]} <= {"quarantined", "discarded"}
            runs.append(body)
            token = body["continuationToken"]
            if token is None:
                return runs
        raise AssertionError("the replay never ended")

    first = whole_pass(many)
    print(
        f"replay of {many} records: runs of {[r['replayed'] for r in first]}, "
        f"{max(timings[::2]):.1f} s the longest, its retry {max(timings[1::2]):.1f} s"
    )
    assert [r["replayed"] for r in first] == [100, 100, many - 200]
    outcomes = [o for r in first for o in r["results"]]
    assert sorted(o["index"] for o in outcomes) == list(range(1, many + 1))  # each once
    stored = {o["index"] for o in outcomes if o["outcome"] == "stored"}
    assert len(stored) == many - len(hopeless) - 1
    assert {o["index"] for o in outcomes if o["outcome"] == "discarded"} == {2}
    final = first[-1]["counts"]
    assert final == {
        "received": many + 1,
        "stored": 1 + len(stored),
        "excluded": 0,
        "quarantined": len(hopeless) + 1,
    }
    for i in (3, 99, many - 1):  # the replayed records' calls are stored (one each)
        entries = on_stack(
            lambda c, i=i: history_page(
                c, tenant, f"m{i}{tag}@contoso.com", "2000", "2100", 5, None
            )
        )
        assert len(entries) == 1, i

    # A second pass walks the same places and stores nothing: the counts stay.
    second = whole_pass(len(hopeless) + 1)
    assert len(second) == len(first) and second[-1]["counts"] == final
    assert sum(r["replayed"] for r in second) == len(hopeless) + 1

    other = str(uuid.uuid4())  # a token is for its batch only
    asyncio.run(post_and_process(tenant, envelope(records[:1], tenant=tenant, batch_id=other)))
    with pytest.raises(Invalid) as err:
        on_stack(lambda c: replay_batch(c, settings, admin, other, first[0]["continuationToken"]))
    assert err.value.field == "continuationToken"
