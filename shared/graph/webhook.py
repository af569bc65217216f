"""The Graph webhooks: validation echo, change notifications, lifecycle notifications.

Why this shape: Graph wants a 2xx within 3 seconds and retries slow endpoints, then
throttles them; so a request does only what proves a notification genuine (tenant
configured, subscription id and clientState match in constant time) and puts one queue
message per call record id; the fetch happens in the queue trigger. A forged or stale
clientState, or an unknown tenant, is counted and logged without the payload, and
never fetched. Duplicates are harmless: the fetcher changes nothing for a version it
already has.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from shared.errors import Invalid, TooLarge
from shared.graph.config import GraphConfig
from shared.graph.subscriptions import iso, now
from shared.storage import graph_state
from shared.storage.clients import Clients
from shared.storage.queues import send_messages

log = logging.getLogger(__name__)
RECORD_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})
_CACHE_S = 15.0
_subs: dict[str, tuple[float, dict[str, Any] | None]] = {}


@dataclass
class WebhookResult:
    status: int
    body: str
    content_type: str = "application/json"
    queued: int = 0
    rejected: int = 0
    unknown: int = 0
    per_tenant: dict[str, int] = field(default_factory=dict)


def validation_echo(params: dict[str, str]) -> WebhookResult | None:
    """Graph's validation request: 200, text/plain, the decoded token (aiohttp and the
    Functions host already URL-decode query parameters)."""
    token = params.get("validationToken")
    if token is None:
        return None
    return WebhookResult(200, token, "text/plain")


MAX_BODY_BYTES = 1024 * 1024  # Graph's notification bodies are a few KB per item


def parse_body(raw: bytes) -> list[dict[str, Any]]:
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"a notification body is at most {MAX_BODY_BYTES} bytes", field="body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("the notification body is not JSON", field="body") from None
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise Invalid("a notification body is an object with a `value` array", field="value")
    return [item for item in data["value"] if isinstance(item, dict)]


async def _subscription(
    clients: Clients, tenant_id: str, fresh: bool = False
) -> dict[str, Any] | None:
    cached = _subs.get(tenant_id)
    if cached and not fresh and time.monotonic() - cached[0] < _CACHE_S:
        return cached[1]
    doc = await graph_state.read_subscription(clients, tenant_id)
    _subs[tenant_id] = (time.monotonic(), doc)
    return doc


def _genuine(doc: dict[str, Any] | None, item: dict[str, Any]) -> bool:
    if not doc:
        return False
    given = item.get("clientState")
    if not isinstance(given, str):
        return False
    # Both candidates are always compared, in constant time each.
    current = hmac.compare_digest(given.encode(), str(doc.get("clientState") or "").encode())
    pending = hmac.compare_digest(given.encode(), str(doc.get("pendingClientState") or "").encode())
    same_sub = item.get("subscriptionId") == doc.get("subscriptionId")
    return (current and same_sub and bool(doc.get("clientState"))) or (
        pending and bool(doc.get("pendingClientState"))
    )


async def _verify(
    clients: Clients, config: GraphConfig, item: dict[str, Any]
) -> tuple[str | None, str]:
    """(tenant, verdict) with verdict 'ok', 'unknownTenant' or 'rejected'."""
    tenant = str(item.get("tenantId") or "").lower()
    if not config.is_tenant(tenant):
        return None, "unknownTenant"
    doc = await _subscription(clients, tenant)
    if not _genuine(doc, item):
        doc = await _subscription(clients, tenant, fresh=True)  # just rotated?
        if not _genuine(doc, item):
            return tenant, "rejected"
    return tenant, "ok"


def _record_id(item: dict[str, Any]) -> str | None:
    data = item.get("resourceData")
    rid = data.get("id") if isinstance(data, dict) else None
    if not rid and isinstance(item.get("resource"), str):
        rid = item["resource"].rsplit("/", 1)[-1]
    return rid if isinstance(rid, str) and RECORD_ID.match(rid) else None


async def _count(clients: Clients, tenant: str, accepted: int, rejected: int) -> None:
    at = iso(now())

    def bump(doc: dict[str, Any]) -> None:
        doc["notifications"] = int(doc.get("notifications") or 0) + accepted
        doc["rejected"] = int(doc.get("rejected") or 0) + rejected
        if accepted:
            doc["lastNotificationAt"] = at
        if rejected:
            doc["lastRejectedAt"] = at

    await graph_state.update_doc(clients, tenant, graph_state.SUBSCRIPTION_ID, bump)


async def _count_unknown(clients: Clients, n: int) -> None:
    def bump(doc: dict[str, Any]) -> None:
        doc["count"] = int(doc.get("count") or 0) + n
        doc["lastAt"] = iso(now())

    await graph_state.update_doc(
        clients,
        graph_state.UNKNOWN_TENANT,
        "unknown",
        bump,
        default={"kind": "unknownTenant", "count": 0},
    )


async def handle_notifications(
    clients: Clients, config: GraphConfig, raw: bytes, params: dict[str, str]
) -> WebhookResult:
    echo = validation_echo(params)
    if echo is not None:
        return echo
    items = parse_body(raw)
    result = WebhookResult(202, "")
    messages: list[dict[str, Any]] = []
    rejected: dict[str, int] = {}
    notified_at = iso(now())
    for item in items:
        tenant, verdict = await _verify(clients, config, item)
        record_id = _record_id(item) if verdict == "ok" else None
        if verdict == "unknownTenant":
            result.unknown += 1
            continue
        assert tenant is not None
        if verdict != "ok" or record_id is None:
            rejected[tenant] = rejected.get(tenant, 0) + 1
            result.rejected += 1
            continue
        messages.append(
            {
                "op": "fetch",
                "tenantId": tenant,
                "recordId": record_id,
                "notifiedAt": notified_at,
                "attempt": 0,
            }
        )
        result.per_tenant[tenant] = result.per_tenant.get(tenant, 0) + 1
    if messages:
        await send_messages(config.queue, messages)
    result.queued = len(messages)
    for tenant in set(result.per_tenant) | set(rejected):
        await _count(clients, tenant, result.per_tenant.get(tenant, 0), rejected.get(tenant, 0))
    if result.unknown:
        await _count_unknown(clients, result.unknown)
    if result.rejected or result.unknown:
        # Counts only: the payload may carry ids and a guessed secret, and is never logged.
        log.warning(
            "graph notifications refused: %d with a wrong clientState or "
            "subscription, %d for an unconfigured tenant",
            result.rejected,
            result.unknown,
        )
    return result


async def handle_lifecycle(
    clients: Clients, config: GraphConfig, raw: bytes, params: dict[str, str]
) -> WebhookResult:
    echo = validation_echo(params)
    if echo is not None:
        return echo
    items = parse_body(raw)
    result = WebhookResult(202, "")
    messages: list[dict[str, Any]] = []
    for item in items:
        tenant, verdict = await _verify(clients, config, item)
        event = item.get("lifecycleEvent")
        if verdict == "unknownTenant":
            result.unknown += 1
            continue
        assert tenant is not None
        if verdict != "ok" or event not in LIFECYCLE_EVENTS:
            result.rejected += 1
            await _count(clients, tenant, 0, 1)
            continue
        messages.append({"op": "lifecycle", "tenantId": tenant, "event": event})
    if messages:
        await send_messages(config.queue, messages)
    result.queued = len(messages)
    if result.unknown:
        await _count_unknown(clients, result.unknown)
    if result.rejected or result.unknown:
        log.warning(
            "graph lifecycle notifications refused: %d rejected, %d unknown tenant",
            result.rejected,
            result.unknown,
        )
    return result
