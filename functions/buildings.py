"""HTTP triggers of the tenant's building file (admin): replace it, read its summary and
the history of uploads; and the exclusion policy as stored (admin, read only: the agent
owns it)."""

from __future__ import annotations

import azure.functions as func

from functions.contract import Endpoint
from functions.http_support import RequestContext, json_response, route
from shared.auth.levels import ADMIN
from shared.errors import TooLarge
from shared.models.api import BuildingHistory, BuildingSummary, ExclusionView

bp = func.Blueprint()
MAX_BUILDING_BYTES = 64 * 1024 * 1024


@route(
    bp,
    Endpoint(
        "put",
        "v1/admin/buildings",
        "Replace the tenant's building file (CSV/TSV)",
        ADMIN,
        BuildingSummary,
        body_media=("text/csv", "text/tab-separated-values"),
        errors=(400, 401, 403, 413),
    ),
)
async def put_buildings(ctx: RequestContext) -> func.HttpResponse:
    """Replace the tenant's building file (TSV/CSV, no header;
    docs/reference/buildings.md)."""
    from shared.buildings import parse_building_file
    from shared.storage.buildings import save_building_file

    body = ctx.req.get_body() or b""
    if len(body) > MAX_BUILDING_BYTES:
        raise TooLarge(f"the building file is larger than {MAX_BUILDING_BYTES} bytes")
    rows = parse_building_file(body)
    summary = await save_building_file(
        ctx.clients, ctx.principal.tenant_id, rows, ctx.principal.name or ctx.principal.object_id
    )
    return json_response(summary)


@route(
    bp,
    Endpoint(
        "get", "v1/admin/buildings", "The active building file's summary", ADMIN, BuildingSummary
    ),
)
async def get_buildings(ctx: RequestContext) -> func.HttpResponse:
    from shared.storage.buildings import read_building_summary

    return json_response(await read_building_summary(ctx.clients, ctx.principal.tenant_id))


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/buildings/history",
        "The building file uploads, newest first (who, when, how many rows)",
        ADMIN,
        BuildingHistory,
        errors=(401, 403),
    ),
)
async def get_building_history(ctx: RequestContext) -> func.HttpResponse:
    from shared.storage.buildings import read_building_history

    return json_response(await read_building_history(ctx.clients, ctx.principal.tenant_id))


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/exclusions",
        "The tenant's exclusion policy (users and domains whose data stays on premises)",
        ADMIN,
        ExclusionView,
        errors=(401, 403),
    ),
)
async def get_exclusions(ctx: RequestContext) -> func.HttpResponse:
    """Read only: the on-prem agent owns the policy and pushes it
    (`PUT /api/v1/ingest/exclusions`); a purge may add a user to it."""
    from shared.storage.tenants import read_tenant_settings

    policy = (await read_tenant_settings(ctx.clients, ctx.principal.tenant_id)).exclusions
    return json_response({"users": policy.users, "domains": policy.domains})
