"""HTTP triggers of Call Analytics: user search, a user's history, call detail, audit."""

from __future__ import annotations

import azure.functions as func

from functions.contract import DATA, FROM_TO, PAGE, Endpoint, Param
from functions.http_support import RequestContext, data_response, json_response, route
from shared.auth.levels import ADMIN, CALL_ANALYTICS, CALL_LOOKUP

bp = func.Blueprint()


@route(
    bp,
    Endpoint(
        "get",
        "v1/users",
        "Find users seen in call data (top 25)",
        CALL_ANALYTICS,
        "UserSearch",
        params=(Param("search", required=True, description="name, UPN or SIP prefix"), *DATA),
        other_media=("text/csv",),
    ),
)
async def find_users(ctx: RequestContext) -> func.HttpResponse:
    from shared.analytics.audit import audited
    from shared.analytics.service import search_users

    return data_response(
        ctx.req,
        await audited(
            ctx.clients,
            ctx.principal,
            "searchUsers",
            lambda: search_users(ctx.clients, ctx.principal, ctx.param("search")),
        ),
        "users",
        "UserEntry",
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/users/{user}/calls",
        "A user's calls and meetings, newest first",
        CALL_ANALYTICS,
        "CallHistory",
        params=(Param("user", "path", True, "UPN or SIP URI"), *FROM_TO, *PAGE, *DATA),
        other_media=("text/csv",),
    ),
)
async def list_user_calls(ctx: RequestContext) -> func.HttpResponse:
    from shared.analytics.audit import audited
    from shared.analytics.service import normalise_user, user_calls

    user = ctx.route_param("user")
    return data_response(
        ctx.req,
        await audited(
            ctx.clients,
            ctx.principal,
            "userCalls",
            lambda: user_calls(
                ctx.clients,
                ctx.principal,
                user,
                ctx.param("from"),
                ctx.param("to"),
                ctx.param("continuationToken"),
            ),
            user=normalise_user(user),
        ),
        "calls",
        "CallSummary",
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/calls",
        "Find calls by any id: Graph callRecord/session id, SIP Call-ID, conference URI",
        CALL_LOOKUP,
        "CallLookup",
        params=(
            Param(
                "sourceId",
                required=True,
                description="a Graph callRecord or session id, a SIP Call-ID, a conference"
                " URI or id, a QoE report id, or the product's call id",
            ),
            *DATA,
        ),
        other_media=("text/csv",),
    ),
)
async def find_calls(ctx: RequestContext) -> func.HttpResponse:
    from shared.analytics.audit import audited
    from shared.analytics.service import calls_by_source_id

    return data_response(
        ctx.req,
        await audited(
            ctx.clients,
            ctx.principal,
            "callLookup",
            lambda: calls_by_source_id(ctx.clients, ctx.principal, ctx.param("sourceId")),
        ),
        "calls",
        "CallSummary",
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/calls/{callId}",
        "Call detail with ratings and metric flags; sessions by page",
        CALL_ANALYTICS,
        "CallDetail",
        params=(
            Param("callId", "path", True),
            Param("user", description="the user searched for (required for specialist)"),
            *PAGE,
        ),
        errors=(400, 401, 403, 404),
    ),
)
async def get_call(ctx: RequestContext) -> func.HttpResponse:
    from shared.analytics.audit import audited
    from shared.analytics.service import call_detail, normalise_user

    call_id = ctx.route_param("callId")
    searched = ctx.param("user")
    return json_response(
        await audited(
            ctx.clients,
            ctx.principal,
            "callDetail",
            lambda: call_detail(
                ctx.clients, ctx.principal, call_id, searched, ctx.param("continuationToken")
            ),
            call_id=call_id,
            user=normalise_user(searched) if searched else None,
        )
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/audit",
        "Who read whose call data",
        ADMIN,
        "AuditPage",
        params=(*FROM_TO, *PAGE, *DATA),
        other_media=("text/csv",),
    ),
)
async def get_audit(ctx: RequestContext) -> func.HttpResponse:
    from shared.analytics.audit import read_audit

    return data_response(
        ctx.req,
        await read_audit(
            ctx.clients,
            ctx.principal,
            ctx.param("from"),
            ctx.param("to"),
            ctx.param("continuationToken"),
        ),
        "entries",
        "AuditEntry",
    )
