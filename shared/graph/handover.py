"""Group hand-over: call records fetched at about the same time become one batch.

Why: a batch costs the same fixed work whatever its size (in the ingest: the status
document, the blob, the status update; in the processor: the blob trigger, the status
updates, the blob delete). With one batch per record that fixed work was the whole cost
of the fetch path (measured on the emulator: about 0.5 s of `accept_batch` per record
against 60 ms for the GETs), and the processor worked through the batches one blob
trigger at a time.

The queue trigger still takes one message per call record (one id per notification;
the host runs up to `batchSize` of them at once in a worker). The invocations running
together in one worker hand their records to the worker's `Handover`, which sends them
as one batch when `max_records` are waiting or `linger_s` after the first arrived, and
every invocation returns only once the batch holding its record is durable (accepted by
the ingest code: 202, or 200 for one it already had). A failure is every waiter's
failure: their messages come back and are fetched again, and the batch id, derived from
the records' content, makes a resent group the same batch.

What `submit` does with a group is the caller's (the fetcher: one read of the group's
version marks, one batch of the records that are newer, one transactional write of the
marks), so the per-record Cosmos DB requests of the fetch path become per-group ones.
Each record carries the caller's `extra` (what its mark records) and gets back its own
outcome. Two copies of the same record in one group (a duplicate notification fetched
twice) travel once: the newer by `record_order`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shared.parsing.graph import record_order

MAX_RECORDS = 50
MAX_BYTES = 8 * 1024 * 1024  # well under the ingest's 50 MB decompressed limit
LINGER_S = 0.3

# submit(tenant, records, extras by record id) -> outcome by record id
Submit = Callable[[str, list[dict[str, Any]], dict[str, dict[str, Any]]], Awaitable[dict[str, str]]]


@dataclass
class _Group:
    submit: Submit
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    waiters: list[tuple[str, asyncio.Future[str]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None

    @property
    def size(self) -> int:
        return sum(self.sizes.values())


class Handover:
    """One per event loop (see `handover`). Records are grouped by tenant and `scope`
    (what the caller's `submit` is bound to: its storage and settings), and a group is
    sent by the `submit` of its first record, which returns each record's outcome."""

    def __init__(
        self,
        *,
        max_records: int = MAX_RECORDS,
        max_bytes: int = MAX_BYTES,
        linger_s: float = LINGER_S,
    ) -> None:
        self.max_records, self.max_bytes, self.linger_s = max_records, max_bytes, linger_s
        self._open: dict[tuple[str, Any], _Group] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.stats = {"groups": 0, "records": 0, "submitted": 0}

    async def hand_over(
        self,
        tenant_id: str,
        record: dict[str, Any],
        submit: Submit,
        scope: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Wait until the group holding `record` has been submitted; returns the
        record's outcome."""
        loop = asyncio.get_running_loop()
        size = len(json.dumps(record, separators=(",", ":")))
        key = (tenant_id, scope)
        group = self._open.get(key)
        if group is not None and group.size + size > self.max_bytes and group.records:
            self._flush(key, group)
            group = None
        if group is None:
            group = self._open[key] = _Group(submit)
            group.timer = loop.call_later(self.linger_s, self._flush, key, group)
        rid = str(record["id"])
        held = group.records.get(rid)
        if held is None or record_order(record) > record_order(held):
            group.records[rid], group.sizes[rid] = record, size
            group.extras[rid] = extra or {}
        waiter: asyncio.Future[str] = loop.create_future()
        group.waiters.append((rid, waiter))
        if len(group.records) >= self.max_records or group.size >= self.max_bytes:
            self._flush(key, group)
        return await waiter

    def _flush(self, key: tuple[str, Any], group: _Group) -> None:
        if self._open.get(key) is group:
            del self._open[key]
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        task = asyncio.ensure_future(self._send(key[0], group))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, tenant_id: str, group: _Group) -> None:
        records = [group.records[k] for k in sorted(group.records)]
        try:
            outcomes = await group.submit(tenant_id, records, group.extras)
        except BaseException as exc:  # every waiter fails with it; the messages return
            for _, waiter in group.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.stats["groups"] += 1
        self.stats["records"] += len(records)
        self.stats["submitted"] += sum(1 for v in outcomes.values() if v == "stored")
        for rid, waiter in group.waiters:
            if waiter.done():
                continue
            outcome = outcomes.get(rid, "unchanged")
            if isinstance(outcome, BaseException):  # this record's own failure
                waiter.set_exception(outcome)
            else:
                waiter.set_result(str(outcome))


_cache: dict[int, tuple[asyncio.AbstractEventLoop, Handover]] = {}


def handover() -> Handover:
    """The running loop's hand-over (the invocations of one worker share it)."""
    loop = asyncio.get_running_loop()
    cached = _cache.get(id(loop))
    if cached and cached[0] is loop:
        return cached[1]
    for key, (old, _) in list(_cache.items()):
        if old.is_closed():
            del _cache[key]
    made = Handover()
    _cache[id(loop)] = (loop, made)
    return made
