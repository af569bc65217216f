"""Where everything is stored: blob containers and Cosmos DB containers.

One table read by the code, the local stack (which creates them) and the infra tests
(which compare them with the Bicep template), so the three cannot drift apart.

Partitioning (see README, "Data layout"):
- calls: one logical partition per call (`{tenantId}|{callId}`), so call detail is a
  point read and no tenant's call volume can approach the 20 GB partition limit.
- userCalls: one small index document per (user, call) in the user's partition
  (`{tenantId}|{userKey}`): a user's history is a single-partition query; a user with
  10 calls a day for 30 days holds about 300 small documents.
- batches: by tenant; small status documents, 30 days.
- aggregates and audit: by tenant and month (`{tenantId}|{yyyy-mm}`): a report reads
  days x groups documents from a handful of partitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DAY = 86_400


def _policy(*paths: str, composite: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """Index only what queries filter or sort on: writes stay cheap (RU per write grows
    with indexed paths) and the call documents' big fragment trees are never indexed."""
    policy: dict[str, Any] = {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": p} for p in paths],
        "excludedPaths": [{"path": "/*"}],
    }
    if composite:
        policy["compositeIndexes"] = [[{"path": p, "order": o} for p, o in composite]]
    return policy


@dataclass(frozen=True)
class CosmosContainer:
    name: str
    partition_key: str
    # seconds; -1 = TTL on with no default (only items carrying `ttl` expire); None = off
    default_ttl: int | None
    indexing_policy: dict[str, Any] = field(default_factory=lambda: _policy())


CALLS = CosmosContainer("calls", "/pk", 30 * DAY)  # point reads only: nothing indexed
USER_CALLS = CosmosContainer(
    "userCalls",
    "/pk",
    30 * DAY,
    _policy(
        "/pk/?",
        "/start/?",
        "/callId/?",
        composite=(("/start", "descending"), ("/id", "descending")),
    ),
)
BATCHES = CosmosContainer(
    "batches",
    "/tenantId",
    30 * DAY,
    _policy("/status/?", "/receivedAt/?", "/sourceFqdn/?", "/completedAt/?"),
)
# Tenant settings never expire; the user directory entries in it carry their own ttl.
TENANTS = CosmosContainer(
    "tenants", "/tenantId", -1, _policy("/type/?", "/user/?", "/nameLower/?", "/kind/?")
)
AGGREGATES = CosmosContainer(
    "aggregates",
    "/pk",
    396 * DAY,  # 13 months
    _policy("/pk/?", "/day/?", "/kind/?"),
)
AUDIT = CosmosContainer(
    "audit",
    "/pk",
    365 * DAY,
    _policy("/pk/?", "/at/?", composite=(("/at", "descending"), ("/id", "descending"))),
)
# quality alerts: one record per (tenant, building, day), deterministic id;
# 13 months like the aggregates they are computed from. Listed by day, filtered by status.
ALERTS = CosmosContainer(
    "alerts", "/tenantId", 396 * DAY, _policy("/kind/?", "/day/?", "/status/?")
)

# Microsoft Graph fetch state, by tenant: the subscription (id, clientState, expiry,
# renewals, errors), counters, backfill runs, the last fetched version of each call
# record (expires with Graph's 30-day retention) and PSTN / Direct Routing day totals.
GRAPH = CosmosContainer("graph", "/tenantId", -1, _policy("/kind/?", "/day/?"))

COSMOS_CONTAINERS: tuple[CosmosContainer, ...] = (
    CALLS,
    USER_CALLS,
    BATCHES,
    TENANTS,
    AGGREGATES,
    AUDIT,
    ALERTS,
    GRAPH,
)

# Azure Storage queue of call record ids to fetch (one message per id), and the poison
# queue the Functions host moves a message to after maxDequeueCount failures.
GRAPH_QUEUE = "graph-callrecords"
QUEUES: tuple[str, ...] = (GRAPH_QUEUE, f"{GRAPH_QUEUE}-poison")

# Blob containers. incoming: raw batches as posted (removed after processing, and by a
# 7-day lifecycle rule in Azure); quarantine: rejected records with their reason;
# poison: batches that failed every processing attempt, kept with their reason.
INCOMING = "incoming"
QUARANTINE = "quarantine"
POISON = "poison"
AUDIT_BLOBS = "audit"
BLOB_CONTAINERS: tuple[str, ...] = (INCOMING, QUARANTINE, POISON, AUDIT_BLOBS)


def incoming_blob_name(tenant_id: str, batch_id: str, received: str) -> str:
    """`{tenantId}/{yyyy}/{mm}/{dd}/{batchId}.json.gz` inside the incoming container.
    The one place the name is written; `parse_incoming_blob_name` reads it back."""
    yyyy, mm, dd = received[0:4], received[5:7], received[8:10]
    return f"{tenant_id}/{yyyy}/{mm}/{dd}/{batch_id}.json.gz"


INCOMING_NAME_RE = re.compile(
    r"^(?:incoming/)?(?P<tenant>[0-9a-f-]{36})/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P<batch>[A-Za-z0-9][A-Za-z0-9._-]{0,127})\.json\.gz$"
)


def parse_incoming_blob_name(name: str) -> tuple[str, str] | None:
    """(tenantId, batchId) of an incoming blob name (with or without the container
    prefix), or None when the name is not one `incoming_blob_name` writes."""
    m = INCOMING_NAME_RE.match(name)
    return (m["tenant"], m["batch"]) if m else None


def quarantine_blob_name(tenant_id: str, batch_id: str, index: int) -> str:
    """`{tenantId}/{batchId}/{index:05d}.json`: one quarantined record."""
    return f"{tenant_id}/{batch_id}/{index:05d}.json"
