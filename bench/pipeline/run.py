"""Pipeline benchmark: HTTP -> Blob -> trigger -> Cosmos DB against raw writes.

`python -m bench.pipeline.run [--records 10000] [--batch 1000] [--rss-mb 50]
[--only all|pipeline|rss|import] [--rss-without aggregates|history]`

In one run, on a fresh local stack (Azurite + Cosmos DB emulator + local host):
1. pipeline: N unique CDR records posted as gzip batches over HTTP (4 senders), until
   every batch is `completed`; per batch, the time from its 202 to completion
   (freshness: a call is answerable by call detail once its batch completed);
2. baseline: every document the pipeline wrote for the tenant (calls, history entries,
   directory, aggregates and their commit items, batch status) upserted again into a second
   database of the same emulator with the same concurrency: the raw cost of the
   resulting writes. Reported as the ratio pipeline / raw (goal <= 1.5);
3. peak RSS of the processor on a ~50 MB (decompressed) batch of QoE reports, in a
   child process: the growth over its own baseline against the compressed blob size
   (goal < 2x, i.e. streaming, not whole-file); next to the same on a batch 1/25 the
   size, so the fixed cost of a processor (connection pool, TLS, caches) is told apart
   from what grows with the batch;
4. `python -X importtime -c "import function_app"` total (cold start; goal < 0.6 s), and
   the same after `import azure.functions` (the worker has it loaded: the app's share;
   goal <= 0.2 s), without and with the app's bytecode cached (`--only import` runs
   this alone, no stack).
Results are printed and written to bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.publish import publish

ROOT = Path(__file__).resolve().parents[2]


def _cdr(i: int, start: datetime, rng: random.Random) -> dict[str, Any]:
    t = start + timedelta(seconds=i * 7)
    iso = t.isoformat().replace("+00:00", "Z")
    a, b = rng.sample(range(300), 2)
    return {
        "kind": "cdr",
        "format": "sfb-cdr-json",
        "data": {
            "sessionIdTime": iso,
            "sessionIdSeq": i % 1000,
            "callId": f"{uuid.uuid4()}@fe01",
            "fromTag": f"f{i}",
            "toTag": f"t{i}",
            "user1Uri": f"sip:user{a}@contoso.com",
            "user2Uri": f"sip:user{b}@contoso.com",
            "user1DisplayName": f"User {a}",
            "user2DisplayName": f"User {b}",
            "inviteTime": iso,
            "responseTime": iso,
            "endTime": (t + timedelta(seconds=rng.randint(30, 1800)))
            .isoformat()
            .replace("+00:00", "Z"),
            "responseCode": 200,
            "mediaTypes": ["audio"],
            "isConference": False,
        },
    }


def _envelope(tenant: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "batchId": str(uuid.uuid4()),
        "tenantId": tenant,
        "source": {"type": "sfb-server", "fqdn": "fe01.contoso.local"},
        "sentAt": datetime.now(timezone.utc).isoformat(),
        "records": records,
    }


def _http(url: str, token: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers |= {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    req = urllib.request.Request(
        url, data=body, headers=headers, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def run_pipeline(
    base: str, token: str, tenant: str, n: int, batch: int, server_pid: int | None = None
) -> dict[str, Any]:
    """`server_pid`: the Cosmos DB server's process, whose CPU time is reported beside
    this process's (the host, its processor and the senders): on a machine shared with
    other work, CPU per record moves much less than wall time, and the two tell which
    side bounds the rate."""
    from bench.cosmos.run import cpu_seconds

    rng = random.Random(1)
    start = datetime.now(timezone.utc) - timedelta(days=1)
    records = [_cdr(i, start, rng) for i in range(n)]
    bodies = [
        gzip.compress(json.dumps(_envelope(tenant, records[i : i + batch])).encode())
        for i in range(0, n, batch)
    ]
    accepted: dict[str, float] = {}
    latencies: list[float] = []

    def post(body: bytes) -> None:
        t0 = time.perf_counter()
        status, reply = _http(f"{base}/api/v1/batches", token, body)
        if status != 202:
            raise RuntimeError(f"batch rejected: {status} {reply}")
        latencies.append(time.perf_counter() - t0)
        accepted[reply["batchId"]] = time.perf_counter()

    t_start = time.perf_counter()
    cpu0 = time.process_time()
    server0 = cpu_seconds(server_pid) if server_pid else 0.0
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, bodies))
    done: dict[str, float] = {}
    counts = {"received": 0, "stored": 0, "quarantined": 0}
    while len(done) < len(accepted):
        for bid in accepted:
            if bid in done:
                continue
            _, status = _http(f"{base}/api/v1/batches/{bid}", token)
            if status.get("status") in ("completed", "completedWithErrors", "failed"):
                done[bid] = time.perf_counter()
                for k in counts:
                    counts[k] += int(status.get(k) or 0)
        time.sleep(0.05)
    elapsed = max(done.values()) - t_start
    cpu = time.process_time() - cpu0
    server = cpu_seconds(server_pid) - server0 if server_pid else None
    fresh = sorted(done[b] - accepted[b] for b in accepted)
    return {
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "pythonCpuMsPerRecord": round(1000 * cpu / n, 2),
        **({"serverCpuMsPerRecord": round(1000 * server / n, 2)} if server is not None else {}),
        "records": n,
        "batches": len(bodies),
        "seconds": round(elapsed, 2),
        "recordsPerSecond": round(n / elapsed, 1),
        **counts,
        "accept_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "freshness_p95_s": round(fresh[max(0, int(len(fresh) * 0.95) - 1)], 2),
        "freshness_max_s": round(fresh[-1], 2),
    }


async def _resulting_documents(tenant: str) -> list[tuple[str, dict[str, Any]]]:
    """Everything the pipeline wrote for `tenant` (cross-partition reads: bench only)."""
    from shared.storage import layout
    from shared.storage.clients import get_clients

    clients = get_clients()
    docs: list[tuple[str, dict[str, Any]]] = []
    for spec in (
        layout.CALLS,
        layout.USER_CALLS,
        layout.TENANTS,
        layout.AGGREGATES,
        layout.BATCHES,
    ):
        container = clients.container(spec)
        async for item in container.query_items(
            "SELECT * FROM c WHERE c.tenantId = @t", parameters=[{"name": "@t", "value": tenant}]
        ):
            docs.append((spec.name, {k: v for k, v in item.items() if not k.startswith("_")}))
    return docs


async def run_raw(docs: list[tuple[str, dict[str, Any]]], concurrency: int) -> float:
    """Upsert the same documents into a second database of the same emulator."""
    from azure.cosmos import PartitionKey

    from shared.settings import get_settings
    from shared.storage import layout
    from shared.storage.clients import make_clients

    clients = make_clients(get_settings())
    db = await clients.cosmos.create_database_if_not_exists("rawbench")
    containers = {}
    for spec in layout.COSMOS_CONTAINERS:
        containers[spec.name] = await db.create_container_if_not_exists(
            id=spec.name,
            partition_key=PartitionKey(path=spec.partition_key),
            indexing_policy=spec.indexing_policy,
        )
    sem = asyncio.Semaphore(concurrency)

    async def up(name: str, doc: dict[str, Any]) -> None:
        async with sem:
            await containers[name].upsert_item(doc)

    t0 = time.perf_counter()
    await asyncio.gather(*(up(n, d) for n, d in docs))
    elapsed = time.perf_counter() - t0
    await clients.close()
    return elapsed


RSS_CHILD = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
from shared.processor import BatchProcessor
from shared.settings import get_settings
from shared.storage.clients import get_clients

def hwm_kb():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

async def main():
    s = get_settings(); c = get_clients(s)
    await c.container(__import__("shared.storage.layout", fromlist=["x"]).BATCHES).read()
    import lxml.etree, ijson, shared.parsing.qoe_xml, shared.storage.aggregates  # warm imports
    base = hwm_kb()
    t0 = time.perf_counter()
    out = await BatchProcessor(c, s).process(sys.argv[2])
    peak = hwm_kb()
    print(json.dumps({"baseKB": base, "peakKB": peak, "seconds": time.perf_counter() - t0,
                      "status": out.get("status"), "stored": out.get("stored")}))
asyncio.run(main())
"""


async def _stage_big_batch(tenant: str, target_mb: float, seed: int = 3) -> tuple[str, int, int]:
    """A QoE batch of about `target_mb` decompressed, accepted through ingest (no host)."""
    from devhost.qoe_generator import demo_users, generate_call
    from shared.auth.tokens import Principal
    from shared.ingest import BodyFormat, accept_batch
    from shared.settings import get_settings
    from shared.storage import layout
    from shared.storage.clients import get_clients

    rng = random.Random(seed)
    users = demo_users(200)
    records: list[dict[str, Any]] = []
    size = 0
    when = datetime.now(timezone.utc) - timedelta(days=2)
    while size < target_mb * 1_000_000 and len(records) < 9_990:
        for rec in generate_call(rng, tenant, users, when):
            records.append(rec)
            size += len(rec["data"]) if isinstance(rec["data"], str) else 400
        when += timedelta(seconds=20)
    env = _envelope(tenant, records[:10_000])
    raw = json.dumps(env).encode()
    body = gzip.compress(raw, compresslevel=6)
    settings = get_settings()
    principal = Principal(tenant_id=tenant, object_id="bench", name="bench", levels=("ingest",))
    await accept_batch(
        get_clients(settings),
        settings,
        principal,
        body,
        BodyFormat("application/json", "gzip"),
    )
    container = get_clients().blobs(layout.INCOMING)
    names = [b.name async for b in container.list_blobs(name_starts_with=tenant)]
    [name] = [n for n in names if env["batchId"] in n]
    return f"incoming/{name}", len(raw), len(body)


# Diagnostics for `--rss-without`: a step of the processor replaced by a no-op in the
# measured child only, so what a step adds to the peak can be told apart (the batch's
# counts then no longer reconcile: never for anything but this measurement).
RSS_WITHOUT = {
    "aggregates": "import shared.storage.call_ledger as _l\n"
    "async def _none(self): return 0\n"
    "_l.CommitGroup.finish = _none\n",
    "history": "import shared.processor as _p\n"
    "async def _skip(self, *a, **k): return None\n"
    "_p.BatchProcessor._follow_up = _skip\n",
}


def _measure_rss(
    tenant: str, target_mb: float, seed: int, without: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Peak RSS growth of a fresh processor process over one staged batch; `without`:
    steps switched off in that process (`RSS_WITHOUT`)."""
    blob, raw_len, gz_len = asyncio.run(_stage_big_batch(tenant, target_mb, seed))
    marker = "from shared.processor import BatchProcessor\n"
    code = RSS_CHILD.replace(marker, marker + "".join(RSS_WITHOUT[w] for w in without))
    child = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), blob],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if child.returncode != 0:
        raise RuntimeError(child.stderr[-3000:])
    rss = json.loads(child.stdout.strip().splitlines()[-1])
    growth = (rss["peakKB"] - rss["baseKB"]) * 1024
    return {
        "decompressedMB": round(raw_len / 1e6, 1),
        "compressedMB": round(gz_len / 1e6, 2),
        "processBaselineMB": round(rss["baseKB"] / 1024, 1),
        "peakMB": round(rss["peakKB"] / 1024, 1),
        "growthMB": round(growth / 1e6, 1),
        "growth_over_compressed": round(growth / gz_len, 2),
        "seconds": round(rss["seconds"], 1),
        "status": rss["status"],
        "stored": rss["stored"],
    }


def import_time(preload: str = "", bytecode_cache: bool = False) -> float:
    """Median of 5 cold imports of function_app (a fresh interpreter each). `preload`
    imports first what the Functions worker has loaded before it imports the app
    (`azure.functions`), so that figure is the app's own share of a cold start.
    `bytecode_cache`: with the modules' compiled bytecode already on disk (a private
    cache, warmed by one import first), as an app whose package was compiled at build
    time; without it (this machine sets PYTHONDONTWRITEBYTECODE) every module of the app
    is compiled from source on each import."""
    import tempfile

    code = f"{preload}; import function_app" if preload else "import function_app"
    env = os.environ.copy()
    cache = tempfile.TemporaryDirectory(prefix="cdc-pyc-") if bytecode_cache else None
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache.name
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    runs = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stderr
        m = re.search(r"\|\s+(\d+) \|\s+function_app\s*$", out, re.M)
        runs.append(int(m.group(1)) / 1e6 if m else float("nan"))
    if cache is not None:
        cache.cleanup()
    return statistics.median(runs)


def import_times() -> dict[str, float]:
    return {
        "importtime_s": round(import_time(), 3),
        "importtime_after_azure_functions_s": round(import_time("import azure.functions"), 3),
        "importtime_after_azure_functions_bytecode_cached_s": round(
            import_time("import azure.functions", bytecode_cache=True), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1_000)
    p.add_argument("--rss-mb", type=int, default=50)
    p.add_argument("--only", choices=["all", "pipeline", "rss", "import"], default="all")
    p.add_argument(
        "--rss-without",
        action="append",
        choices=sorted(RSS_WITHOUT),
        default=[],
        help="diagnostic: switch a processor step off in the RSS runs (repeatable)",
    )
    args = p.parse_args(argv)
    if args.only == "import":  # no stack needed
        return _finish({"python": sys.version.split()[0], **import_times()}, "import.json")

    from bench.stack import bench_stack
    from shared.settings import get_settings

    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores",
        "python": sys.version.split()[0],
    }
    with bench_stack() as bench:
        host = bench.start_host()
        tenant = bench.tenant
        token = bench.authority.token(tenant, roles=["CallData.Ingest"])
        if args.only in ("all", "pipeline"):
            pid = bench.stack.pids["cosmos"]
            results["pipeline"] = run_pipeline(
                host.base_url, token, tenant, args.records, args.batch, pid
            )
            results["freshness_single_batch"] = run_pipeline(
                host.base_url, token, tenant, args.batch, args.batch, pid
            )
        host.stop()

        async def raw() -> tuple[int, float]:
            docs = [d for d in await _resulting_documents(tenant)]
            return len(docs), await run_raw(docs, get_settings().cosmos_concurrency)

        if args.only in ("all", "pipeline"):
            ndocs, raw_s = asyncio.run(raw())
            results["raw"] = {"documents": ndocs, "seconds": round(raw_s, 2)}
            total = results["pipeline"]["seconds"] + results["freshness_single_batch"]["seconds"]
            results["ratio_pipeline_over_raw"] = round(total / raw_s, 2)
        if args.only == "pipeline":
            return _finish(results)

        rss_tenant = bench.tenants[1]
        # The same processor on a batch 1/25 the size (other calls: another seed) first:
        # what it grows by is the fixed cost (connection pool, TLS buffers, warm caches);
        # the big batch's growth beyond that is what the batch size costs.
        off = tuple(args.rss_without)
        results["rss_small_batch"] = _measure_rss(rss_tenant, args.rss_mb / 25, 11, off)
        results["rss"] = _measure_rss(rss_tenant, args.rss_mb, 3, off)
        if off:
            results["rss"]["without"] = list(off)
        results["rss"]["growthBeyondSmallBatchMB"] = round(
            results["rss"]["growthMB"] - results["rss_small_batch"]["growthMB"], 1
        )
        results.update(import_times())
        results["bench_peak_rss_MB"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
    return _finish(results)


def _finish(results: dict[str, Any], name: str = "pipeline.json") -> int:
    publish(name, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
