"""The batch context (batchId, tenantId, sourceServer) every log record and span of
a batch carries, in a context variable (see the package docstring)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("shared.telemetry")  # one logger name for the whole package


CONTEXT_FIELDS = ("batchId", "tenantId", "sourceServer")

_context: ContextVar[dict[str, Any] | None] = ContextVar("cdc_log_context", default=None)


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
