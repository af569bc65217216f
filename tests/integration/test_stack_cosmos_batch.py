"""Transactional batch and read-many on the local Cosmos DB server, through the SDK's own
calls (`execute_item_batch`, `read_items` of azure.cosmos.aio): the write path relies on
an atomic batch (all operations of one partition key or none, the failing operation
named, the others 424) and on a read of many items being one request. Both are added to
the server in devhost/cosmos_launcher.js, as the partition index and the 404 were."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from azure.cosmos import exceptions
from azure.cosmos.aio import CosmosClient

from devhost.stack import Stack
from tests.integration.test_stack_cosmos import _container, run

pytestmark = pytest.mark.stack


def _doc(pk: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"d{n}", "pk": pk, "n": n, **extra}


def test_a_batch_applies_every_operation_of_one_partition(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("aggregates")
        async with client:
            pk = f"t-{uuid.uuid4()}|2026-01"
            await container.create_item(_doc(pk, 0))
            stored = await container.read_item("d0", partition_key=pk)
            results = await container.execute_item_batch(
                [
                    ("create", (_doc(pk, 1),)),
                    ("upsert", (_doc(pk, 2),)),
                    (
                        "replace",
                        ("d0", _doc(pk, 0, changed=True)),
                        {"if_match_etag": stored["_etag"]},
                    ),
                    ("read", ("d1",)),
                ],
                partition_key=pk,
            )
            assert [r["statusCode"] for r in results] == [201, 201, 200, 200]
            assert results[3]["resourceBody"]["n"] == 1
            assert results[2]["eTag"] != stored["_etag"]
            again = await container.read_item("d0", partition_key=pk)
            assert again["changed"] is True and again["_etag"] == results[2]["eTag"]
            # the items are in their partition's index: a scoped query finds them
            found = [
                d["id"] async for d in container.query_items("SELECT c.id FROM c", partition_key=pk)
            ]
            assert sorted(found) == ["d0", "d1", "d2"]

    run(go())


def test_a_failing_operation_rolls_the_whole_batch_back(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("aggregates")
        async with client:
            pk = f"t-{uuid.uuid4()}|2026-01"
            await container.create_item(_doc(pk, 0))
            before = await container.read_item("d0", partition_key=pk)
            with pytest.raises(exceptions.CosmosBatchOperationError) as caught:
                await container.execute_item_batch(
                    [
                        ("create", (_doc(pk, 1),)),
                        ("replace", ("d0", _doc(pk, 0, changed=True))),
                        ("upsert", (_doc(pk, 2),)),
                        ("replace", ("d0", _doc(pk, 0)), {"if_match_etag": "stale"}),
                        ("create", (_doc(pk, 3),)),
                    ],
                    partition_key=pk,
                )
            err = caught.value
            assert err.error_index == 3 and err.status_code == 412
            statuses = [r["statusCode"] for r in err.operation_responses]
            assert statuses == [424, 424, 424, 412, 424]
            # nothing of it stays: the create and the upsert are gone, the replace undone
            after = await container.read_item("d0", partition_key=pk)
            assert after == before
            for gone in ("d1", "d2", "d3"):
                with pytest.raises(exceptions.CosmosResourceNotFoundError):
                    await container.read_item(gone, partition_key=pk)
            found = [
                d["id"] async for d in container.query_items("SELECT c.id FROM c", partition_key=pk)
            ]
            assert found == ["d0"]
            # a create of an existing id fails the batch with 409
            with pytest.raises(exceptions.CosmosBatchOperationError) as conflict:
                await container.execute_item_batch(
                    [("create", (_doc(pk, 5),)), ("create", (_doc(pk, 0),))], partition_key=pk
                )
            assert conflict.value.status_code == 409 and conflict.value.error_index == 1
            with pytest.raises(exceptions.CosmosResourceNotFoundError):
                await container.read_item("d5", partition_key=pk)

    run(go())


def test_a_batch_refuses_an_item_of_another_partition(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("aggregates")
        async with client:
            pk = f"t-{uuid.uuid4()}|2026-01"
            with pytest.raises(exceptions.CosmosBatchOperationError) as caught:
                await container.execute_item_batch(
                    [("create", (_doc(pk, 1),)), ("create", (_doc(pk + "x", 2),))],
                    partition_key=pk,
                )
            assert caught.value.status_code == 400 and caught.value.error_index == 1
            with pytest.raises(exceptions.CosmosResourceNotFoundError):
                await container.read_item("d1", partition_key=pk)

    run(go())


def test_a_batch_over_100_operations_is_refused(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("aggregates")
        async with client:
            pk = f"t-{uuid.uuid4()}|2026-01"
            with pytest.raises(exceptions.CosmosHttpResponseError) as caught:
                await container.execute_item_batch(
                    [("create", (_doc(pk, i),)) for i in range(101)], partition_key=pk
                )
            assert caught.value.status_code == 400

    run(go())


def test_read_items_reads_many_partitions_in_one_request(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("calls")
        async with client:
            tenant = f"t-{uuid.uuid4()}"
            ids = [str(uuid.uuid4()) for _ in range(30)]
            for i, cid in enumerate(ids[:20]):
                await container.create_item({"id": cid, "pk": f"{tenant}|{cid}", "n": i})
            wanted = [(cid, f"{tenant}|{cid}") for cid in ids]
            # one id under the wrong partition key is not found
            wanted.append((ids[0], f"{tenant}|other"))
            found = await container.read_items(wanted)
            assert sorted(d["n"] for d in found) == list(range(20))
            assert all(d["_etag"] for d in found)
            # several ids in one partition (the SDK's IN form)
            pk = f"{tenant}|shared"
            for n in range(3):
                await container.create_item({"id": f"s{n}", "pk": pk, "n": n})
            same = await container.read_items([(f"s{n}", pk) for n in range(5)])
            assert sorted(d["id"] for d in same) == ["s0", "s1", "s2"]
            assert await container.read_items([]) == []

    run(go())


def test_read_items_is_one_request_for_a_flush(stack: Stack) -> None:
    """On the wire: the SDK sends one query for items of one partition-key range (the
    local server has one), answered from the items themselves, not a container scan."""
    from bench.writes.run import CountingTransport
    from shared.settings import Settings
    from shared.storage.clients import build_cosmos_transport

    class Recording(CountingTransport):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.looked_up: list[str] = []

        async def send(self, request: Any, **kwargs: Any) -> Any:
            response = await super().send(request, **kwargs)
            if "x-cdc-read-many" in response.headers:
                self.looked_up.append(response.headers["x-cdc-read-many"])
            return response

    async def go() -> int:
        transport = build_cosmos_transport(Settings(), Recording)
        client = CosmosClient(
            os.environ["COSMOS_ENDPOINT"], credential=os.environ["COSMOS_KEY"], transport=transport
        )
        async with client:
            db = client.get_database_client(os.environ["COSMOS_DATABASE"])
            container = db.get_container_client("calls")
            await container.read()
            tenant = f"t-{uuid.uuid4()}"
            items = [(str(uuid.uuid4()), "") for _ in range(100)]
            items = [(cid, f"{tenant}|{cid}") for cid, _ in items]
            await container.read_items(items[:1])  # warms the partition-key range cache
            transport.take()
            assert await container.read_items(items) == []
            counts = transport.take()
            # answered by the launcher's lookup of the 100 pairs, not by a scan
            assert transport.looked_up == ["100"]
            return sum(n for (coll, _), n in counts.items() if coll == "calls")

    assert run(go()) == 1
