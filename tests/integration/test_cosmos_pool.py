"""The Cosmos DB client's connection pool is bounded by `cosmos_concurrency`
(shared/storage/transport.py): each connection keeps a 256 KB TLS buffer for its life,
and the processor never has more requests in flight than that anyway."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from shared.settings import get_settings
from shared.storage import layout
from shared.storage.clients import make_clients
from shared.storage.transport import PooledTransport

pytestmark = pytest.mark.stack


def test_a_burst_of_requests_shares_at_most_cosmos_concurrency_connections(stack) -> None:
    settings = dataclasses.replace(get_settings(), cosmos_concurrency=4)

    async def go() -> tuple[int, int, int]:
        from azure.core.exceptions import ResourceNotFoundError

        clients = make_clients(settings)
        try:
            transport = clients.cosmos.client_connection.pipeline_client._pipeline._transport
            assert isinstance(transport, PooledTransport) and transport.connections == 4
            container = clients.container(layout.BATCHES)

            async def read(i: int) -> int:
                try:
                    await container.read_item(f"missing-{uuid.uuid4()}", partition_key=f"t{i}")
                except ResourceNotFoundError:
                    return 404
                return 200

            answers = await asyncio.gather(*(read(i) for i in range(40)))
            connector = transport.session.connector
            # aiohttp keeps idle connections per host in `_conns` (no public count)
            pooled = sum(len(held) for held in connector._conns.values())
            return answers.count(404), connector.limit, pooled
        finally:
            await clients.close()

    missing, limit, pooled = asyncio.run(go())
    assert missing == 40  # every request answered, none starved by the bound
    assert limit == 4 and 1 <= pooled <= 4


def test_a_closed_transport_is_not_reopened() -> None:
    async def go() -> None:
        transport = PooledTransport(connections=2)
        await transport.open()
        assert transport.session is not None and transport.session.connector.limit == 2
        await transport.close()
        with pytest.raises(ValueError):
            await transport.open()

    asyncio.run(go())
