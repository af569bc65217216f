"""HTTP triggers of the admin operations: tenant settings (classifier profile per
source, yellow tiers, retention), purging a user's data, and quarantined records (list,
read, replay, discard)."""

from __future__ import annotations

import azure.functions as func

from functions.contract import CONTINUATION_HEADER, DATA, PAGE, Endpoint, Param
from functions.http_support import RequestContext, data_response, json_body, json_response, route
from shared.auth.levels import ADMIN
from shared.errors import Invalid

bp = func.Blueprint()
MAX_SETTINGS_BYTES = 64 * 1024
# How long a purge request waits for the purge before answering 202 with its status URL:
# well inside the HTTP front end's 230-second limit, long enough for a user of a few
# hundred calls.
PURGE_WAIT_S = 20.0


def purge_wait(prefer: str | None) -> float:
    """The wait a client asked for with RFC 7240 `Prefer`: `respond-async` alone means
    "answer at once", `wait=N` at most N seconds; never longer than `PURGE_WAIT_S`."""
    prefs = {p.strip().split("=", 1)[0].lower(): p.strip() for p in (prefer or "").split(",")}
    wait = PURGE_WAIT_S
    if "wait" in prefs:
        try:
            wait = min(wait, max(0.0, float(prefs["wait"].split("=", 1)[1])))
        except ValueError:
            pass  # an unreadable preference is ignored (RFC 7240, section 2)
    elif "respond-async" in prefs:
        wait = 0.0
    return wait


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/settings",
        "The tenant's classification and retention settings",
        ADMIN,
        "shared.tenant_settings.SettingsOut",
        errors=(401, 403),
    ),
)
async def get_admin_settings(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.settings import get_settings

    return json_response(await get_settings(ctx.clients, ctx.principal))


@route(
    bp,
    Endpoint(
        "put",
        "v1/admin/settings",
        "Replace the tenant's classification and retention settings",
        ADMIN,
        "shared.tenant_settings.SettingsOut",
        body="shared.tenant_settings.SettingsBody",
        errors=(400, 401, 403, 413, 415),
    ),
)
async def put_admin_settings(ctx: RequestContext) -> func.HttpResponse:
    """A profile change applies to calls processed from now on; the answer says so in
    `notices`."""
    from shared.admin.settings import put_settings

    body = json_body(ctx.req, MAX_SETTINGS_BYTES)
    return json_response(await put_settings(ctx.clients, ctx.principal, body))


@route(
    bp,
    Endpoint(
        "delete",
        "v1/admin/users/{user}",
        "Purge a user's call data (calls, history, directory entry; aggregates keep counts)",
        ADMIN,
        "PurgeResult",
        params=(
            Param("user", "path", True, "UPN or SIP URI"),
            Param(
                "addToExclusions",
                description="true: also add the user to the exclusion policy",
                schema={"type": "boolean"},
            ),
            Param(
                "Prefer",
                "header",
                description="respond-async: answer 202 at once; wait=N: wait at most N s",
            ),
        ),
        errors=(400, 401, 403),
        headers=(("Location", "the purge's status (statusUrl)"),),
        also=(
            (
                202,
                "Still running: poll `statusUrl` (the same request again joins it)",
                "PurgeResult",
            ),
        ),
    ),
)
async def purge_user_data(ctx: RequestContext) -> func.HttpResponse:
    """200 with the result when the purge ends within the wait, else 202 with the status
    URL while it goes on. Idempotent: the same request again joins a run in progress
    or, once it is done, finds nothing left and answers zero counts."""
    from shared.admin.purge import request_purge

    flag = (ctx.param("addToExclusions") or "false").lower()
    if flag not in ("true", "false"):
        raise Invalid("addToExclusions must be true or false", field="addToExclusions")
    finished, result = await request_purge(
        ctx.clients,
        ctx.principal,
        ctx.route_param("user"),
        flag == "true",
        purge_wait(ctx.req.headers.get("Prefer")),
    )
    result["statusUrl"] = f"/api/v1/admin/purges/{result['userHash']}"
    headers = {"Location": result["statusUrl"]}
    if finished:
        return json_response(result, headers=headers)
    return json_response(result, 202, headers=headers | {"Retry-After": "2"})


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/purges/{userHash}",
        "The last purge of a user, by the user's hash",
        ADMIN,
        "PurgeResult",
        params=(Param("userHash", "path", True),),
        errors=(401, 403, 404),
    ),
)
async def get_purge(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.purge import purge_status

    return json_response(
        await purge_status(ctx.clients, ctx.principal, ctx.route_param("userHash"))
    )


BATCH_INDEX = (Param("batchId", "path", True), Param("index", "path", True))


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/quarantine",
        "Quarantined records, by batch and reason",
        ADMIN,
        "QuarantineList",
        params=(
            Param("batchId", description="one batch only"),
            Param("reason", description="reasons containing this text"),
            *PAGE,
            *DATA,
        ),
        other_media=("text/csv",),
        errors=(400, 401, 403),
    ),
)
async def get_quarantine(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.quarantine import list_quarantine

    body = await list_quarantine(
        ctx.clients,
        ctx.principal,
        ctx.param("batchId"),
        ctx.param("reason"),
        ctx.param("continuationToken"),
    )
    return data_response(ctx.req, body, "items", "QuarantinedRecord")


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/quarantine/{batchId}/{index}",
        "One quarantined record, verbatim (audited)",
        ADMIN,
        "QuarantinedRecord",
        params=BATCH_INDEX,
        errors=(400, 401, 403, 404),
    ),
)
async def get_quarantined(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.quarantine import read_quarantined

    return json_response(
        await read_quarantined(
            ctx.clients, ctx.principal, ctx.route_param("batchId"), ctx.route_param("index")
        )
    )


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/quarantine/{batchId}/{index}/replay",
        "Replay one quarantined record through today's parsers",
        ADMIN,
        "ReplayResult",
        params=BATCH_INDEX,
        errors=(400, 401, 403, 404, 409),
    ),
)
async def replay_one(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.quarantine import replay

    return json_response(
        await replay(
            ctx.clients,
            ctx.settings,
            ctx.principal,
            ctx.route_param("batchId"),
            ctx.route_param("index"),
        )
    )


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/quarantine/{batchId}/replay",
        "Replay the batch's quarantined records, up to 100 a run (repeat with the token)",
        ADMIN,
        "ReplayRun",
        params=(Param("batchId", "path", True), *PAGE),
        errors=(400, 401, 403, 404, 409),
    ),
)
async def replay_batch(ctx: RequestContext) -> func.HttpResponse:
    """A bounded run: `remaining` says what this pass has not reached, and the caller
    (the portal, a script) runs again with `continuationToken` until it is null. A run
    repeated with the same token moves no count twice."""
    from shared.admin.quarantine import replay_batch as run

    body = await run(
        ctx.clients,
        ctx.settings,
        ctx.principal,
        ctx.route_param("batchId"),
        ctx.param("continuationToken"),
    )
    token = body["continuationToken"]
    return json_response(body, headers={CONTINUATION_HEADER: token} if token else None)


@route(
    bp,
    Endpoint(
        "delete",
        "v1/admin/quarantine/{batchId}/{index}",
        "Discard a quarantined record (its place and reason stay, counted as quarantined)",
        ADMIN,
        "QuarantinedRecord",
        params=BATCH_INDEX,
        errors=(400, 401, 403, 404),
    ),
)
async def discard_quarantined(ctx: RequestContext) -> func.HttpResponse:
    from shared.admin.quarantine import discard

    return json_response(
        await discard(
            ctx.clients, ctx.principal, ctx.route_param("batchId"), ctx.route_param("index")
        )
    )


@route(
    bp,
    Endpoint(
        "post",
        "v1/admin/source-index/backfill",
        "Index the source ids of calls stored before the index (one run; repeat with the token)",
        ADMIN,
        "SourceIndexRun",
        params=PAGE,
        errors=(400, 401, 403),
    ),
)
async def backfill_source_ids(ctx: RequestContext) -> func.HttpResponse:
    """Idempotent: an admin (or a script) runs it until `continuationToken` is null."""
    from shared.admin.source_index import backfill_source_index

    body = await backfill_source_index(ctx.clients, ctx.principal, ctx.param("continuationToken"))
    token = body["continuationToken"]
    return json_response(body, headers={CONTINUATION_HEADER: token} if token else None)
