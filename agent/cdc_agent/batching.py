"""Cutting records into batches and building the exact bytes that are posted.

The batchId is derived from the content (tenant + records), never random: if the agent
is killed after the server stored a batch but before the agent recorded that, the same
records produce the same batchId, and the server answers 200 (identical retry) instead
of storing them twice. The journal also keeps the built bytes, so a resend is
byte-for-byte the first send (same `sentAt` too).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from cdc_agent.config import SourceConfig

SCHEMA_VERSION = "1.0"
BATCH_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://calldataconnector.dev/agent/batch")
ENVELOPE_OVERHEAD = 2048  # bytes of envelope around the records, generously


def record_json(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def record_size(record: dict[str, Any]) -> int:
    return len(record_json(record).encode("utf-8")) + 1  # + the comma


def batch_id(tenant_id: str, records: Iterable[dict[str, Any]]) -> str:
    """A UUID (v5) named by sha256(tenant + canonical JSON of the records, in order)."""
    h = hashlib.sha256(tenant_id.lower().encode())
    for r in records:
        h.update(b"\n")
        h.update(record_json(r).encode("utf-8"))
    return str(uuid.uuid5(BATCH_NAMESPACE, f"{tenant_id.lower()}:{h.hexdigest()}"))


def split(
    records: list[dict[str, Any]], max_records: int, max_bytes: int
) -> list[list[dict[str, Any]]]:
    """Greedy, order-preserving cut: at most `max_records` per batch and at most
    `max_bytes` of JSON (a single larger record still goes, alone)."""
    out: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = ENVELOPE_OVERHEAD
    for r in records:
        n = record_size(r)
        if current and (len(current) >= max_records or size + n > max_bytes):
            out.append(current)
            current, size = [], ENVELOPE_OVERHEAD
        current.append(r)
        size += n
    if current:
        out.append(current)
    return out


def utc_now_iso(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def envelope(
    tenant_id: str,
    source: SourceConfig,
    records: list[dict[str, Any]],
    agent_version: str,
    sent_at: str | None = None,
) -> dict[str, Any]:
    src: dict[str, Any] = {"type": "sfb-server", "fqdn": source.fqdn}
    for key in ("pool", "site", "version"):
        value = getattr(source, key)
        if value:
            src[key] = value
    src["agent"] = f"cdc-agent/{agent_version}"
    return {
        "schemaVersion": SCHEMA_VERSION,
        "batchId": batch_id(tenant_id, records),
        "tenantId": tenant_id,
        "source": src,
        "sentAt": sent_at or utc_now_iso(),
        "records": records,
    }


def encode(env: dict[str, Any]) -> bytes:
    """gzip of the UTF-8 JSON; mtime=0 so the same envelope always gives the same bytes."""
    body = json.dumps(env, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(body, compresslevel=6, mtime=0)
