"""Microsoft Graph glue: webhooks, the fetch queue trigger, timers, admin endpoints.

The webhooks are anonymous because Graph calls them without a token; what proves a
notification genuine is the subscription's clientState (shared/graph/webhook.py).
Everything else is in `shared.graph`; this module parses, calls, shapes.
"""

from __future__ import annotations

import json
import logging

import azure.functions as func
from pydantic import BaseModel, ConfigDict, Field

from functions.http_support import RequestContext, handle, json_response, problem_response
from shared.auth.levels import ADMIN
from shared.graph.config import DEFAULT_QUEUE, graph_config
from shared.openapi import Param, Route, openapi_document, register
from shared.problems import Problem

bp = func.Blueprint()
ANON = func.AuthLevel.ANONYMOUS
log = logging.getLogger(__name__)


class GraphNotifications(BaseModel):
    """Graph change or lifecycle notifications (`value`: one item per notification)."""

    model_config = ConfigDict(extra="allow")
    value: list[dict[str, object]]


class BackfillBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="ISO-8601 start (inclusive), within 30 days")
    to: str = Field(description="ISO-8601 end (exclusive)")


class BackfillStarted(BaseModel):
    model_config = ConfigDict(extra="allow")
    runId: str
    tenantId: str
    status: str


class GraphState(BaseModel):
    model_config = ConfigDict(extra="allow")
    subscription: dict[str, object] | None = None
    backfills: list[dict[str, object]] = Field(default_factory=list)


_TOKEN = (Param("validationToken", description="Graph's validation request: echoed as text/plain"),)
register(
    Route(
        "post",
        "v1/graph/notifications",
        "Microsoft Graph change notifications (anonymous; verified by clientState)",
        (),
        None,
        202,
        params=_TOKEN,
        body=GraphNotifications,
        other_media=("text/plain",),
        errors=(400, 413),
    )
)
register(
    Route(
        "post",
        "v1/graph/lifecycle",
        "Microsoft Graph lifecycle notifications (anonymous; verified by clientState)",
        (),
        None,
        202,
        params=_TOKEN,
        body=GraphNotifications,
        other_media=("text/plain",),
        errors=(400, 413),
    )
)
register(
    Route(
        "post",
        "v1/admin/graph/backfill",
        "Fetch the call records of a window again from Microsoft Graph",
        ("admin",),
        BackfillStarted,
        202,
        body=BackfillBody,
        errors=(400, 401, 403, 409),
    )
)
register(
    Route(
        "post",
        "v1/admin/graph/subscription",
        "Create the tenant's Graph subscription now",
        ("admin",),
        None,
        errors=(401, 403, 409, 502),
    )
)
register(
    Route(
        "get",
        "v1/admin/graph",
        "Graph subscription and backfill state",
        ("admin",),
        GraphState,
        errors=(401, 403),
    )
)


class PstnTrunkDay(BaseModel):
    day: str
    trunk: str
    logType: str
    attempts: int
    answered: int
    ner: float | None = Field(description="network effectiveness ratio (docs/graph.md)")
    averageDurationS: float | None
    failuresBySipCode: dict[str, int]


class PstnReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    rows: list[PstnTrunkDay]


register(
    Route(
        "get",
        "v1/quality/pstn-trunks",
        "PSTN and Direct Routing per trunk and day: "
        "attempts, answered, NER, average duration, failures by SIP code",
        ("admin", "engineer", "specialist", "reader"),
        PstnReport,
        params=(
            Param("from", required=True, description="first day (YYYY-MM-DD)"),
            Param("to", required=True, description="last day (YYYY-MM-DD)"),
        ),
    )
)
openapi_document.cache_clear()  # register() does not invalidate an already built document


async def _webhook(req: func.HttpRequest, lifecycle: bool) -> func.HttpResponse:
    from shared.graph import webhook
    from shared.storage.clients import get_clients

    params = dict(req.params)
    echo = webhook.validation_echo(params)
    if echo is not None:  # no storage touched: validation must answer within 10 s
        return func.HttpResponse(echo.body, status_code=200, mimetype="text/plain")
    try:
        handler = webhook.handle_lifecycle if lifecycle else webhook.handle_notifications
        result = await handler(get_clients(), graph_config(), req.get_body(), params)
    except Problem as problem:
        return problem_response(problem)
    return func.HttpResponse(status_code=result.status)


@bp.route(route="v1/graph/notifications", methods=["POST"], auth_level=ANON)
async def graph_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return await _webhook(req, lifecycle=False)


@bp.route(route="v1/graph/lifecycle", methods=["POST"], auth_level=ANON)
async def graph_lifecycle(req: func.HttpRequest) -> func.HttpResponse:
    return await _webhook(req, lifecycle=True)


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
    from datetime import timedelta

    from shared.graph.pstn import queue_logs
    from shared.graph.subscriptions import now

    del timer
    config = graph_config()
    end = now().replace(hour=0, minute=0, second=0, microsecond=0)
    for tenant in config.tenants:
        await queue_logs(config, tenant, end - timedelta(days=1), end)


@bp.route(route="v1/admin/graph/backfill", methods=["POST"], auth_level=ANON)
async def graph_backfill(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        from shared.graph import backfill
        from shared.graph.subscriptions import now

        ctx.principal.require(ADMIN)
        config = graph_config()
        if not config.is_tenant(ctx.principal.tenant_id):
            raise Problem(
                409,
                "this tenant is not configured for Microsoft Graph (CDC_GRAPH_TENANTS)",
                field="tenantId",
            )
        try:
            body = json.loads(req.get_body() or b"{}")
        except ValueError:
            raise Problem(400, "the body is not JSON", field="body") from None
        if not isinstance(body, dict):
            raise Problem(400, "the body must be a JSON object", field="$")
        begin, end = backfill.window(body.get("from"), body.get("to"), now())
        started = await backfill.start(config, ctx.principal.tenant_id, begin, end, "admin")
        return json_response(started, 202)

    return await handle(req, run)


@bp.route(route="v1/admin/graph/subscription", methods=["POST"], auth_level=ANON)
async def graph_subscribe(req: func.HttpRequest) -> func.HttpResponse:
    """Create the tenant's subscription now (else the renewal timer does, within 30
    minutes of the tenant being configured)."""

    async def run(ctx: RequestContext) -> func.HttpResponse:
        from shared.graph import subscriptions
        from shared.graph.client import GraphError, get_graph
        from shared.graph.status import public_subscription

        ctx.principal.require(ADMIN)
        config = graph_config()
        if not config.is_tenant(ctx.principal.tenant_id):
            raise Problem(
                409,
                "this tenant is not configured for Microsoft Graph (CDC_GRAPH_TENANTS)",
                field="tenantId",
            )
        try:
            doc = await subscriptions.ensure(
                ctx.clients, get_graph(config), config, ctx.principal.tenant_id
            )
        except GraphError as exc:
            raise Problem(
                502, f"Microsoft Graph refused the subscription ({exc.status} {exc.code})"
            ) from None
        return json_response(public_subscription(doc))

    return await handle(req, run)


@bp.route(route="v1/admin/graph", methods=["GET"], auth_level=ANON)
async def graph_status(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        from shared.graph.status import graph_status as status

        ctx.principal.require(ADMIN)
        return json_response(await status(ctx.clients, ctx.principal.tenant_id))

    return await handle(req, run)


@bp.route(route="v1/quality/pstn-trunks", methods=["GET"], auth_level=ANON)
async def pstn_trunks(req: func.HttpRequest) -> func.HttpResponse:
    """Per trunk and day; no EUII (no numbers, no users), so every report level."""

    async def run(ctx: RequestContext) -> func.HttpResponse:
        import re
        from datetime import date

        from shared.auth.levels import REPORTS
        from shared.graph.pstn import report

        ctx.principal.require(REPORTS)
        days: dict[str, str] = {}
        for name in ("from", "to"):
            value = req.params.get(name) or ""
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise Problem(400, f"`{name}` is required as YYYY-MM-DD", field=name)
            try:
                date.fromisoformat(value)
            except ValueError:
                raise Problem(400, f"`{name}` is not a date", field=name) from None
            days[name] = value
        if days["to"] < days["from"]:
            raise Problem(400, "`to` is before `from`", field="to")
        rows = await report(ctx.clients, ctx.principal.tenant_id, days["from"], days["to"])
        return json_response({"from": days["from"], "to": days["to"], "rows": rows})

    return await handle(req, run)
