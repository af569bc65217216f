"""Graph fetch benchmark: notifications -> every call stored, through the real stack.

`python -m bench.graph.run [--calls 2000] [--per-request 50]`

The Graph stand-in notifies `--calls` Teams call records (peer-to-peer) to the local
host's webhook, `--per-request` per POST as Graph batches them; the queue trigger
fetches each record (the stand-in's real HTTP + token check), the ingest path writes a
batch, the blob trigger stores the call. Measured in the same run:
- all calls stored (checked by a point read of every call document);
- webhook answer time p50/p95 (Graph wants < 3 s);
- fetch throughput: records fetched and handed to the pipeline per second (first
  notification -> last `stored` mark), against the stand-in's bare GET rate for the same
  records and requests (the record with its sessions, and its participants_v2) with the
  same concurrency (the queue trigger's `batchSize`, host.json) and the ratio;
- where a fetch spends its time (GETs vs waiting for its batch to be durable), and how
  many records travelled per batch;
- notification -> call answerable (the call document's `updatedAt`) p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import urllib.request
from datetime import datetime
from typing import Any

from bench.publish import publish


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))], 3)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _bare_gets(standin: Any, token: str, ids: list[str], concurrency: int) -> float:
    """Records/s fetched by the same requests the fetcher makes (the record with its
    sessions, and its participants_v2 at the same time), with nothing behind them."""
    from aiohttp import ClientSession

    sem = asyncio.Semaphore(concurrency)
    async with ClientSession() as session:

        async def get(url: str) -> None:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
                await resp.read()
                assert resp.status == 200, resp.status

        async def one(rid: str) -> None:
            base = f"{standin.url}/communications/callRecords/{rid}"
            async with sem:
                await asyncio.gather(
                    get(f"{base}?$expand=sessions($expand=segments)"),
                    get(f"{base}/participants_v2"),
                )

        t0 = time.perf_counter()
        await asyncio.gather(*(one(r) for r in ids))
        return len(ids) / (time.perf_counter() - t0)


async def _read_back(tenant: str, ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    from shared.identity import call_id
    from shared.storage import graph_state, layout
    from shared.storage.calls import call_pk
    from shared.storage.clients import close_clients, get_clients
    from shared.storage.retry import read_or_none

    clients = get_clients()
    sem = asyncio.Semaphore(32)
    calls: dict[str, Any] = {}
    marks: dict[str, Any] = {}

    async def one(rid: str) -> None:
        async with sem:
            cid = call_id(tenant, f"graph:{rid}")
            calls[rid] = await read_or_none(
                clients.container(layout.CALLS), cid, call_pk(tenant, cid), what="bench read"
            )
            marks[rid] = await graph_state.read_record_version(clients, tenant, rid)

    await asyncio.gather(*(one(r) for r in ids))
    await close_clients()
    return calls, marks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--per-request", type=int, default=50)
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args(argv)

    from devhost.devauth import DevAuthority
    from devhost.host import LocalHost
    from devhost.provision import provision_sync
    from devhost.stack import GRAPH_TENANT, Stack
    from devhost.teams_generator import call_record
    from shared.settings import Settings, reset_settings

    authority = DevAuthority().start()
    stack = Stack(authority_url=authority.url).start()
    os.environ.update(stack.env)
    reset_settings()
    provision_sync(Settings.from_env())
    tenant = GRAPH_TENANT
    results: dict[str, Any] = {"calls": args.calls, "perRequest": args.per_request}
    host = None
    try:
        from function_app import app

        host = LocalHost(app, port=0, dev_authority=authority).start()
        os.environ.update({"CDC_GRAPH_TENANTS": tenant, "CDC_GRAPH_WEBHOOK_BASE": host.base_url})
        admin = authority.token(tenant, roles=["CallAnalytics.Admin"], user="admin@contoso.com")
        req = urllib.request.Request(
            f"{host.base_url}/api/v1/admin/graph/subscription",
            data=b"",
            method="POST",
            headers={"Authorization": f"Bearer {admin}"},
        )
        urllib.request.urlopen(req, timeout=60).read()
        host.wait_queues_drained(120)  # the initial (empty) backfill
        standin: Any = stack.graph
        assert standin is not None
        records = [call_record(tenant, seed=10_000 + i) for i in range(args.calls)]
        ids = [r["id"] for r in records]
        t0 = time.time()
        standin.add_calls(tenant, records, per_request=args.per_request)
        notified_s = time.time() - t0
        host.wait_queues_drained(args.timeout)
        host.wait_idle(args.timeout)
        total_s = time.time() - t0
        calls, marks = asyncio.run(_read_back(tenant, ids))
        stored = [r for r in ids if calls.get(r)]
        deliveries = [
            d["seconds"]
            for d in standin.delivery_log[
                -((args.calls + args.per_request - 1) // args.per_request) :
            ]
        ]
        notified = {r: _ts(m["notifiedAt"]) for r, m in marks.items() if m}
        stored_at = [_ts(m["storedAt"]) for m in marks.values() if m and m.get("storedAt")]
        fetch_s = max(stored_at) - min(notified.values())
        answerable = [_ts(calls[r]["updatedAt"]) - notified[r] for r in stored if r in notified]
        token = asyncio.run(_token(authority.url, tenant))
        concurrency = host.queue_batch  # the queue trigger's batchSize (host.json)
        bare_rate = asyncio.run(_bare_gets(standin, token, ids[: min(len(ids), 1000)], concurrency))
        fetch_rate = len(stored_at) / fetch_s if fetch_s > 0 else 0.0
        results |= {
            "stored": len(stored),
            "allStored": len(stored) == args.calls,
            "notifySeconds": round(notified_s, 2),
            "endToEndSeconds": round(total_s, 2),
            "webhookAnswerS": {
                "p50": _pct(deliveries, 0.5),
                "p95": _pct(deliveries, 0.95),
                "max": round(max(deliveries), 3),
            },
            "concurrency": concurrency,
            "fetchPerS": round(fetch_rate, 1),
            "bareGetPerS": round(bare_rate, 1),
            "fetchToBareRatio": round(fetch_rate / bare_rate, 3) if bare_rate else None,
            "notificationToAnswerableS": {
                "p50": _pct(answerable, 0.5),
                "p95": _pct(answerable, 0.95),
                "mean": round(statistics.mean(answerable), 3),
            },
            "poisoned": len(host.queue_poisoned) + len(host.poisoned),
            "batches": _handover_stats(),
            "perRecordMs": _stages(marks),
            "graphRequests": int(standin.counts["get"]),
        }
    finally:
        if host:
            host.stop()
        stack.stop()
        authority.stop()
    publish("graph.json", results)
    return 0 if results.get("allStored") else 1


def _stages(marks: dict[str, Any]) -> dict[str, Any]:
    """Where one fetch spends its time, from the fetcher's own marks: the GETs (record,
    session pages, participants_v2) with the version-mark read beside them, and the wait
    until the batch holding the record is durable."""
    out: dict[str, Any] = {}
    for name in ("fetchMs", "handoverMs"):
        values = [float(m[name]) for m in marks.values() if m and name in m]
        if values:
            out[name] = {"p50": _pct(values, 0.5), "p95": _pct(values, 0.95)}
    return out


def _handover_stats() -> dict[str, Any]:
    """Batches the fetch path handed to the ingest, and records per batch (the local
    host runs in this process)."""
    from shared.graph import handover

    groups = sum(h.stats["groups"] for _, h in handover._cache.values())
    records = sum(h.stats["records"] for _, h in handover._cache.values())
    return {
        "groups": groups,
        "recordsPerGroup": round(records / groups, 1) if groups else None,
    }


async def _token(authority: str, tenant: str) -> str:
    from aiohttp import ClientSession

    from shared.graph.config import GraphConfig
    from shared.graph.tokens import LoopbackClientCredentials

    async with ClientSession() as session:
        return await LoopbackClientCredentials(GraphConfig(authority=authority), session).token(
            tenant
        )


if __name__ == "__main__":
    raise SystemExit(main())
