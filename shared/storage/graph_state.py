"""Cosmos DB adapter for the Microsoft Graph fetch state (container `graph`, by tenant).

Documents (all carry `tenantId` and `kind`):
- `subscription`: id `subscription`; the tenant's Graph subscription: `subscriptionId`,
  `clientState` (the secret Graph echoes; never leaves the service), `expiresAt`,
  `createdAt`, `lastRenewalAt`, `lastNotificationAt`, counters and the last errors.
- `record`: id `record:{callRecordId}`; the version and lastModifiedDateTime last handed
  to the pipeline, so an older or equal copy changes nothing. Expires after 31 days,
  one more than Graph keeps call records.
- `backfill`: id `backfill:{runId}`; one backfill run's window, progress and counts.
- `pstnDay`: id `pstn:{function}:{day}:{trunk}`; a day's PSTN / Direct Routing totals.
Counters use read + etag-conditional replace (retried on a conflict), so concurrent
webhook calls never lose an increment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.items import AlreadyExists, StaleWrite, create_new, replace_if_unchanged, upsert
from shared.storage.retry import read_or_none, with_retries

log = logging.getLogger(__name__)
SUBSCRIPTION_ID = "subscription"
RECORD_TTL_S = 31 * 86_400
UNKNOWN_TENANT = "unknown-tenants"  # partition for notifications naming no configured tenant


def _container(clients: Clients) -> Any:
    return clients.container(layout.GRAPH)


async def read_doc(clients: Clients, tenant_id: str, doc_id: str) -> dict[str, Any] | None:
    return await read_or_none(_container(clients), doc_id, tenant_id, what="read graph state")


async def upsert_doc(clients: Clients, doc: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in doc.items() if not k.startswith("_")}
    return dict(await upsert(_container(clients), body, what="write graph state"))


async def update_doc(
    clients: Clients,
    tenant_id: str,
    doc_id: str,
    mutate: Callable[[dict[str, Any]], None],
    default: dict[str, Any] | None = None,
    attempts: int = 20,
) -> dict[str, Any] | None:
    """Read, mutate, replace if unchanged meanwhile (else again). A missing document is
    created from `default` (None: nothing to update, returns None)."""
    container = _container(clients)
    for _ in range(attempts):
        raw = await read_doc(clients, tenant_id, doc_id)
        if raw is None:
            if default is None:
                return None
            new: dict[str, Any] = {"id": doc_id, "tenantId": tenant_id, **default}
            mutate(new)
            try:
                return dict(await create_new(container, new, what="create graph state"))
            except AlreadyExists:
                continue
        etag = raw["_etag"]
        doc = {k: v for k, v in raw.items() if not k.startswith("_")}
        mutate(doc)
        try:
            return dict(
                await replace_if_unchanged(container, doc_id, doc, etag, what="update graph state")
            )
        except StaleWrite:
            continue
    log.warning("graph state %s: gave up after %d conflicting updates", doc_id, attempts)
    return None


async def query_kind(clients: Clients, tenant_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        d
        async for d in _container(clients).query_items(
            "SELECT * FROM c WHERE c.tenantId = @t AND c.kind = @k",
            parameters=[{"name": "@t", "value": tenant_id}, {"name": "@k", "value": kind}],
            partition_key=tenant_id,
        )
    ]


async def read_subscription(clients: Clients, tenant_id: str) -> dict[str, Any] | None:
    return await read_doc(clients, tenant_id, SUBSCRIPTION_ID)


async def read_record_version(
    clients: Clients, tenant_id: str, record_id: str
) -> dict[str, Any] | None:
    return await read_doc(clients, tenant_id, f"record:{record_id}")


async def save_record_version(
    clients: Clients, tenant_id: str, record_id: str, fields: dict[str, Any]
) -> None:
    await upsert_doc(
        clients,
        {
            "id": f"record:{record_id}",
            "tenantId": tenant_id,
            "kind": "record",
            "ttl": RECORD_TTL_S,
            **fields,
        },
    )


BATCH_OPS = 100  # Cosmos DB's limit of operations in one transactional batch


async def read_record_versions(
    clients: Clients, tenant_id: str, record_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The version marks of several records in one single-partition query (the fetch
    path reads a whole hand-over group's marks at once)."""
    if not record_ids:
        return {}
    ids = [f"record:{r}" for r in record_ids]

    async def op() -> dict[str, dict[str, Any]]:
        return {
            str(d["id"]).removeprefix("record:"): d
            async for d in _container(clients).query_items(
                "SELECT * FROM c WHERE c.tenantId = @t AND ARRAY_CONTAINS(@ids, c.id)",
                parameters=[{"name": "@t", "value": tenant_id}, {"name": "@ids", "value": ids}],
                partition_key=tenant_id,
            )
        }

    return await with_retries(op, what="read graph record marks")


async def save_record_versions(
    clients: Clients, tenant_id: str, marks: dict[str, dict[str, Any]]
) -> None:
    """Upsert several records' marks in one transactional batch per 100 (they share the
    tenant's partition): one request for a hand-over group instead of one per record."""
    docs = [
        {"id": f"record:{rid}", "tenantId": tenant_id, "kind": "record", "ttl": RECORD_TTL_S}
        | fields
        for rid, fields in marks.items()
    ]
    container = _container(clients)

    async def write(ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        await with_retries(
            lambda: container.execute_item_batch(ops, partition_key=tenant_id),
            what="write graph record marks",
        )

    for i in range(0, len(docs), BATCH_OPS):
        await write([("upsert", (doc,)) for doc in docs[i : i + BATCH_OPS]])


async def query_days(
    clients: Clients, tenant_id: str, kind: str, first: str, last: str
) -> list[dict[str, Any]]:
    """Documents of `kind` whose `day` (YYYY-MM-DD) is in [first, last]."""
    return [
        d
        async for d in _container(clients).query_items(
            "SELECT * FROM c WHERE c.tenantId = @t AND c.kind = @k AND c.day >= @a AND c.day <= @b",
            parameters=[
                {"name": "@t", "value": tenant_id},
                {"name": "@k", "value": kind},
                {"name": "@a", "value": first},
                {"name": "@b", "value": last},
            ],
            partition_key=tenant_id,
        )
    ]
