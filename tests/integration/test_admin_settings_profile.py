"""A classifier profile change applies to calls processed after it; stored calls keep
their rating (against the emulators, through the real processor). Degradation is a poor
criterion under sfb2019 only (docs/reference/classification.md), so the same QoE is poor
before the switch to teams2021 and good after it. The tenant's retention is the ttl of
each call written after the change, and of each aggregate (counted from its day) and
audit entry."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.admin.settings import put_settings
from shared.analytics.audit import record_read
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.calls import history_page, read_call
from shared.storage.clients import get_clients
from tests.factories import cdr, envelope
from tests.integration.test_alerts import GOOD, START, gen, post_and_process, who

pytestmark = pytest.mark.stack
DEGRADED = GOOD | {"degradation_avg": 1.6}  # poor under sfb2019 only


def _degraded_call(i: int, at: datetime = START) -> tuple[list[dict[str, Any]], str]:
    """`audio_call` with degradation over the sfb2019 limit and the network good."""
    start = at + timedelta(minutes=7 * i)
    key = f"{uuid.uuid4().hex}@fe01.contoso.local"
    a, b = f"sip:pr{i}a@contoso.com", f"sip:pr{i}b@contoso.com"
    records: list[dict[str, Any]] = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": cdr(n=i, caller=a, callee=b, start=start, call_id=key),
        }
    ]
    for side, is_caller in enumerate((True, False)):
        me, other = (a, b) if is_caller else (b, a)
        net = gen.Net(ip=f"10.70.{side + 1}.{10 + i}", remote_ip=f"10.70.{2 - side}.9")
        xml = gen.build_report(
            call_id=key,
            from_tag=f"ft{i}",
            to_tag=f"tt{i}",
            caller=is_caller,
            from_uri=me,
            to_uri=other,
            start=start + timedelta(seconds=2),
            end=start + timedelta(seconds=302),
            lines=[gen.Line("main-audio", "audio", DEGRADED, DEGRADED, 40.0)],
            net=net,
        )
        records.append({"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
    return records, key


async def _rating(tenant: str, records: list[dict[str, Any]], user: str) -> tuple[str, Any]:
    status = await post_and_process(tenant, envelope(records, tenant=tenant))
    assert status["stored"] == len(records), status
    clients = get_clients(get_settings())
    [entry] = await history_page(clients, tenant, user, "2000", "2100", 5, None)
    doc = await read_call(clients, tenant, entry["callId"])
    assert doc is not None
    assert entry.get("ttl") == doc.ttl  # the history entry expires with its call
    return str(doc.view.rating), doc


def test_profile_change_applies_to_new_calls_only(stack) -> None:
    async def scenario() -> None:
        tenant = str(uuid.uuid4())
        clients = get_clients(get_settings())
        first_records, _ = _degraded_call(1)
        rating, first = await _rating(tenant, first_records, "pr1a@contoso.com")
        assert rating == "poor"
        assert first.ttl == 30 * 86_400  # the service maximum when nothing is set

        saved = await put_settings(
            clients,
            who("admin", tenant),
            {"classifierProfiles": {"ms-qoe-xml": "teams2021"}, "retention": {"callsDays": 7}},
        )
        assert saved["notices"] and "from now on" in saved["notices"][0]

        second_records, _ = _degraded_call(2)
        rating2, second = await _rating(tenant, second_records, "pr2a@contoso.com")
        assert rating2 == "good"
        assert second.ttl == 7 * 86_400
        stored = await read_call(clients, tenant, first.id)
        assert stored is not None and stored.view.rating == "poor"  # not reclassified

    asyncio.run(scenario())


def test_retention_is_the_ttl_of_aggregates_from_their_day_and_of_audit_entries(stack) -> None:
    async def scenario() -> None:
        tenant = str(uuid.uuid4())
        clients = get_clients(get_settings())
        await put_settings(
            clients, who("admin", tenant), {"retention": {"aggregatesDays": 10, "auditDays": 20}}
        )
        three_days_ago = datetime.now(timezone.utc).replace(
            hour=9, minute=0, second=0, microsecond=0
        ) - timedelta(days=3)
        records, _ = _degraded_call(3, three_days_ago)
        status = await post_and_process(tenant, envelope(records, tenant=tenant))
        assert status["stored"] == len(records), status
        aggs = [
            a
            async for a in clients.container(layout.AGGREGATES).query_items(
                "SELECT * FROM c WHERE c.tenantId = @t AND c.kind = 'agg'",
                parameters=[{"name": "@t", "value": tenant}],
            )
        ]
        assert aggs
        day = three_days_ago.strftime("%Y-%m-%d")
        end = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=1)
        expected = (end + timedelta(days=10)).timestamp() - time.time()
        for agg in aggs:
            assert agg["day"] == day
            # ten days from the end of the call's day, not from the write
            assert abs(agg["ttl"] - expected) < 120, (agg["ttl"], expected)
            assert agg["ttl"] < 10 * 86_400

        await record_read(clients, who("admin", tenant), "call.read", call_id="c1")
        audit = [
            a
            async for a in clients.container(layout.AUDIT).query_items(
                "SELECT * FROM c WHERE c.tenantId = @t",
                parameters=[{"name": "@t", "value": tenant}],
            )
        ]
        assert audit and {a["ttl"] for a in audit} == {20 * 86_400}, audit

        await put_settings(clients, who("admin", tenant), {})  # back to the maximum
        await record_read(clients, who("admin", tenant), "call.read", call_id="c2")
        latest = [
            a
            async for a in clients.container(layout.AUDIT).query_items(
                "SELECT * FROM c WHERE c.tenantId = @t AND c.callId = 'c2'",
                parameters=[{"name": "@t", "value": tenant}],
            )
        ]
        assert [a["ttl"] for a in latest] == [layout.AUDIT.default_ttl]

    asyncio.run(scenario())
