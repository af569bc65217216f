"""Quality alerts: the hourly evaluation timer and the admin list / acknowledge routes.

Thin glue over `shared.alerts`; the OpenAPI entries are registered at import, like
every route family outside shared/openapi.py.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
from pydantic import BaseModel, ConfigDict

from functions.http_support import RequestContext, handle, json_response
from shared import telemetry
from shared.alerts import acknowledge, evaluate_all, list_alerts
from shared.openapi import Param, Route, openapi_document, register
from shared.settings import get_settings
from shared.storage.clients import get_clients

bp = func.Blueprint()
ANON = func.AuthLevel.ANONYMOUS
# Hourly at minute 7 (off the hour, when other jobs start); today and yesterday are
# re-evaluated each run, so a late batch still raises its day's alert.
SCHEDULE = "0 7 * * * *"


class QualityAlert(BaseModel):
    """One building's day over the audio Poor % threshold."""

    model_config = ConfigDict(extra="allow")
    id: str
    day: str
    building: str
    poorPercent: float
    poor: int
    good: int
    threshold: float
    status: str
    raisedAt: str
    ackedBy: str | None = None
    ackedAt: str | None = None


class AlertList(BaseModel):
    model_config = ConfigDict(extra="allow")
    open: int
    truncated: bool
    alerts: list[QualityAlert]


register(
    Route(
        "get",
        "v1/admin/alerts",
        "Quality alerts (building audio Poor % per day)",
        ("admin",),
        AlertList,
        params=(
            Param("from", description="first day (YYYY-MM-DD), default 30 days ago"),
            Param("to", description="last day (YYYY-MM-DD), default today"),
            Param("status", description="open | acknowledged | all (default)"),
        ),
    )
)
register(
    Route(
        "post",
        "v1/admin/alerts/{alertId}/ack",
        "Acknowledge a quality alert",
        ("admin",),
        QualityAlert,
        params=(Param("alertId", "path", True),),
        errors=(400, 401, 403, 404),
    )
)
openapi_document.cache_clear()  # register() does not invalidate an already built document


@bp.function_name("evaluate_quality_alerts")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
async def evaluate_quality_alerts(timer: func.TimerRequest) -> None:
    telemetry.configure_telemetry()
    settings = get_settings()
    await evaluate_all(get_clients(settings), settings.auth_tenants)


@bp.route(route="v1/admin/alerts", methods=["GET"], auth_level=ANON)
async def get_alerts(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        body: dict[str, Any] = await list_alerts(ctx.clients, ctx.principal, dict(req.params))
        return json_response(body, 200, {"Cache-Control": "no-store"})

    return await handle(req, run)


@bp.route(route="v1/admin/alerts/{alertId}/ack", methods=["POST"], auth_level=ANON)
async def ack_alert(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        alert = await acknowledge(ctx.clients, ctx.principal, req.route_params.get("alertId") or "")
        return json_response(alert)

    return await handle(req, run)
