"""shared.telemetry: batch context on log records and spans, the EUII scrubber, metrics
through the OpenTelemetry API (in-memory SDK reader), lazy Azure Monitor setup."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from shared import telemetry
from shared.storage.retry import with_retries

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    telemetry.reset_for_tests()
    yield
    telemetry.reset_for_tests()


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    telemetry.attach_filters(handler)
    logger = logging.getLogger("cdc.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------- scrubber


@pytest.mark.parametrize(
    "text",
    [
        "user sip:alice@contoso.com joined",
        "SIPS:Bob.Smith@fabrikam.co.uk;gruu",
        "upn alice.smith@contoso.com failed",
        "caller tel:+14255550100 rang",
        "number +14255550100 blocked",
        "from 10.10.1.20 to 192.168.0.7:5061",
        "ipv6 2001:db8::1 and ::1 and fe80::1c2d:3e4f:5a6b:7c8d",
        "mac 00-15-5D-01-02-03 and aa:bb:cc:dd:ee:ff",
    ],
)
def test_scrubber_removes_euii(text: str) -> None:
    clean = telemetry.scrub_text(text)
    for needle in (
        "alice",
        "Bob.Smith",
        "5550100",
        "10.10.1.20",
        "192.168.0.7",
        "2001:db8",
        "::1",
        "fe80",
        "00-15-5D",
        "aa:bb",
    ):
        assert needle not in clean, (text, clean)


@pytest.mark.parametrize(
    "text",
    [
        "batch 0b7a2c1e-4f3e-4a51-9f0c-2d3e4a5b6c7d: 500 received, 12 stored",
        "server fe01.contoso.local pool pool01.contoso.local",
        "agent UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 and server 7.0.2046.0",
        "at 2026-11-21T10:00:00Z after 0.52s, 10:00:00",
        "retry 2/5 in 1.25s (ServiceResponseError)",
    ],
)
def test_scrubber_keeps_operational_text(text: str) -> None:
    assert telemetry.scrub_text(text) == text


def test_scrubber_cleans_message_args_exception_and_extras(capture: Capture) -> None:
    log = logging.getLogger("cdc.test")
    name, ip = "carol", "10.1.2.3"  # not literal in the raising line: tracebacks show it
    try:
        raise ValueError(f"record of sip:{name}@contoso.com from {ip} is bad")
    except ValueError:
        log.exception("failed for %s", "dave@contoso.com", extra={"peer": "10.9.9.9"})
    (record,) = capture.records
    text = capture.text()
    assert "carol" not in text and "dave" not in text and "10.1.2.3" not in text
    assert "ValueError" in text  # the type survives in the replacement exception
    assert record.peer == "[ip]"
    assert telemetry.scrub_stats()["redacted"] >= 1


def test_record_factory_scrubs_for_handlers_without_filters() -> None:
    telemetry.install_logging()
    handler = Capture()  # no filters: only the factory protects it
    log = logging.getLogger("cdc.test.bare")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.warning("user %s on %s", "sip:erin@contoso.com", "172.16.5.4")
        # extras named like the context fields must still work (makeRecord rejects
        # extras that already exist on the record, so the factory must not stamp them)
        log.info("with extras", extra={"batchId": "b1", "tenantId": "t1"})
    finally:
        log.removeHandler(handler)
    assert handler.text().startswith("user [sip] on [ip]")
    assert handler.records[1].batchId == "b1"


# ---------------------------------------------------------------------------- context


def test_context_stamps_every_record_in_a_batch_and_extra_wins(capture: Capture) -> None:
    log = logging.getLogger("cdc.test")
    log.info("outside")
    with telemetry.batch_context("batch-1", "tenant-1") as scope:
        telemetry.set_context(sourceServer="fe01.contoso.local")
        log.info("inside")
        log.info("explicit", extra={"batchId": "other"})

        async def child() -> None:
            log.info("in a gathered task")

        async def main() -> None:
            await asyncio.gather(child(), child())

        asyncio.run(main())
        scope.finish({"status": "completed"})
    outside, inside, explicit, *children = [
        r
        for r in capture.records
        if r.getMessage() != "batch telemetry" and not r.getMessage().startswith("batch tel")
    ]
    assert not hasattr(outside, "batchId")
    assert (inside.batchId, inside.tenantId, inside.sourceServer) == (
        "batch-1",
        "tenant-1",
        "fe01.contoso.local",
    )
    assert explicit.batchId == "other" and explicit.tenantId == "tenant-1"
    assert len(children) == 2 and all(c.batchId == "batch-1" for c in children)
    assert telemetry.current_context() == {}


def test_log_context_nests_and_restores() -> None:
    with telemetry.log_context(tenantId="t"):
        with telemetry.log_context(batchId="b", sourceServer=None):
            assert telemetry.current_context() == {"tenantId": "t", "batchId": "b"}
        assert telemetry.current_context() == {"tenantId": "t"}
    assert telemetry.current_context() == {}


# ---------------------------------------------------------------------------- metrics


@pytest.fixture
def reader() -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    telemetry.enable_metrics(MeterProvider(metric_readers=[reader]))
    return reader


def points(reader: Any) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    if value is None:
                        value = p.count  # histogram: number of recordings
                    out.setdefault(metric.name, []).append((dict(p.attributes), value))
    return out


def test_batch_metrics_counts_outcome_and_duration(reader: Any) -> None:
    with telemetry.batch_context("b1", "t1", "fe01.contoso.local") as scope:
        scope.finish(
            {
                "status": "completedWithErrors",
                "received": 10,
                "stored": 7,
                "quarantined": 2,
                "excluded": 1,
            }
        )
    with pytest.raises(RuntimeError), telemetry.batch_context("b2", "t1"):
        raise RuntimeError("transient")
    with telemetry.batch_context("b3", "t1") as scope:
        scope.finish({"status": "failed", "received": 0})
    got = points(reader)
    attrs = {"tenantId": "t1", "sourceServer": "fe01.contoso.local"}
    assert got["cdc.records.received"] == [(attrs, 10)]
    assert got["cdc.records.stored"] == [(attrs, 7)]
    assert got["cdc.records.quarantined"] == [(attrs, 2)]
    assert got["cdc.records.excluded"] == [(attrs, 1)]
    outcomes = {a["outcome"]: v for a, v in got["cdc.batches"]}
    assert outcomes == {"completedWithErrors": 1, "retry": 1, "poisoned": 1}
    assert sum(v for _, v in got["cdc.batch.duration"]) == 3


def test_cosmos_retries_and_request_charge(reader: Any) -> None:
    class Result(dict):
        def get_response_headers(self) -> dict[str, str]:
            return {"x-ms-request-charge": "5.5"}

    calls = {"n": 0}

    async def op() -> Result:
        calls["n"] += 1
        if calls["n"] == 1:
            raise HttpResponseError(message="throttled", response=None)
        return Result(id="x")

    async def flaky() -> Result:
        try:
            return await op()
        except HttpResponseError as exc:
            exc.status_code = 429
            raise

    with telemetry.batch_context("b1", "t1") as scope:
        asyncio.run(with_retries(flaky, base_delay=0.001, what="read call"))
        assert scope.fields["_requestCharge"] == 5.5 and scope.fields["_retries"] == 1
        scope.finish({"status": "completed"})
    got = points(reader)
    assert got["cdc.cosmos.request_charge"] == [({"tenantId": "t1", "operation": "read call"}, 5.5)]
    [(retry_attrs, n)] = got["cdc.cosmos.retries"]
    assert n == 1 and retry_attrs["status"] == "429" and retry_attrs["operation"] == "read call"


def test_metric_calls_are_noops_when_not_configured(reader: Any) -> None:
    """Not configured: the calls neither fail nor record anywhere (a provider that
    existed before stays empty), and the batch scope still finishes its own record."""
    telemetry.disable_metrics()
    with telemetry.batch_context("b", "t") as scope:
        telemetry.count_retry("x", RuntimeError())
        telemetry.record_quality("t", "today", 12.5)
        telemetry.count_quality_alert("t", "HQ")
        scope.finish({"status": "completed", "received": 3})
    assert points(reader) == {}
    assert scope.outcome == "completed"


# ---------------------------------------------------------------------------- tracing


def test_spans_carry_the_batch_fields() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(telemetry.make_span_processor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.enable_tracing(provider)
    tracer = provider.get_tracer("sdk-like")
    with telemetry.batch_context("b9", "t9") as scope:
        telemetry.set_context(sourceServer="fe02.contoso.local")
        with tracer.start_as_current_span("cosmos read"):  # as the Azure SDK would
            pass
        scope.finish({"status": "completed", "received": 4, "stored": 4})
    spans = {s.name: s for s in exporter.get_finished_spans()}
    batch, child = spans["process batch"], spans["cosmos read"]
    assert batch.attributes["batchId"] == "b9" and batch.attributes["cdc.received"] == 4
    assert batch.attributes["cdc.outcome"] == "completed"
    assert (
        child.attributes["batchId"],
        child.attributes["tenantId"],
        child.attributes["sourceServer"],
    ) == ("b9", "t9", "fe02.contoso.local")
    assert child.parent.span_id == batch.context.span_id


# -------------------------------------------------------------------------- configure


def test_configure_without_connection_string_exports_nothing() -> None:
    assert telemetry.configure_telemetry({}) is False
    assert telemetry.configure_telemetry({"APPLICATIONINSIGHTS_CONNECTION_STRING": "x"}) is False


def test_configure_uses_azure_monitor_with_the_managed_identity(monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}
    fake = types.ModuleType("azure.monitor.opentelemetry")
    fake.configure_azure_monitor = lambda **kw: seen.update(kw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", fake)
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000"
        "-0000-000000000000",
        "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    }
    assert telemetry.configure_telemetry(env) is True
    assert seen["connection_string"] == env["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    assert type(seen["credential"]).__name__ == "ManagedIdentityCredential"
    assert len(seen["span_processors"]) == 1


def test_importing_the_app_loads_no_opentelemetry_cosmos_sdk_or_jwt() -> None:
    """Cold start: neither the distro nor the OTel API nor `azure.cosmos` (~180 ms; the
    clients load it on first use) nor PyJWT with `cryptography` (~80 ms; the first token
    validation loads it) is imported by function_app."""
    code = (
        "import sys, function_app; "
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', "
        "'azure.monitor', 'azure.cosmos', 'jwt', 'cryptography'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("GET /api/v1/users/alice.smith%40contoso.com/calls", "alice.smith"),
        ("sip%3Abob%40fabrikam.com", "bob"),
        ("call (425) 555-0123 back", "555-0123"),
        ("or 425-555-0123", "555-0123"),
        ("or +1 425 555 0123", "555 0123"),
        ("or 425.555.0123", "555.0123"),
        ("adapter 001A2B3C4D5E up", "3C4D5E"),
        ("{'displayName': 'Alice Smith'}", "Alice"),
        ('{"user1DisplayName": "Alice Smith"}', "Smith"),
        ("ssid=Home Net 5G, band 5", "Home Net"),
        ("<SSID>CorpGuest</SSID>", "CorpGuest"),
        ("[type=string_type, input_value={'uri': 'x'}, input_type=dict]", "'uri'"),
    ],
)
def test_scrubber_covers_encoded_upns_phone_formats_bare_macs_names_ssids(
    text: str, needle: str
) -> None:
    assert needle not in telemetry.scrub_text(text), telemetry.scrub_text(text)


def test_configure_quiets_the_azure_sdk_loggers() -> None:
    sdk = logging.getLogger("azure.cosmos")
    old = sdk.level
    sdk.setLevel(logging.INFO)
    try:
        telemetry.configure_telemetry({})
        assert not sdk.isEnabledFor(logging.INFO)
        assert not logging.getLogger("azure.core.pipeline").isEnabledFor(logging.INFO)
    finally:
        sdk.setLevel(old)
