"""The Cosmos DB client's HTTP transport: azure-core's aiohttp transport on a connection
pool bounded by the requests a processor has in flight.

Why: every open connection holds asyncio's TLS read buffer (256 KB a connection,
allocated when it connects and kept for as long as it lives). The SDK's transport opens
its session on aiohttp's default pool of 100 connections, and a large batch's bursts
(a flush's merges, its history and index writes, the commit group's read-many and
batches, the settling writes) filled it: 47 connections at the traced peak of a 5 MB
batch, 12 MB of TLS buffers, more than half the processor's Python heap at that moment
(tracemalloc, bench/pipeline `--only rss`). The processor already bounds the Cosmos
requests it has in flight by `cosmos_concurrency`, so connections beyond that number
only hold buffers; a request over the limit waits for a free connection (aiohttp's
pool wait has no timeout of its own: the SDK sets connect and read timeouts only).
Imported by `make_clients`, never at app import (cold start: no azure.core then).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport


class PooledTransport(AioHttpTransport):
    """`AioHttpTransport` whose session pools at most `connections` connections (one
    limit for every host: the account's gateway and any regional endpoint share it)."""

    session: aiohttp.ClientSession | None

    def __init__(self, *, connections: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connections = max(1, connections)

    async def open(self) -> None:
        # The session is created here, on the loop that runs the requests, as the base
        # class creates its own (same options) but with the bounded connector; a
        # transport closed already still refuses to reopen in the base class.
        if self.session is None and not self._has_been_opened:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=self._use_env_settings,
            )
        await super().open()
