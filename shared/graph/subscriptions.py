"""Graph change-notification subscriptions on `/communications/callRecords`, per tenant.

One subscription per configured Teams tenant (CDC_GRAPH_TENANTS), state in Cosmos DB
(`shared.storage.graph_state`). Why the order of writes below: Graph sends the
validation request, and may send the first notifications, before `POST /subscriptions`
has even answered; the new clientState is therefore saved (`pendingClientState`)
before the request, and the webhook accepts either while the swap is under way.

- `ensure`: create the subscription if the tenant has none (or it expired); the first
  one ever starts a backfill of Graph's 30 days, once.
- `renew_due` (timer): renew what expires within RENEW_WITHIN_MINUTES; a subscription
  Graph no longer knows is recreated and the gap backfilled.
- `handle_lifecycle`: `reauthorizationRequired` -> reauthorize (renew if that fails),
  `subscriptionRemoved` -> recreate + backfill since the last notification,
  `missed` -> backfill the window.
`clock` is the module's notion of now, replaceable by tests (an injected clock).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.graph.client import GraphClient, GraphError, NotFound
from shared.graph.config import RENEW_WITHIN_MINUTES, SUBSCRIPTION_MINUTES, GraphConfig
from shared.storage import graph_state
from shared.storage.clients import Clients

log = logging.getLogger(__name__)
RESOURCE = "/communications/callRecords"
RETENTION_DAYS = 30  # Graph keeps call records 30 days
MAX_ERRORS = 10


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


clock: Callable[[], datetime] = _utcnow


def now() -> datetime:
    return clock()


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _error(doc: dict[str, Any], at: datetime, what: str, exc: BaseException) -> None:
    """Errors are kept without payloads: the operation, the status/code, the time."""
    status = getattr(exc, "status", None)
    entry = {
        "at": iso(at),
        "op": what,
        "error": type(exc).__name__,
        "status": status,
        "code": getattr(exc, "code", None),
    }
    doc["errors"] = [entry, *list(doc.get("errors") or [])][:MAX_ERRORS]


async def _queue_backfill(
    tenant_id: str, start: datetime, end: datetime, reason: str, config: GraphConfig
) -> None:
    from shared.storage.queues import send_messages

    await send_messages(
        config.queue,
        [
            {
                "op": "backfill",
                "tenantId": tenant_id,
                "from": iso(start),
                "to": iso(end),
                "reason": reason,
            }
        ],
    )


async def create(
    clients: Clients,
    graph: GraphClient,
    config: GraphConfig,
    tenant_id: str,
    at: datetime,
    reason: str,
) -> dict[str, Any]:
    """A new subscription for the tenant (replacing whatever state it had)."""
    state = secrets.token_urlsafe(96)[:128]  # Graph allows up to 128 characters
    first = await graph_state.read_subscription(clients, tenant_id) is None

    def pending(doc: dict[str, Any]) -> None:
        doc["pendingClientState"] = state

    await graph_state.update_doc(
        clients,
        tenant_id,
        graph_state.SUBSCRIPTION_ID,
        pending,
        default={
            "kind": "subscription",
            "status": "creating",
            "notifications": 0,
            "rejected": 0,
            "renewals": 0,
            "errors": [],
        },
    )
    expires = at + timedelta(minutes=SUBSCRIPTION_MINUTES)
    body = {
        "changeType": "created",
        "resource": RESOURCE,
        "notificationUrl": config.webhook_url("notifications"),
        "lifecycleNotificationUrl": config.webhook_url("lifecycle"),
        "expirationDateTime": iso(expires),
        "clientState": state,
        "latestSupportedTlsVersion": "v1_2",
    }
    try:
        sub = await graph.create_subscription(tenant_id, body)
    except GraphError as exc:
        failure: GraphError = exc
        await graph_state.update_doc(
            clients,
            tenant_id,
            graph_state.SUBSCRIPTION_ID,
            lambda d: _error(d, at, "create", failure),
        )
        raise

    def done(doc: dict[str, Any]) -> None:
        if doc.get("subscriptionId"):
            doc["previousSubscriptionId"] = doc["subscriptionId"]
        doc.update(
            {
                "subscriptionId": sub["id"],
                "clientState": state,
                "status": "active",
                "expiresAt": sub.get("expirationDateTime") or iso(expires),
                "createdAt": iso(at),
                "lastRenewalAt": None,
                "createReason": reason,
            }
        )
        doc.pop("pendingClientState", None)
        doc["creations"] = int(doc.get("creations") or 0) + 1

    saved = await graph_state.update_doc(clients, tenant_id, graph_state.SUBSCRIPTION_ID, done)
    log.info("graph subscription created for a tenant (%s)", reason)
    if first:  # the tenant's first subscription: Graph's whole retention, once
        await _queue_backfill(tenant_id, at - timedelta(days=RETENTION_DAYS), at, "initial", config)
    return saved or {}


def _active(doc: dict[str, Any] | None, at: datetime) -> bool:
    return bool(
        doc
        and doc.get("status") == "active"
        and doc.get("expiresAt")
        and parse_iso(doc["expiresAt"]) > at
    )


async def ensure(
    clients: Clients,
    graph: GraphClient,
    config: GraphConfig,
    tenant_id: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    at = at or now()
    doc = await graph_state.read_subscription(clients, tenant_id)
    if _active(doc, at):
        assert doc is not None
        return doc
    return await create(
        clients,
        graph,
        config,
        tenant_id,
        at,
        "expired" if doc and doc.get("subscriptionId") else "new",
    )


def _gap_start(doc: dict[str, Any] | None, at: datetime) -> datetime:
    """Where a backfill after a lost subscription starts: the last notification (or
    the subscription's creation), never beyond Graph's retention."""
    marks = [
        parse_iso(v)
        for v in ((doc or {}).get("lastNotificationAt"), (doc or {}).get("createdAt"))
        if v
    ]
    start = max(marks) - timedelta(minutes=5) if marks else at - timedelta(days=1)
    return max(start, at - timedelta(days=RETENTION_DAYS))


async def renew_due(
    clients: Clients, graph: GraphClient, config: GraphConfig, at: datetime | None = None
) -> dict[str, str]:
    """The renewal timer: every configured tenant ends with an active subscription
    that expires more than RENEW_WITHIN_MINUTES from now. Returns tenant -> action."""
    at = at or now()
    out: dict[str, str] = {}
    for tenant_id in config.tenants:
        doc = await graph_state.read_subscription(clients, tenant_id)
        try:
            if not _active(doc, at):
                lost = bool(doc and doc.get("subscriptionId"))
                await create(clients, graph, config, tenant_id, at, "expired" if lost else "new")
                if lost:
                    await _queue_backfill(tenant_id, _gap_start(doc, at), at, "expired", config)
                out[tenant_id] = "created"
                continue
            assert doc is not None
            if parse_iso(doc["expiresAt"]) - at > timedelta(minutes=RENEW_WITHIN_MINUTES):
                out[tenant_id] = "ok"
                continue
            out[tenant_id] = await _renew(clients, graph, config, tenant_id, doc, at)
        except GraphError as exc:
            log.warning("graph subscription upkeep failed: %s %s", exc.status, exc.code)
            out[tenant_id] = f"error {exc.status}"
    return out


async def _renew(
    clients: Clients,
    graph: GraphClient,
    config: GraphConfig,
    tenant_id: str,
    doc: dict[str, Any],
    at: datetime,
) -> str:
    expires = at + timedelta(minutes=SUBSCRIPTION_MINUTES)
    try:
        sub = await graph.renew_subscription(tenant_id, doc["subscriptionId"], expires)
    except NotFound:  # Graph dropped it: recreate and fill the gap
        await create(clients, graph, config, tenant_id, at, "removed")
        await _queue_backfill(tenant_id, _gap_start(doc, at), at, "removed", config)
        return "recreated"
    except GraphError as exc:
        failure: GraphError = exc
        await graph_state.update_doc(
            clients,
            tenant_id,
            graph_state.SUBSCRIPTION_ID,
            lambda d: _error(d, at, "renew", failure),
        )
        raise

    def renewed(d: dict[str, Any]) -> None:
        d["expiresAt"] = sub.get("expirationDateTime") or iso(expires)
        d["lastRenewalAt"] = iso(at)
        d["renewals"] = int(d.get("renewals") or 0) + 1

    await graph_state.update_doc(clients, tenant_id, graph_state.SUBSCRIPTION_ID, renewed)
    return "renewed"


async def handle_lifecycle(
    clients: Clients,
    graph: GraphClient,
    config: GraphConfig,
    tenant_id: str,
    event: str,
    at: datetime | None = None,
) -> str:
    """A verified lifecycle event (queued by the webhook); returns what was done."""
    at = at or now()
    doc = await graph_state.read_subscription(clients, tenant_id)

    def seen(d: dict[str, Any]) -> None:
        d.setdefault("lifecycle", {})
        d["lifecycle"][event] = int(d["lifecycle"].get(event) or 0) + 1
        d["lastLifecycleAt"] = iso(at)

    await graph_state.update_doc(clients, tenant_id, graph_state.SUBSCRIPTION_ID, seen)
    if event == "reauthorizationRequired" and doc and doc.get("subscriptionId"):
        try:
            await graph.reauthorize_subscription(tenant_id, doc["subscriptionId"])
            return "reauthorized"
        except GraphError:
            return await _renew(clients, graph, config, tenant_id, doc, at)
    if event == "subscriptionRemoved":
        await create(clients, graph, config, tenant_id, at, "removed")
        await _queue_backfill(tenant_id, _gap_start(doc, at), at, "removed", config)
        return "recreated"
    if event == "missed":
        # Graph does not say which notifications were lost (it retries delivery for up
        # to 4 hours first): the last day covers that, and already-stored records
        # cost one GET each and change nothing.
        await _queue_backfill(tenant_id, at - timedelta(days=1), at, "missed", config)
        return "backfill"
    return "ignored"
