"""Every route and the processor, driven with EUII-rich input through the local host,
leave no EUII in the captured log records or spans.

The worker starts with no telemetry set up (as an HTTP-only Flex Consumption instance
does) and the Azure SDK loggers at INFO (the host's default level): the HTTP edge must
install the scrubber itself and quiet the SDKs. One route is made to fail with an
exception quoting a partition key and an address, as an SDK error would."""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devhost.stack import DEMO_TENANT
from shared import telemetry
from tests.factories import cdr_record, envelope
from tests.reliability.attacks import GZ, call, gz

pytestmark = pytest.mark.stack

UPN = "zed.euii@contoso.com"
ADMIN_UPN = "ada.euii@contoso.com"
NAME = "Zebulon Euiison"
PHONE = "+14255550199"
IP = "10.77.66.55"
MAC = "00:1A:2B:3C:4D:5E"
SSID = "ZedHomeWifiNet"
NEEDLES = (
    "zed.euii",
    "ada.euii",
    "Zebulon",
    "Euiison",
    "5550199",
    "555-0199",
    IP,
    "3C:4D:5E",
    "3C4D5E",
    SSID,
)


class Capture(logging.Handler):
    """Everything logged, formatted as a handler would, exceptions included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in record.__dict__.items() if isinstance(v, str)}
        self.lines.append(self.format(record) + " " + json.dumps(extras, default=str))


@pytest.fixture()
def captured(local_host: Any) -> Iterator[tuple[Capture, Any]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    local_host.wait_idle()
    telemetry.reset_for_tests()  # a fresh worker: nothing set up yet
    root, handler = logging.getLogger(), Capture()
    old_root = root.level
    sdk = [logging.getLogger(n) for n in ("azure", "azure.cosmos", "aiohttp.access")]
    old_sdk = [lg.level for lg in sdk]
    for lg in sdk:
        lg.setLevel(logging.INFO)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(telemetry.make_span_processor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield handler, (provider, exporter)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root)
        for lg, level in zip(sdk, old_sdk, strict=True):
            lg.setLevel(level)
        telemetry.reset_for_tests()


def _path(template: str) -> str:
    values = {"user": urllib.parse.quote(UPN, safe=""), "callId": str(uuid.uuid4())}
    return "/api/" + re.sub(
        r"\{(\w+)\}", lambda m: values.get(m.group(1), f"x-{m.group(1)}"), template
    )


EUII_QUERY = {
    "user": f"sip:{UPN}",
    "search": PHONE,
    "building": NAME,
    "subnet": IP,
}
EUII_BODY = {
    "name": NAME,
    "users": [f"sip:{PHONE}@contoso.com;user=phone"],  # excludes no one the batch holds
    "site": SSID,
    "ip": IP,
    "mac": MAC,
}


def _batch() -> dict[str, Any]:
    good = cdr_record(caller=f"sip:{UPN}", callee=f"tel:{PHONE}", call_id=f"{uuid.uuid4()}@fe")
    good["data"]["user1DisplayName"] = NAME
    bad = cdr_record(caller=f"sip:{UPN}", call_id=f"{uuid.uuid4()}@fe")
    bad["data"]["sessionIdTime"] = f"{NAME} {IP} {MAC} {SSID}"  # quarantined with its reason
    qoe = {"kind": "qoe", "format": "ms-qoe-xml", "data": f"<x><SSID>{SSID}</SSID>{UPN} {IP}</x>"}
    return envelope([good, bad, qoe], tenant=DEMO_TENANT)


def test_no_euii_reaches_logs_or_spans(local_host, mint, captured, monkeypatch):
    import function_app  # noqa: F401  (declares every route)
    from functions.contract import ENDPOINTS

    handler, (provider, exporter) = captured
    telemetry.enable_tracing(provider)
    admin = mint(DEMO_TENANT, user=ADMIN_UPN, level="admin")
    ingest = mint(DEMO_TENANT, roles=["CallData.Ingest"])

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"query of partition {DEMO_TENANT}|{UPN} from {IP} failed: displayName='{NAME}', "
            f"ssid={SSID}, mac {MAC}, url /users/{urllib.parse.quote(UPN, safe='')}"
        )

    monkeypatch.setattr("shared.analytics.service.history_page", failing)
    statuses = {}
    # the first request is one that fails: nothing may have set up logging before it
    first = _path("v1/users/{user}/calls")
    statuses["history"] = call(local_host, "GET", first, admin)[0]
    for e in ENDPOINTS:
        query = "&".join(
            f"{p.name}={urllib.parse.quote(EUII_QUERY.get(p.name, NAME))}"
            for p in e.params
            if p.where == "query"
        )
        url = _path(e.path) + (f"?{query}" if query else "")
        body = json.dumps(EUII_BODY).encode() if e.method in ("post", "put", "patch") else None
        headers = {"Content-Type": "application/json"} if body else {}
        token = ingest if "ingest" in e.levels and "admin" not in e.ordered_levels[:1] else admin
        statuses[f"{e.method} {e.path}"] = call(
            local_host, e.method.upper(), url, token, body, headers
        )[0]
    status, _, accepted = call(local_host, "POST", "/api/v1/batches", ingest, gz(_batch()), GZ)
    assert status == 202, accepted
    local_host.wait_idle()
    call(
        local_host,
        "PUT",
        "/api/v1/ingest/exclusions",
        ingest,
        b"{}",
        {"Content-Type": "application/json"},
    )

    assert statuses["history"] == 500  # the injected failure was logged, not swallowed
    assert len(statuses) >= len(ENDPOINTS)
    text = "\n".join(handler.lines)
    for span in exporter.get_finished_spans():
        text += f"\n{span.name} {dict(span.attributes or {})}"
    assert "batch" in text and "unhandled error" in text  # the logs were captured
    leaked = [n for n in NEEDLES if n.lower() in text.lower()]
    assert not leaked, [line for line in text.splitlines() if any(n in line for n in leaked)][:5]
