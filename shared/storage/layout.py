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

from dataclasses import dataclass

DAY = 86_400


@dataclass(frozen=True)
class CosmosContainer:
    name: str
    partition_key: str
    default_ttl: int | None  # seconds; None = TTL off (documents never expire)


CALLS = CosmosContainer("calls", "/pk", 30 * DAY)
USER_CALLS = CosmosContainer("userCalls", "/pk", 30 * DAY)
BATCHES = CosmosContainer("batches", "/tenantId", 30 * DAY)
TENANTS = CosmosContainer("tenants", "/tenantId", None)
AGGREGATES = CosmosContainer("aggregates", "/pk", 396 * DAY)  # 13 months
AUDIT = CosmosContainer("audit", "/pk", 365 * DAY)

COSMOS_CONTAINERS: tuple[CosmosContainer, ...] = (
    CALLS,
    USER_CALLS,
    BATCHES,
    TENANTS,
    AGGREGATES,
    AUDIT,
)

# Blob containers. incoming: raw batches as posted (removed after processing, and by a
# 7-day lifecycle rule in Azure); quarantine: rejected records with their reason;
# poison: batches that failed every processing attempt, kept with their reason.
INCOMING = "incoming"
QUARANTINE = "quarantine"
POISON = "poison"
AUDIT_BLOBS = "audit"
BLOB_CONTAINERS: tuple[str, ...] = (INCOMING, QUARANTINE, POISON, AUDIT_BLOBS)


def incoming_blob_name(tenant_id: str, batch_id: str, received: str) -> str:
    """`{tenantId}/{yyyy}/{mm}/{dd}/{batchId}.json.gz` inside the incoming container."""
    yyyy, mm, dd = received[0:4], received[5:7], received[8:10]
    return f"{tenant_id}/{yyyy}/{mm}/{dd}/{batch_id}.json.gz"
