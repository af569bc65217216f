"""Quarantined records against the emulators: an admin lists them by batch and reason,
reads one (audited), discards one, and replays after a parser fix; the batch counts
reconcile after every step (received = stored + excluded + quarantined) and a replay
done twice moves a record once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import shared.parsing as parsing
from shared.admin.quarantine import discard, list_quarantine, read_quarantined, replay
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

    rest = await replay(clients, settings, admin, batch_id, None)
    assert {r["index"]: r["outcome"] for r in rest["results"]} == {4: "stored", 5: "discarded"}
    batch = await read_batch(clients, tenant, batch_id)
    assert batch is not None and (batch["stored"], batch["quarantined"]) == (5, 1)
    assert _reconciled(batch)
    again = await replay(clients, settings, admin, batch_id, None)
    assert again["counts"] == rest["counts"]  # a second replay of the batch moves nothing
    for i in (10, 11):
        entries = await history_page(
            clients, tenant, f"f{i}{tag}@contoso.com", "2000", "2100", 5, None
        )
        assert len(entries) == 1  # the replayed records' calls are stored


def record_month() -> str:
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc):%Y-%m}"
