"""The local host's queue and timer triggers, on a small app of their own.

Queue: messages from Azurite Queue, base64 decoded, dequeue count passed on; a
message that keeps failing lands in `<queue>-poison` after maxDequeueCount (5) tries.
Timer: NCRONTAB schedules, and `fire_timer` for tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any

import azure.functions as func

from devhost.host import LocalHost, cron_matches, next_occurrence


def _app(queue: str, seen: list[Any], timer_runs: list[Any]) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.function_name("q")
    @app.queue_trigger(arg_name="msg", queue_name=queue, connection="CDC_STORAGE")
    async def q(msg: func.QueueMessage) -> None:
        body = json.loads(msg.get_body())
        seen.append((body["n"], msg.dequeue_count))
        if body.get("fail"):
            raise RuntimeError("always fails")

    @app.function_name("t")
    @app.timer_trigger(arg_name="timer", schedule="0 0 4 * * *")
    def t(timer: func.TimerRequest) -> None:
        timer_runs.append(timer.past_due)

    return app


def _send(stack: Any, queue: str, bodies: list[dict[str, Any]]) -> None:
    from azure.storage.queue.aio import QueueClient

    from shared.storage.queues import encode

    async def go() -> None:
        async with QueueClient.from_connection_string(
            stack.storage_connection_string, queue
        ) as client:
            await client.create_queue()
            for b in bodies:
                await client.send_message(encode(b))

    asyncio.run(go())


def _poison(stack: Any, queue: str) -> list[str]:
    from azure.storage.queue.aio import QueueClient

    async def go() -> list[str]:
        async with QueueClient.from_connection_string(
            stack.storage_connection_string, f"{queue}-poison"
        ) as client:
            try:
                return [m.content for m in await client.peek_messages(max_messages=32)]
            except Exception:
                return []

    return asyncio.run(go())


def test_queue_trigger_retries_then_poisons(stack: Any) -> None:
    queue = f"t{uuid.uuid4().hex[:12]}"
    seen: list[Any] = []
    app = _app(queue, seen, [])
    host = LocalHost(app, port=0, retry_delay_s=0.1, poll_s=0.1).start()
    try:
        _send(stack, queue, [{"n": 1}, {"n": 2, "fail": True}])
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not host.queue_poisoned:
            time.sleep(0.1)
        host.wait_queues_drained(30)
    finally:
        host.stop()
    assert (1, 1) in seen
    assert sorted(c for n, c in seen if n == 2) == [1, 2, 3, 4, 5]
    poisoned = _poison(stack, queue)
    assert len(poisoned) == 1 and host.queue_poisoned[0][0] == queue


def test_timer_fires_on_request_and_schedule_math() -> None:
    runs: list[Any] = []
    app = _app(f"t{uuid.uuid4().hex[:12]}", [], runs)
    host = LocalHost(app, port=0).start()
    try:
        host.fire_timer("t")
    finally:
        host.stop()
    assert runs == [False]
    at = dt.datetime(2026, 12, 1, 8, 30, 15, tzinfo=dt.timezone.utc)
    assert next_occurrence("0 0 4 * * *", at) == at.replace(day=2, hour=4, minute=0, second=0)
    assert next_occurrence("0 */30 * * * *", at) == at.replace(hour=9, minute=0, second=0)
    assert cron_matches("*/5 * * * * 2", at.replace(second=10))  # a Tuesday
    assert not cron_matches("*/5 * * * * 1", at.replace(second=10))
