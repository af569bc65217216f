"""Telemetry: batch context on every log record and span, an EUII scrubber, metrics.

Why it is built this way:
- Context via `contextvars`: a batch is processed by one asyncio task and the tasks it
  gathers (which copy the context), so a context set once in `batch_context` reaches
  every log line of the batch, from any module, without passing ids around. The value is
  one mutable dict per batch, so `set_context(sourceServer=...)` after the batch status
  is read is seen by everything that runs later in that batch.
- Stamping and scrubbing are `logging.Filter`s, put on every root handler (the
  Functions worker's, Azure Monitor's) when telemetry is configured, which happens at
  the start of every batch. The scrubber also runs in the log-record factory, so a
  handler added later without our filters still never sees EUII in a message.
- EUII scrubbing is defence in depth: the code should not log user names, SIP URIs,
  phone numbers or IP addresses at all; if one slips through (an exception message
  quoting a record, an SDK log line with an endpoint), it is replaced before any handler
  sees it. `scrub_stats()` counts redactions so a test can tell "clean" from "cleaned".
- OpenTelemetry is set up lazily (`configure_telemetry`, first batch or timer run), and
  `azure.monitor.opentelemetry` is imported inside it only when
  APPLICATIONINSIGHTS_CONNECTION_STRING is set: importing it costs far more than the
  whole function app, and cold start must not pay for it. Until then every metric call
  is a cheap no-op (no `opentelemetry` import either).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

CONTEXT_FIELDS = ("batchId", "tenantId", "sourceServer")
METER_NAME = "call-data-connector"

_context: ContextVar[dict[str, Any] | None] = ContextVar("cdc_log_context", default=None)


# ------------------------------------------------------------------------------ context


def current_context() -> dict[str, Any]:
    """The telemetry fields in effect here (empty outside any batch)."""
    return dict(_context.get() or {})


def set_context(**fields: Any) -> None:
    """Add fields to the current scope (None values are ignored). Mutates the scope's
    dict in place so tasks already sharing the scope see them too."""
    scope = _context.get()
    if scope is None:
        _context.set({k: v for k, v in fields.items() if v is not None})
        return
    scope.update({k: v for k, v in fields.items() if v is not None})


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A nested scope: the outer fields plus these, restored on exit."""
    scope = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(scope)
    try:
        yield scope
    finally:
        _context.reset(token)


# ------------------------------------------------------------------------ log filters

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class ContextFilter(logging.Filter):
    """Stamps batchId / tenantId / sourceServer of the current scope on the record.

    Values passed explicitly with `extra=` win. Absent fields are left absent rather than
    set to None: exporters reject None attribute values."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _context.get()
        if scope:
            for name in CONTEXT_FIELDS:
                value = scope.get(name)
                if value is not None and getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


_SIP = re.compile(r"(?i)\bsips?:[^\s\"'<>,;)\]}]+")
_TEL = re.compile(r"(?i)\btel:\+?[\d\-.() ]*\d")
_UPN = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
_MAC = re.compile(r"(?<![\w:-])(?:[0-9A-Fa-f]{2}[-:]){5}[0-9A-Fa-f]{2}(?![\w:-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_IPV6 = re.compile(
    r"(?i)(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}"
    r"\d{1,3})?(?![\w:])"
)
_E164 = re.compile(r"(?<![\w+])\+\d{8,15}(?!\w)")


def _ipv4(m: re.Match[str]) -> str:
    return "[ip]" if all(int(o) <= 255 for o in m.group(0).split(".")) else m.group(0)


def _ipv6(m: re.Match[str]) -> str:
    text = m.group(0)
    if text.count(":") < 2:
        return text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text  # a time of day (10:00:00) or some other colon-separated token
    return "[ip]"


def scrub_text(text: str) -> str:
    """Replace EUII in free text: SIP/tel URIs, UPNs and e-mail addresses, phone numbers,
    IPv4/IPv6 addresses, MAC addresses. Server FQDNs, ids and versions are kept."""
    if not text:
        return text
    out = _SIP.sub("[sip]", text)
    out = _TEL.sub("[tel]", out)
    out = _UPN.sub("[upn]", out)
    out = _MAC.sub("[mac]", out)
    out = _IPV4.sub(_ipv4, out)
    if ":" in out:
        out = _IPV6.sub(_ipv6, out)
    if "+" in out:
        out = _E164.sub("[tel]", out)
    return out


class ScrubbedError(Exception):
    """Stands in for an exception whose message held EUII (type name kept in the text)."""


_stats = {"records": 0, "redacted": 0}
_stats_lock = threading.Lock()


def scrub_stats(reset: bool = False) -> dict[str, int]:
    """Records seen and records the scrubber had to change (tests: 'clean' vs 'cleaned')."""
    with _stats_lock:
        out = dict(_stats)
        if reset:
            _stats.update(records=0, redacted=0)
    return out


class EuiiScrubber(logging.Filter):
    """Removes EUII from a record's message, exception and `extra=` string attributes.

    Idempotent: the message and exception are scrubbed once (the record factory usually
    does it); the extras are checked at every handler, because `extra=` values are set on
    the record after the factory ran."""

    def filter(self, record: logging.LogRecord) -> bool:
        changed = False
        first = not getattr(record, "_cdc_scrubbed", False)
        if first:
            record._cdc_scrubbed = True
            changed = self._message(record)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str) and key[0] != "_":
                clean = scrub_text(value)
                if clean != value:
                    setattr(record, key, clean)
                    changed = True
        if changed:
            record._cdc_redacted = True  # tests tell "clean" from "cleaned" per record
        with _stats_lock:
            _stats["records"] += int(first)
            _stats["redacted"] += int(changed)
        return True

    @staticmethod
    def _message(record: logging.LogRecord) -> bool:
        changed = False
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            message = None
        if message is not None:
            clean = scrub_text(message)
            if clean != message:
                record.msg, record.args, changed = clean, (), True
        if record.exc_info and record.exc_info[1] is not None:
            exc_type, exc, tb = record.exc_info
            text = str(exc)
            clean = scrub_text(text)
            if clean != text:
                name = getattr(exc_type, "__name__", "Exception")
                record.exc_info = (ScrubbedError, ScrubbedError(f"{name}: {clean}"), tb)
                record.exc_text = None
                changed = True
        return changed


_SCRUBBER = EuiiScrubber()
_installed: dict[str, Any] = {"factory": None}
_install_lock = threading.Lock()


def install_logging() -> None:
    """Scrub every log record the process creates, in the record factory, so even a
    handler without our filters never sees EUII in a message (idempotent; stdlib only).

    Context is stamped by handler filters (`attach_filters`), not here: `extra=` keys
    that already exist on a record make `Logger.makeRecord` raise, and the processor
    passes batchId/tenantId as extras."""
    with _install_lock:
        if _installed["factory"] is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _SCRUBBER.filter(record)
            return record

        factory.previous = previous  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
        _installed["factory"] = factory


def uninstall_logging() -> None:
    """Restore the previous record factory (tests)."""
    with _install_lock:
        factory = _installed["factory"]
        if factory is not None and logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(factory.previous)
        _installed["factory"] = None


def attach_filters(handler: logging.Handler) -> None:
    """Context stamping and scrubbing on a handler (idempotent). `configure_telemetry`
    does this for every root handler (the Functions worker's, Azure Monitor's)."""
    have = {type(f) for f in handler.filters}
    for f in (ContextFilter(), EuiiScrubber()):
        if type(f) not in have:
            handler.addFilter(f)


def attach_root_filters() -> None:
    for handler in logging.getLogger().handlers:
        attach_filters(handler)


# ------------------------------------------------------------------------------ metrics


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


# ------------------------------------------------------------------------------ tracing

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


# ------------------------------------------------------------------------------ batches


class BatchScope:
    """What one processor run reports when it ends: counts, outcome, duration."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.started = time.perf_counter()
        self.outcome: str | None = None
        self.span: Any = None

    def finish(self, final: Mapping[str, Any]) -> dict[str, Any]:
        """Emit the batch's counters from its final status document; returns it."""
        status = str(final.get("status") or "unknown")
        self.outcome = "poisoned" if status == "failed" else status
        inst = _metrics["i"]
        if inst is not None:
            attrs = _attrs()
            for name in ("received", "stored", "quarantined", "excluded"):
                n = int(final.get(name) or 0)
                if n:
                    getattr(inst, name).add(n, attrs)
        if self.span is not None:
            self.span.set_attributes(
                {
                    f"cdc.{k}": int(final.get(k) or 0)
                    for k in ("received", "stored", "quarantined", "excluded")
                }
            )
        return dict(final)

    def _end(self, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self.started
        outcome = self.outcome or ("retry" if error is not None else "unknown")
        inst = _metrics["i"]
        if inst is not None:
            attrs = _attrs(outcome=outcome)
            inst.batches.add(1, attrs)
            inst.duration.record(elapsed, attrs)
        if self.span is not None:
            self.span.set_attribute("cdc.outcome", outcome)
        log.info(
            "batch telemetry: outcome %s in %.2fs, %.1f RU, %d storage retries",
            outcome,
            elapsed,
            float(self.fields.get("_requestCharge", 0.0)),
            int(self.fields.get("_retries", 0)),
        )


@contextmanager
def batch_context(
    batch_id: str, tenant_id: str, source_server: str | None = None
) -> Iterator[BatchScope]:
    """The scope of one processor run: ids on every log record and span inside it, a
    span when tracing is on, and the batch metrics when it ends (an exception counts as
    a failed attempt, `outcome=retry`, and propagates)."""
    configure_telemetry()
    fields: dict[str, Any] = {"batchId": batch_id, "tenantId": tenant_id}
    if source_server:
        fields["sourceServer"] = source_server
    token = _context.set(fields)
    scope = BatchScope(fields)
    error: BaseException | None = None
    try:
        with ExitStack() as stack:
            tracer = _tracing["tracer"]
            if tracer is not None:
                scope.span = stack.enter_context(
                    tracer.start_as_current_span(
                        "process batch",
                        attributes={k: v for k, v in fields.items() if not k.startswith("_")},
                    )
                )
            try:
                yield scope
            except BaseException as exc:
                error = exc
                raise
            finally:
                scope._end(error)
    finally:
        _context.reset(token)


# ---------------------------------------------------------------------------- configure

_configured = {"done": False, "exporting": False}
_configure_lock = threading.Lock()


def configure_telemetry(env: Mapping[str, str] | None = None) -> bool:
    """Set up logging filters always, and Azure Monitor (logs, traces, metrics) once,
    only when APPLICATIONINSIGHTS_CONNECTION_STRING is set. Returns whether telemetry is
    exported. Never raises: telemetry must not stop a batch."""
    install_logging()
    if _configured["done"]:
        return _configured["exporting"]
    attach_root_filters()
    with _configure_lock:
        if _configured["done"]:
            return _configured["exporting"]
        source = os.environ if env is None else env
        connection = source.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
        if connection:
            try:
                _configure_azure_monitor(connection, source.get("AZURE_CLIENT_ID"))
                _configured["exporting"] = True
            except Exception:
                log.exception("Azure Monitor telemetry could not be configured; continuing")
        _configured["done"] = True
        return _configured["exporting"]


def _configure_azure_monitor(connection: str, client_id: str | None) -> None:
    # Imported here, not at module level: ~1 s of imports only where it is used.
    from azure.monitor.opentelemetry import configure_azure_monitor

    kwargs: dict[str, Any] = {
        "connection_string": connection,
        "span_processors": [make_span_processor()],
    }
    if client_id:  # local auth is off on the component: ingest with the app's identity
        from azure.identity import ManagedIdentityCredential

        kwargs["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**kwargs)
    attach_root_filters()  # the handler it added too
    enable_metrics()
    enable_tracing()


def configure_local(exporter: str = "console", interval_s: float = 30.0) -> None:
    """Local development: export spans and metrics to the console, or over OTLP when
    `opentelemetry-exporter-otlp` is installed (it reads the standard OTEL_* variables).
    Called by whoever runs the local stack; Azure uses `configure_telemetry`."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore
            OTLPSpanExporter,
        )

        span_exporter: Any = OTLPSpanExporter()
        metric_exporter: Any = OTLPMetricExporter()
    else:
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        span_exporter, metric_exporter = ConsoleSpanExporter(), ConsoleMetricExporter()
    install_logging()
    attach_root_filters()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(make_span_processor())
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(
        metric_readers=[
            PeriodicExportingMetricReader(
                metric_exporter, export_interval_millis=int(interval_s * 1000)
            )
        ]
    )
    metrics.set_meter_provider(meter_provider)
    enable_metrics(meter_provider)
    enable_tracing(tracer_provider)
    with _configure_lock:
        _configured.update(done=True, exporting=True)


def reset_for_tests() -> None:
    """Forget configuration and instruments (tests)."""
    disable_metrics()
    disable_tracing()
    uninstall_logging()
    with _configure_lock:
        _configured.update(done=False, exporting=False)
