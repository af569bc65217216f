"""What the service relies on from the Cosmos DB server, through the real async SDK
(azure.cosmos.aio) and our certificate: provisioning from the layout table, 404 for a
missing item (fixed in devhost/cosmos_launcher.js), optimistic concurrency with
if-match, patch incr, partition-scoped queries, and the emulator's lifecycle."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.cosmos import exceptions
from azure.cosmos.aio import CosmosClient

from devhost.stack import Stack
from shared.storage import layout

pytestmark = pytest.mark.stack


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _container(name: str) -> tuple[CosmosClient, Any]:
    client = CosmosClient(os.environ["COSMOS_ENDPOINT"], credential=os.environ["COSMOS_KEY"])
    db = client.get_database_client(os.environ["COSMOS_DATABASE"])
    return client, db.get_container_client(name)


def test_layout_is_provisioned(stack: Stack) -> None:
    async def go() -> dict[str, Any]:
        client, _ = await _container("calls")
        async with client:
            db = client.get_database_client(stack.database)
            return {c["id"]: c async for c in db.list_containers()}

    found = run(go())
    for spec in layout.COSMOS_CONTAINERS:
        assert found[spec.name]["partitionKey"]["paths"] == [spec.partition_key]
        assert found[spec.name].get("defaultTtl") == spec.default_ttl


def test_missing_item_is_404_not_500(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("batches")
        async with client:
            with pytest.raises(exceptions.CosmosResourceNotFoundError) as caught:
                await container.read_item("missing", partition_key="t-404")
            assert caught.value.status_code == 404

    run(go())
    # and on the wire, without the SDK: the launcher's answer
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    req = urllib.request.Request(
        f"{stack.cosmos_endpoint}dbs/{stack.database}/colls/batches/docs/missing",
        headers={"x-ms-documentdb-partitionkey": '["t-404"]', "x-ms-version": "2020-07-15"},
    )
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(req, context=ctx, timeout=5)
    assert http_error.value.code == 404
    assert b'"NotFound"' in http_error.value.read()


def test_create_read_replace_with_if_match_and_patch(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("batches")
        tenant = f"t-{uuid.uuid4()}"
        async with client:
            created = await container.create_item(
                {"id": "b1", "tenantId": tenant, "n": 1, "status": "accepted"}
            )
            with pytest.raises(exceptions.CosmosResourceExistsError):
                await container.create_item({"id": "b1", "tenantId": tenant})
            read = await container.read_item("b1", partition_key=tenant)
            assert read["_etag"] == created["_etag"]
            read["status"] = "processing"
            replaced = await container.replace_item(
                "b1", read, etag=created["_etag"], match_condition=MatchConditions.IfNotModified
            )
            assert replaced["_etag"] != created["_etag"]
            with pytest.raises(exceptions.CosmosAccessConditionFailedError) as stale:
                await container.replace_item(
                    "b1", read, etag=created["_etag"], match_condition=MatchConditions.IfNotModified
                )
            assert stale.value.status_code == 412
            patched = await container.patch_item(
                "b1",
                partition_key=tenant,
                patch_operations=[
                    {"op": "incr", "path": "/n", "value": 5},
                    {"op": "set", "path": "/status", "value": "completed"},
                ],
            )
            assert (patched["n"], patched["status"]) == (6, "completed")
            # concurrent increments are not lost
            await asyncio.gather(
                *(
                    container.patch_item(
                        "b1",
                        partition_key=tenant,
                        patch_operations=[{"op": "incr", "path": "/n", "value": 1}],
                    )
                    for _ in range(20)
                )
            )
            assert (await container.read_item("b1", partition_key=tenant))["n"] == 26

    run(go())


def test_queries_are_scoped_to_the_partition_key(stack: Stack) -> None:
    async def go() -> None:
        client, container = await _container("batches")
        a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
        async with client:
            for tenant, n in ((a, 3), (b, 2)):
                for i in range(n):
                    await container.upsert_item(
                        {"id": f"{i}", "tenantId": tenant, "status": "completed", "i": i}
                    )

            async def q(sql: str, pk: str | None, **kw: Any) -> list[Any]:
                kwargs = {"partition_key": pk} if pk else {}
                return [x async for x in container.query_items(sql, **kwargs, **kw)]

            # the SDK's partition_key= alone scopes the query, as on Cosmos DB
            assert len(await q("SELECT * FROM c", a)) == 3
            assert await q("SELECT VALUE COUNT(1) FROM c", b) == [2]
            rows = await q(
                "SELECT c.i FROM c WHERE c.status = @s ORDER BY c.i DESC",
                a,
                parameters=[{"name": "@s", "value": "completed"}],
            )
            assert [r["i"] for r in rows] == [2, 1, 0]
            assert (
                len(
                    await q(
                        "SELECT * FROM c WHERE c.tenantId = @t",
                        a,
                        parameters=[{"name": "@t", "value": a}],
                    )
                )
                == 3
            )
            # cross-partition when no key is given
            both = await q(
                "SELECT c.tenantId FROM c WHERE c.tenantId IN (@a, @b)",
                None,
                parameters=[{"name": "@a", "value": a}, {"name": "@b", "value": b}],
            )
            assert len(both) == 5

    run(go())


def test_partition_scoped_query_pages_over_its_own_partition_only(stack: Stack) -> None:
    """The launcher evaluates a partition-scoped query over that partition's items only
    (the stock server scans the container); pages and continuation tokens still work."""

    async def go() -> None:
        client, container = await _container("batches")
        mine, other = f"p-{uuid.uuid4()}", f"o-{uuid.uuid4()}"
        async with client:
            await asyncio.gather(
                *(
                    container.upsert_item({"id": f"{t[0]}{i:02d}", "tenantId": t, "i": i})
                    for t in (mine, other)
                    for i in range(25)
                )
            )
            pages = container.query_items(
                "SELECT c.id, c.i FROM c ORDER BY c.i DESC", partition_key=mine, max_item_count=10
            ).by_page()
            sizes, ids = [], []
            async for page in pages:
                items = [x async for x in page]
                sizes.append(len(items))
                ids += [x["id"] for x in items]
            assert sizes == [10, 10, 5]
            assert ids == [f"p{i:02d}" for i in range(24, -1, -1)]

    run(go())


def test_a_query_answer_drops_undefined_values_as_before(stack: Stack) -> None:
    """The launcher builds a query's answer in linear time (the stock engine copied the
    answer once per item, which made a 30-day report pay the square of its documents);
    the answer is the same: a projected field an item lacks is absent, an undefined
    array element is dropped, nested objects and nulls are kept, every item answered."""

    async def go() -> tuple[list[Any], list[Any], int]:
        client, container = await _container("batches")
        tenant = f"lin-{uuid.uuid4()}"
        async with client:
            for start in range(0, 300, 100):
                ops = [
                    (
                        "create",
                        (
                            {"id": f"{i:03d}", "tenantId": tenant, "i": i, "m": {"a": None}}
                            | ({"odd": True} if i % 2 else {}),
                        ),
                    )
                    for i in range(start, start + 100)
                ]
                await container.execute_item_batch(ops, partition_key=tenant)

            async def q(sql: str) -> list[Any]:
                return [x async for x in container.query_items(sql, partition_key=tenant)]

            rows = await q("SELECT c.i, c.odd, c.m FROM c WHERE c.i < 4 ORDER BY c.i")
            arrays = await q("SELECT VALUE [c.i, c.odd] FROM c WHERE c.i < 4 ORDER BY c.i")
            everything = await q("SELECT c.id FROM c")
        return rows, arrays, len(everything)

    rows, arrays, count = run(go())
    assert rows == [
        {"i": 0, "m": {"a": None}},
        {"i": 1, "odd": True, "m": {"a": None}},
        {"i": 2, "m": {"a": None}},
        {"i": 3, "odd": True, "m": {"a": None}},
    ]
    assert arrays == [[0], [1, True], [2], [3, True]]
    assert count == 300


def test_transactional_batch_takes_the_partition_from_the_header(stack: Stack) -> None:
    """`execute_item_batch(ops, partition_key=...)` names the partition once, as Cosmos
    DB's REST API has it; every operation lands in that partition."""
    tenant = f"batch-{uuid.uuid4().hex[:8]}"

    async def go() -> list[dict[str, Any]]:
        client, container = await _container("graph")
        async with client:
            ops = [
                ("upsert", ({"id": f"record:{i}", "tenantId": tenant, "n": i},)) for i in range(3)
            ]
            await container.execute_item_batch(ops, partition_key=tenant)
            ops = [("upsert", ({"id": "record:1", "tenantId": tenant, "n": 10},))]
            await container.execute_item_batch(ops, partition_key=tenant)
            return [
                x
                async for x in container.query_items(
                    "SELECT c.id, c.n FROM c", partition_key=tenant
                )
            ]

    found = sorted((x["id"], x["n"]) for x in run(go()))
    assert found == [("record:0", 0), ("record:1", 10), ("record:2", 2)]


def test_a_second_stack_starts_and_stops_without_orphans() -> None:
    extra = Stack().start()
    pids = list(extra.pids.values())
    assert extra.started_s < 30 and len(pids) == 3  # Azurite Blob, Cosmos, Azurite Queue
    extra.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_an_item_over_2_mb_is_refused_with_413(stack: Stack) -> None:
    """Cosmos DB refuses an item over 2 MB; the local server must too, for create,
    replace and upsert, as the SDK sends them (devhost/cosmos_launcher.js)."""
    pk = f"size|{uuid.uuid4()}"
    small = {"id": "big", "pk": pk, "blob": "x" * 1_900_000}
    big = small | {"blob": "x" * (2 * 1024 * 1024)}

    async def go() -> list[int]:
        client, c = await _container("calls")
        statuses = []
        async with client:
            await c.create_item(small)
            for op in (
                lambda: c.create_item(big | {"id": "big2"}),
                lambda: c.replace_item("big", big),
                lambda: c.upsert_item(big),
            ):
                try:
                    await op()
                    statuses.append(200)
                except exceptions.CosmosHttpResponseError as exc:
                    statuses.append(exc.status_code)
            stored = await c.read_item("big", partition_key=pk)
            statuses.append(len(stored["blob"]))
        return statuses

    assert run(go()) == [413, 413, 413, 1_900_000]


def test_time_to_live_is_honoured_as_cosmos_db_applies_it(stack: Stack) -> None:
    """Retention relies on per-item `ttl` (docs/reference/settings.md): with the
    container's default on, an item expires `ttl` seconds after its last write (its own
    `ttl`, else the default; -1 never) and no read, query or feed returns it after that;
    a container with TTL off ignores an item's `ttl`."""
    from azure.cosmos import PartitionKey

    async def go() -> None:
        client = CosmosClient(os.environ["COSMOS_ENDPOINT"], credential=os.environ["COSMOS_KEY"])
        async with client:
            db = client.get_database_client(os.environ["COSMOS_DATABASE"])
            suffix = uuid.uuid4().hex[:8]
            on = await db.create_container(
                f"ttl-on-{suffix}", partition_key=PartitionKey("/pk"), default_ttl=-1
            )
            short = await db.create_container(
                f"ttl-2s-{suffix}", partition_key=PartitionKey("/pk"), default_ttl=2
            )
            off = await db.create_container(f"ttl-off-{suffix}", partition_key=PartitionKey("/pk"))
            try:
                await on.create_item({"id": "gone", "pk": "p", "ttl": 1})
                await on.create_item({"id": "kept", "pk": "p"})  # no ttl under -1: never
                await short.create_item({"id": "default", "pk": "p"})  # the container's 2 s
                await short.create_item({"id": "forever", "pk": "p", "ttl": -1})
                await off.create_item({"id": "ignored", "pk": "p", "ttl": 1})
                # "rewritten" lives 5 s from its last write: the read below comes after its
                # first write's 5 s and well inside the second's, however loaded the machine
                await on.upsert_item({"id": "rewritten", "pk": "p", "ttl": 5})
                await asyncio.sleep(2.6)
                await on.upsert_item({"id": "rewritten", "pk": "p", "ttl": 5})  # counts anew
                rewritten_at = time.monotonic()
                await asyncio.sleep(2.6)

                with pytest.raises(exceptions.CosmosResourceNotFoundError):
                    await on.read_item("gone", partition_key="p")
                with pytest.raises(exceptions.CosmosResourceNotFoundError):
                    await short.read_item("default", partition_key="p")
                for container, item in ((on, "kept"), (short, "forever"), (off, "ignored")):
                    assert (await container.read_item(item, partition_key="p"))["id"] == item
                assert (await on.read_item("rewritten", partition_key="p"))["ttl"] == 5

                scoped = [
                    i["id"] async for i in on.query_items("SELECT c.id FROM c", partition_key="p")
                ]
                everywhere = [i["id"] async for i in short.query_items("SELECT c.id FROM c")]
                feed = [i["id"] async for i in on.read_all_items()]
                assert sorted(scoped) == sorted(feed) == ["kept", "rewritten"]
                assert everywhere == ["forever"]
                # the id is free again, as after Cosmos DB's own deletion
                await on.create_item({"id": "gone", "pk": "p"})
                await asyncio.sleep(max(0.0, rewritten_at + 5.3 - time.monotonic()))
                with pytest.raises(exceptions.CosmosResourceNotFoundError):
                    await on.read_item("rewritten", partition_key="p")
                with pytest.raises(exceptions.CosmosResourceNotFoundError):
                    await on.replace_item("rewritten", {"id": "rewritten", "pk": "p"})
            finally:
                for c in (on, short, off):
                    await db.delete_container(c.id)

    run(go())
