"""HTTP triggers of Call Analytics: user search, history, call detail, audit, OpenAPI."""

from __future__ import annotations

import azure.functions as func

from functions.http_support import RequestContext, handle, json_response
from shared.analytics.audit import audited, read_audit
from shared.analytics.service import call_detail, normalise_user, search_users, user_calls

bp = func.Blueprint()
ANON = func.AuthLevel.ANONYMOUS


@bp.route(route="v1/users", methods=["GET"], auth_level=ANON)
async def find_users(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        return json_response(
            await audited(
                ctx.clients,
                ctx.principal,
                "searchUsers",
                lambda: search_users(ctx.clients, ctx.principal, req.params.get("search")),
            )
        )

    return await handle(req, run)


@bp.route(route="v1/users/{user}/calls", methods=["GET"], auth_level=ANON)
async def list_user_calls(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        user = req.route_params["user"]
        return json_response(
            await audited(
                ctx.clients,
                ctx.principal,
                "userCalls",
                lambda: user_calls(
                    ctx.clients,
                    ctx.principal,
                    user,
                    req.params.get("from"),
                    req.params.get("to"),
                    req.params.get("continuationToken"),
                ),
                user=normalise_user(user),
            )
        )

    return await handle(req, run)


@bp.route(route="v1/calls/{callId}", methods=["GET"], auth_level=ANON)
async def get_call(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        call_id = req.route_params["callId"]
        searched = req.params.get("user")
        return json_response(
            await audited(
                ctx.clients,
                ctx.principal,
                "callDetail",
                lambda: call_detail(ctx.clients, ctx.principal, call_id, searched),
                call_id=call_id,
                user=normalise_user(searched) if searched else None,
            )
        )

    return await handle(req, run)


@bp.route(route="v1/audit", methods=["GET"], auth_level=ANON)
async def get_audit(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        return json_response(
            await read_audit(
                ctx.clients,
                ctx.principal,
                req.params.get("from"),
                req.params.get("to"),
                req.params.get("continuationToken"),
            )
        )

    return await handle(req, run)


@bp.route(route="v1/openapi.json", methods=["GET"], auth_level=ANON)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.openapi import openapi_document

    return json_response(openapi_document())
