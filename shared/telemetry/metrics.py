"""Metrics instruments (no-ops until enabled) and tracing."""

from __future__ import annotations

import logging
from typing import Any

from shared.telemetry.context import CONTEXT_FIELDS, _context

log = logging.getLogger("shared.telemetry")  # one logger name for the whole package


METER_NAME = "call-data-connector"


class _Instruments:
    def __init__(self, meter: Any) -> None:
        self.received = meter.create_counter(
            "cdc.records.received", "{record}", "records received in processed batches"
        )
        self.stored = meter.create_counter(
            "cdc.records.stored", "{record}", "records merged into calls"
        )
        self.quarantined = meter.create_counter(
            "cdc.records.quarantined", "{record}", "records rejected with a reason"
        )
        self.excluded = meter.create_counter(
            "cdc.records.excluded", "{record}", "records dropped by the exclusion policy"
        )
        self.batches = meter.create_counter("cdc.batches", "{batch}", "processor runs by outcome")
        self.duration = meter.create_histogram(
            "cdc.batch.duration", "s", "processing time of one batch attempt"
        )
        self.retries = meter.create_counter(
            "cdc.cosmos.retries", "{retry}", "storage operations retried after a transient error"
        )
        self.charge = meter.create_counter(
            "cdc.cosmos.request_charge", "RU", "Cosmos DB request units of point operations"
        )
        create_gauge = getattr(meter, "create_gauge", None) or meter.create_histogram
        self.poor_percent = create_gauge(
            "cdc.quality.poor_stream_percent", "%", "audio Poor % per tenant (from the aggregates)"
        )
        self.quality_alerts = meter.create_counter(
            "cdc.quality.alerts", "{alert}", "quality alerts raised (new ones only)"
        )


_metrics: dict[str, _Instruments | None] = {"i": None}


def enable_metrics(meter_provider: Any = None) -> None:
    """Create the instruments on a meter provider (the global one by default)."""
    from opentelemetry import metrics

    provider = meter_provider or metrics.get_meter_provider()
    _metrics["i"] = _Instruments(provider.get_meter(METER_NAME))


def disable_metrics() -> None:
    _metrics["i"] = None


def _attrs(**extra: Any) -> dict[str, Any]:
    """Metric attributes: the tenant and source server of the scope, plus `extra`;
    never None values, never EUII (ids, server names, operation names only)."""
    scope = _context.get() or {}
    out = {k: scope[k] for k in ("tenantId", "sourceServer") if scope.get(k) is not None}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def record_cosmos_response(result: Any, operation: str) -> None:
    """Count the request charge of a Cosmos DB point operation's response (no-op when
    metrics are off or the result carries no headers, e.g. a query or a blob call)."""
    inst = _metrics["i"]
    scope = _context.get()
    getter = getattr(result, "get_response_headers", None)
    if getter is None or (inst is None and scope is None):
        return
    try:
        charge = float(getter().get("x-ms-request-charge") or 0)
    except (TypeError, ValueError, AttributeError):
        return
    if scope is not None:
        scope["_requestCharge"] = scope.get("_requestCharge", 0.0) + charge
    if inst is not None and charge:
        inst.charge.add(charge, _attrs(operation=operation))


def count_retry(operation: str, exc: BaseException) -> None:
    scope = _context.get()
    if scope is not None:
        scope["_retries"] = scope.get("_retries", 0) + 1
    inst = _metrics["i"]
    if inst is not None:
        status = getattr(exc, "status_code", None)
        inst.retries.add(
            1,
            _attrs(
                operation=operation,
                error=type(exc).__name__,
                status=str(status) if status else None,
            ),
        )


def record_quality(tenant_id: str, period: str, poor_percent: float | None) -> None:
    inst = _metrics["i"]
    if inst is not None and poor_percent is not None:
        recorder = getattr(inst.poor_percent, "set", None) or inst.poor_percent.record
        recorder(poor_percent, {"tenantId": tenant_id, "mediaType": "audio", "period": period})


def count_quality_alert(tenant_id: str, building: str) -> None:
    inst = _metrics["i"]
    if inst is not None:
        inst.quality_alerts.add(
            1, {"tenantId": tenant_id, "building": building, "mediaType": "audio"}
        )


_tracing: dict[str, Any] = {"tracer": None}


def enable_tracing(tracer_provider: Any = None) -> None:
    from opentelemetry import trace

    provider = tracer_provider or trace.get_tracer_provider()
    _tracing["tracer"] = provider.get_tracer(METER_NAME)


def disable_tracing() -> None:
    _tracing["tracer"] = None


def make_span_processor() -> Any:
    """A span processor stamping the scope's fields on every span started in it (the
    Cosmos/Blob SDK spans of a batch too, not only the batch span)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class ContextSpanProcessor(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            scope = _context.get()
            if scope:
                span.set_attributes(
                    {k: scope[k] for k in CONTEXT_FIELDS if scope.get(k) is not None}
                )

    return ContextSpanProcessor()
