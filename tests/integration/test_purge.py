"""Purging a user against the emulators, through the real processor: afterwards no item
of any Cosmos DB container and no blob holds the user's URI, name or IP address; the
call they had alone is deleted, the call they shared is kept with "Purged User" in their
place and stays in the other user's history; aggregate counts are unchanged; the purge
is audited with a hash of the user; a second purge finds nothing and changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from shared.admin.purge import purge_status, purge_user
from shared.analytics.audit import audited
from shared.analytics.service import user_calls
from shared.errors import Forbidden
from shared.purge import PURGED, user_hash
from shared.settings import get_settings, reset_settings
from shared.storage import layout
from shared.storage.calls import history_page, read_call
from shared.storage.clients import Clients, close_clients, get_clients
from shared.storage.tenants import read_tenant_settings
from tests.factories import cdr, envelope
from tests.integration.test_alerts import GOOD, POOR, START, gen, post_and_process, who

pytestmark = pytest.mark.stack


def _p2p(i: int, a: str, b: str, ip_a: str, ip_b: str) -> list[dict[str, Any]]:
    start = START + timedelta(minutes=11 * i)
    key = f"{uuid.uuid4().hex}@fe01.contoso.local"
    records: list[dict[str, Any]] = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": cdr(n=i, caller=a, callee=b, start=start, call_id=key),
        }
    ]
    for is_caller in (True, False):
        if not (b if not is_caller else a).startswith("sip:"):
            continue  # a phone sends no QoE
        me, other = (a, b) if is_caller else (b, a)
        net = gen.Net(ip=ip_a if is_caller else ip_b, remote_ip=ip_b if is_caller else ip_a)
        xml = gen.build_report(
            call_id=key,
            from_tag=f"ft{i}",
            to_tag=f"tt{i}",
            caller=is_caller,
            from_uri=me,
            to_uri=other,
            start=start + timedelta(seconds=2),
            end=start + timedelta(seconds=302),
            lines=[gen.Line("main-audio", "audio", POOR, GOOD, 40.0)],
            net=net,
        )
        records.append({"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
    return records


async def _all_items(clients: Clients) -> list[tuple[str, str]]:
    out = []
    for spec in layout.COSMOS_CONTAINERS:
        async for item in clients.container(spec).query_items("SELECT * FROM c"):
            out.append((spec.name, json.dumps(item).lower()))
    return out


async def _all_blobs(clients: Clients, tenant: str) -> list[tuple[str, str]]:
    out = []
    for name in layout.BLOB_CONTAINERS:
        container = clients.blobs(name)
        async for blob in container.list_blobs():
            if tenant not in blob.name:
                continue
            data = await (await container.get_blob_client(blob.name).download_blob()).readall()
            try:
                import gzip

                data = gzip.decompress(data)
            except OSError:
                pass
            out.append((f"{name}/{blob.name}", data.decode("utf-8", "replace").lower()))
    return out


async def _counts(clients: Clients, tenant: str) -> tuple[dict[str, int], int]:
    cells: dict[str, int] = {}
    poor_users = 0
    container = clients.container(layout.AGGREGATES)
    async for doc in container.query_items("SELECT * FROM c WHERE c.kind = 'agg'"):
        if doc.get("tenantId") != tenant:
            continue
        for cell, measures in doc.get("cells", {}).items():
            for m, n in measures.items():
                cells[f"{doc['id']}|{cell}#{m}"] = n
        poor_users += sum((doc.get("poorUsers") or {}).values())
    return cells, poor_users


@pytest.fixture()
def own_database(stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of this test's own, provisioned from the layout as the stack's is:
    "no trace anywhere" then means every item of every container, without reading
    what the rest of the suite stored (the whole session's data, read twice)."""
    from devhost.provision import provision_sync

    name = f"purge-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("COSMOS_DATABASE", name)
    reset_settings()
    provision_sync(get_settings())
    try:
        yield name
    finally:

        async def drop() -> None:
            try:
                await get_clients(get_settings()).cosmos.delete_database(name)
            finally:
                await close_clients()

        asyncio.run(drop())
        monkeypatch.delenv("COSMOS_DATABASE")
        reset_settings()


def test_purge_leaves_no_trace_and_keeps_counts(own_database: str) -> None:
    asyncio.run(_scenario())


async def _scenario() -> None:
    tenant = str(uuid.uuid4())
    tag = uuid.uuid4().hex[:10]
    u, v = f"pu{tag}@contoso.com", f"pv{tag}@contoso.com"
    ip_u, ip_v = f"10.93.{int(tag[:2], 16)}.17", "10.94.2.18"
    clients = get_clients(get_settings())
    shared_call = _p2p(1, f"sip:{u}", f"sip:{v}", ip_u, ip_v)
    alone_call = _p2p(2, f"sip:{u}", "tel:+15557654321", ip_u, ip_v)
    bad = {"kind": "qoe", "format": "ms-qoe-xml", "data": f"<broken from sip:{u}"}
    status = await post_and_process(
        tenant, envelope(shared_call + alone_call + [bad], tenant=tenant)
    )
    assert status["quarantined"] == 1, status
    engineer = who("engineer", tenant)
    history = await audited(
        clients,
        engineer,
        "userCalls",
        lambda: user_calls(clients, engineer, u, "2031-01-01", "2032-01-01", None),
        user=u,
    )
    assert len(history["calls"]) == 2, history  # and the read is audited, naming u

    needles = (f"pu{tag}", ip_u)  # u's address and name both hold it; v's does not
    before_items = await _all_items(clients) + await _all_blobs(clients, tenant)
    assert any(needles[0] in text for _, text in before_items)
    assert any(ip_u in text for _, text in before_items)
    counts_before = await _counts(clients, tenant)
    assert counts_before[1] >= 2  # u and v counted as poor users

    with pytest.raises(Forbidden):
        await purge_user(clients, engineer, u)
    admin = who("admin", tenant)
    result = await purge_user(clients, admin, f"SIP:{u.upper()}")
    assert result["callsDeleted"] == 1 and result["callsScrubbed"] == 1, result
    assert result["historyEntriesDeleted"] == 2 and result["directoryEntryDeleted"]
    assert result["quarantinedRecordsScrubbed"] == 1 and result["auditEntriesScrubbed"] >= 1
    assert result["userHash"] == user_hash(tenant, u)

    after = await _all_items(clients) + await _all_blobs(clients, tenant)
    leaks = [(where, n) for where, text in after for n in needles if n in text]
    assert leaks == [], leaks
    assert await _counts(clients, tenant) == counts_before  # aggregates keep their counts

    [entry] = await history_page(clients, tenant, v, "2000", "2100", 5, None)
    kept = await read_call(clients, tenant, entry["callId"])
    assert kept is not None
    uris = {p.uri for p in kept.view.participants}
    assert PURGED in uris and f"sip:{v}" in uris
    assert any(PURGED in json.dumps(e) for e in [entry])

    audit = [t for w, t in after if w == "audit" and '"user.purge"' in t]
    assert any(result["userHash"] in t for t in audit)

    again = await purge_user(clients, admin, u, exclude=True)  # idempotent
    assert again["callsDeleted"] == again["callsScrubbed"] == again["historyEntriesDeleted"] == 0
    assert await _counts(clients, tenant) == counts_before
    assert u in (await read_tenant_settings(clients, tenant)).exclusions.users
    assert (await purge_status(clients, admin, result["userHash"]))["addedToExclusions"]
