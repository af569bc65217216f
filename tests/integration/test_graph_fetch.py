"""Teams call records from Microsoft Graph, end to end through the real local stack.

The Graph stand-in (devhost.graph_standin, real HTTP, dev-issuer tokens) sends the
validation request and the notifications to the local host's webhook; the host's queue
trigger (Azurite Queue) fetches with paging; the record goes through the ingest path
(Blob) and the blob trigger into Cosmos DB; the tests read call detail over HTTP.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest

from devhost.stack import GRAPH_TENANT
from devhost.teams_generator import call_record
from shared.identity import call_id

TENANT = GRAPH_TENANT


def _http(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def graph(stack: Any, local_host: Any) -> Iterator[Any]:
    """The stand-in, the webhook base URL and the tenant configured for Graph."""
    env = {
        "CDC_GRAPH_TENANTS": TENANT,
        "CDC_GRAPH_WEBHOOK_BASE": str(local_host),
        "CDC_GRAPH_NOT_FOUND_DELAY_S": "0.5",
        "CDC_GRAPH_MAX_INLINE_WAIT_S": "3",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield stack.graph
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def subscribed(graph: Any, local_host: Any, mint: Callable[..., str]) -> dict[str, Any]:
    status, _, body = _http(
        "POST", f"{local_host}/api/v1/admin/graph/subscription", mint(TENANT, level="admin")
    )
    assert status == 200, body
    return dict(json.loads(body))


def _detail(
    local_host: Any, token: str, record_id: str, user: str | None = None
) -> dict[str, Any] | None:
    """The call detail with every page of its sessions (a page holds at most 100)."""
    cid = call_id(TENANT, f"graph:{record_id}")
    query = {"user": user} if user else {}
    detail: dict[str, Any] | None = None
    while True:
        q = f"?{urlencode(query)}" if query else ""
        status, _, body = _http("GET", f"{local_host}/api/v1/calls/{cid}{q}", token)
        if status != 200:
            return None
        page = json.loads(body)
        if detail is None:
            detail = page
        else:
            detail["sessions"] += page["sessions"]
        if not page.get("continuationToken"):
            return detail
        query["continuationToken"] = page["continuationToken"]


def _engineer(mint: Callable[..., str]) -> str:
    return mint(TENANT, user="eve@contoso.com", level="engineer")


def test_subscription_is_validated_and_stored(
    graph: Any, subscribed: dict[str, Any], local_host: Any
) -> None:
    subs = graph.active_subscriptions(TENANT)
    assert [s["id"] for s in subs] == [subscribed["subscriptionId"]]
    assert subs[0]["notificationUrl"] == f"{local_host}/api/v1/graph/notifications"
    assert subs[0]["lifecycleNotificationUrl"] == f"{local_host}/api/v1/graph/lifecycle"
    assert "clientState" not in subscribed  # the secret never leaves the service
    assert graph.counts["validations"] >= 2
    expires = datetime.fromisoformat(subscribed["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=4100) < expires - datetime.now(timezone.utc) <= timedelta(minutes=4230)


def test_validation_echo_and_bad_bodies(local_host: Any) -> None:
    status, headers, body = _http(
        "POST", f"{local_host}/api/v1/graph/notifications?validationToken=a%20b%3Cc"
    )
    assert status == 200 and body == b"a b<c"
    assert headers["Content-Type"].startswith("text/plain")
    status, headers, body = _http(
        "POST", f"{local_host}/api/v1/graph/notifications", raw=b"not json{"
    )
    assert status == 400 and headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(body)["field"] == "body"
    status, _, body = _http("POST", f"{local_host}/api/v1/graph/lifecycle", body={"x": 1})
    assert status == 400 and json.loads(body)["field"] == "value"
    huge = b'{"value": [' + b'{"a": 1},' * 200_000 + b"{}]}"
    status, _, body = _http("POST", f"{local_host}/api/v1/graph/notifications", raw=huge)
    assert status == 413 and json.loads(body)["field"] == "body"
    deep = b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, _, body = _http("POST", f"{local_host}/api/v1/graph/notifications", raw=deep)
    assert status == 400 and json.loads(body)["field"] == "body"


def test_notification_fetch_call_detail(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    record = call_record(TENANT, seed=101)
    t0 = time.monotonic()
    statuses = graph.add_calls(TENANT, [record])
    assert statuses == [202]
    assert graph.delivery_log[-1]["seconds"] < 3.0  # Graph's limit for the answer
    detail = wait_for(
        lambda: _detail(local_host, _engineer(mint), record["id"]), what="the call to be answerable"
    )
    uris = {p["uri"] for p in detail["participants"]}
    assert {"sip:alice.anders@contoso.com", "sip:bob.brooks@contoso.com"} <= uris
    assert len(detail["sessions"]) == 1
    assert time.monotonic() - t0 < 45  # seconds here; most of it the blob trigger's turn


def test_meeting_with_200_sessions_arrives_whole(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    record = call_record(TENANT, kind="groupCall", sessions=200, seed=102)
    before = graph.counts["get200"]
    graph.add_calls(TENANT, [record])

    def whole() -> dict[str, Any] | None:
        d = _detail(local_host, _engineer(mint), record["id"])
        return d if d and len(d["sessions"]) == 200 else None

    wait_for(whole, what="all 200 sessions")
    assert graph.counts["get200"] - before >= 4  # the record + 3 more pages of 60


def test_meeting_participants_from_participants_v2_over_several_pages(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    # Three sessions in the record, 303 people in participants_v2: three pages of 130.
    record = call_record(TENANT, kind="groupCall", sessions=3, seed=103, listeners=300)
    assert len(record["participants_v2"]) == 303
    token = _engineer(mint)
    graph.add_calls(TENANT, [record])

    def everyone() -> dict[str, Any] | None:
        d = _detail(local_host, token, record["id"])
        return d if d and len(d["participants"]) >= 303 else None

    detail = wait_for(everyone, what="all 303 participants")
    uris = {p["uri"] for p in detail["participants"]}
    assert {f"sip:listener{i}.attendee@contoso.com" for i in range(300)} <= uris
    assert {"sip:alice.anders@contoso.com", "sip:chloe.chen@contoso.com"} <= uris
    assert len(detail["sessions"]) == 3  # the listeners have no session in the record
    # A listener's history lists the meeting, as any participant's does (the history
    # entries are written after the call document).
    cid = call_id(TENANT, f"graph:{record['id']}")
    wait_for(
        lambda: (
            cid
            in {
                c["callId"] for c in _history(local_host, token, "listener299.attendee@contoso.com")
            }
        ),
        what="the meeting in a listener's history",
    )


def _stored(record_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The call document and the fetcher's version mark, read from Cosmos DB."""
    import asyncio

    from shared.storage import graph_state, layout
    from shared.storage.calls import call_pk
    from shared.storage.clients import close_clients, get_clients
    from shared.storage.retry import read_or_none

    async def go() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        clients = get_clients()
        try:
            cid = call_id(TENANT, f"graph:{record_id}")
            doc = await read_or_none(
                clients.container(layout.CALLS), cid, call_pk(TENANT, cid), what="test read"
            )
            mark = await graph_state.read_record_version(clients, TENANT, record_id)
        finally:
            await close_clients()
        return doc, mark

    return asyncio.run(go())


def _settle(local_host: Any) -> None:
    local_host.host.wait_queues_drained(60)
    local_host.wait_idle()


def test_later_modification_of_the_same_version_replaces_redelivery_changes_nothing(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=4)
    early = call_record(TENANT, seed=510, start=start, minutes=3)
    late = call_record(TENANT, seed=510, start=start, minutes=9)  # same version, modified later
    assert (early["id"], early["version"]) == (late["id"], late["version"])
    assert late["lastModifiedDateTime"] > early["lastModifiedDateTime"]
    token = _engineer(mint)
    graph.add_calls(TENANT, [early])
    wait_for(lambda: _detail(local_host, token, early["id"]), what="the first copy")
    graph.add_calls(TENANT, [late])
    wait_for(
        lambda: (
            (d := _detail(local_host, token, late["id"]))
            and d["end"].startswith(late["endDateTime"][:19])
        ),
        what="the later copy",
    )
    _settle(local_host)
    doc, mark = _stored(late["id"])
    assert doc is not None and mark is not None and mark["status"] == "stored"
    assert len(doc["fragments"]) == 1  # the later copy replaced the earlier one
    revision, stored_at = doc["revision"], mark["storedAt"]
    # The same notification again, twice in one delivery, then the earlier copy: fetched
    # each time, handed over never.
    for again in ([late, late], [early]):
        gets = graph.counts["get200"]
        graph.add_calls(TENANT, again)
        wait_for(lambda g=gets: graph.counts["get200"] > g, what="the re-fetch")
        _settle(local_host)
        doc, mark = _stored(late["id"])
        assert doc is not None and mark is not None
        assert (doc["revision"], mark["storedAt"]) == (revision, stored_at)
    detail = _detail(local_host, token, late["id"])
    assert detail is not None and detail["end"].startswith(late["endDateTime"][:19])


def test_duplicate_notification_of_a_new_record_is_stored_once(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    record = call_record(TENANT, seed=520)
    graph.add_calls(TENANT, [record, record, record])  # three messages, fetched together
    wait_for(lambda: _detail(local_host, _engineer(mint), record["id"]), what="the call")
    _settle(local_host)
    doc, _ = _stored(record["id"])
    assert doc is not None and doc["revision"] == 1 and len(doc["fragments"]) == 1


def test_429_storm_loses_nothing(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    records = [call_record(TENANT, seed=200 + i) for i in range(25)]
    throttled_before = graph.counts["throttled"]
    graph.throttle(60, retry_after=1)
    graph.add_calls(TENANT, records, per_request=10)
    token = _engineer(mint)
    wait_for(
        lambda: all(_detail(local_host, token, r["id"]) for r in records),
        120,
        "every throttled call",
    )
    assert graph.counts["throttled"] - throttled_before == 60
    assert not local_host.host.queue_poisoned


def test_404_right_after_the_notification_is_retried(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    record = call_record(TENANT, seed=300)
    graph.records[(TENANT, record["id"])] = record
    graph.hide_for(TENANT, record["id"], 3)
    graph.add_calls(TENANT, [record])
    wait_for(
        lambda: _detail(local_host, _engineer(mint), record["id"]), 60, "the call after three 404s"
    )
    assert not local_host.host.queue_poisoned


def test_forged_client_state_fetches_nothing(
    graph: Any, subscribed: dict[str, Any], local_host: Any, stack: Any, mint: Callable[..., str]
) -> None:
    # Outside any backfill window of these tests: only a notification could bring it.
    record = call_record(TENANT, seed=400, start=datetime.now(timezone.utc) - timedelta(days=3))
    gets = graph.counts["get"]
    assert graph.add_calls(TENANT, [record], client_state="guessed-" + "x" * 40) == [202]
    # An unknown tenant: counted, not fetched either.
    value = [
        {
            "subscriptionId": subscribed["subscriptionId"],
            "clientState": "x",
            "changeType": "created",
            "tenantId": "99999999-9999-4999-8999-999999999999",
            "resource": f"communications/callRecords/{record['id']}",
            "resourceData": {"id": record["id"]},
        }
    ]
    status, _, _ = _http("POST", f"{local_host}/api/v1/graph/notifications", body={"value": value})
    assert status == 202
    time.sleep(2)
    local_host.host.wait_queues_drained(30)
    assert graph.counts["get"] == gets
    assert _detail(local_host, _engineer(mint), record["id"]) is None
    status, _, body = _http("GET", f"{local_host}/api/v1/admin/graph", mint(TENANT, level="admin"))
    assert status == 200
    sub = json.loads(body)["subscription"]
    assert sub["rejected"] >= 1 and sub["notifications"] >= 1


def test_newer_version_replaces_older_changes_nothing(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    v1 = call_record(TENANT, seed=500, start=start, version=1, minutes=3)
    v2 = call_record(TENANT, seed=500, start=start, version=2, minutes=9)
    assert v1["id"] == v2["id"]
    token = _engineer(mint)
    graph.add_calls(TENANT, [v1])
    first = wait_for(lambda: _detail(local_host, token, v1["id"]), what="version 1")
    assert first["end"].startswith(v1["endDateTime"][:19])
    graph.add_calls(TENANT, [v2])
    wait_for(
        lambda: (
            (d := _detail(local_host, token, v1["id"]))
            and d["end"].startswith(v2["endDateTime"][:19])
        ),
        what="version 2",
    )
    gets = graph.counts["get200"]
    graph.add_calls(TENANT, [v1])  # the older version again: fetched, changes nothing
    wait_for(lambda: graph.counts["get200"] > gets, what="the re-fetch")
    local_host.host.wait_queues_drained(30)
    local_host.wait_idle()
    again = _detail(local_host, token, v1["id"])
    assert again is not None and again["end"].startswith(v2["endDateTime"][:19])


def test_missed_lifecycle_event_backfills_the_gap(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    lost = [call_record(TENANT, seed=600 + i, start=start + timedelta(minutes=i)) for i in range(5)]
    graph.add_calls(TENANT, lost, notify=False)  # Graph could not deliver these
    token = _engineer(mint)
    assert not any(_detail(local_host, token, r["id"]) for r in lost)
    sub_id = graph.active_subscriptions(TENANT)[0]["id"]
    assert graph.lifecycle(sub_id, "missed") == 202
    wait_for(lambda: all(_detail(local_host, token, r["id"]) for r in lost), 90, "the backfill")
    status, _, body = _http("GET", f"{local_host}/api/v1/admin/graph", mint(TENANT, level="admin"))
    assert status == 200
    runs = json.loads(body)["backfills"]
    assert any(r["reason"] == "missed" and r["listed"] >= 5 for r in runs)


def test_admin_backfill_validates_its_window(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    url = f"{local_host}/api/v1/admin/graph/backfill"
    now = datetime.now(timezone.utc)
    admin = mint(TENANT, level="admin")
    old = (now - timedelta(days=31)).isoformat()
    status, _, body = _http("POST", url, admin, {"from": old, "to": now.isoformat()})
    assert status == 400 and json.loads(body)["field"] == "from"
    status, _, body = _http("POST", url, admin, {"from": now.isoformat()})
    assert status == 400 and json.loads(body)["field"] == "to"
    status, _, _ = _http(
        "POST",
        url,
        mint(TENANT, level="engineer"),
        {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()},
    )
    assert status == 403
    status, _, body = _http(
        "POST", url, admin, {"from": (now - timedelta(hours=6)).isoformat(), "to": now.isoformat()}
    )
    assert status == 202 and json.loads(body)["status"] == "queued"


def test_renewal_happens_before_expiry(
    graph: Any, subscribed: dict[str, Any], local_host: Any
) -> None:
    from shared.graph import subscriptions

    sub = graph.active_subscriptions(TENANT)[0]
    expires = datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))
    renewals = graph.counts["renewals"]
    try:
        # 30 hours before expiry: nothing to do yet.
        fake = expires - timedelta(hours=30)
        subscriptions.clock = graph.clock = lambda: fake
        local_host.host.fire_timer("graph_subscriptions")
        assert graph.counts["renewals"] == renewals
        # 20 hours before expiry: renewed, to 4,200 minutes after the injected now.
        fake = expires - timedelta(hours=20)
        local_host.host.fire_timer("graph_subscriptions")
        assert graph.counts["renewals"] == renewals + 1
        renewed = graph.subscriptions[sub["id"]]
        new_expiry = datetime.fromisoformat(renewed["expirationDateTime"].replace("Z", "+00:00"))
        assert new_expiry == (fake + timedelta(minutes=4200)).replace(microsecond=0)
        assert graph.active_subscriptions(TENANT)  # still alive at the injected time
    finally:
        subscriptions.clock = subscriptions._utcnow
        graph.clock = lambda: datetime.now(timezone.utc)


def test_reauthorization_required_is_answered(
    graph: Any, subscribed: dict[str, Any], local_host: Any
) -> None:
    before = graph.counts["reauthorizations"]
    sub_id = graph.active_subscriptions(TENANT)[0]["id"]
    assert graph.lifecycle(sub_id, "reauthorizationRequired") == 202
    wait_for(lambda: graph.counts["reauthorizations"] == before + 1, 30, "the reauthorization")
    assert graph.active_subscriptions(TENANT)[0]["id"] == sub_id  # the same subscription


def test_subscription_removed_is_recreated(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    old = graph.active_subscriptions(TENANT)[0]["id"]
    assert graph.lifecycle(old, "subscriptionRemoved") == 202
    wait_for(lambda: graph.active_subscriptions(TENANT), 30, "a new subscription")
    new = graph.active_subscriptions(TENANT)[0]["id"]
    assert new != old
    record = call_record(TENANT, seed=700)
    graph.add_calls(TENANT, [record])  # notifications flow through the new one
    wait_for(lambda: _detail(local_host, _engineer(mint), record["id"]), 60, "the call")


def _history(local_host: Any, token: str, user: str) -> list[dict[str, Any]]:
    status, _, body = _http("GET", f"{local_host}/api/v1/users/{user}/calls", token)
    assert status == 200, body
    data = json.loads(body)
    return list(data.get("calls") or data.get("items") or [])


def test_pstn_and_direct_routing_logs(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    from devhost.teams_generator import pstn_row
    from shared.graph import subscriptions

    day = (datetime.now(timezone.utc) - timedelta(days=2)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    upn = "pat.pstn@contoso.com"
    dr = [
        pstn_row(
            TENANT,
            seed=i,
            start=day + timedelta(minutes=i),
            direct_routing=True,
            upn=upn,
            answered=i % 4 != 0,
            sip_code=None if i % 4 else (486 if i % 8 == 0 else 503),
        )
        for i in range(12)
    ]
    plan = [
        pstn_row(TENANT, seed=100 + i, start=day + timedelta(minutes=30 + i), upn=upn)
        for i in range(3)
    ]
    graph.add_pstn_rows("getDirectRoutingCalls", dr)
    graph.add_pstn_rows("getPstnCalls", plan)
    # The daily timer, at an injected 03:15 the next day: reads "yesterday".
    try:
        fake = (day + timedelta(days=1)).replace(hour=3, minute=15)
        subscriptions.clock = lambda: fake
        local_host.host.fire_timer("graph_daily_logs")
    finally:
        subscriptions.clock = subscriptions._utcnow
    specialist = mint(TENANT, user="sam@contoso.com", level="specialist")
    wait_for(lambda: len(_history(local_host, specialist, upn)) >= 15, 60, "15 PSTN calls")
    answered = next(r for r in dr if r["successfulCall"])
    cid = call_id(TENANT, f"pstn:{answered['id']}")
    status, _, body = _http("GET", f"{local_host}/api/v1/calls/{cid}?user={upn}", specialist)
    assert status == 200, body
    text = body.decode()
    number = answered["calleeNumber"]
    assert number not in text and number[:-3] + "***" in text  # masked, last 3 digits
    detail = json.loads(body)
    assert detail["durationS"] == answered["duration"]
    assert "pstn" not in detail["sessions"][0]  # trunk, SIP code: not for a specialist
    assert "sbc1.contoso.com" not in text
    engineer = json.loads(_http("GET", f"{local_host}/api/v1/calls/{cid}", _engineer(mint))[2])
    pstn = engineer["sessions"][0]["pstn"]
    assert pstn["trunkFqdn"] == "sbc1.contoso.com" and pstn["finalSipCode"] == 200
    assert pstn["logType"] == "directRouting" and isinstance(pstn["mediaBypass"], bool)
    assert number not in json.dumps(engineer)  # masked for engineer too
    # The per-trunk report: attempts, answered, NER, failures by code.
    reader = mint(TENANT, level="reader")
    d = day.date().isoformat()
    status, _, body = _http(
        "GET", f"{local_host}/api/v1/quality/pstn-trunks?from={d}&to={d}", reader
    )
    assert status == 200, body
    rows = {r["trunk"]: r for r in json.loads(body)["rows"]}
    sbc = rows["sbc1.contoso.com"]
    assert sbc["attempts"] == 12 and sbc["answered"] == 9
    assert sbc["failuresBySipCode"] == {"486": 2, "503": 1}
    assert sbc["ner"] == round(11 / 12, 4)  # 486 is the callee's doing, 503 the network's
    assert rows["Calling Plan"]["attempts"] == 3
    # Reading the same day again counts nothing twice.
    try:
        subscriptions.clock = lambda: fake
        local_host.host.fire_timer("graph_daily_logs")
    finally:
        subscriptions.clock = subscriptions._utcnow
    local_host.host.wait_queues_drained(30)
    again = json.loads(
        _http("GET", f"{local_host}/api/v1/quality/pstn-trunks?from={d}&to={d}", reader)[2]
    )["rows"]
    assert {r["trunk"]: r["attempts"] for r in again} == {"sbc1.contoso.com": 12, "Calling Plan": 3}
    status, _, body = _http("GET", f"{local_host}/api/v1/quality/pstn-trunks?from=x&to={d}", reader)
    assert status == 400 and json.loads(body)["field"] == "from"


def test_admin_health_shows_the_subscription(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    local_host.host.wait_queues_drained(60)  # the initial backfill has run
    status, _, body = _http("GET", f"{local_host}/api/v1/admin/health", mint(TENANT, level="admin"))
    assert status == 200, body
    section = json.loads(body)["graph"]
    assert section["subscription"]["status"] == "active"
    assert section["subscriptionHoursLeft"] > 12 and section["degraded"] is False
    assert "clientState" not in body.decode()
    assert any(r["reason"] == "initial" for r in section["backfills"])


def test_demo_teams_tenant_arrives_by_notification_and_fetch(
    graph: Any, subscribed: dict[str, Any], local_host: Any, mint: Callable[..., str]
) -> None:
    """What `make run` does for its Teams tenant (devhost.teams_demo), smaller: the
    calls reach the product only by notification -> queue -> fetch -> ingest. Last in
    this module: it adds PSTN log rows that a later daily read would count."""
    from devhost.teams_demo import load_teams_demo, teams_records

    notified, fetched = graph.counts["notifications"], graph.counts["get200"]
    n = load_teams_demo(
        str(local_host),
        mint(TENANT, level="admin"),
        graph,
        TENANT,
        calls=30,
        wait=lambda: _settle(local_host),
        log=lambda _line: None,
    )
    assert n == 30
    assert graph.counts["notifications"] - notified >= 30
    assert graph.counts["get200"] - fetched >= 60  # each record and its participants
    token = _engineer(mint)
    records = teams_records(TENANT, 30)
    details = [_detail(local_host, token, r["id"]) for r in records]
    assert all(details), "every demo call is answerable"
    assert {d["sources"][0] for d in details if d} == {"graph-v1"}
    kinds = {d["callType"] for d in details if d}
    assert {"conference", "peerToPeer", "pstn"} <= kinds
