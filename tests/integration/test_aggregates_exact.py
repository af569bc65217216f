"""Exactness of the aggregate ledger protocol against the real Cosmos DB emulator:
duplicates, re-ordering, crashes between the call write and the aggregates (and part way
through them), concurrent writers. Each test uses its own tenant, so the counts are its
own."""

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
from shared.storage.aggregates import month_pk
from shared.storage.call_ledger import CommitGroup
from shared.storage.calls import call_key, merge_call, read_calls_raw
from shared.storage.clients import get_clients
from tests.aggregates_testlib import SimulatedCrash, crash_points, finish_with_crash
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
    product's own `merge_call` with the pure merge (`merged_document`) and a commit group
    of its own per merge, exactly as the processor writes them (there, a group spans
    many flushes); the oracle reads them back as stored JSON."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.applied = 0  # transitions the last merge's group applied

    async def merge(
        self, key: str, frags: list[Any], crash: str | None = None
    ) -> tuple[CallDocument | None, CallDocument]:
        """(the call before, the call after) this merge, its group finished (dying at
        `crash`, inside `crash_points()`); the same document twice when the stored call
        already held every fragment."""
        group = CommitGroup(get_clients(), self.tenant)
        # as a flush does: the stored call read first, then what its ledger needs
        stored = (await read_calls_raw(get_clients(), self.tenant, [key]))[key]
        await group.learn([(call_key(self.tenant, key)[0], stored)])
        result = await merge_call(
            get_clients(),
            self.tenant,
            key,
            lambda current: merged_document(current, self.tenant, key, frags, None),
            stored,
            group,
        )
        self.applied = await finish_with_crash(crash, group)
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


@pytest.mark.parametrize("slice_documents", [None, 3], ids=["slices-of-100", "slices-of-3"])
def test_duplicated_reordered_and_crashed_batches_stay_exact(
    stack, monkeypatch, slice_documents
) -> None:
    # slices of 3: a partition's documents go in several read-many + batch rounds, and a
    # crash part way through the documents falls between rounds
    if slice_documents:
        monkeypatch.setattr("shared.storage.aggregates.SLICE_DOCUMENTS", slice_documents)
    tenant = str(uuid.uuid4())
    arrivals = _generated_calls(seed=5, n=24, tenant=tenant)
    rng = random.Random(7)
    batches = arrivals + rng.sample(arrivals, len(arrivals) // 2)  # duplicates
    rng.shuffle(batches)  # late QoE reports, CDRs after QoE, ...
    store = Store(tenant)
    crashes = 0

    async def scenario() -> tuple[dict[str, dict[str, int]], Figures]:
        nonlocal crashes
        for key, frags in batches:
            crash = rng.choice([None, None, None, "ledger", "some-docs", "docs"])
            try:
                await store.merge(key, frags, crash)
            except SimulatedCrash:
                crashes += 1
                # The host re-runs the batch: the merge now finds the call unchanged.
                previous, doc = await store.merge(key, frags)
                assert previous is doc
        return await stored_aggregates(tenant), await store.oracle()

    with crash_points():
        stored, expected = asyncio.run(scenario())
    assert crashes > 5
    assert project_stored(stored) == expected
    months = {day[:7] for day, _, _ in expected}
    assert months == set(MONTHS)
    assert sum(v for e in expected.values() for k, v in e.items() if k.endswith("#poor")) > 0


def test_concurrent_writers_converge(stack) -> None:
    tenant = str(uuid.uuid4())
    arrivals = _generated_calls(seed=11, n=10, tenant=tenant)
    store = Store(tenant)
    rng = random.Random(3)

    async def scenario() -> tuple[dict[str, dict[str, int]], Figures]:
        # Every record merged concurrently (each in its own commit group), in a random
        # order, twice: writers of the same call race for its etag and its aggregate
        # documents, and some of them find the call already holding their record.
        jobs = arrivals + arrivals
        rng.shuffle(jobs)
        await asyncio.gather(*(store.merge(k, f) for k, f in jobs))
        return await stored_aggregates(tenant), await store.oracle()

    stored, expected = asyncio.run(scenario())
    assert project_stored(stored) == expected != {}


def test_unchanged_call_costs_no_write(stack, monkeypatch) -> None:
    from azure.cosmos.aio import ContainerProxy

    tenant = str(uuid.uuid4())
    store = Store(tenant)
    [(key, frags), *_] = _generated_calls(seed=2, n=1, tenant=tenant)
    writes: list[str] = []
    for name in ("create_item", "replace_item", "upsert_item", "patch_item", "execute_item_batch"):
        real = getattr(ContainerProxy, name)

        def spy(self, *a, _real=real, _name=name, **kw):
            writes.append(_name)
            return _real(self, *a, **kw)

        monkeypatch.setattr(ContainerProxy, name, spy)

    async def twice() -> int:
        await store.merge(key, frags)
        assert store.applied > 0
        before = len(writes)
        previous, doc = await store.merge(key, frags)
        assert previous is doc and store.applied == 0
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
        died = []
        for point, (key, frags) in (("ledger", (k1, f1)), ("docs", (k2, f2))):
            try:
                await store.merge(key, frags, point)
            except SimulatedCrash as crash:
                died.append(f"{point}: {crash}")
            previous, doc = await store.merge(key, frags)
            assert previous is doc and store.applied > 0  # the roll-forward
            await store.merge(key, frags)
            assert store.applied == 0  # settled: nothing left to resume
        return died, await stored_aggregates(tenant), await store.oracle()

    with crash_points():
        died, stored, expected = asyncio.run(scenario())
    assert [d.split(":")[0] for d in died] == ["ledger", "docs"]
    assert project_stored(stored) == expected != {}


def test_calls_stored_with_a_ledger_item_of_the_layout_before_stay_exact(stack) -> None:
    """Calls written before the ledger moved into the call document: one whose ledger
    item holds a pending transition (the old processor died before the aggregates), one
    with no ledger item (it died before writing one). The next merge of each resumes or
    starts from what the item says, under the item's op sequence."""
    from shared.aggregates.contribution import call_contribution
    from shared.storage.aggregates import ledger_id, ledger_pk

    tenant = str(uuid.uuid4())
    store = Store(tenant)
    by_key: dict[str, list[Any]] = {}
    for key, frags in _generated_calls(seed=9, n=6, tenant=tenant):
        by_key.setdefault(key, []).extend(frags)
    keys = [k for k, frags in by_key.items() if len(frags) > 1][:2]
    assert len(keys) == 2

    async def scenario() -> tuple[dict[str, dict[str, int]], Figures]:
        clients = get_clients()
        for n, key in enumerate(keys):
            first = by_key[key][:1]
            old = await merge_call(  # no group: written as the processor before wrote it
                clients,
                tenant,
                key,
                lambda current, f=first, k=key: merged_document(current, tenant, k, f, None),
            )
            if n == 0:
                await clients.container(layout.AGGREGATES).create_item(
                    {
                        "id": ledger_id(old.call_id),
                        "pk": ledger_pk(tenant, old.call_id),
                        "tenantId": tenant,
                        "kind": "ledger",
                        "callId": old.call_id,
                        "seq": 0,
                        "records": {},
                        "applied": {},
                        "pending": {
                            "seq": 1,
                            "contribution": call_contribution(old.document),
                            "since": 1.0,
                        },
                    }
                )
            await store.merge(key, by_key[key])  # the rest of the call's records
            assert store.applied > 0
        return await stored_aggregates(tenant), await store.oracle()

    stored, expected = asyncio.run(scenario())
    assert project_stored(stored) == expected != {}
