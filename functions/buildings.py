"""HTTP triggers of the tenant's building file (admin): upload one (with the first day
it labels), read the summary, list the kept uploads, roll back to one; and the
exclusion policy as stored (admin, read only: the agent owns it)."""

from __future__ import annotations

import azure.functions as func

from functions.contract import Endpoint, Param
from functions.http_support import RequestContext, json_response, route
from shared.auth.levels import ADMIN
from shared.errors import TooLarge

bp = func.Blueprint()
MAX_BUILDING_BYTES = 64 * 1024 * 1024
VALIDITY = (
    Param(
        "validFrom",
        description="first UTC day (YYYY-MM-DD) the file labels; earlier days keep the "
        "files before it. Default: the upload day when a file is active, else every day",
        schema={"type": "string", "format": "date"},
    ),
    Param(
        "relabelHistory",
        description="true: the file labels every day, past ones too (not with validFrom)",
        schema={"type": "string", "enum": ["true", "false"]},
    ),
)


@route(
    bp,
    Endpoint(
        "put",
        "v1/admin/buildings",
        "Upload a building file (CSV/TSV) valid from a day",
        ADMIN,
        "BuildingSummary",
        params=VALIDITY,
        body_media=("text/csv", "text/tab-separated-values"),
        errors=(400, 401, 403, 413),
    ),
)
async def put_buildings(ctx: RequestContext) -> func.HttpResponse:
    """Upload the tenant's building file (TSV/CSV, no header; docs/reference/buildings.md):
    it labels the days from `validFrom` on, the previous files keep theirs."""
    from shared.buildings import parse_building_file
    from shared.storage.buildings import save_building_file

    body = ctx.req.get_body() or b""
    if len(body) > MAX_BUILDING_BYTES:
        raise TooLarge(f"the building file is larger than {MAX_BUILDING_BYTES} bytes")
    rows = parse_building_file(body)
    summary = await save_building_file(
        ctx.clients,
        ctx.principal.tenant_id,
        rows,
        ctx.principal.name or ctx.principal.object_id,
        {"validFrom": ctx.param("validFrom"), "relabelHistory": ctx.param("relabelHistory")},
    )
    return json_response(summary)


@route(
    bp,
    Endpoint(
        "get", "v1/admin/buildings", "The active building file's summary", ADMIN, "BuildingSummary"
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
        "The kept building file uploads, newest first, and the current timeline",
        ADMIN,
        "BuildingHistory",
    ),
)
async def get_building_history(ctx: RequestContext) -> func.HttpResponse:
    from shared.storage.buildings import building_history

    return json_response(await building_history(ctx.clients, ctx.principal.tenant_id))


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/buildings/history/{uploadId}/rollback",
        "Roll back to a kept upload: the days labelled as right after it was uploaded",
        ADMIN,
        "BuildingSummary",
        params=(Param("uploadId", "path", True),),
        errors=(400, 401, 403, 404, 409),
    ),
)
async def post_building_rollback(ctx: RequestContext) -> func.HttpResponse:
    from shared.storage.buildings import roll_back

    return json_response(
        await roll_back(ctx.clients, ctx.principal.tenant_id, ctx.route_param("uploadId"))
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/exclusions",
        "The tenant's exclusion policy (users and domains whose data stays on premises)",
        ADMIN,
        "ExclusionView",
        errors=(401, 403),
    ),
)
async def get_exclusions(ctx: RequestContext) -> func.HttpResponse:
    """Read only: the on-prem agent owns the policy and pushes it
    (`PUT /api/v1/ingest/exclusions`); a purge may add a user to it."""
    from shared.storage.tenants import read_tenant_settings

    policy = (await read_tenant_settings(ctx.clients, ctx.principal.tenant_id)).exclusions
    return json_response({"users": policy.users, "domains": policy.domains})
