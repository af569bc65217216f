"""Test helpers for the aggregates: the brute-force recount, and simulated crashes at
the two points of a transition where a dying process leaves work half done.

The crash points used to be a parameter of `apply_call_delta`; they live here so the
product code carries no test hook. `crash_points()` wraps the store's ledger write and
transition run for as long as it is active; `apply_with_crash(point, ...)` arms one
point for one application only (a context variable, so concurrent merges of other
calls in the same processor run are unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import shared.storage.aggregates as store
from shared.aggregates.contribution import Contribution, add_into, call_contribution
from shared.models.call import CallDocument

_POINT: ContextVar[str | None] = ContextVar("crash_point", default=None)
_ARMED: ContextVar[bool] = ContextVar("crash_armed", default=False)


class SimulatedCrash(RuntimeError):
    """The process "dies" here; the test then re-runs like the host would."""


def sum_contributions(docs: list[CallDocument]) -> Contribution:
    """The brute-force recount: what the aggregates must equal for these calls."""
    total: Contribution = {}
    for doc in docs:
        add_into(total, call_contribution(doc))
    return total


@contextmanager
def crash_points() -> Iterator[None]:
    """ "ledger": right after a new transition's pending ledger write; "docs": after
    that transition reached the aggregate documents, before the ledger commit. A
    roll-forward of an earlier pending transition never crashes."""
    real_write, real_run = store._write_ledger, store._run_transition

    async def write(container: Any, body: dict[str, Any], etag: str | None) -> str | None:
        out = await real_write(container, body, etag)
        point = _POINT.get()
        if out is not None and body.get("pending") and point:
            if point == "ledger":
                raise SimulatedCrash("after the ledger's pending write")
            _ARMED.set(True)
        return out

    async def run(*args: Any, **kwargs: Any) -> None:
        await real_run(*args, **kwargs)
        if _POINT.get() == "docs" and _ARMED.get():
            raise SimulatedCrash("after the aggregate documents, before the commit")

    store._write_ledger, store._run_transition = write, run  # type: ignore[assignment]
    try:
        yield
    finally:
        store._write_ledger, store._run_transition = real_write, real_run


async def apply_with_crash(
    point: str | None,
    clients: Any,
    tenant_id: str,
    previous: CallDocument | None,
    document: CallDocument,
    keep_s: int | None = None,
) -> bool:
    """`apply_call_delta` that dies at `point` (inside `crash_points()`)."""
    tokens = _POINT.set(point), _ARMED.set(False)
    try:
        return await store.apply_call_delta(clients, tenant_id, previous, document, keep_s)
    finally:
        _POINT.reset(tokens[0])
        _ARMED.reset(tokens[1])
