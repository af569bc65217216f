"""Quality alerts and telemetry against the emulators: a day of poor calls in one
building raises exactly one alert (re-evaluation and re-processing raise no second one),
admins list and acknowledge it over HTTP; a demo-like run logs no UPN, SIP URI, phone
number or IP address, and every processor log line carries the batch's ids."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import azure.functions as func
import pytest

import devhost.qoe_generator as gen
import functions.http_support as http_support
from functions.alerts import ack_alert, get_alerts
from shared import telemetry
from shared.alerts import evaluate_tenant, list_alerts
from shared.alerts.quality import Thresholds
from shared.auth.tokens import Principal
from shared.buildings import parse_building_file
from shared.ingest import accept_batch
from shared.processor import BatchProcessor
from shared.reports import quality_summary
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.buildings import save_building_file
from shared.storage.clients import get_clients
from tests.factories import cdr, envelope, gz
from tests.integration.test_processor import GZ, _blob_names

pytestmark = pytest.mark.stack

DAY = date(2031, 5, 6)
START = datetime(2031, 5, 6, 8, tzinfo=timezone.utc)
BUILDINGS = (
    "10.50.0.0,PoorNet,16,Poor House,,,,Seattle,98001,US,WA,West,1,0\n"
    "10.60.0.0,FineNet,16,Fine Hall,,,,Seattle,98001,US,WA,West,1,0\n"
)
POOR = {
    "jitter_ms": 60.0,
    "jitter_max_ms": 120.0,
    "packet_loss_rate": 0.15,
    "packet_loss_rate_max": 0.3,
    "packet_utilization": 15000.0,
    "concealed_ratio_avg": 0.12,
    "degradation_avg": 1.6,
}
GOOD = {
    "jitter_ms": 3.0,
    "jitter_max_ms": 20.0,
    "packet_loss_rate": 0.001,
    "packet_loss_rate_max": 0.01,
    "packet_utilization": 15000.0,
    "concealed_ratio_avg": 0.004,
    "degradation_avg": 0.1,
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def who(level: str, tenant: str) -> Principal:
    return Principal(
        tenant_id=tenant, object_id=f"oid-{level}", name=f"{level}@contoso.com", levels=(level,)
    )


def audio_call(i: int, network: str, poor: bool) -> list[dict[str, Any]]:
    """A p2p audio call, both endpoints in `network`.x.x reporting their QoE."""
    start = START + timedelta(minutes=7 * i)
    call_id = f"{uuid.uuid4().hex}@fe01.contoso.local"
    a, b = f"sip:u{i}a@contoso.com", f"sip:u{i}b@contoso.com"
    records: list[dict[str, Any]] = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": cdr(n=i, caller=a, callee=b, start=start, call_id=call_id),
        }
    ]
    for side, is_caller in enumerate((True, False)):
        me, other = (a, b) if is_caller else (b, a)
        net = gen.Net(ip=f"{network}.{side + 1}.{10 + i}", remote_ip=f"{network}.{2 - side}.9")
        line = gen.Line("main-audio", "audio", POOR if poor else GOOD, GOOD, 40.0)
        xml = gen.build_report(
            call_id=call_id,
            from_tag=f"ft{i}",
            to_tag=f"tt{i}",
            caller=is_caller,
            from_uri=me,
            to_uri=other,
            start=start + timedelta(seconds=2),
            end=start + timedelta(seconds=302),
            lines=[line],
            net=net,
        )
        records.append({"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
    return records


async def post_and_process(tenant: str, env: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    clients = get_clients(settings)
    r = await accept_batch(clients, settings, who("ingest", tenant), gz(env), GZ)
    assert r.created, r.body
    [name] = [n for n in await _blob_names(layout.INCOMING, tenant) if env["batchId"] in n]
    return await BatchProcessor(clients, settings).process(f"incoming/{name}")


def http(
    route: Any,
    principal: Principal,
    monkeypatch: pytest.MonkeyPatch,
    method: str = "GET",
    params: dict[str, str] | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpResponse:
    class Validator:
        async def validate_async(self, authorization: str | None) -> Principal:
            return principal

    monkeypatch.setattr(http_support, "get_validator", lambda s: Validator())
    req = func.HttpRequest(
        method=method,
        url="http://localhost/api/v1/admin/alerts",
        params=params or {},
        route_params=route_params or {},
        headers={"Authorization": "Bearer x"},
        body=b"",
    )
    return run(route.build().get_user_function()(req))


@pytest.fixture
def metrics() -> Iterator[Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    telemetry.enable_metrics(MeterProvider(metric_readers=[reader]))
    yield reader
    telemetry.disable_metrics()


def metric_total(reader: Any, name: str) -> float:
    data = reader.get_metrics_data()
    return sum(
        p.value
        for rm in (data.resource_metrics if data else [])
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
    )


def test_a_day_of_poor_calls_in_one_building_raises_exactly_one_alert(
    stack: Any, metrics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = str(uuid.uuid4())
    records = [r for i in range(12) for r in audio_call(i, "10.50", poor=True)]
    records += [r for i in range(12, 24) for r in audio_call(i, "10.60", poor=False)]
    thresholds = Thresholds(poor_percent=20.0, min_streams=20)

    async def scenario() -> tuple[Any, ...]:
        clients = get_clients()
        await save_building_file(clients, tenant, parse_building_file(BUILDINGS), "test")
        first_env = envelope(records, tenant=tenant)
        status = await post_and_process(tenant, first_env)
        assert status["status"] == "completed" and status["stored"] == len(records)
        report = await quality_summary(
            clients,
            who("admin", tenant),
            {
                "from": DAY.isoformat(),
                "to": DAY.isoformat(),
                "groupBy": "building",
                "mediaType": "audio",
            },
        )
        first = await evaluate_tenant(clients, tenant, [DAY], thresholds)
        second = await evaluate_tenant(clients, tenant, [DAY], thresholds)
        # the same data again, in a new batch: calls and aggregates do not change
        again = await post_and_process(tenant, envelope(records, tenant=tenant))
        third = await evaluate_tenant(clients, tenant, [DAY], thresholds)
        stored = [
            d
            async for d in clients.container(layout.ALERTS).query_items(
                "SELECT * FROM c WHERE c.tenantId = @t",
                parameters=[{"name": "@t", "value": tenant}],
                partition_key=tenant,
            )
        ]
        return report, first, second, again, third, stored

    report, first, second, again, third, stored = run(scenario())
    by_building = {r["building"]: r for r in report["rows"]}
    assert by_building["Poor House"]["poorPercent"] > 50
    assert by_building["Fine Hall"]["poorPercent"] < 20
    assert [a["building"] for a in first.raised] == ["Poor House"]
    assert first.raised[0]["day"] == DAY.isoformat()
    assert first.raised[0]["poorPercent"] == by_building["Poor House"]["poorPercent"]
    assert not second.raised and second.unchanged == 1
    assert again["status"] == "completed"
    assert not third.raised and third.unchanged == 1
    assert len(stored) == 1 and stored[0]["status"] == "open"
    assert metric_total(metrics, "cdc.quality.alerts") == 1

    # admins list and acknowledge it over HTTP; other levels may not
    admin = who("admin", tenant)
    listed = http(get_alerts, admin, monkeypatch, params={"from": "2031-05-01", "to": "2031-05-31"})
    assert listed.status_code == 200
    body = json.loads(listed.get_body())
    assert body["open"] == 1 and body["alerts"][0]["building"] == "Poor House"
    alert = body["alerts"][0]["id"]
    engineer = http(get_alerts, who("engineer", tenant), monkeypatch)
    assert engineer.status_code == 403
    acked = http(ack_alert, admin, monkeypatch, "POST", route_params={"alertId": alert})
    assert acked.status_code == 200
    assert json.loads(acked.get_body())["ackedBy"] == "admin@contoso.com"
    missing = http(
        ack_alert, admin, monkeypatch, "POST", route_params={"alertId": "quality|2031-05-06|nope"}
    )
    assert missing.status_code == 404

    async def still_open() -> dict[str, Any]:
        return await list_alerts(
            get_clients(), admin, {"from": "2031-05-01", "to": "2031-05-31", "status": "open"}
        )

    after = run(still_open())
    assert after["alerts"] == []


# ---------------------------------------------------------------------- EUII in logs

UPN = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
SIP = re.compile(r"(?i)\bsips?:")
TEL = re.compile(r"(?i)\btel:|\+\d{8,15}")
IPV4 = re.compile(
    r"(?<![\w.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d))"
    r"{3}(?![\w.]*\d)"
)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k in ("batchId", "tenantId", "sourceServer", "alertId")
        }
        self.lines.append(self.format(record) + " " + json.dumps(extras, default=str))


@pytest.fixture
def captured() -> Iterator[Capture]:
    """Everything logged, through the filters production puts on its root handlers."""
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    telemetry.install_logging()
    telemetry.attach_filters(handler)
    telemetry.scrub_stats(reset=True)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_demo_like_run_logs_no_euii(stack: Any, captured: Capture) -> None:
    from devhost.demo import generate_demo_batches

    tenant = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    batches = generate_demo_batches(tenant, seed=7, calls_per_day=12, days=2, users=40, now=now)
    # a record the parser rejects, quoting a user, and a corrupt batch (poison path)
    bad = {
        "kind": "cdr",
        "format": "sfb-cdr-json",
        "data": {
            "callId": "x@fe01",
            "user1Uri": "sip:mallory@contoso.com",
            "inviteTime": "not a time",
            "user1Ip": "10.99.1.2",
        },
    }
    batches[0]["records"].append(bad)

    async def scenario() -> list[dict[str, Any]]:
        clients = get_clients()
        out = [await post_and_process(tenant, env) for env in batches]
        name = f"{tenant}/2031/05/06/poison-{uuid.uuid4()}.json.gz"
        await clients.blobs(layout.INCOMING).get_blob_client(name).upload_blob(b"\x1f\x8bjunk")
        out.append(await BatchProcessor(clients, get_settings()).process("incoming/" + name))
        await save_building_file(clients, tenant, parse_building_file(BUILDINGS), "test")
        await evaluate_tenant(
            clients,
            tenant,
            [now.date() - timedelta(days=1), now.date()],
            Thresholds(poor_percent=0.0, min_streams=1),
        )
        await list_alerts(clients, who("admin", tenant), {})
        return out

    statuses = run(scenario())
    assert statuses[0]["status"] == "completedWithErrors"
    assert statuses[-1]["status"] == "failed"
    text = "\n".join(captured.lines)
    assert len(captured.records) > 2 * len(batches)
    for name, pattern in (
        ("UPN", UPN),
        ("SIP URI", SIP),
        ("phone number", TEL),
        ("IP address", IPV4),
    ):
        found = pattern.findall(text)
        assert not found, f"{name} in the logs: {found[:5]}"
    # Our own code logs none of it in the first place: the scrubber (defence in depth)
    # only ever had to clean third-party lines (the SDKs' HTTP logs name endpoints).
    ours = [
        r.getMessage()
        for r in captured.records
        if r.name.startswith(("shared", "functions")) and getattr(r, "_cdc_redacted", 0)
    ]
    assert not ours, ours
    # every processor line of a batch carries the batch's ids, and the source server for
    # every batch that came through ingest (the corrupt blob dropped in by hand has none)
    processor_lines = [r for r in captured.records if r.name == "shared.processor"]
    assert len(processor_lines) >= 2 * len(batches)
    for r in processor_lines:
        assert getattr(r, "batchId", None) and getattr(r, "tenantId", None) == tenant, r
    ingested = {env["batchId"] for env in batches}
    sources = {r.sourceServer for r in processor_lines if r.batchId in ingested}
    assert sources == {"fe01.contoso.local", "fe02.contoso.local"}
    telemetry_lines = [r for r in captured.records if r.name == "shared.telemetry"]
    assert {r.batchId for r in telemetry_lines} >= ingested
