"""Test helpers for the aggregates: simulated crashes at the points of a commit group
where a dying process leaves work half done.

The product code carries no test hook: `crash_points()` wraps the group's seams
(`call_ledger._run_transition`, `call_ledger._write_commit`) for as long as it is
active; `finish_with_crash(point, group)` arms one point for one group only (a context
variable, so concurrent groups in the same process are unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import shared.storage.call_ledger as ledger_store

_POINT: ContextVar[str | None] = ContextVar("crash_point", default=None)

POINTS = ("ledger", "some-docs", "docs")


class SimulatedCrash(RuntimeError):
    """The process "dies" here; the test then re-runs like the host would."""


@contextmanager
def crash_points() -> Iterator[None]:
    """ "ledger": right after the call writes that carry the group's pending transitions,
    before any aggregate document; "some-docs": after the first half of the group's
    transitions reached their documents; "docs": after all of them did, before the
    resumed calls are settled and the commit item is written."""
    real_run = ledger_store._run_transition

    async def run(clients: Any, tenant_id: str, items: list[Any], keep_s: Any) -> None:
        point = _POINT.get()
        if point == "ledger":
            raise SimulatedCrash("after the call writes, before the aggregates")
        if point == "some-docs":
            await real_run(clients, tenant_id, items[: len(items) // 2], keep_s)
            raise SimulatedCrash("part way through the aggregate documents")
        await real_run(clients, tenant_id, items, keep_s)
        if point == "docs":
            raise SimulatedCrash("after the aggregate documents, before the commit")

    ledger_store._run_transition = run  # type: ignore[assignment]
    try:
        yield
    finally:
        ledger_store._run_transition = real_run


async def finish_with_crash(point: str | None, group: ledger_store.CommitGroup) -> int:
    """`group.finish()` that dies at `point` (inside `crash_points()`)."""
    token = _POINT.set(point)
    try:
        return await group.finish()
    finally:
        _POINT.reset(token)


@contextmanager
def crashing_groups(points: list[str | None]) -> Iterator[list[str]]:
    """Every `CommitGroup.finish` in turn dies at the next of `points` (None: does not),
    then finishes normally; inside `crash_points()`. Yields the crashes so far."""
    real_finish = ledger_store.CommitGroup.finish
    schedule = list(points)
    died: list[str] = []

    async def finish(self: ledger_store.CommitGroup) -> int:
        token = _POINT.set(schedule.pop(0) if schedule else None)
        try:
            return await real_finish(self)
        except SimulatedCrash:
            died.append(str(_POINT.get()))
            raise
        finally:
            _POINT.reset(token)

    ledger_store.CommitGroup.finish = finish  # type: ignore[method-assign]
    try:
        yield died
    finally:
        ledger_store.CommitGroup.finish = real_finish  # type: ignore[method-assign]
