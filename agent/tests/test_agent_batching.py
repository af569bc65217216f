"""Batch cutting, the content-derived batchId, and the exact bytes posted."""

from __future__ import annotations

import gzip
import json
import uuid

from agent_testlib import TENANT, cdr_row

from cdc_agent.batching import batch_id, encode, envelope, record_size, split
from cdc_agent.config import SourceConfig


def rec(n: int, **kw: object) -> dict:
    return {"kind": "cdr", "format": "sfb-cdr-json", "data": cdr_row(n, **kw)}


def test_split_by_count_keeps_order() -> None:
    records = [rec(i) for i in range(25)]
    chunks = split(records, max_records=10, max_bytes=10**9)
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [r for c in chunks for r in c] == records


def test_split_by_bytes_and_oversized_record_goes_alone() -> None:
    small = [rec(i) for i in range(6)]
    per = record_size(small[0])
    chunks = split(small, max_records=100, max_bytes=2048 + 3 * per)
    assert [len(c) for c in chunks] == [3, 3]
    big = rec(99, user1UserAgent="x" * 50_000)
    chunks = split([small[0], big, small[1]], max_records=100, max_bytes=10_000)
    assert [len(c) for c in chunks] == [1, 1, 1]
    assert split([], 10, 10) == []


def test_batch_id_is_a_deterministic_uuid_of_tenant_and_records() -> None:
    records = [rec(1), rec(2)]
    a = batch_id(TENANT, records)
    assert a == batch_id(TENANT.upper(), [dict(r) for r in records])
    assert uuid.UUID(a).version == 5
    assert a != batch_id(TENANT, list(reversed(records)))
    assert a != batch_id("11111111-2222-4333-8444-555555555555", records)
    assert a != batch_id(TENANT, [rec(1), rec(2, responseCode=486)])
    # key order inside data does not matter (canonical JSON)
    shuffled = {
        "kind": "cdr",
        "format": "sfb-cdr-json",
        "data": dict(reversed(list(records[0]["data"].items()))),
    }
    assert batch_id(TENANT, [shuffled, records[1]]) == a


def test_envelope_and_bytes() -> None:
    src = SourceConfig(fqdn="fe01.contoso.local", pool="pool01", site=None, version="7.0")
    records = [rec(1), {"kind": "qoe", "format": "ms-qoe-xml", "data": "<x/>"}]
    env = envelope(TENANT, src, records, "0.1.0", "2026-11-21T10:00:00Z")
    assert env["schemaVersion"] == "1.0" and env["tenantId"] == TENANT
    assert env["batchId"] == batch_id(TENANT, records)
    assert env["source"] == {
        "type": "sfb-server",
        "fqdn": "fe01.contoso.local",
        "pool": "pool01",
        "version": "7.0",
        "agent": "cdc-agent/0.1.0",
    }
    assert env["sentAt"] == "2026-11-21T10:00:00Z" and env["records"] == records
    body = encode(env)
    assert body == encode(env)  # gzip mtime=0: same envelope, same bytes
    assert json.loads(gzip.decompress(body)) == env
    # a later send of the same records keeps the batchId (only sentAt differs)
    later = envelope(TENANT, src, records, "0.1.0", "2026-11-22T00:00:00Z")
    assert later["batchId"] == env["batchId"]
