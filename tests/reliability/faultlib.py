"""Helpers of the fault scenarios: a deterministic batch, a host-like retry loop, and a
snapshot of what a tenant ended with (call views by key, stored aggregates, the
independent recount) so a faulted run can be compared with a clean one.

Everything here takes explicit `Clients`/`Settings` (never the process-global cache),
so a scenario can run against a dedicated stack without touching os.environ.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.auth.tokens import Principal
from shared.exclusions import ExclusionPolicy
from shared.ingest import BodyFormat, accept_batch
from shared.models.call import CallDocument
from shared.processor import BatchProcessor
from shared.settings import Settings
from shared.storage import layout
from shared.storage.batches import read_batch
from shared.storage.clients import Clients
from shared.storage.tenants import save_exclusions
from tests.oracle.aggregates import expected_aggregates, project_stored

GZ = BodyFormat("application/json", "gzip")
EXCLUDED_USER = "sip:ceo@contoso.com"
POLICY = ExclusionPolicy(users=[EXCLUDED_USER])


def batch_records(seed: int, calls: int) -> list[dict[str, Any]]:
    """Generated calls (CDRs + QoE reports, some poor, conferences, PSTN, failures), plus
    records that must be quarantined and one of an excluded user: every outcome."""
    from devhost.qoe_generator import demo_users, generate_call

    rng = random.Random(seed)
    users = demo_users(12)
    base = datetime(2026, 11, 30, 20, tzinfo=timezone.utc)  # some calls cross into December
    records: list[dict[str, Any]] = []
    for i in range(calls):
        records += generate_call(rng, "t", users, base + timedelta(minutes=3 * i))
    from tests.factories import cdr_record

    bad = [
        {"kind": "cdr", "format": "sfb-cdr-json", "data": {"callId": "x"}},
        {"kind": "qoe", "format": "ms-qoe-xml", "data": "<not-xml"},
        {"kind": "callRecord", "format": "graph-v1", "data": {"id": "x", "version": -1}},
    ]
    excluded = [
        cdr_record(n=900 + i, caller=EXCLUDED_USER, call_id=f"excl-{seed}-{i}@fe") for i in range(3)
    ]
    for extra in bad + excluded:
        records.insert(rng.randrange(len(records) + 1), extra)
    return records


def envelope(
    tenant: str, records: list[dict[str, Any]], batch_id: str | None = None
) -> dict[str, Any]:
    from tests.factories import envelope as make

    return make(records, tenant=tenant, batch_id=batch_id or str(uuid.uuid4()))


async def post(
    clients: Clients,
    settings: Settings,
    env: dict[str, Any],
    policy: ExclusionPolicy | None = POLICY,
) -> str:
    """Accept the batch as the ingest API does (after saving the tenant's exclusion
    policy, if any); returns the blob name the trigger sees."""
    from tests.factories import gz

    principal = Principal(
        tenant_id=env["tenantId"], object_id="agent", name="agent", levels=("ingest",)
    )
    if policy is not None:
        await save_exclusions(clients, env["tenantId"], policy)
    result = await accept_batch(clients, settings, principal, gz(env), GZ)
    assert result.created, result.body
    doc = await read_batch(clients, env["tenantId"], env["batchId"])
    assert doc is not None
    return f"{layout.INCOMING}/{doc['blobName']}"


async def host_retry(
    processor: BatchProcessor,
    blob_name: str,
    *,
    attempts: int = 5,
    delay_s: float = 1.0,
    log: list[str] | None = None,
) -> dict[str, Any]:
    """What the Functions host does with a blob trigger that raises: run it again after
    a delay, up to `attempts` times (host.json poisonBlobThreshold)."""
    for attempt in range(1, attempts + 1):
        try:
            return await processor.process(blob_name)
        except Exception as exc:
            if log is not None:
                log.append(f"attempt {attempt}: {type(exc).__name__}: {str(exc)[:120]}")
            if attempt == attempts:
                raise
            await asyncio.sleep(delay_s)
    raise AssertionError("unreachable")


async def _query(container: Any, sql: str, tenant: str) -> list[dict[str, Any]]:
    return [
        d async for d in container.query_items(sql, parameters=[{"name": "@t", "value": tenant}])
    ]


async def snapshot(clients: Clients, tenant: str) -> dict[str, Any]:
    """What the tenant ended with, in tenant-independent form: call views by call key,
    the history entries, the stored aggregate documents (in the oracle's shape) and the
    independent recount (`tests.oracle.aggregates`, which shares no code with
    `shared/aggregates`) over the stored call documents as Cosmos DB returns them."""
    raw_calls = await _query(
        clients.container(layout.CALLS), "SELECT * FROM c WHERE c.tenantId = @t", tenant
    )
    calls = [CallDocument.model_validate(d) for d in raw_calls]
    aggs: dict[str, dict[str, int]] = {}
    for doc in await _query(
        clients.container(layout.AGGREGATES),
        "SELECT * FROM c WHERE c.tenantId = @t AND c.kind = 'agg'",
        tenant,
    ):
        flat = {f"{cell}#{m}": n for cell, ms in doc["cells"].items() for m, n in ms.items()}
        flat |= {f"@{u}": n for u, n in doc["poorUsers"].items()}
        if flat:
            aggs[doc["id"][len("agg|") :]] = flat
    history = await _query(
        clients.container(layout.USER_CALLS), "SELECT * FROM c WHERE c.tenantId = @t", tenant
    )
    by_id = {c.id: c.key for c in calls}
    return {
        "views": {c.key: json.loads(c.view.model_dump_json()) for c in calls},
        "fragments": {c.key: sorted(c.fragments) for c in calls},
        "history": sorted(
            (h["user"], by_id.get(h["callId"], "?"), h["rating"] or "") for h in history
        ),
        "aggregates": project_stored(aggs),
        "recount": expected_aggregates(raw_calls),
    }


def compare(faulted: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
    """Booleans and sizes for the report (and the test's asserts)."""
    return {
        "storedCalls": len(faulted["views"]),
        "cleanStoredCalls": len(clean["views"]),
        "viewsEqual": faulted["views"] == clean["views"],
        "fragmentsEqual": faulted["fragments"] == clean["fragments"],
        "historyEqual": faulted["history"] == clean["history"],
        "aggregatesEqualRecount": faulted["aggregates"] == faulted["recount"],
        "aggregatesEqualClean": faulted["aggregates"] == clean["aggregates"],
        "cleanAggregatesEqualRecount": clean["aggregates"] == clean["recount"],
        "aggregateDocs": len(faulted["aggregates"]),
    }


def reconciles(status: dict[str, Any]) -> bool:
    return status.get("received") == (
        status.get("stored", 0) + status.get("excluded", 0) + status.get("quarantined", 0)
    )


COUNT_KEYS = ("status", "received", "stored", "excluded", "quarantined", "calls")


def counts(status: dict[str, Any]) -> dict[str, Any]:
    return {k: status.get(k) for k in COUNT_KEYS}
