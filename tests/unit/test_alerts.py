"""Quality alert rules and records, against an in-memory container: thresholds, ids,
exactly one record per (building, day), refresh keeps the acknowledgement, admin only."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

import pytest
from azure.cosmos import exceptions as cosmos_errors

from shared import telemetry
from shared.alerts import quality
from shared.alerts.quality import Thresholds, alert_id, breaches, evaluation_days
from shared.auth.tokens import Principal
from shared.problems import Problem
from shared.settings import SettingsError
from shared.storage import layout

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
DAY = "2031-03-04"
NOW = datetime(2031, 3, 5, 9, 7, tzinfo=timezone.utc)
_etags = itertools.count(1)


class FakeContainer:
    """create (409 if it exists), read, etag-conditional replace, a filtered query."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.creates = 0

    def _stamp(self, body: dict[str, Any]) -> dict[str, Any]:
        doc = dict(body) | {"_etag": f"e{next(_etags)}"}
        self.items[(body["tenantId"], body["id"])] = doc
        return dict(doc)

    async def create_item(self, body: dict[str, Any]) -> dict[str, Any]:
        self.creates += 1
        if (body["tenantId"], body["id"]) in self.items:
            raise cosmos_errors.CosmosResourceExistsError(message="conflict")
        return self._stamp(body)

    async def read_item(self, item: str, partition_key: str) -> dict[str, Any]:
        doc = self.items.get((partition_key, item))
        if doc is None:
            raise cosmos_errors.CosmosResourceNotFoundError(message="missing")
        return dict(doc)

    async def replace_item(
        self, item: str, body: dict[str, Any], *, etag: str, match_condition: Any
    ) -> dict[str, Any]:
        if self.items[(body["tenantId"], item)]["_etag"] != etag:
            raise cosmos_errors.CosmosAccessConditionFailedError(message="412")
        return self._stamp(body)

    def query_items(self, query: str, parameters: list[dict[str, Any]], partition_key: str) -> Any:
        p = {x["name"]: x["value"] for x in parameters}
        assert p["@t"] == partition_key and "c.tenantId = @t" in query

        async def gen() -> Any:
            for (tenant, _), d in list(self.items.items()):
                if (
                    tenant == p["@t"]
                    and d["kind"] == p["@k"]
                    and p["@from"] <= d["day"] <= p["@to"]
                    and d["status"] == p.get("@s", d["status"])
                ):
                    yield dict(d)

        return gen()


class FakeClients:
    def __init__(self) -> None:
        self.alerts = FakeContainer()

    def container(self, spec: Any) -> FakeContainer:
        assert spec is layout.ALERTS
        return self.alerts


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
def summary(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The report the evaluator reads; tests set `rows`."""
    state: dict[str, Any] = {"rows": [], "calls": []}

    async def fake(clients: Any, principal: Principal, params: dict[str, str]) -> dict[str, Any]:
        state["calls"].append((principal, dict(params)))
        return {"rows": state["rows"]}

    monkeypatch.setattr(quality, "quality_summary", fake)
    yield state


def admin(name: str = "admin@contoso.com") -> Principal:
    return Principal(tenant_id=TENANT, object_id="oid-admin", name=name, levels=("admin",))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------ rules


def test_thresholds_from_env() -> None:
    assert Thresholds.from_env({}) == Thresholds(20.0, 20)
    assert Thresholds.from_env(
        {"CDC_ALERT_POOR_PERCENT": "12.5", "CDC_ALERT_MIN_STREAMS": "50"}
    ) == Thresholds(12.5, 50)
    with pytest.raises(SettingsError, match="CDC_ALERT_MIN_STREAMS"):
        Thresholds.from_env({"CDC_ALERT_MIN_STREAMS": "many"})
    with pytest.raises(SettingsError, match="negative"):
        Thresholds.from_env({"CDC_ALERT_POOR_PERCENT": "-1"})


def test_alert_id_is_deterministic_and_safe() -> None:
    a = alert_id(DAY, "Building 7/West #2?")
    assert a == alert_id(DAY, "  building 7/WEST #2? ")
    assert a != alert_id("2031-03-05", "Building 7/West #2?")
    assert a.startswith(f"quality|{DAY}|") and not set("/\\?#") & set(a)


def test_breaches_need_enough_streams_and_strictly_over_the_threshold() -> None:
    rows = [row("A", 5, 15), row("B", 6, 14), row("C", 10, 5), row(None, 50, 0), row("D", 0, 0)]
    got = breaches(rows, Thresholds(25.0, 20))
    assert [b["building"] for b in got] == ["B"]  # A is exactly 25 %, C has 15 streams
    assert got[0] == {
        "day": DAY,
        "building": "B",
        "poorPercent": 30.0,
        "poor": 6,
        "good": 14,
        "streams": 21,
    }


def test_evaluation_days_are_yesterday_and_today() -> None:
    assert evaluation_days(NOW) == [date(2031, 3, 4), date(2031, 3, 5)]


# -------------------------------------------------------------------------- evaluation


def test_one_alert_per_building_and_day_however_often_evaluated(summary: dict) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    telemetry.enable_metrics(MeterProvider(metric_readers=[reader]))
    try:
        clients = FakeClients()
        summary["rows"] = [row("HQ", 30, 70), row("Annex", 1, 99)]
        first = run(quality.evaluate_tenant(clients, TENANT, [date(2031, 3, 4)], Thresholds(), NOW))
        again = run(quality.evaluate_tenant(clients, TENANT, [date(2031, 3, 4)], Thresholds(), NOW))
    finally:
        telemetry.disable_metrics()
    assert [a["building"] for a in first.raised] == ["HQ"]
    assert (len(again.raised), len(again.refreshed), again.unchanged) == (0, 0, 1)
    assert len(clients.alerts.items) == 1
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


def test_refresh_updates_figures_and_keeps_the_acknowledgement(summary: dict) -> None:
    clients = FakeClients()
    summary["rows"] = [row("HQ", 30, 70)]
    (raised,) = run(
        quality.evaluate_tenant(clients, TENANT, [date(2031, 3, 4)], Thresholds(), NOW)
    ).raised
    acked = run(quality.acknowledge(clients, admin(), raised["id"]))
    assert acked["status"] == "acknowledged" and acked["ackedBy"] == "admin@contoso.com"
    summary["rows"] = [row("HQ", 45, 55)]  # a late batch made the day worse
    result = run(quality.evaluate_tenant(clients, TENANT, [date(2031, 3, 4)], Thresholds(), NOW))
    assert not result.raised and len(result.refreshed) == 1
    (doc,) = clients.alerts.items.values()
    assert doc["poorPercent"] == 45.0 and doc["status"] == "acknowledged"
    assert doc["raisedAt"] == raised["raisedAt"] and doc["ackedAt"] == acked["ackedAt"]


def test_acknowledge_is_idempotent_admin_only_and_404_for_unknown(summary: dict) -> None:
    clients = FakeClients()
    summary["rows"] = [row("HQ", 30, 70)]
    (raised,) = run(
        quality.evaluate_tenant(clients, TENANT, [date(2031, 3, 4)], Thresholds(), NOW)
    ).raised
    first = run(quality.acknowledge(clients, admin("first@contoso.com"), raised["id"]))
    second = run(quality.acknowledge(clients, admin("second@contoso.com"), raised["id"]))
    assert second == first
    with pytest.raises(Problem) as info:
        run(quality.acknowledge(clients, admin(), "quality|2031-01-01|nope"))
    assert info.value.status == 404
    engineer = Principal(tenant_id=TENANT, object_id="e", name="e", levels=("engineer",))
    with pytest.raises(Problem) as info:
        run(quality.acknowledge(clients, engineer, raised["id"]))
    assert info.value.status == 403


def test_list_sorts_newest_day_then_worst_and_filters_status(summary: dict) -> None:
    clients = FakeClients()
    summary["rows"] = [row("HQ", 30, 70), row("Annex", 60, 40), row("HQ", 25, 75, "2031-03-05")]
    run(
        quality.evaluate_tenant(
            clients, TENANT, [date(2031, 3, 4), date(2031, 3, 5)], Thresholds(), NOW
        )
    )
    params = {"from": "2031-03-01", "to": "2031-03-31"}
    listed = run(quality.list_alerts(clients, admin(), params))
    assert [(a["day"], a["building"]) for a in listed["alerts"]] == [
        ("2031-03-05", "HQ"),
        (DAY, "Annex"),
        (DAY, "HQ"),
    ]
    assert listed["open"] == 3 and not listed["truncated"]
    run(quality.acknowledge(clients, admin(), listed["alerts"][0]["id"]))
    still_open = run(quality.list_alerts(clients, admin(), params | {"status": "open"}))
    assert len(still_open["alerts"]) == 2
    assert all("_etag" not in a and "ttl" not in a for a in listed["alerts"])
    for bad in (
        {"status": "closed"},
        {"from": "yesterday"},
        {"from": "2031-03-05", "to": "2031-03-01"},
    ):
        with pytest.raises(Problem) as info:
            run(quality.list_alerts(clients, admin(), bad))
        assert info.value.status == 400


def test_evaluate_all_continues_past_a_failing_tenant(
    summary: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = FakeClients()
    summary["rows"] = [row("HQ", 30, 70, "2031-03-05")]
    real = quality.evaluate_tenant

    async def flaky(c: Any, tenant_id: str, *a: Any) -> Any:
        if tenant_id == "bad":
            raise RuntimeError("cosmos down")
        return await real(c, tenant_id, *a)

    monkeypatch.setattr(quality, "evaluate_tenant", flaky)
    with pytest.raises(RuntimeError, match="1 tenant"):
        run(quality.evaluate_all(clients, ["bad", TENANT], NOW, Thresholds()))
    assert len(clients.alerts.items) == 1
