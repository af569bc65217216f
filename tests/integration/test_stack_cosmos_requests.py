"""The local Cosmos DB server's cheaper request path (devhost/cosmos_launcher.js) answers
as before: the 2 MB limit is still measured on the item as stored, not on the request
it came in, and document `_rid`s keep the form Cosmos DB gives them (the collection's
resource id, then the document's)."""

from __future__ import annotations

import base64
import uuid

import pytest
from azure.cosmos import exceptions

from devhost.stack import Stack
from tests.integration.test_stack_cosmos import _container, run

pytestmark = pytest.mark.stack


def test_an_item_that_grows_past_2_mb_as_stored_is_refused(stack: Stack) -> None:
    """Python sends 1e20 as `1e+20` (5 characters), the server stores it as
    `100000000000000000000` (21): a 0.7 MB request is a 2.3 MB item, refused with 413
    as Cosmos DB refuses an item over 2 MB; the same item with 1.0 fits."""
    pk = f"grow|{uuid.uuid4()}"
    numbers = [1e20] * 100_000
    fits = {"id": "fits", "pk": pk, "n": [1.0] * 100_000}

    async def go() -> list[int]:
        client, c = await _container("calls")
        statuses = []
        async with client:
            for op in (
                lambda: c.create_item({"id": "grown", "pk": pk, "n": numbers}),
                lambda: c.upsert_item({"id": "grown", "pk": pk, "n": numbers}),
                lambda: c.execute_item_batch(
                    [("upsert", ({"id": "grown", "pk": pk, "n": numbers},))], partition_key=pk
                ),
                lambda: c.create_item(fits),
            ):
                try:
                    await op()
                    statuses.append(200)
                except exceptions.CosmosBatchOperationError as exc:
                    statuses.append(exc.operation_responses[0]["statusCode"])
                except exceptions.CosmosHttpResponseError as exc:
                    statuses.append(exc.status_code)
        return statuses

    assert run(go()) == [413, 413, 413, 200]


def test_document_rids_are_the_collection_rid_and_a_counter(stack: Stack) -> None:
    async def go() -> tuple[str, list[str]]:
        client, c = await _container("calls")
        async with client:
            props = await c.read()
            pk = f"rid|{uuid.uuid4()}"
            rids = [(await c.create_item({"id": f"d{i}", "pk": pk}))["_rid"] for i in range(300)]
            read = await c.read_item("d299", partition_key=pk)
            assert read["_rid"] == rids[-1]
        return props["_rid"], rids

    collection_rid, rids = run(go())
    prefix = base64.b64decode(collection_rid)
    decoded = [base64.b64decode(r) for r in rids]
    assert all(len(d) == 16 and d[:8] == prefix[:8] for d in decoded)
    counters = [int.from_bytes(d[8:12], "little") for d in decoded]
    assert counters == sorted(counters) and len(set(counters)) == 300
    assert counters[-1] - counters[0] == 299  # one counter step per create
    assert all(d[15] == 0 for d in decoded)  # the document type byte (0 << 4)
