"""Raw request rate of the local Cosmos DB server, and which process is the bound.

`python -m bench.cosmos.run [--docs 5000] [--concurrency 32] [--seconds-per-op ...]`

On the benchmarks' local stack (bench/stack.py), the product's own async Cosmos client
(`shared.storage.clients.make_clients`, the processor's settings) runs, one after the
other, at `--concurrency` requests in flight:
- create: `--docs` new call-sized documents (~1.5 KB, four partitions per 100 documents);
- upsert: the same documents again (the replace path: etag, `_ts`, the index);
- read: a point read of each;
- batch: the documents again as transactional batches of up to 100 upserts of one
  partition key (what the processor's history and directory flushes send).
For each: requests (or operations) per second, and the CPU seconds the Cosmos server
process (`/proc/<pid>/stat`) and this Python process spent meanwhile, per request and as
a share of the wall time: a share near 1.0 is the process that bounds the rate (one
core each; the server is one Node.js thread, the client one event loop). On a machine
shared with other work, the CPU per request is the figure to compare: wall time moves
with the load, CPU time much less.
Results are printed and written to bench/results/cosmos.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.publish import publish

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _document(i: int, tenant: str) -> dict[str, Any]:
    """About the size of a stored peer-to-peer call."""
    return {
        "id": f"call-{i:07d}",
        "tenantId": f"{tenant}-{i % 25}",
        "kind": "call",
        "startTime": "2026-11-30T10:00:00Z",
        "participants": [
            {"uri": f"sip:user{i % 300}@contoso.com", "displayName": f"User {i % 300}"},
            {"uri": f"sip:user{(i * 7) % 300}@contoso.com", "displayName": "Other"},
        ],
        "sessions": [{"id": str(uuid.UUID(int=i)), "media": ["audio"], "x": "y" * 900}],
        "ledger": {"ops": [f"op-{i}-{k}" for k in range(5)]},
    }


async def _timed(
    name: str,
    n: int,
    work: Callable[[int], Awaitable[None]],
    concurrency: int,
    server_pid: int,
) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await work(i)

    s0, c0, t0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    server, client = cpu_seconds(server_pid) - s0, time.process_time() - c0
    return {
        "op": name,
        "requests": n,
        "seconds": round(wall, 2),
        "perSecond": round(n / wall, 1),
        "serverCpuShare": round(server / wall, 2),
        "clientCpuShare": round(client / wall, 2),
        # CPU per request: what a loaded machine changes least (wall time it does).
        "serverCpuMsPerRequest": round(1000 * server / n, 3),
        "clientCpuMsPerRequest": round(1000 * client / n, 3),
    }


async def run(docs: int, concurrency: int, server_pid: int) -> list[dict[str, Any]]:
    from azure.cosmos import PartitionKey

    from shared.settings import get_settings
    from shared.storage.clients import make_clients

    clients = make_clients(get_settings())
    try:
        db = await clients.cosmos.create_database_if_not_exists("cosmosbench")
        container = await db.create_container_if_not_exists(
            id=f"raw-{uuid.uuid4().hex[:8]}", partition_key=PartitionKey(path="/tenantId")
        )
        tenant = uuid.uuid4().hex[:8]
        items = [_document(i, tenant) for i in range(docs)]
        await container.read()  # metadata cached before timing

        async def create(i: int) -> None:
            await container.create_item(items[i])

        async def upsert(i: int) -> None:
            await container.upsert_item(items[i])

        async def read(i: int) -> None:
            await container.read_item(items[i]["id"], partition_key=items[i]["tenantId"])

        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault(item["tenantId"], []).append(item)
        chunks = [
            (pk, group[k : k + 100])
            for pk, group in groups.items()
            for k in range(0, len(group), 100)
        ]

        async def batch(i: int) -> None:
            pk, chunk = chunks[i]
            await container.execute_item_batch([("upsert", (d,)) for d in chunk], partition_key=pk)

        out = [
            await _timed("create", docs, create, concurrency, server_pid),
            await _timed("upsert", docs, upsert, concurrency, server_pid),
            await _timed("read", docs, read, concurrency, server_pid),
        ]
        batches = await _timed("batch", len(chunks), batch, concurrency, server_pid)
        batches["operationsPerSecond"] = round(docs / batches["seconds"], 1)
        out.append(batches)
        await db.delete_container(container.id)
        return out
    finally:
        await clients.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=0, help="default: CDC_COSMOS_CONCURRENCY")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args(argv)

    from bench.stack import bench_stack
    from shared.settings import get_settings

    with bench_stack() as bench:
        pid = bench.stack.pids["cosmos"]
        concurrency = args.concurrency or get_settings().cosmos_concurrency
        rounds = [asyncio.run(run(args.docs, concurrency, pid)) for _ in range(args.rounds)]
    results = {
        "machine": f"{os.cpu_count()} cores",
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "docs": args.docs,
        "concurrency": concurrency,
        "rounds": rounds,
    }
    publish("cosmos.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
