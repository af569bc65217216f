"""Benchmark: a 30-day quality summary grouped by building, pre-aggregated vs brute force.

    .venv/bin/python bench/report/run.py [--streams 1000000] [--days 30] [--subnets 400]
        [--no-dimensions | --single-document] [--stream-docs 20000]

Needs the local emulators (COSMOS_ENDPOINT / COSMOS_KEY / CDC_STORAGE set, containers
provisioned). How it works, so the numbers can be judged:
1. Generates N stream rows in memory (compact parallel arrays): day, subnet (of S
   subnets in S/5 buildings), media, connection, inside, VPN, rating, poor-due-to.
2. Builds the aggregate documents those streams produce (the layout the processor
   writes, shared.aggregates.layout: a day document per day x subnet, cells by
   media|connection|inside|vpn, and unless --no-dimensions the client, network and hour
   facet documents of the same day and subnet, with realistic spreads of the CQD
   dimensions; --single-document crosses every dimension in the day document instead,
   the layout before the facets) and writes them to the Cosmos emulator under a fresh
   tenant, plus a building file. Prints documents per day, cells and bytes per document
   for each document kind.
3. Times `quality_summary(groupBy=building)` over the 30 days (the production code path:
   one query per month partition, building resolution at report time): documents read
   and latency (median of 5); then one report per facet (client versions, transport,
   Wi-Fi band, hour), median of 3, each reading one kind of document.
4. Brute force over the same data: (a) an in-memory recount of the N stream rows with a
   building lookup per stream (a lower bound: no I/O at all), and (b) reading stream
   documents from the emulator, measured on a sample (--stream-docs) and extrapolated
   linearly to N. Reports the ratios, and checks the two reports agree exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from array import array
from collections import defaultdict
from typing import Any

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from shared.aggregates.layout import (
    DAY,
    FACETS,
    doc_key,
    facet_cell,
    new_document,
    partition_key,
)
from shared.auth.tokens import Principal
from shared.buildings import BuildingIndex, parse_building_file
from shared.reports.service import Period, _group, _Resolver, quality_summary, read_aggregates
from shared.storage import layout
from shared.storage.buildings import save_building_file
from shared.storage.clients import close_clients, get_clients
from shared.storage.retry import with_retries

MEDIA = ("audio", "video", "appsharing")
CONN = ("wired", "wifi")
RATINGS = ("good", "poor", "unclassified")
DUE = ("jitter", "packet_loss", "round_trip", "degradation_avg", "concealed_ratio_avg")
PRODUCTS = ("teams", "sfbOnline", "sfbServer")
CLIENT_TYPES = ("desktop", "mobile", "web", "ipPhone")
# a few live versions per product, the newest most common
VERSIONS = {
    "teams": ("1.7.00.1234", "1.6.00.4472", "24215.1007.3082.1590"),
    "sfbOnline": ("16.0.4849.1000", "16.0.5095.1000"),
    "sfbServer": ("16.0.4849.1000", "16.0.5095.1000", "15.0.5023.1000"),
}
BANDS = ("2.4GHz", "5GHz")
# UTC hours of the working day, weighted to mid-morning and mid-afternoon
HOURS = (7, 8, 8, 9, 9, 9, 10, 10, 10, 11, 11, 12, 13, 13, 14, 14, 14, 15, 15, 16, 17)


def subnet_name(i: int) -> str:
    return f"10.{i // 250}.{i % 250}.0"


def generate(n: int, days: int, subnets: int, seed: int = 1) -> dict[str, array]:
    rng = random.Random(seed)
    names = ("day", "media", "conn", "inside", "vpn", "rating", "due")
    names += ("prod", "ct", "cv", "tr", "rl", "wb", "hour")
    cols = {k: array("B") for k in names}
    cols["subnet"] = array("H")
    for _ in range(n):
        cols["day"].append(rng.randrange(days))
        cols["subnet"].append(int(rng.paretovariate(1.2) * 7) % subnets)  # skewed sizes
        cols["media"].append(0 if rng.random() < 0.75 else rng.randrange(1, 3))
        cols["conn"].append(rng.random() < 0.3)
        cols["inside"].append(rng.random() < 0.8)
        cols["vpn"].append(rng.random() < 0.05)
        r = rng.random()
        rating = 1 if r < 0.06 else (2 if r < 0.16 else 0)
        cols["rating"].append(rating)
        cols["due"].append(rng.randrange(len(DUE)) if rating == 1 else 255)
        r = rng.random()
        prod = 0 if r < 0.7 else (1 if r < 0.8 else 2)
        cols["prod"].append(prod)
        cols["ct"].append(0 if rng.random() < 0.8 else rng.randrange(1, len(CLIENT_TYPES)))
        n_versions = len(VERSIONS[PRODUCTS[prod]])
        cols["cv"].append(min(int(rng.expovariate(1.5)), n_versions - 1))
        tcp = rng.random() < 0.08
        cols["tr"].append(tcp)
        cols["rl"].append(tcp or rng.random() < 0.2)
        cols["wb"].append(rng.random() < 0.35)  # 5 GHz on Wi-Fi
        cols["hour"].append(rng.choice(HOURS))
    return cols


def dimension_values(cols: dict[str, array], i: int) -> dict[str, str]:
    """Stream i's cell parts by name, as shared.aggregates.dimensions gives them."""
    prod = PRODUCTS[cols["prod"][i]]
    conn = CONN[cols["conn"][i]]
    return {
        "m": MEDIA[cols["media"][i]],
        "c": conn,
        "v": str(cols["vpn"][i]),
        "p": prod,
        "ct": CLIENT_TYPES[cols["ct"][i]],
        "cv": VERSIONS[prod][cols["cv"][i]],
        "tr": "tcp" if cols["tr"][i] else "udp",
        "rl": str(cols["rl"][i]),
        "wb": BANDS[cols["wb"][i]] if conn == "wifi" else "na",
        "h": f"{cols['hour'][i]:02d}",
    }


def full_cell(cols: dict[str, array], i: int) -> str:
    """Every dimension in one cell key of the day document: the layout this benchmark
    measured before the facets (--single-document)."""
    v = dimension_values(cols, i)
    return "|".join(f"{k}={v[k]}" for k in ("p", "ct", "cv", "tr", "rl", "wb", "h"))


def day_name(d: int) -> str:
    return f"2030-06-{d + 1:02d}" if d < 30 else f"2030-07-{d - 29:02d}"


def aggregate_docs(
    tenant: str, cols: dict[str, array], dimensions: bool = True, facets: bool = True
) -> list[dict[str, Any]]:
    """The documents the processor would write for these streams: the day document
    per day and subnet (cells media|connection|inside|vpn), plus, with `dimensions`,
    the facet documents of shared.aggregates.layout (or, without `facets`, every
    dimension crossed in the day document's cell key, the layout before the facets)."""
    docs: dict[str, dict[str, Any]] = {}
    wanted = FACETS if dimensions and facets else (DAY,)
    for i in range(len(cols["day"])):
        day, subnet = day_name(cols["day"][i]), subnet_name(cols["subnet"][i])
        values = dimension_values(cols, i) if dimensions else {}
        base = (
            f"{MEDIA[cols['media'][i]]}|{CONN[cols['conn'][i]]}|"
            f"{'in' if cols['inside'][i] else 'out'}|{cols['vpn'][i]}"
        )
        for facet in wanted:
            key = doc_key(day, subnet, 24, facet.name)
            doc = docs.get(key)
            if doc is None:
                doc = docs[key] = new_document(
                    tenant, key, f"agg|{key}", partition_key(tenant, key)
                )
            if facet is not DAY:
                cell = facet_cell(facet, values)
            elif dimensions and not facets:
                cell = f"{base}|{full_cell(cols, i)}"
            else:
                cell = base
            c = doc["cells"].setdefault(cell, {})
            c["streams"] = c.get("streams", 0) + 1
            rating = RATINGS[cols["rating"][i]]
            c[rating] = c.get(rating, 0) + 1
            if cols["due"][i] != 255:
                k = f"poorDueTo.{DUE[cols['due'][i]]}"
                c[k] = c.get(k, 0) + 1
    return list(docs.values())


def brute_force_memory(cols: dict[str, array], index: BuildingIndex) -> dict[Any, list[int]]:
    """Recount per building straight from the stream rows (the no-aggregates approach)."""
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    names = [subnet_name(i) for i in range(max(cols["subnet"]) + 1)]
    for i in range(len(cols["day"])):
        row = index.lookup(names[cols["subnet"][i]])
        acc = out[row.building_name if row else None]
        acc[0] += 1
        acc[1 + cols["rating"][i]] += 1
    return out


async def write_all(container: Any, docs: list[dict[str, Any]], concurrency: int = 32) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(d: dict[str, Any]) -> None:
        async with sem:
            await with_retries(lambda: container.upsert_item(d), what="bench write")

    await asyncio.gather(*(one(d) for d in docs))


def python_side(docs: list[dict[str, Any]]) -> None:
    """What a building report costs in Python alone, without the emulator: decoding the
    day documents' JSON (as the SDK does) and folding them into building rows."""
    day_docs = [
        {k: d[k] for k in ("day", "subnet", "prefix", "cells")} for d in docs if d["kind"] == "agg"
    ]
    payload = json.dumps({"Documents": day_docs})
    t = time.perf_counter()
    got = json.loads(payload)["Documents"]
    decode_s = time.perf_counter() - t
    resolver = _Resolver(None, False, None, DAY)
    t = time.perf_counter()
    _group(got, resolver, ["building"], {"mediaType": "audio"})
    fold_s = time.perf_counter() - t
    print(
        f"Python side of a report over the {len(got):,} day documents"
        f" ({len(payload) / 1e6:.1f} MB): JSON decode {decode_s:.2f}s, fold {fold_s:.2f}s"
    )


# One report per facet document kind (shared.aggregates.layout), beside the building one.
DIMENSION_REPORTS = (
    ("product,clientType,clientVersion", {"mediaType": "audio"}),
    ("networkName,transport,relay", {"mediaType": "audio"}),
    ("wifiBand,building", {"mediaType": "audio", "connectionType": "wifi"}),
    ("region,building,hour", {}),
)


async def time_dimension_reports(
    clients: Any, who: Principal, params: dict[str, str], by_building: dict[str, Any]
) -> None:
    """The out-of-the-box dimension reports' shapes over the same period: documents
    read and median of 3; the stream totals must equal the building report's."""
    everything = sum(r["streams"] for r in by_building["rows"])
    for group_by, filters in DIMENSION_REPORTS:
        times, report = [], {}
        for _ in range(3):
            t = time.perf_counter()
            report = await quality_summary(clients, who, {**params, "groupBy": group_by, **filters})
            times.append(time.perf_counter() - t)
        total = sum(r["streams"] for r in report["rows"])
        if not filters:
            assert total == everything, (group_by, total, everything)
        print(
            f"groupBy={group_by} {filters or ''}: {report['documentsRead']:,} documents read,"
            f" {len(report['rows'])} rows, {total:,} streams, median"
            f" {statistics.median(times) * 1000:.0f} ms"
        )


async def main(args: argparse.Namespace) -> None:
    tenant = str(uuid.uuid4())
    clients = get_clients()
    t = time.perf_counter()
    cols = generate(args.streams, args.days, args.subnets)
    print(f"generated {args.streams:,} stream rows in {time.perf_counter() - t:.1f}s")
    docs = aggregate_docs(tenant, cols, args.dimensions, args.facets)
    layout_name = (
        "without the CQD dimensions"
        if not args.dimensions
        else ("facet documents" if args.facets else "every dimension in the day document")
    )
    print(f"{layout_name}: {len(docs):,} documents in all")
    for kind in sorted({d["kind"] for d in docs}):
        of_kind = [d for d in docs if d["kind"] == kind]
        cells = [len(d["cells"]) for d in of_kind]
        sizes = [len(json.dumps(d)) for d in of_kind]
        per_day: dict[str, int] = defaultdict(int)
        for d in of_kind:
            per_day[d["day"]] += 1
        print(
            f"  {kind}: {len(of_kind):,} documents ({max(per_day.values())} per day at most:"
            f" one per subnet seen); cells per document mean {statistics.mean(cells):.0f},"
            f" max {max(cells)}; bytes per document mean {statistics.mean(sizes):,.0f},"
            f" max {max(sizes):,}; {sum(sizes) / 1e6:.1f} MB"
        )
    python_side(docs)
    # Five consecutive /24s per building; the last 10% of subnets stay uncovered.
    lines = [
        f"{subnet_name(s)},Net{s // 5},24,Building-{s // 5},,,,City{s // 35},,US,,"
        f"Region{s // 100},1,0,0"
        for s in range(args.subnets - args.subnets // 10)
    ]
    rows = parse_building_file("\n".join(lines))
    await save_building_file(clients, tenant, rows, "bench")
    index = BuildingIndex(rows)
    t = time.perf_counter()
    await write_all(clients.container(layout.AGGREGATES), docs)
    print(
        f"wrote {len(docs):,} aggregate documents in {time.perf_counter() - t:.1f}s "
        f"({args.days} days x up to {args.subnets} subnets; 10% of subnets uncovered)"
    )

    who = Principal(tenant_id=tenant, object_id="bench", name="bench", levels=("reader",))
    params = {"from": day_name(0), "to": day_name(args.days - 1), "groupBy": "building"}
    times, report = [], {}
    for _ in range(5):
        t = time.perf_counter()
        report = await quality_summary(clients, who, params)
        times.append(time.perf_counter() - t)
    agg_s = statistics.median(times)
    reads = []
    for _ in range(3):
        t = time.perf_counter()
        await read_aggregates(clients, tenant, Period.parse(params))
        reads.append(time.perf_counter() - t)
    read_ms = statistics.median(reads) * 1000
    print(f"of which reading the documents from Cosmos: median {read_ms:.0f} ms")
    print(
        f"\npre-aggregated: {report['documentsRead']:,} documents read, "
        f"{len(report['rows'])} building rows, median {agg_s * 1000:.0f} ms "
        f"(runs: {', '.join(f'{x * 1000:.0f}' for x in times)} ms)"
    )

    if args.dimensions:
        await time_dimension_reports(clients, who, params, report)

    t = time.perf_counter()
    brute = brute_force_memory(cols, index)
    mem_s = time.perf_counter() - t
    for r in report["rows"]:
        want = brute[r["building"]]
        assert [r["streams"], r["good"], r["poor"], r["unclassified"]] == want, r
    assert len(report["rows"]) == len(brute)
    print(
        f"brute force in memory: {args.streams:,} rows in {mem_s * 1000:.0f} ms "
        f"(x{mem_s / agg_s:.1f} the report; same numbers: checked)"
    )

    sample = min(args.stream_docs, args.streams)
    if not sample:
        await close_clients()
        return
    stream_docs = [
        {
            "id": f"s{i}",
            "pk": f"{tenant}|streams",
            "tenantId": tenant,
            "kind": "benchStream",
            "day": day_name(cols["day"][i]),
            "subnet": subnet_name(cols["subnet"][i]),
            "media": cols["media"][i],
            "conn": cols["conn"][i],
            "inside": cols["inside"][i],
            "vpn": cols["vpn"][i],
            "rating": cols["rating"][i],
        }
        for i in range(sample)
    ]
    container = clients.container(layout.AGGREGATES)
    await write_all(container, stream_docs)
    t = time.perf_counter()
    got = [
        d
        async for d in container.query_items(
            "SELECT c.day, c.subnet, c.rating FROM c WHERE c.pk = @pk AND c.kind = 'benchStream'",
            parameters=[{"name": "@pk", "value": f"{tenant}|streams"}],
            partition_key=f"{tenant}|streams",
        )
    ]
    read_s = time.perf_counter() - t
    per_doc = read_s / max(1, len(got))
    projected = per_doc * args.streams
    print(
        f"brute force from Cosmos: {len(got):,} stream documents read in {read_s:.2f}s "
        f"-> {projected:.0f}s projected for {args.streams:,} "
        f"(x{projected / agg_s:,.0f} the report; x{args.streams / report['documentsRead']:,.0f}"
        f" the documents)"
    )
    await close_clients()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--subnets", type=int, default=400)
    parser.add_argument("--stream-docs", type=int, default=20_000)
    parser.add_argument(
        "--no-dimensions",
        dest="dimensions",
        action="store_false",
        help="cells without the CQD dimension parts (the document shape before them)",
    )
    parser.add_argument(
        "--single-document",
        dest="facets",
        action="store_false",
        help="every dimension crossed in the day document's cells (the layout before facets)",
    )
    args = parser.parse_args()
    if os.environ.get("COSMOS_ENDPOINT"):
        asyncio.run(main(args))
    else:  # no emulators given: start the benchmarks' own stack for this run
        from bench.stack import bench_stack

        with bench_stack():
            asyncio.run(main(args))
