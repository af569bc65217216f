"""Telemetry: batch context on every log record and span, an EUII scrubber, metrics.

Why it is built this way (modules: `context`, `scrubbing`, `metrics`, `batches`,
`setup`; this package re-exports their public names):
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

from shared.telemetry.batches import (
    BatchScope,
    batch_context,
)
from shared.telemetry.context import (
    CONTEXT_FIELDS,
    current_context,
    log_context,
    set_context,
)
from shared.telemetry.metrics import (
    METER_NAME,
    count_quality_alert,
    count_retry,
    disable_metrics,
    disable_tracing,
    enable_metrics,
    enable_tracing,
    make_span_processor,
    record_cosmos_response,
    record_quality,
)
from shared.telemetry.scrubbing import (
    ContextFilter,
    EuiiScrubber,
    ScrubbedError,
    attach_filters,
    attach_root_filters,
    install_logging,
    scrub_stats,
    scrub_text,
    uninstall_logging,
)
from shared.telemetry.setup import (
    configure_telemetry,
    reset_for_tests,
)

__all__ = [
    "CONTEXT_FIELDS",
    "METER_NAME",
    "BatchScope",
    "ContextFilter",
    "EuiiScrubber",
    "ScrubbedError",
    "attach_filters",
    "attach_root_filters",
    "batch_context",
    "configure_telemetry",
    "count_quality_alert",
    "count_retry",
    "current_context",
    "disable_metrics",
    "disable_tracing",
    "enable_metrics",
    "enable_tracing",
    "install_logging",
    "log_context",
    "make_span_processor",
    "record_cosmos_response",
    "record_quality",
    "reset_for_tests",
    "scrub_stats",
    "scrub_text",
    "set_context",
    "uninstall_logging",
]
