"""Benchmark: QoE reports/second for parse + normalise + classify vs bare lxml parsing.

Not a timed test (timings on shared CI runners are noise): run it by hand,
`python -m bench.classify.run [--reports N] [--seed S]`. It generates N realistic QoE
reports (both endpoints of p2p, PSTN and conference sessions, a mix of audio, video,
VBSS and application sharing), then in the same process measures
  1. lxml parsing the same bytes and doing nothing else (the floor), and
  2. per report: parse_record + union + build_view (which classifies),
chunk by chunk (`--chunk` reports), the two interleaved, each chunk's best of
`--rounds` kept, and prints both rates, their ratio (goal >= 0.3) and peak memory.

Step 2 is exactly what the processor runs for each QoE report (`merged_document` calls
the same `union` and `build_view`): the one-pass walk and the models built without a
second validation (docs/reference/qoe-xml.md, "How the parser reads a report"). On a
shared machine the two rates swing together but not equally: compare two commits by
running them alternately, a few times each, in the same minutes.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone

from lxml import etree

from devhost.qoe_generator import demo_users, generate_call
from shared.merge import build_view, union
from shared.parsing import ParseContext, parse_record

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")


def reports(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    users = demo_users(40)
    when = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
    out: list[str] = []
    while len(out) < n:
        for rec in generate_call(rng, "t", users, when):
            if rec["kind"] == "qoe":
                out.append(rec["data"])
        when += timedelta(minutes=1)
    return out[:n]


def bench_lxml(blobs: list[bytes]) -> float:
    start = time.perf_counter()
    for b in blobs:
        etree.fromstring(b)
    return time.perf_counter() - start


def bench_pipeline(texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        frags = parse_record("qoe", "ms-qoe-xml", t, CTX)
        build_view(union({}, frags))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=250, help="reports per interleaved timing")
    args = ap.parse_args()

    texts = reports(args.reports, args.seed)
    blobs = [t.encode("utf-8") for t in texts]
    sizes = [len(b) for b in blobs]
    labels = sum(t.count("<MediaLine ") for t in texts)
    print(
        f"{len(texts)} reports, {sum(sizes) / 1e6:.1f} MB, size median "
        f"{statistics.median(sizes) / 1024:.1f} KB (min {min(sizes) / 1024:.1f}, "
        f"max {max(sizes) / 1024:.1f}), {labels / len(texts):.2f} media lines/report"
    )
    bench_pipeline(texts[:200])  # warm up (imports, caches)
    bench_lxml(blobs[:200])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Interleaved chunk by chunk, the best of the rounds kept per chunk: a burst of load
    # from another process then slows both sides of the chunk it hits, or is outvoted by
    # the other rounds, instead of skewing one whole side of the ratio.
    step = max(1, args.chunk)
    spans = [slice(i, i + step) for i in range(0, len(texts), step)]
    lx = [float("inf")] * len(spans)
    pipe = [float("inf")] * len(spans)
    gc.collect()
    for _ in range(args.rounds):
        for k, span in enumerate(spans):
            lx[k] = min(lx[k], bench_lxml(blobs[span]))
            pipe[k] = min(pipe[k], bench_pipeline(texts[span]))
    lxml_rate = len(blobs) / sum(lx)
    pipe_rate = len(texts) / sum(pipe)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    bench_pipeline(texts[:1000])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"lxml parse only         : {lxml_rate:10,.0f} reports/s")
    print(f"parse+normalise+classify: {pipe_rate:10,.0f} reports/s")
    print(f"ratio                   : {pipe_rate / lxml_rate:10.3f} (goal >= 0.3)")
    print(
        f"peak RSS                : {rss_after / 1024:10.1f} MB "
        f"(before timing {rss_before / 1024:.1f} MB; ru_maxrss, whole process)"
    )
    print(f"tracemalloc peak        : {peak / 1024:10.1f} KB over 1,000 reports of the pipeline")
    print(f"python {sys.version.split()[0]}, lxml {etree.__version__}")


if __name__ == "__main__":
    main()
