"""HTTP triggers of the quality reports and the building file (admin).

Thin glue: the report and building logic live in `shared.reports` and
`shared.buildings`; this module authenticates (via `handle`), checks levels and picks
JSON or CSV from the Accept header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import azure.functions as func

from functions.http_support import RequestContext, handle, json_response
from shared.auth.levels import ADMIN
from shared.buildings import parse_building_file, read_building_summary, save_building_file
from shared.problems import Problem
from shared.reports import missing_subnets, poor_users, quality_summary, to_csv
from shared.storage.clients import Clients

bp = func.Blueprint()
ANON = func.AuthLevel.ANONYMOUS
MAX_BUILDING_BYTES = 64 * 1024 * 1024

Report = Callable[[Clients, Any, Mapping[str, str]], Awaitable[dict[str, Any]]]


def _wants_csv(req: func.HttpRequest) -> bool:
    accept = (req.headers.get("Accept") or "").lower()
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


async def _report(req: func.HttpRequest, report: Report) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        body = await report(ctx.clients, ctx.principal, dict(req.params))
        if _wants_csv(req):
            return func.HttpResponse(
                to_csv(body), status_code=200, mimetype="text/csv", charset="utf-8"
            )
        return json_response(body)

    return await handle(req, run)


@bp.route(route="v1/quality/summary", methods=["GET"], auth_level=ANON)
async def quality_summary_route(req: func.HttpRequest) -> func.HttpResponse:
    return await _report(req, quality_summary)


@bp.route(route="v1/quality/poor-users", methods=["GET"], auth_level=ANON)
async def poor_users_route(req: func.HttpRequest) -> func.HttpResponse:
    return await _report(req, poor_users)


@bp.route(route="v1/quality/missing-subnets", methods=["GET"], auth_level=ANON)
async def missing_subnets_route(req: func.HttpRequest) -> func.HttpResponse:
    return await _report(req, missing_subnets)


@bp.route(route="v1/admin/buildings", methods=["PUT"], auth_level=ANON)
async def put_buildings(req: func.HttpRequest) -> func.HttpResponse:
    """Replace the tenant's building file (TSV/CSV, no header; buildings.md)."""

    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(ADMIN)
        body = req.get_body() or b""
        if len(body) > MAX_BUILDING_BYTES:
            raise Problem(413, f"the building file is larger than {MAX_BUILDING_BYTES} bytes")
        rows = parse_building_file(body)
        summary = await save_building_file(
            ctx.clients,
            ctx.principal.tenant_id,
            rows,
            ctx.principal.name or ctx.principal.object_id,
        )
        return json_response(summary)

    return await handle(req, run)


@bp.route(route="v1/admin/buildings", methods=["GET"], auth_level=ANON)
async def get_buildings(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(ADMIN)
        return json_response(await read_building_summary(ctx.clients, ctx.principal.tenant_id))

    return await handle(req, run)
