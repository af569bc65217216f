"""Storage of the tenant's topology: one item (`id = "topology"`) in the tenant's
partition of the `tenants` container, and a per-process cache of the parsed index keyed
by the item's etag (a concurrent upload elsewhere changes the etag even if two writers
computed the same `version`, so a stale parse is never served)."""

from __future__ import annotations

from typing import Any

from shared.clock import utcnow
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import upsert
from shared.storage.retry import read_or_none
from shared.topology import Topology
from shared.topology_validation import parse_topology

TOPOLOGY_ID = "topology"
TOPOLOGY_TYPE = "topology"


_cache: dict[tuple[str, str], Topology] = {}


async def _read(clients: Clients, tenant_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.TENANTS), TOPOLOGY_ID, tenant_id, what="read topology"
    )


def topology_summary(doc: dict[str, Any] | None) -> dict[str, Any]:
    if not doc:
        return {
            "active": False,
            "version": 0,
            "sites": 0,
            "pools": 0,
            "gateways": 0,
            "uploadedAt": None,
            "uploadedBy": None,
        }
    t = doc["topology"]
    return {
        "active": True,
        "version": doc["version"],
        "sites": len(t["sites"]),
        "pools": len(t["pools"]),
        "gateways": len(t["gateways"]),
        "uploadedAt": doc.get("uploadedAt"),
        "uploadedBy": doc.get("uploadedBy"),
    }


async def save_topology(
    clients: Clients, tenant_id: str, topology: Topology, uploaded_by: str | None
) -> dict[str, Any]:
    """Replace the tenant's topology (one upsert: readers see the old or the new one)."""
    old = await _read(clients, tenant_id)
    version = int(old.get("version") or 0) + 1 if old else 1
    doc = {
        "id": TOPOLOGY_ID,
        "tenantId": tenant_id,
        "type": TOPOLOGY_TYPE,
        "version": version,
        "topology": topology.as_json(),
        "uploadedAt": utcnow(),
        "uploadedBy": uploaded_by,
    }
    written = await upsert(clients.container(layout.TENANTS), doc, what="write topology")
    for key in [k for k in _cache if k[0] == tenant_id]:
        del _cache[key]
    etag = written.get("_etag") if isinstance(written, dict) else None
    if etag:
        _cache[(tenant_id, str(etag))] = topology
    return topology_summary(doc)


async def read_topology(clients: Clients, tenant_id: str) -> dict[str, Any]:
    """The active topology as uploaded (normalised), with its summary."""
    doc = await _read(clients, tenant_id)
    return {**topology_summary(doc), "topology": doc["topology"] if doc else None}


async def load_topology(clients: Clients, tenant_id: str) -> Topology | None:
    """The tenant's active topology (cached per version); None when none was uploaded."""
    doc = await _read(clients, tenant_id)
    if not doc:
        return None
    key = (tenant_id, str(doc.get("_etag") or doc.get("version")))
    cached = _cache.get(key)
    if cached is None:
        cached = parse_topology(doc["topology"])
        for old in [k for k in _cache if k[0] == tenant_id]:
            del _cache[old]
        _cache[key] = cached
    return cached
