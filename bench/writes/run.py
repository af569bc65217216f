"""Write-path benchmark: Cosmos DB requests per call, per container, on the emulator.

`python -m bench.writes.run [--calls 1000] [--legs 1000]`

The real `BatchProcessor` runs on `Clients` whose Cosmos client sends through a counting
transport (the seam `CosmosClient(transport=...)` offers; nothing of ours is patched),
so every request the write path issues is counted by container and operation. On
Cosmos DB each request is request units, i.e. money; on the emulator it is time. One
fresh tenant per scenario:

- A: `--calls` new peer-to-peer calls from CDRs only (one batch);
- B: the demo mix (`devhost.qoe_generator.generate_call`: CDRs and QoE reports of
  peer-to-peer, conference, PSTN, failed and dropped calls) for `--calls` calls in one
  batch of about 4.4 records per call;
- C: batch A delivered again after it completed (its blob back in `incoming/`, the same
  content hash): a no-op;
- D: late QoE reports: B's CDRs first (not counted), then the QoE reports of the same
  calls as a second batch (counted);
- E: one SfB meeting of `--legs` CDR legs in one batch, its legs in order: once as the
  processor runs, once with the hold-over of a large call switched off (the baseline, in
  the same run), with the bytes sent to the calls container (a meeting of 1,000 legs is
  megabytes, rewritten whole at every write).

Requests per call = the batch's Cosmos DB requests / the calls it stored. Metadata
requests (account, collection, partition-key ranges) are listed apart and left out.
Results are printed and written to bench/results/writes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.pipeline.run import _cdr, _envelope
from bench.publish import publish
from shared.storage.transport import PooledTransport


class CountingTransport(PooledTransport):
    """Counts every request the SDK sends (its own retries included), by container and
    operation: read, readMany (a query the SDK's `read_items` sends), query, create,
    replace, upsert, delete, batch (a transactional batch: one request). On the
    product's bounded pool (`make_clients`' default transport)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.sent: Counter[str] = Counter()  # request body bytes by container

    @staticmethod
    def classify(method: str, url: str, headers: Any) -> tuple[str, str]:
        path = url.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if "colls" not in parts or "docs" not in parts:
            return ("(metadata)", method.lower())
        container = parts[parts.index("colls") + 1]
        has_id = parts[-1] != "docs"
        h = {k.lower(): str(v).lower() for k, v in headers.items()}
        if method == "GET":
            op = "read" if has_id else "readFeed"
        elif method == "PUT":
            op = "replace"
        elif method == "DELETE":
            op = "delete"
        elif h.get("x-ms-cosmos-is-batch-request") == "true":
            op = "batch"
        elif h.get("x-ms-documentdb-isquery") == "true" or "query" in h.get("content-type", ""):
            op = "query"
        elif h.get("x-ms-documentdb-is-upsert") == "true":
            op = "upsert"
        else:
            op = "create"
        return container, op

    async def send(self, request: Any, **kwargs: Any) -> Any:
        container, op = self.classify(request.method, request.url, request.headers)
        self.counts[(container, op)] += 1
        body = getattr(request, "body", None)
        if isinstance(body, (bytes, str)):
            self.sent[container] += len(body)
        return await super().send(request, **kwargs)

    def take(self) -> Counter[tuple[str, str]]:
        out, self.counts = self.counts, Counter()
        return out

    def take_sent(self) -> Counter[str]:
        out, self.sent = self.sent, Counter()
        return out


def cdr_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """`n` new peer-to-peer calls between 300 users, one CDR each (the pipeline
    benchmark's records)."""
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=1)
    return [_cdr(i, start, rng) for i in range(n)]


def demo_records(calls: int, seed: int = 7) -> list[dict[str, Any]]:
    """The demo organisation's mix for `calls` calls over the last week, as the demo
    sends it: call after call, each call's records shuffled (`devhost.demo`)."""
    from devhost.demo import contoso_users
    from devhost.qoe_generator import demo_users, generate_call

    rng = random.Random(seed)
    users = demo_users(12) + contoso_users(300, seed)
    now = datetime.now(timezone.utc)
    records: list[dict[str, Any]] = []
    for _ in range(calls):
        when = now - timedelta(seconds=rng.uniform(3600, 6 * 86400))
        records += generate_call(rng, "", users, when)  # a call's records in arrival order
    return records


async def stage(clients: Any, settings: Any, env: dict[str, Any]) -> tuple[str, bytes, str]:
    """Accept the batch through ingest (status document, blob); its blob name, gzip
    bytes and content hash."""
    from shared.auth.tokens import Principal
    from shared.ingest import BodyFormat, accept_batch
    from shared.storage.batches import read_batch

    body = gzip.compress(json.dumps(env).encode(), compresslevel=5)
    principal = Principal(
        tenant_id=env["tenantId"], object_id="bench", name="bench", levels=("ingest",)
    )
    await accept_batch(clients, settings, principal, body, BodyFormat("application/json", "gzip"))
    doc = await read_batch(clients, env["tenantId"], env["batchId"])
    assert doc is not None
    return f"incoming/{doc['blobName']}", body, str(doc["contentHash"])


def summarise(counts: Counter[tuple[str, str]], calls: int, seconds: float) -> dict[str, Any]:
    data = {k: v for k, v in counts.items() if k[0] != "(metadata)"}
    total = sum(data.values())
    per_container: dict[str, dict[str, Any]] = {}
    for (container, op), n in sorted(data.items()):
        entry = per_container.setdefault(container, {"total": 0, "perCall": 0.0, "ops": {}})
        entry["total"] += n
        entry["ops"][op] = n
    for entry in per_container.values():
        entry["perCall"] = round(entry["total"] / max(1, calls), 3)
    return {
        "calls": calls,
        "requests": total,
        "requestsPerCall": round(total / max(1, calls), 2),
        "seconds": round(seconds, 2),
        "perContainer": per_container,
        "metadataRequests": sum(v for k, v in counts.items() if k[0] == "(metadata)"),
    }


def meeting_records(legs: int) -> list[dict[str, Any]]:
    """One SfB meeting: a CDR leg per attendee (attendee to focus), all for the same
    conference URI, each leg its own dialog."""
    rng = random.Random(11)
    start = datetime.now(timezone.utc) - timedelta(days=1)
    focus = f"sip:org@contoso.com;gruu;opaque=app:conf:focus:id:{uuid.uuid4().hex[:8]}"
    records = [_cdr(i, start, rng) for i in range(legs)]
    for i, r in enumerate(records):
        r["data"].pop("user2DisplayName", None)
        r["data"] |= {
            "user1Uri": f"sip:attendee{i:04d}@contoso.com",
            "user1DisplayName": f"Attendee {i}",
            "user2Uri": focus,
            "isConference": True,
            "conferenceUri": focus,
            "user1UserAgent": "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)",
        }
    return records


async def run(calls: int, legs: int = 1_000) -> dict[str, Any]:
    from shared.processor import BatchProcessor
    from shared.settings import get_settings
    from shared.storage.clients import build_cosmos_transport, make_clients

    settings = get_settings()
    transport = build_cosmos_transport(settings, CountingTransport)
    clients = make_clients(settings, cosmos_transport=transport)
    processor = BatchProcessor(clients, settings)
    await clients.container(__import__("shared.storage.layout", fromlist=["x"]).CALLS).read()
    results: dict[str, Any] = {}

    async def measured(name: str, blob: str) -> dict[str, Any]:
        transport.take()
        t0 = time.perf_counter()
        out = await processor.process(blob)
        elapsed = time.perf_counter() - t0
        if out.get("status") not in ("completed", "completedWithErrors"):
            raise RuntimeError(f"scenario {name}: batch ended {out.get('status')}: {out}")
        stored_calls = int(out.get("calls") or 0)
        summary = summarise(transport.take(), stored_calls or calls, elapsed)
        summary |= {k: out.get(k) for k in ("received", "stored", "quarantined")}
        print(f"{name}: {summary['requestsPerCall']} requests per call", file=sys.stderr)
        return summary

    # A: new calls from CDRs only
    tenant_a = str(uuid.uuid4())
    blob_a, body_a, hash_a = await stage(clients, settings, _envelope(tenant_a, cdr_records(calls)))
    results["A_new_calls_cdr_only"] = await measured("A", blob_a)

    # C: batch A delivered again (its blob back under the same name, same content hash)
    from shared.storage.blobs import BatchBlobs

    await BatchBlobs(clients).put_incoming(blob_a.split("/", 1)[1], body_a, hash_a, tenant_a)
    results["C_completed_batch_again"] = await measured("C", blob_a)
    results["C_completed_batch_again"]["calls"] = calls  # the no-op stores none
    c = results["C_completed_batch_again"]
    c["requestsPerCall"] = round(c["requests"] / calls, 3)

    # B: the demo mix in one batch
    mix = demo_records(calls)
    tenant_b = str(uuid.uuid4())
    blob_b, _, _ = await stage(clients, settings, _envelope(tenant_b, mix))
    results["B_demo_mix"] = await measured("B", blob_b)

    # D: the same calls' CDRs first, then their QoE reports late
    tenant_d = str(uuid.uuid4())
    cdrs = [r for r in mix if r["kind"] == "cdr"]
    qoe = [r for r in mix if r["kind"] != "cdr"]
    blob_d1, _, _ = await stage(clients, settings, _envelope(tenant_d, cdrs))
    await processor.process(blob_d1)
    blob_d2, _, _ = await stage(clients, settings, _envelope(tenant_d, qoe))
    results["D_late_qoe"] = await measured("D", blob_d2)
    results["D_late_qoe"]["firstBatchCdrs"] = len(cdrs)

    # E: a large meeting in one batch, without the hold-over (baseline) then with it
    from shared import processor as processor_module

    held = processor_module.HOLD_FRAGMENTS
    for name, hold in (("E_meeting_without_hold_over", 10**9), ("E_meeting", held)):
        processor_module.HOLD_FRAGMENTS = hold
        try:
            env = _envelope(str(uuid.uuid4()), meeting_records(legs))
            blob_e, _, _ = await stage(clients, settings, env)
            transport.take_sent()
            results[name] = await measured(name, blob_e)
            results[name]["callsBytesSent"] = transport.take_sent()["calls"]
        finally:
            processor_module.HOLD_FRAGMENTS = held
    base, now = results["E_meeting_without_hold_over"], results["E_meeting"]
    results["E_ratio"] = {
        "requests": round(now["requests"] / max(1, base["requests"]), 3),
        "callsBytesSent": round(now["callsBytesSent"] / max(1, base["callsBytesSent"]), 3),
        "seconds": round(now["seconds"] / max(0.001, base["seconds"]), 3),
    }
    await clients.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=1_000)
    p.add_argument("--legs", type=int, default=1_000, help="legs of scenario E's meeting")
    args = p.parse_args(argv)
    from bench.stack import bench_stack

    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores"}
    with bench_stack():
        results |= asyncio.run(run(args.calls, args.legs))
    publish("writes.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
