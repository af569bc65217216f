"""Load benchmark: N concurrent senders post gzip batches to the local host
over loopback, as many on-prem servers would; measured: accepted throughput, latency
of the 202 (p50/p95/p99/max), errors (goal: zero), then, once the blob-triggered
processor has drained, that nothing was lost (every batch completed, every record
stored, one call per record).

`python -m bench.load.run [--senders 8] [--batches 10] [--records 50] [--max-seconds 60]`

Starts its own emulators, development issuer and local host (nothing else running is
touched) and prints the figures as JSON (also in bench/results/load.json).
`run_load` and `verify_drained` are what tests/reliability/test_load.py runs, smaller.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.publish import publish

ROOT = Path(__file__).resolve().parents[2]


def _cdr(sender: int, batch: int, n: int, run: str) -> dict[str, Any]:
    """One unique peer-to-peer CDR (its own call), sfb-cdr-json."""
    start = datetime(2026, 11, 20, 8, tzinfo=timezone.utc) + timedelta(
        seconds=sender * 3600 + batch * 60 + n
    )
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    caller, callee = f"sip:load{sender}.{n % 20}@contoso.com", f"sip:peer{n % 7}@contoso.com"
    return {
        "kind": "cdr",
        "format": "sfb-cdr-json",
        "data": {
            "sessionIdTime": iso(start),
            "sessionIdSeq": n % 1000,
            "callId": f"load-{run}-{sender}-{batch}-{n}@fe01.contoso.local",
            "fromTag": f"f{n}",
            "toTag": f"t{n}",
            "correlationId": None,
            "user1Uri": caller,
            "user2Uri": callee,
            "user1DisplayName": None,
            "inviteTime": iso(start),
            "responseTime": iso(start + timedelta(seconds=2)),
            "endTime": iso(start + timedelta(seconds=240)),
            "responseCode": 200,
            "diagnosticId": None,
            "mediaTypes": ["audio"],
            "isConference": False,
            "conferenceUri": None,
            "user1UserAgent": "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)",
            "user2UserAgent": "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)",
        },
    }


def make_batch(tenant: str, sender: int, batch: int, records: int, run: str) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "batchId": f"load-{run}-{sender}-{batch}",
        "tenantId": tenant,
        "source": {
            "type": "sfb-server",
            "fqdn": f"fe{sender:02d}.contoso.local",
            "pool": "pool01.contoso.local",
            "site": "Load",
            "version": "7.0",
        },
        "sentAt": "2026-11-21T10:00:00Z",
        "records": [_cdr(sender, batch, n, run) for n in range(records)],
    }


@dataclass
class LoadResult:
    senders: int
    records_per_batch: int
    sent: int = 0
    accepted: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def figures(self) -> dict[str, Any]:
        lat = sorted(self.latencies_s)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(len(lat) * q))] * 1000, 1) if lat else None

        return {
            "senders": self.senders,
            "recordsPerBatch": self.records_per_batch,
            "batchesSent": self.sent,
            "batchesAccepted": self.accepted,
            "recordsAccepted": self.accepted * self.records_per_batch,
            "wallS": round(self.wall_s, 2),
            "acceptedBatchesPerS": round(self.accepted / self.wall_s, 1) if self.wall_s else 0,
            "acceptedRecordsPerS": round(self.accepted * self.records_per_batch / self.wall_s)
            if self.wall_s
            else 0,
            "latencyMs": {
                "p50": pct(0.5),
                "p95": pct(0.95),
                "p99": pct(0.99),
                "max": round(lat[-1] * 1000, 1) if lat else None,
            },
            "errors": len(self.errors),
            "errorSamples": self.errors[:5],
        }


def _post(url: str, token: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def run_load(
    base_url: str,
    token: str,
    tenant: str,
    *,
    senders: int = 8,
    batches: int = 10,
    records: int = 50,
    max_seconds: float = 60.0,
    timeout: float = 30.0,
) -> LoadResult:
    """`senders` threads, each posting up to `batches` batches back to back (stopping
    at `max_seconds`); only loopback targets."""
    if urlsplit(base_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load benchmark only targets a loopback host")
    run = uuid.uuid4().hex[:8]
    result = LoadResult(senders, records)
    lock = threading.Lock()
    # built before the clock starts: the senders' own JSON work is not the server's
    bodies = {
        (s, b): gzip.compress(json.dumps(make_batch(tenant, s, b, records, run)).encode(), 5)
        for s in range(senders)
        for b in range(batches)
    }
    url = base_url.rstrip("/") + "/api/v1/batches"
    deadline = time.perf_counter() + max_seconds
    start = threading.Barrier(senders)

    def sender(s: int) -> None:
        start.wait()
        for b in range(batches):
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            try:
                status, body = _post(url, token, bodies[(s, b)], timeout)
            except Exception as exc:  # a refused or timed-out request is an error too
                status, body = -1, repr(exc).encode()
            elapsed = time.perf_counter() - t0
            with lock:
                result.sent += 1
                if status == 202:
                    result.accepted += 1
                    result.latencies_s.append(elapsed)
                    result.batch_ids.append(f"load-{run}-{s}-{b}")
                else:
                    result.errors.append(f"{status}: {body[:200]!r}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(sender, range(senders)))
    result.wall_s = time.perf_counter() - t0
    return result


def verify_drained(
    base_url: str,
    token: str,
    result: LoadResult,
    wait_idle: Callable[[float], None],
    timeout: float = 300.0,
) -> dict[str, Any]:
    """After the processor drained: every accepted batch completed with all its records
    stored as calls (one call per record here); returns what was found."""
    t0 = time.perf_counter()
    wait_idle(timeout)
    drain_s = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    stored = calls = 0
    lost: list[str] = []
    for batch_id in result.batch_ids:
        req = urllib.request.Request(
            f"{base_url.rstrip('/')}/api/v1/batches/{batch_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            doc = json.loads(resp.read())
        statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1
        stored += doc.get("stored") or 0
        calls += doc.get("calls") or 0
        if (
            doc["status"] != "completed"
            or doc.get("stored") != result.records_per_batch
            or doc.get("received") != result.records_per_batch
        ):
            lost.append(batch_id)
    expected = len(result.batch_ids) * result.records_per_batch
    return {
        "drainS": round(drain_s, 2),
        "statuses": statuses,
        "recordsStored": stored,
        "callsStored": calls,
        "recordsExpected": expected,
        "lostBatches": lost,
        "lostRecords": expected - stored,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--senders", type=int, default=8)
    p.add_argument("--batches", type=int, default=10, help="per sender")
    p.add_argument("--records", type=int, default=50, help="per batch")
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from bench.stack import bench_stack

    with bench_stack() as bench:
        tenant = bench.tenant
        host = bench.start_host()
        token = bench.authority.token(tenant, roles=["CallData.Ingest"])
        result = run_load(
            host.base_url,
            token,
            tenant,
            senders=args.senders,
            batches=args.batches,
            records=args.records,
            max_seconds=args.max_seconds,
        )
        figures = result.figures() | verify_drained(
            host.base_url, token, result, host.wait_idle, timeout=1800
        )
        figures["hostBlobConcurrency"] = host.blob_concurrency
    publish("load.json", figures)
    ok = figures["errors"] == 0 and figures["lostRecords"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
