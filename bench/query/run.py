"""Query benchmark: call detail and user history through the local host, next
to a raw point read and a raw single-partition query against the same emulator.

`python -m bench.query.run [--calls 100000] [--requests 300]`

Loads `--calls` peer-to-peer calls among 3,000 users straight into Cosmos DB (the call
documents and history entries the processor would write, built with the same code), then
measures, in the same run: p50/p99 of `GET /api/v1/calls/{id}` and of
`GET /api/v1/users/{u}/calls` through the local host (auth, audit write, projection
included), and p50/p99 of the bare SDK point read / single-partition query they wrap.

What the ratio holds (measured with the handlers' steps timed inside the host): HTTP and
token validation ~2.5 ms, and the audit record's write, which runs alongside the read
but which the emulator serialises with it (a write there costs ~4 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.publish import publish


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 2)


async def load(tenant: str, calls: int, users: int) -> tuple[list[str], list[str]]:
    from shared.merge import build_document, union
    from shared.parsing import ParseContext, parse_record
    from shared.storage import layout
    from shared.storage.calls import user_index_docs
    from shared.storage.clients import get_clients

    rng = random.Random(7)
    clients = get_clients()
    calls_c = clients.container(layout.CALLS)
    hist_c = clients.container(layout.USER_CALLS)
    sem = asyncio.Semaphore(48)
    ids: list[str] = []
    start = datetime.now(timezone.utc) - timedelta(days=20)
    ctx = ParseContext(tenant_id=tenant)

    async def put(container: Any, doc: dict[str, Any]) -> None:
        async with sem:
            await container.upsert_item(doc)

    pending: list[Any] = []
    for i in range(calls):
        a, b = rng.sample(range(users), 2)
        t = start + timedelta(seconds=i * 17)
        iso = t.isoformat().replace("+00:00", "Z")
        data = {
            "sessionIdTime": iso,
            "sessionIdSeq": i % 1000,
            "callId": f"{uuid.UUID(int=rng.getrandbits(128))}@fe01",
            "fromTag": "a",
            "toTag": "b",
            "user1Uri": f"sip:user{a}@contoso.com",
            "user2Uri": f"sip:user{b}@contoso.com",
            "inviteTime": iso,
            "responseTime": iso,
            "endTime": (t + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
            "responseCode": 200,
            "mediaTypes": ["audio"],
        }
        frags = parse_record("cdr", "sfb-cdr-json", data, ctx)
        doc = build_document(tenant, frags[0].key, union({}, frags), None)
        ids.append(doc.id)
        pending.append(put(calls_c, doc.to_cosmos()))
        pending += [put(hist_c, h) for h in user_index_docs(doc)]
        if len(pending) >= 3000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    return ids, [f"user{u}@contoso.com" for u in range(users)]


def _get(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status}")
    return time.perf_counter() - t0


async def raw(
    tenant: str, ids: list[str], users: list[str], n: int
) -> tuple[list[float], list[float]]:
    from shared.merge import call_pk
    from shared.storage import layout
    from shared.storage.calls import user_pk
    from shared.storage.clients import get_clients

    clients = get_clients()
    point, query = [], []
    rng = random.Random(3)
    for _ in range(n):
        cid = rng.choice(ids)
        t0 = time.perf_counter()
        await clients.container(layout.CALLS).read_item(cid, partition_key=call_pk(tenant, cid))
        point.append(time.perf_counter() - t0)
        pk = user_pk(tenant, rng.choice(users))
        t0 = time.perf_counter()
        _ = [
            i
            async for i in clients.container(layout.USER_CALLS).query_items(
                "SELECT TOP 51 * FROM c WHERE c.pk = @pk ORDER BY c.start DESC, c.id DESC",
                parameters=[{"name": "@pk", "value": pk}],
                partition_key=pk,
            )
        ]
        query.append(time.perf_counter() - t0)
    return point, query


async def load_and_measure_raw(
    tenant: str, args: argparse.Namespace, results: dict[str, Any]
) -> tuple[list[str], list[str], list[float], list[float]]:
    from shared.storage.clients import close_clients

    try:
        t0 = time.perf_counter()
        ids, users = await load(tenant, args.calls, args.users)
        results["load_seconds"] = round(time.perf_counter() - t0, 1)
        point, query = await raw(tenant, ids, users, args.requests)
        return ids, users, point, query
    finally:
        await close_clients()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--users", type=int, default=3_000)
    p.add_argument("--requests", type=int, default=300)
    args = p.parse_args(argv)

    from bench.stack import bench_stack

    results: dict[str, Any] = {"calls": args.calls, "users": args.users}
    with bench_stack() as bench:
        tenant = bench.tenant
        ids, users, point, query = asyncio.run(load_and_measure_raw(tenant, args, results))
        host = bench.start_host()
        token = bench.authority.token(
            tenant, roles=["CallAnalytics.Engineer"], user="eng@contoso.com"
        )
        rng = random.Random(3)
        detail, history = [], []
        for _ in range(args.requests):
            detail.append(_get(f"{host.base_url}/api/v1/calls/{rng.choice(ids)}", token))
            history.append(_get(f"{host.base_url}/api/v1/users/{rng.choice(users)}/calls", token))
        results |= {
            "detail_http_ms": {"p50": _pct(detail, 0.5), "p99": _pct(detail, 0.99)},
            "point_read_ms": {"p50": _pct(point, 0.5), "p99": _pct(point, 0.99)},
            "history_http_ms": {"p50": _pct(history, 0.5), "p99": _pct(history, 0.99)},
            "single_partition_query_ms": {"p50": _pct(query, 0.5), "p99": _pct(query, 0.99)},
        }
        results["ratio_detail_p50"] = round(statistics.median(detail) / statistics.median(point), 2)
        results["ratio_history_p50"] = round(
            statistics.median(history) / statistics.median(query), 2
        )
    publish("query.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
