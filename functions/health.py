"""Health probes: anonymous liveness of the dependencies, and the admin's detail."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from functions.contract import Endpoint
from functions.http_support import RequestContext, json_response, route
from shared.auth.levels import ADMIN

bp = func.Blueprint()
NO_STORE = {"Cache-Control": "no-store"}


def status_for(body: dict[str, Any]) -> int:
    """Unhealthy is a 503, so a load balancer or uptime check needs no body parsing;
    degraded still answers 200 (the service takes batches)."""
    return 503 if body.get("status") == "unhealthy" else 200


def _answer(body: dict[str, Any]) -> func.HttpResponse:
    return json_response(body, status_for(body), NO_STORE)


@route(
    bp,
    Endpoint(
        "get",
        "v1/health",
        "Liveness of Blob and Cosmos DB (status only)",
        frozenset(),
        None,
        errors=(503,),
    ),
)
async def health(ctx: RequestContext) -> func.HttpResponse:
    from shared.health import public_health

    try:
        body = await public_health(ctx.clients)
    except Exception:  # misconfiguration counts as unhealthy, never as a 500 with details
        body = {"status": "unhealthy"}
    return _answer(body)


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/health",
        "Pipeline health: backlog, poison, sources",
        ADMIN,
        None,
        errors=(401, 403, 503),
    ),
)
async def health_detail(ctx: RequestContext) -> func.HttpResponse:
    from shared.health import admin_health

    return _answer(await admin_health(ctx.clients, ctx.principal))
