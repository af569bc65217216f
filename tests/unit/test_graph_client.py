"""The Graph client against the loopback Graph stand-in (real HTTP, dev-issuer tokens):
paging, Retry-After, 404, next-link origin, list filter."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from devhost.devauth import DevAuthority
from devhost.graph_standin import GraphStandIn
from devhost.teams_generator import call_record
from shared.graph.client import GraphClient, GraphError, NotFound, Throttled, retry_after_s
from shared.graph.config import GraphConfig
from shared.graph.tokens import LoopbackClientCredentials

TENANT = "3c1e6f2a-7d4b-4e8a-9f21-6a5b4c3d2e1f"


@pytest.fixture(scope="module")
def standin(dev_authority: DevAuthority) -> Iterator[GraphStandIn]:
    graph = GraphStandIn(authority_url=dev_authority.url).start()
    yield graph
    graph.stop()


def _run(
    standin: GraphStandIn, authority: str, op: Any, *, max_wait_s: float = 30.0
) -> tuple[Any, list[float]]:
    from aiohttp import ClientSession

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> Any:
        config = GraphConfig(url=standin.url, authority=authority)
        async with ClientSession() as session:
            client = GraphClient(
                config,
                LoopbackClientCredentials(config, session),
                session,
                sleep=sleep,
                max_wait_s=max_wait_s,
            )
            return await op(client)

    return asyncio.run(go()), slept


def test_retry_after_forms() -> None:
    assert retry_after_s("7", 1) == 7.0
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= retry_after_s(email.utils.format_datetime(when, usegmt=True), 1) <= 30
    assert 0 < retry_after_s(None, 3) <= 8.0  # backoff with jitter, capped


def test_sessions_and_participants_are_paged_to_the_end(
    standin: GraphStandIn, dev_authority: DevAuthority
) -> None:
    rec = call_record(TENANT, kind="groupCall", sessions=130, seed=1)
    rec["participants_v2"] = [
        {"id": f"p{i}", "identity": {"user": {"id": f"p{i}"}}} for i in range(250)
    ]
    standin.add_calls(TENANT, [rec], notify=False)
    got, _ = _run(standin, dev_authority.url, lambda c: c.call_record(TENANT, rec["id"]))
    assert [s["id"] for s in got["sessions"]] == [s["id"] for s in rec["sessions"]]
    assert len(got["participants_v2"]) == 250
    assert "sessions@odata.nextLink" not in got and "participants_v2@odata.nextLink" not in got
    assert all("segments" in s for s in got["sessions"])


def test_429_waits_retry_after_then_succeeds(
    standin: GraphStandIn, dev_authority: DevAuthority
) -> None:
    rec = call_record(TENANT, seed=2)
    standin.add_calls(TENANT, [rec], notify=False)
    standin.throttle(3, retry_after=2)
    got, slept = _run(standin, dev_authority.url, lambda c: c.call_record(TENANT, rec["id"]))
    assert got["id"] == rec["id"] and slept == [2.0, 2.0, 2.0]


def test_long_retry_after_is_handed_back_not_waited(
    standin: GraphStandIn, dev_authority: DevAuthority
) -> None:
    rec = call_record(TENANT, seed=3)
    standin.add_calls(TENANT, [rec], notify=False)
    standin.throttle(1, retry_after=120)
    with pytest.raises(Throttled) as err:
        _run(standin, dev_authority.url, lambda c: c.call_record(TENANT, rec["id"]), max_wait_s=20)
    assert err.value.retry_after == 120
    standin.throttle(0)


def test_404_and_foreign_next_links(standin: GraphStandIn, dev_authority: DevAuthority) -> None:
    with pytest.raises(NotFound):
        _run(standin, dev_authority.url, lambda c: c.call_record(TENANT, "no-such-record"))
    with pytest.raises(GraphError, match="badLink"):
        _run(
            standin,
            dev_authority.url,
            lambda c: c.request("GET", TENANT, "https://evil.example/v1.0/x"),
        )


def test_list_filters_on_start(standin: GraphStandIn, dev_authority: DevAuthority) -> None:
    base = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    recs = [call_record(TENANT, seed=100 + i, start=base + timedelta(hours=i)) for i in range(70)]
    standin.add_calls(TENANT, recs, notify=False)

    async def listing(c: GraphClient) -> list[str]:
        return [
            r["id"]
            async for r in c.list_call_records(
                TENANT, base + timedelta(hours=5), base + timedelta(hours=68)
            )
        ]

    ids, _ = _run(standin, dev_authority.url, listing)
    assert ids == [r["id"] for r in recs[5:68]]  # 63: two pages of 60


def test_tokens_are_checked(standin: GraphStandIn, dev_authority: DevAuthority) -> None:
    import urllib.error
    import urllib.request

    token = dev_authority.token(TENANT, roles=["CallRecords.Read.All"])  # wrong audience
    req = urllib.request.Request(
        f"{standin.url}/communications/callRecords/x", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def test_http_controls(standin: GraphStandIn, dev_authority: DevAuthority) -> None:
    import json
    import urllib.request

    def post(what: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{standin.base}/_standin/{what}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(json.loads(resp.read()))

    rec = call_record(TENANT, seed=900)
    assert post("calls", {"tenantId": TENANT, "records": [rec], "notify": False})["stored"] == 1
    assert post("throttle", {"requests": 1, "retryAfter": 4})["throttleLeft"] == 1
    got, slept = _run(standin, dev_authority.url, lambda c: c.call_record(TENANT, rec["id"]))
    assert got["id"] == rec["id"] and slept == [4.0]
    with urllib.request.urlopen(f"{standin.base}/_standin/state", timeout=10) as resp:
        state = json.loads(resp.read())
    assert state["counts"]["throttled"] >= 1 and "clientState" not in json.dumps(state)
