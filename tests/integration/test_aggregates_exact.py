"""Exactness of the aggregate delta protocol against the real Cosmos DB emulator:
duplicates, re-ordering, crashes between the call write and the delta, concurrent and
stale writers. Each test uses its own tenant, so the counts are its own."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.merge import merged_document
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.aggregates import apply_call_delta, month_pk
from shared.storage.calls import merge_call
from shared.storage.clients import get_clients
from tests.aggregates_testlib import SimulatedCrash, apply_with_crash, crash_points
from tests.oracle.aggregates import Figures, expected_aggregates, project_stored

pytestmark = pytest.mark.stack
MONTHS = ("2026-11", "2026-12")

# ----------------------------------------------------------- exactness of the protocol


def _generated_calls(seed: int, n: int, tenant: str) -> list[tuple[str, list[Any]]]:
    """(call key, fragments) of generated calls (QoE + CDR records), in arrival order."""
    import devhost.qoe_generator as gen
    from shared.parsing import ParseContext, parse_record

    rng = random.Random(seed)
    users = gen.demo_users(12)
    ctx = ParseContext(tenant_id=tenant, max_qoe_bytes=10_000_000)
    out = []
    base = datetime(2026, 11, 30, 22, tzinfo=timezone.utc)  # some calls cross into December
    for i in range(n):
        records = gen.generate_call(rng, tenant, users, base + timedelta(minutes=7 * i))
        for rec in records:
            frags = parse_record(rec["kind"], rec["format"], rec["data"], ctx)
            out += [(f.key, [f]) for f in frags]
    return out


class Store:
    """The tenant's call documents in the emulator's calls container, written by the
    product's own `merge_call` with the pure merge (`merged_document`), exactly as the
    processor writes them; the oracle reads them back as stored JSON."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    async def merge(self, key: str, frags: list[Any]) -> tuple[CallDocument | None, CallDocument]:
        """(the call before, the call after) this merge; the same document twice when
        the stored call already held every fragment."""
        result = await merge_call(
            get_clients(),
            self.tenant,
            key,
            lambda current: merged_document(current, self.tenant, key, frags, None),
        )
        return result.previous, result.document

    async def oracle(self) -> Figures:
        """The independent recount over the call documents as Cosmos DB returns them."""
        container = get_clients().container(layout.CALLS)
        stored = [
            doc
            async for doc in container.query_items(
                "SELECT * FROM c WHERE c.tenantId = @t",
                parameters=[{"name": "@t", "value": self.tenant}],
            )
        ]
        return expected_aggregates(stored)


def test_duplicated_reordered_and_crashed_batches_stay_exact(stack) -> None:
    tenant = str(uuid.uuid4())
    arrivals = _generated_calls(seed=5, n=24, tenant=tenant)
    rng = random.Random(7)
    batches = arrivals + rng.sample(arrivals, len(arrivals) // 2)  # duplicates
    rng.shuffle(batches)  # late QoE reports, CDRs after QoE, ...
    store = Store(tenant)
    crashes = 0

    async def scenario() -> tuple[dict[str, dict[str, int]], Figures]:
        nonlocal crashes
        clients = get_clients()
        for key, frags in batches:
            previous, doc = await store.merge(key, frags)
            crash = rng.choice([None, None, None, "ledger", "docs", "before"])
            try:
                if crash == "before":
                    raise SimulatedCrash("killed between the call write and the delta")
                await apply_with_crash(crash, clients, tenant, previous, doc)
            except SimulatedCrash:
                crashes += 1
                # The host re-runs the batch: the merge now finds the call unchanged.
                previous, doc = await store.merge(key, frags)
                assert previous is doc
                await apply_call_delta(clients, tenant, previous, doc)
        return await stored_aggregates(tenant), await store.oracle()

    with crash_points():
        stored, expected = asyncio.run(scenario())
    assert crashes > 5
    assert project_stored(stored) == expected
    months = {day[:7] for day, _, _ in expected}
    assert months == set(MONTHS)
    assert sum(v for e in expected.values() for k, v in e.items() if k.endswith("#poor")) > 0


def test_concurrent_writers_and_stale_documents_converge(stack) -> None:
    tenant = str(uuid.uuid4())
    arrivals = _generated_calls(seed=11, n=10, tenant=tenant)
    store = Store(tenant)
    rng = random.Random(3)

    async def scenario() -> tuple[dict[str, dict[str, int]], Figures]:
        clients = get_clients()
        snapshots: list[tuple[CallDocument | None, CallDocument]] = [
            await store.merge(key, frags) for key, frags in arrivals
        ]
        # Every snapshot (old and new versions of each call) applied concurrently, in a
        # random order, twice: stale documents must not roll a call back.
        jobs = snapshots + snapshots
        rng.shuffle(jobs)
        await asyncio.gather(*(apply_call_delta(clients, tenant, p, d) for p, d in jobs))
        # and once more in order: the newest of each call wins
        for p, d in snapshots:
            await apply_call_delta(clients, tenant, p, d)
        return await stored_aggregates(tenant), await store.oracle()

    stored, expected = asyncio.run(scenario())
    assert project_stored(stored) == expected != {}


def test_unchanged_call_costs_no_write(stack, monkeypatch) -> None:
    from azure.cosmos.aio import ContainerProxy

    tenant = str(uuid.uuid4())
    store = Store(tenant)
    [(key, frags), *_] = _generated_calls(seed=2, n=1, tenant=tenant)
    writes: list[str] = []
    for name in ("create_item", "replace_item", "upsert_item", "patch_item"):
        real = getattr(ContainerProxy, name)

        def spy(self, *a, _real=real, _name=name, **kw):
            writes.append(_name)
            return _real(self, *a, **kw)

        monkeypatch.setattr(ContainerProxy, name, spy)

    async def twice() -> int:
        clients = get_clients()
        previous, doc = await store.merge(key, frags)
        await apply_call_delta(clients, tenant, previous, doc)
        before = len(writes)
        assert not await apply_call_delta(clients, tenant, doc, doc)
        return len(writes) - before

    assert asyncio.run(twice()) == 0


async def stored_aggregates(tenant: str) -> dict[str, dict[str, int]]:
    """The aggregate documents of `tenant`, flattened back into contribution form."""
    container = get_clients().container(layout.AGGREGATES)
    out: dict[str, dict[str, int]] = {}
    for month in MONTHS:
        pk = month_pk(tenant, month + "-01")
        async for doc in container.query_items(
            "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'agg'",
            parameters=[{"name": "@pk", "value": pk}],
            partition_key=pk,
        ):
            flat = {f"{cell}#{m}": n for cell, ms in doc["cells"].items() for m, n in ms.items()}
            flat |= {f"@{u}": n for u, n in doc["poorUsers"].items()}
            if flat:
                out[doc["id"][len("agg|") :]] = flat
    return out


def test_each_simulated_crash_point_leaves_work_for_the_rerun(stack) -> None:
    """The crash helpers really stop a transition half way (so the tests above can
    fail), and the re-run finishes it: the aggregates then equal the recount."""
    tenant = str(uuid.uuid4())
    store = Store(tenant)
    first: dict[str, list[Any]] = {}
    for key, frags in _generated_calls(seed=2, n=4, tenant=tenant):
        first.setdefault(key, frags)
    (k1, f1), (k2, f2) = list(first.items())[:2]

    async def scenario() -> tuple[list[str], dict[str, dict[str, int]], Figures]:
        clients = get_clients()
        died = []
        for point, (key, frags) in (("ledger", (k1, f1)), ("docs", (k2, f2))):
            previous, doc = await store.merge(key, frags)
            try:
                await apply_with_crash(point, clients, tenant, previous, doc)
            except SimulatedCrash as crash:
                died.append(f"{point}: {crash}")
            assert await apply_call_delta(clients, tenant, doc, doc)  # the roll-forward
        return died, await stored_aggregates(tenant), await store.oracle()

    with crash_points():
        died, stored, expected = asyncio.run(scenario())
    assert [d.split(":")[0] for d in died] == ["ledger", "docs"]
    assert project_stored(stored) == expected != {}
