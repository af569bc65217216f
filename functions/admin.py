"""HTTP triggers of the admin operations: tenant settings (classifier profile per
source, yellow tiers, retention)."""

from __future__ import annotations

import azure.functions as func

from functions.contract import Endpoint
from functions.http_support import RequestContext, json_body, json_response, route
from shared.admin.settings import get_settings, put_settings
from shared.auth.levels import ADMIN
from shared.tenant_settings import SettingsBody, SettingsOut

bp = func.Blueprint()
MAX_SETTINGS_BYTES = 64 * 1024


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/settings",
        "The tenant's classification and retention settings",
        ADMIN,
        SettingsOut,
        errors=(401, 403),
    ),
)
async def get_admin_settings(ctx: RequestContext) -> func.HttpResponse:
    return json_response(await get_settings(ctx.clients, ctx.principal))


@route(
    bp,
    Endpoint(
        "put",
        "v1/admin/settings",
        "Replace the tenant's classification and retention settings",
        ADMIN,
        SettingsOut,
        body=SettingsBody,
        errors=(400, 401, 403, 413, 415),
    ),
)
async def put_admin_settings(ctx: RequestContext) -> func.HttpResponse:
    """A profile change applies to calls processed from now on; the answer says so in
    `notices`."""
    body = json_body(ctx.req, MAX_SETTINGS_BYTES)
    return json_response(await put_settings(ctx.clients, ctx.principal, body))
