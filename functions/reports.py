"""HTTP triggers of the report set (built-in and custom reports) and the on-prem topology.

Thin glue: definitions, validation and running live in `shared.reports.definitions`, the
topology in `shared.topology`; this module authenticates (via `handle`), reads JSON
bodies with a size cap and picks JSON or CSV from the Accept header. Its routes are
documented in `shared.openapi.ROUTES` (in that module, not registered from here, so the
catalogue is complete whatever was imported first).
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from functions.http_support import RequestContext, handle, json_response
from shared.auth.levels import ADMIN, INGEST
from shared.problems import Problem
from shared.reports.definitions import (
    create_report,
    delete_report,
    list_reports,
    replace_report,
    report_csv,
    run_report,
)
from shared.topology import parse_topology, read_topology, save_topology

bp = func.Blueprint()
ANON = func.AuthLevel.ANONYMOUS
MAX_REPORT_BYTES = 64 * 1024
MAX_TOPOLOGY_BYTES = 1024 * 1024  # far below Cosmos DB's 2 MB item limit


def _wants_csv(req: func.HttpRequest) -> bool:
    accept = (req.headers.get("Accept") or "").lower()
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def _json_body(req: func.HttpRequest, limit: int) -> Any:
    body = req.get_body() or b""
    if len(body) > limit:
        raise Problem(413, f"the body is larger than {limit} bytes")
    ctype = (req.headers.get("Content-Type") or "application/json").lower()
    if "json" not in ctype:
        raise Problem(415, "the body must be application/json", field="Content-Type")
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "the body is not valid JSON", field="$") from None


def _route_id(req: func.HttpRequest) -> str:
    return str(req.route_params.get("id") or "")


@bp.route(route="v1/reports", methods=["GET"], auth_level=ANON)
async def list_reports_route(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        return json_response(await list_reports(ctx.clients, ctx.principal))

    return await handle(req, run)


@bp.route(route="v1/reports", methods=["POST"], auth_level=ANON)
async def create_report_route(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(ADMIN)  # before reading the body: 403 wins over 400
        body = _json_body(req, MAX_REPORT_BYTES)
        created = await create_report(ctx.clients, ctx.principal, body)
        return json_response(created, 201, headers={"Location": f"/api/v1/reports/{created['id']}"})

    return await handle(req, run)


@bp.route(route="v1/reports/{id}", methods=["PUT"], auth_level=ANON)
async def replace_report_route(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(ADMIN)
        body = _json_body(req, MAX_REPORT_BYTES)
        return json_response(await replace_report(ctx.clients, ctx.principal, _route_id(req), body))

    return await handle(req, run)


@bp.route(route="v1/reports/{id}", methods=["DELETE"], auth_level=ANON)
async def delete_report_route(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        await delete_report(ctx.clients, ctx.principal, _route_id(req))
        return func.HttpResponse(status_code=204)

    return await handle(req, run)


@bp.route(route="v1/reports/{id}/run", methods=["GET"], auth_level=ANON)
async def run_report_route(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        body = await run_report(ctx.clients, ctx.principal, _route_id(req), dict(req.params))
        if _wants_csv(req):
            return func.HttpResponse(
                report_csv(body), status_code=200, mimetype="text/csv", charset="utf-8"
            )
        return json_response(body)

    return await handle(req, run)


@bp.route(route="v1/admin/topology", methods=["PUT"], auth_level=ANON)
async def put_topology(req: func.HttpRequest) -> func.HttpResponse:
    """Replace the tenant's on-prem topology. The on-prem agent pushes it with its ingest
    identity (`CallData.Ingest`), admins may upload it by hand."""

    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(INGEST)
        topology = parse_topology(_json_body(req, MAX_TOPOLOGY_BYTES))
        summary = await save_topology(
            ctx.clients,
            ctx.principal.tenant_id,
            topology,
            ctx.principal.name or ctx.principal.object_id or ctx.principal.app_id,
        )
        return json_response(summary)

    return await handle(req, run)


@bp.route(route="v1/admin/topology", methods=["GET"], auth_level=ANON)
async def get_topology(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(ADMIN)
        return json_response(await read_topology(ctx.clients, ctx.principal.tenant_id))

    return await handle(req, run)
