"""Health probes: anonymous liveness of the dependencies, and the admin's detail."""

from __future__ import annotations

import azure.functions as func

from functions.http_support import RequestContext, handle, json_response
from shared.health import admin_health, public_health
from shared.settings import get_settings
from shared.storage.clients import get_clients

bp = func.Blueprint()


@bp.route(route="v1/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        status, body = await public_health(get_clients(get_settings()))
    except Exception:  # misconfiguration counts as unhealthy, never as a 500 with details
        status, body = 503, {"status": "unhealthy"}
    return json_response(body, status, {"Cache-Control": "no-store"})


@bp.route(route="v1/admin/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health_detail(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        status, body = await admin_health(ctx.clients, ctx.principal)
        return json_response(body, status, {"Cache-Control": "no-store"})

    return await handle(req, run)
