"""HTTP triggers of the ingest API: post a batch, read its status, push exclusions."""

from __future__ import annotations

import json

import azure.functions as func

from functions.contract import Endpoint, Param
from functions.http_support import RequestContext, base_url, json_response, route
from shared.auth.levels import INGEST
from shared.errors import FieldError, Invalid, TooLarge

bp = func.Blueprint()


def status_url(req: func.HttpRequest, batch_id: str) -> str:
    return f"{base_url(req)}/api/v1/batches/{batch_id}"


@route(
    bp,
    Endpoint(
        "post",
        "v1/batches",
        "Post a batch of call telemetry",
        INGEST,
        "BatchAccepted",
        202,
        body="shared.models.envelope.BatchEnvelope",
        params=(Param("Content-Encoding", "header", description="gzip or absent"),),
        errors=(400, 401, 403, 409, 413, 415),
        also=((200, "identical retry", "BatchStatus"),),
    ),
)
async def post_batch(ctx: RequestContext) -> func.HttpResponse:
    from shared.ingest import BodyFormat, accept_batch

    fmt = BodyFormat(
        ctx.req.headers.get("Content-Type") or "", ctx.req.headers.get("Content-Encoding") or ""
    )
    result = await accept_batch(ctx.clients, ctx.settings, ctx.principal, ctx.req.get_body(), fmt)
    url = status_url(ctx.req, result.body["batchId"])
    return json_response(
        result.body | {"statusUrl": url}, 202 if result.created else 200, {"Location": url}
    )


@route(
    bp,
    Endpoint(
        "get",
        "v1/batches/{batchId}",
        "Status and counts of a batch",
        INGEST,
        "BatchStatus",
        params=(Param("batchId", "path", True),),
        errors=(401, 403, 404),
    ),
)
async def get_batch(ctx: RequestContext) -> func.HttpResponse:
    from shared.ingest import batch_status

    return json_response(await batch_status(ctx.clients, ctx.principal, ctx.route_param("batchId")))


@route(
    bp,
    Endpoint(
        "put",
        "v1/ingest/exclusions",
        "Replace the tenant's exclusion policy",
        INGEST,
        "ExclusionSaved",
        body="shared.exclusions.ExclusionPolicy",
        errors=(400, 401, 403, 413),
    ),
)
async def put_exclusions(ctx: RequestContext) -> func.HttpResponse:
    """The on-prem agent pushes the tenant's copy of its exclusion policy, so records
    that reach us anyway are dropped here too (docs/reference/ingest.md, "Exclusion
    policy")."""
    from pydantic import ValidationError

    from shared.exclusions import MAX_POLICY_BODY_BYTES, MAX_POLICY_BYTES, ExclusionPolicy
    from shared.storage.tenants import save_exclusions

    raw = ctx.req.get_body() or b""
    if len(raw) > MAX_POLICY_BODY_BYTES:
        raise TooLarge(f"the body is larger than {MAX_POLICY_BODY_BYTES} bytes", field="body")
    try:
        policy = ExclusionPolicy.model_validate(json.loads(raw or b"null"))
    except ValueError as exc:
        errors = (
            [FieldError(".".join(map(str, e["loc"])) or "$", e["msg"]) for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else []
        )
        raise Invalid("exclusion policy is invalid", field="$", errors=errors) from None
    if policy.stored_bytes() > MAX_POLICY_BYTES:
        raise TooLarge(
            f"the exclusion policy exceeds {MAX_POLICY_BYTES} bytes once stored", field="users"
        )
    await save_exclusions(ctx.clients, ctx.principal.tenant_id, policy)
    return json_response(
        {
            "tenantId": ctx.principal.tenant_id,
            "users": len(policy.users),
            "domains": len(policy.domains),
        }
    )
