"""Azure Storage queue adapter: put a message on a queue the Functions host triggers on.

Messages are base64-encoded JSON, the encoding the Functions queue trigger expects by
default. Connection: CDC_STORAGE (a connection string: Azurite locally) or, in Azure,
CDC_STORAGE__queueServiceUri with the managed identity (the same identity-based
connection the host's queue trigger uses).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

from azure.core.exceptions import ResourceExistsError

from shared.settings import Settings, SettingsError, get_settings
from shared.storage.retry import with_retries

_cache: dict[tuple[int, str], tuple[asyncio.AbstractEventLoop, Any]] = {}
_created: set[tuple[str, str]] = set()


def _client(queue: str, settings: Settings) -> Any:
    from azure.storage.queue.aio import QueueClient

    loop = asyncio.get_running_loop()
    key = (id(loop), queue)
    cached = _cache.get(key)
    if cached and cached[0] is loop:
        return cached[1]
    for k, (old, _) in list(_cache.items()):
        if old.is_closed():
            del _cache[k]
    if settings.storage_connection_string:
        client = QueueClient.from_connection_string(settings.storage_connection_string, queue)
    else:
        uri = os.environ.get("CDC_STORAGE__queueServiceUri")  # noqa: SIM112
        if not uri:
            raise SettingsError("set CDC_STORAGE (local) or CDC_STORAGE__queueServiceUri")
        from shared.storage.clients import _credential

        client = QueueClient(uri, queue, credential=_credential(settings))
    _cache[key] = (loop, client)
    return client


def encode(body: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


async def send_messages(
    queue: str,
    bodies: list[dict[str, Any]],
    *,
    visibility_timeout: int | None = None,
    settings: Settings | None = None,
) -> int:
    """Send each body as its own message (concurrently); creates the queue once."""
    settings = settings or get_settings()
    client = _client(queue, settings)
    marker = (settings.storage_connection_string or "", queue)
    if marker not in _created:
        try:
            await client.create_queue()
        except ResourceExistsError:
            pass
        _created.add(marker)

    async def one(body: dict[str, Any]) -> None:
        await with_retries(
            lambda: client.send_message(encode(body), visibility_timeout=visibility_timeout),
            what="queue a message",
        )

    await asyncio.gather(*(one(b) for b in bodies))
    return len(bodies)


async def close_queues() -> None:
    loop = asyncio.get_running_loop()
    for key, (owner, client) in list(_cache.items()):
        if owner is loop:
            await client.close()
            del _cache[key]
