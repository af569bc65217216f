"""Quality alerts: the hourly evaluation timer and the admin list / acknowledge routes."""

from __future__ import annotations

import azure.functions as func

from functions.contract import DATA, PAGE, Endpoint, Param
from functions.http_support import RequestContext, data_response, json_response, route
from shared.auth.levels import ADMIN

bp = func.Blueprint()
# Hourly at minute 7 (off the hour, when other jobs start); today and yesterday are
# re-evaluated each run, so a late batch still raises its day's alert.
SCHEDULE = "0 7 * * * *"


@bp.function_name("evaluate_quality_alerts")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
async def evaluate_quality_alerts(timer: func.TimerRequest) -> None:
    from shared import telemetry
    from shared.alerts import evaluate_all
    from shared.settings import get_settings
    from shared.storage.clients import get_clients

    telemetry.configure_telemetry()
    settings = get_settings()
    await evaluate_all(get_clients(settings), settings.auth_tenants)


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/alerts",
        "Quality alerts (building audio Poor % per day)",
        ADMIN,
        "AlertList",
        params=(
            Param("from", description="first day (YYYY-MM-DD), default 30 days ago"),
            Param("to", description="last day (YYYY-MM-DD), default today"),
            Param("status", description="open | acknowledged | all (default)"),
            *PAGE,
            *DATA,
        ),
        other_media=("text/csv",),
    ),
)
async def get_alerts(ctx: RequestContext) -> func.HttpResponse:
    from shared.alerts import list_alerts

    body = await list_alerts(ctx.clients, ctx.principal, dict(ctx.req.params))
    response = data_response(ctx.req, body, "alerts", "QualityAlert")
    response.headers["Cache-Control"] = "no-store"
    return response


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/alerts/{alertId}/ack",
        "Acknowledge a quality alert",
        ADMIN,
        "QualityAlert",
        params=(Param("alertId", "path", True),),
        errors=(400, 401, 403, 404),
    ),
)
async def ack_alert(ctx: RequestContext) -> func.HttpResponse:
    from shared.alerts import acknowledge

    return json_response(await acknowledge(ctx.clients, ctx.principal, ctx.route_param("alertId")))
