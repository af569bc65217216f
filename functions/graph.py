"""Microsoft Graph glue: webhooks, the fetch queue trigger, timers, admin endpoints.

The webhooks are anonymous (an `Endpoint` without levels) because Graph calls them
without a token; what proves a notification genuine is the subscription's clientState
(shared/graph/webhook.py). Everything else is in `shared.graph`; this module parses,
calls, shapes.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta

import azure.functions as func

from functions.contract import DATA, PAGE, Endpoint, Param
from functions.http_support import RequestContext, data_response, json_response, route
from shared.auth.levels import ADMIN, REPORTS
from shared.errors import Conflict, Invalid, UpstreamRefused
from shared.graph.config import DEFAULT_QUEUE, GraphConfig, graph_config

bp = func.Blueprint()
log = logging.getLogger(__name__)

_TOKEN = (Param("validationToken", description="Graph's validation request: echoed as text/plain"),)


def _webhook_endpoint(path: str, summary: str) -> Endpoint:
    return Endpoint(
        "post",
        path,
        summary,
        frozenset(),
        None,
        202,
        params=_TOKEN,
        body="GraphNotifications",
        other_media=("text/plain",),
        also_text=((200, "Graph's validation request: the validationToken, echoed"),),
        errors=(400, 413),
    )


async def _webhook(ctx: RequestContext, lifecycle: bool) -> func.HttpResponse:
    from shared.graph import webhook

    params = dict(ctx.req.params)
    echo = webhook.validation_echo(params)
    if echo is not None:  # no storage touched: validation must answer within 10 s
        return func.HttpResponse(echo.body, status_code=200, mimetype="text/plain")
    handler = webhook.handle_lifecycle if lifecycle else webhook.handle_notifications
    result = await handler(ctx.clients, graph_config(), ctx.req.get_body(), params)
    return func.HttpResponse(status_code=result.status)


@route(
    bp,
    _webhook_endpoint(
        "v1/graph/notifications",
        "Microsoft Graph change notifications (anonymous; verified by clientState)",
    ),
)
async def graph_notifications(ctx: RequestContext) -> func.HttpResponse:
    return await _webhook(ctx, lifecycle=False)


@route(
    bp,
    _webhook_endpoint(
        "v1/graph/lifecycle",
        "Microsoft Graph lifecycle notifications (anonymous; verified by clientState)",
    ),
)
async def graph_lifecycle(ctx: RequestContext) -> func.HttpResponse:
    return await _webhook(ctx, lifecycle=True)


@bp.function_name("graph_fetch")
@bp.queue_trigger(arg_name="msg", queue_name=DEFAULT_QUEUE, connection="CDC_STORAGE")
async def graph_fetch(msg: func.QueueMessage) -> None:
    """One call record id (or lifecycle/backfill/log work) per message; raising lets
    the host retry and, after maxDequeueCount, move the message to the poison queue."""
    from shared.graph.client import get_graph
    from shared.graph.fetcher import handle_message
    from shared.settings import get_settings
    from shared.storage.clients import get_clients

    try:
        body = json.loads(msg.get_body())
    except ValueError:
        log.error("graph queue: a message that is not JSON was dropped")
        return
    config = graph_config()
    outcome = await handle_message(get_clients(), get_settings(), get_graph(config), config, body)
    log.info("graph queue: %s %s", body.get("op", "fetch"), outcome)


@bp.function_name("graph_subscriptions")
@bp.timer_trigger(arg_name="timer", schedule="0 */30 * * * *", run_on_startup=False)
async def graph_subscriptions(timer: func.TimerRequest) -> None:
    """Create missing and renew expiring subscriptions, every 30 minutes."""
    from shared.graph import subscriptions
    from shared.graph.client import get_graph
    from shared.storage.clients import get_clients

    del timer
    config = graph_config()
    if not config.tenants:
        return
    actions = await subscriptions.renew_due(get_clients(), get_graph(config), config)
    log.info("graph subscriptions: %s", sorted(actions.values()))


@bp.function_name("graph_daily_logs")
@bp.timer_trigger(arg_name="timer", schedule="0 15 3 * * *", run_on_startup=False)
async def graph_daily_logs(timer: func.TimerRequest) -> None:
    """Yesterday's PSTN and Direct Routing logs, for every configured tenant."""
    from shared.graph.pstn import queue_logs
    from shared.graph.subscriptions import now

    del timer
    config = graph_config()
    end = now().replace(hour=0, minute=0, second=0, microsecond=0)
    for tenant in config.tenants:
        await queue_logs(config, tenant, end - timedelta(days=1), end)


def _graph_tenant(ctx: RequestContext) -> GraphConfig:
    config = graph_config()
    if not config.is_tenant(ctx.principal.tenant_id):
        raise Conflict(
            "this tenant is not configured for Microsoft Graph (CDC_GRAPH_TENANTS)",
            field="tenantId",
        )
    return config


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/graph/backfill",
        "Fetch the call records of a window again from Microsoft Graph",
        ADMIN,
        "BackfillStarted",
        202,
        body="BackfillBody",
        errors=(400, 401, 403, 409),
    ),
)
async def graph_backfill(ctx: RequestContext) -> func.HttpResponse:
    from shared.graph import backfill
    from shared.graph.subscriptions import now

    config = _graph_tenant(ctx)
    try:
        body = json.loads(ctx.req.get_body() or b"{}")
    except ValueError:
        raise Invalid("the body is not JSON", field="body") from None
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", field="$")
    begin, end = backfill.window(body.get("from"), body.get("to"), now())
    started = await backfill.start(config, ctx.principal.tenant_id, begin, end, "admin")
    return json_response(started, 202)


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/graph/subscription",
        "Create the tenant's Graph subscription now",
        ADMIN,
        None,
        errors=(401, 403, 409, 502),
    ),
)
async def graph_subscribe(ctx: RequestContext) -> func.HttpResponse:
    """Create the tenant's subscription now (else the renewal timer does, within 30
    minutes of the tenant being configured)."""
    from shared.graph import subscriptions
    from shared.graph.client import GraphError, get_graph
    from shared.graph.status import public_subscription

    config = _graph_tenant(ctx)
    try:
        doc = await subscriptions.ensure(
            ctx.clients, get_graph(config), config, ctx.principal.tenant_id
        )
    except GraphError as exc:
        raise UpstreamRefused(
            f"Microsoft Graph refused the subscription ({exc.status} {exc.code})"
        ) from None
    return json_response(public_subscription(doc))


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/graph",
        "Graph subscription and backfill state",
        ADMIN,
        "GraphState",
        errors=(401, 403),
    ),
)
async def graph_status(ctx: RequestContext) -> func.HttpResponse:
    from shared.graph.status import graph_status as status

    return json_response(await status(ctx.clients, ctx.principal.tenant_id))


@route(
    bp,
    Endpoint(
        "get",
        "v1/quality/pstn-trunks",
        "PSTN and Direct Routing per trunk and day: "
        "attempts, answered, NER, average duration, failures by SIP code",
        REPORTS,
        "PstnReport",
        params=(
            Param("from", required=True, description="first day (YYYY-MM-DD)"),
            Param("to", required=True, description="last day (YYYY-MM-DD)"),
            *PAGE,
            *DATA,
        ),
        other_media=("text/csv",),
    ),
)
async def pstn_trunks(ctx: RequestContext) -> func.HttpResponse:
    """Per trunk and day; no EUII (no numbers, no users), so every report level."""
    from shared.graph.pstn import report_page

    days: dict[str, str] = {}
    for name in ("from", "to"):
        value = ctx.param(name) or ""
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise Invalid(f"`{name}` is required as YYYY-MM-DD", field=name)
        try:
            date.fromisoformat(value)
        except ValueError:
            raise Invalid(f"`{name}` is not a date", field=name) from None
        days[name] = value
    if days["to"] < days["from"]:
        raise Invalid("`to` is before `from`", field="to")
    body = await report_page(
        ctx.clients,
        ctx.principal.tenant_id,
        days["from"],
        days["to"],
        ctx.param("continuationToken"),
    )
    return data_response(ctx.req, body, "rows", "PstnTrunkDay")
