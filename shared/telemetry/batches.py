"""One batch run: its context, span, counters and outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from shared.telemetry.context import _context
from shared.telemetry.metrics import _attrs, _metrics, _tracing
from shared.telemetry.setup import configure_telemetry

log = logging.getLogger("shared.telemetry")  # one logger name for the whole package


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
