"""Quality alert records against the Cosmos DB emulator: exactly one record per
(building, day), a refresh keeps the acknowledgement, acknowledge is admin only, the
list sorts and filters. The report the evaluator reads is stubbed (it has its own
tests); the alerts container is the real one. Each test uses its own tenant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

import pytest

from functions.problems import as_problem
from shared import telemetry
from shared.alerts import quality
from shared.alerts.quality import Thresholds
from shared.auth.tokens import Principal
from shared.errors import DomainError, Invalid
from shared.storage import layout
from shared.storage.clients import get_clients

pytestmark = pytest.mark.stack
DAY = "2031-03-04"
NOW = datetime(2031, 3, 5, 9, 7, tzinfo=timezone.utc)


def row(building: str | None, poor: int, good: int, day: str = DAY) -> dict[str, Any]:
    pct = round(100.0 * poor / (poor + good), 2) if poor + good else None
    return {
        "day": day,
        "building": building,
        "poor": poor,
        "good": good,
        "streams": poor + good + 1,
        "poorPercent": pct,
    }


@pytest.fixture
def tenant(stack: Any) -> str:
    return str(uuid.uuid4())


@pytest.fixture
def summary(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The report the evaluator reads; tests set `rows`."""
    state: dict[str, Any] = {"rows": [], "calls": []}

    async def fake(clients: Any, principal: Principal, params: dict[str, str]) -> dict[str, Any]:
        state["calls"].append((principal, dict(params)))
        return {"rows": state["rows"]}

    monkeypatch.setattr(quality, "quality_summary", fake)
    yield state


def admin(tenant: str, name: str = "admin@contoso.com") -> Principal:
    return Principal(tenant_id=tenant, object_id="oid-admin", name=name, levels=("admin",))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def stored(tenant: str) -> list[dict[str, Any]]:
    """Every alert record of the tenant, as stored."""

    async def go() -> list[dict[str, Any]]:
        container = get_clients().container(layout.ALERTS)
        return [
            d
            async for d in container.query_items(
                "SELECT * FROM c WHERE c.tenantId = @t",
                parameters=[{"name": "@t", "value": tenant}],
                partition_key=tenant,
            )
        ]

    return run(go())


class _Clients:
    """The real clients of whichever event loop runs the call (each `run()` has its
    own loop, and clients are bound to the loop that made them)."""

    def container(self, spec: layout.CosmosContainer) -> Any:
        return get_clients().container(spec)


def _clients() -> Any:
    return _Clients()


def test_one_alert_per_building_and_day_however_often_evaluated(summary: dict, tenant: str) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    telemetry.enable_metrics(MeterProvider(metric_readers=[reader]))
    try:
        clients = _clients()
        summary["rows"] = [row("HQ", 30, 70), row("Annex", 1, 99)]
        first = run(quality.evaluate_tenant(clients, tenant, [date(2031, 3, 4)], Thresholds(), NOW))
        again = run(quality.evaluate_tenant(clients, tenant, [date(2031, 3, 4)], Thresholds(), NOW))
    finally:
        telemetry.disable_metrics()
    assert [a["building"] for a in first.raised] == ["HQ"]
    assert (len(again.raised), len(again.refreshed), again.unchanged) == (0, 0, 1)
    assert len(stored(tenant)) == 1
    principal, params = summary["calls"][0]
    assert principal.levels == ("reader",)  # the evaluator reads no EUII
    assert params == {"from": DAY, "to": DAY, "groupBy": "day,building", "mediaType": "audio"}
    data = reader.get_metrics_data()
    counted = [
        p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "cdc.quality.alerts"
        for p in m.data.data_points
    ]
    assert counted == [1]


def test_refresh_updates_figures_and_keeps_the_acknowledgement(summary: dict, tenant: str) -> None:
    clients = _clients()
    summary["rows"] = [row("HQ", 30, 70)]
    (raised,) = run(
        quality.evaluate_tenant(clients, tenant, [date(2031, 3, 4)], Thresholds(), NOW)
    ).raised
    acked = run(quality.acknowledge(clients, admin(tenant), raised["id"]))
    assert acked["status"] == "acknowledged" and acked["ackedBy"] == "admin@contoso.com"
    summary["rows"] = [row("HQ", 45, 55)]  # a late batch made the day worse
    result = run(quality.evaluate_tenant(clients, tenant, [date(2031, 3, 4)], Thresholds(), NOW))
    assert not result.raised and len(result.refreshed) == 1
    (doc,) = stored(tenant)
    assert doc["poorPercent"] == 45.0 and doc["status"] == "acknowledged"
    assert doc["raisedAt"] == raised["raisedAt"] and doc["ackedAt"] == acked["ackedAt"]


def test_acknowledge_is_idempotent_admin_only_and_404_for_unknown(
    summary: dict, tenant: str
) -> None:
    clients = _clients()
    summary["rows"] = [row("HQ", 30, 70)]
    (raised,) = run(
        quality.evaluate_tenant(clients, tenant, [date(2031, 3, 4)], Thresholds(), NOW)
    ).raised
    first = run(quality.acknowledge(clients, admin(tenant, "first@contoso.com"), raised["id"]))
    second = run(quality.acknowledge(clients, admin(tenant, "second@contoso.com"), raised["id"]))
    assert second == first
    with pytest.raises(DomainError) as info:
        run(quality.acknowledge(clients, admin(tenant), "quality|2031-01-01|nope"))
    assert as_problem(info.value).status == 404
    engineer = Principal(tenant_id=tenant, object_id="e", name="e", levels=("engineer",))
    with pytest.raises(DomainError) as info:
        run(quality.acknowledge(clients, engineer, raised["id"]))
    assert as_problem(info.value).status == 403


def test_list_sorts_newest_day_then_worst_pages_and_filters_status(
    summary: dict, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _clients()
    summary["rows"] = [row("HQ", 30, 70), row("Annex", 60, 40), row("HQ", 25, 75, "2031-03-05")]
    run(
        quality.evaluate_tenant(
            clients, tenant, [date(2031, 3, 4), date(2031, 3, 5)], Thresholds(), NOW
        )
    )
    params = {"from": "2031-03-01", "to": "2031-03-31"}
    listed = run(quality.list_alerts(clients, admin(tenant), params))
    assert [(a["day"], a["building"]) for a in listed["alerts"]] == [
        ("2031-03-05", "HQ"),
        (DAY, "Annex"),
        (DAY, "HQ"),
    ]
    assert listed["open"] == 3 and listed["continuationToken"] is None
    # one alert a page: the same three in the same order, then no token
    import shared.paging as paging

    monkeypatch.setattr(paging, "PAGE_ROWS", 1)
    pages, token = [], None
    for _ in range(5):
        page = run(
            quality.list_alerts(
                clients, admin(tenant), params | ({"continuationToken": token} if token else {})
            )
        )
        assert page["open"] == 3  # counted over every page
        pages += page["alerts"]
        token = page["continuationToken"]
        if token is None:
            break
    assert pages == listed["alerts"]
    # an acknowledgement between pages of the open alerts skips none and repeats none
    first = run(quality.list_alerts(clients, admin(tenant), params | {"status": "open"}))
    run(quality.acknowledge(clients, admin(tenant), listed["alerts"][0]["id"]))
    rest = run(
        quality.list_alerts(
            clients,
            admin(tenant),
            params | {"status": "open", "continuationToken": first["continuationToken"]},
        )
    )
    assert [a["id"] for a in first["alerts"] + rest["alerts"]] == [a["id"] for a in pages][:2]
    with pytest.raises(Invalid):  # a token of another status
        run(
            quality.list_alerts(
                clients, admin(tenant), params | {"continuationToken": first["continuationToken"]}
            )
        )
    monkeypatch.setattr(paging, "PAGE_ROWS", 1000)
    still_open = run(quality.list_alerts(clients, admin(tenant), params | {"status": "open"}))
    assert len(still_open["alerts"]) == 2
    assert all("_etag" not in a and "ttl" not in a for a in listed["alerts"])
    for bad in (
        {"status": "closed"},
        {"from": "yesterday"},
        {"from": "2031-03-05", "to": "2031-03-01"},
    ):
        with pytest.raises(DomainError) as info:
            run(quality.list_alerts(clients, admin(tenant), bad))
        assert as_problem(info.value).status == 400


def test_evaluate_all_continues_past_a_failing_tenant(
    summary: dict, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _clients()
    summary["rows"] = [row("HQ", 30, 70, "2031-03-05")]
    real = quality.evaluate_tenant

    async def flaky(c: Any, tenant_id: str, *a: Any) -> Any:
        if tenant_id == "bad":
            raise RuntimeError("cosmos down")
        return await real(c, tenant_id, *a)

    monkeypatch.setattr(quality, "evaluate_tenant", flaky)
    with pytest.raises(RuntimeError, match="1 tenant"):
        run(quality.evaluate_all(clients, ["bad", tenant], NOW, Thresholds()))
    assert len(stored(tenant)) == 1
