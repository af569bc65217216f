"""HTTP triggers of the ingest API: post a batch, read its status, push exclusions."""

from __future__ import annotations

import json

import azure.functions as func
from pydantic import ValidationError

from functions.http_support import RequestContext, base_url, handle, json_response
from shared.auth.levels import INGEST
from shared.ingest import accept_batch, batch_status
from shared.problems import FieldError, Problem
from shared.storage.tenants import ExclusionPolicy, save_exclusions

bp = func.Blueprint()


@bp.route(route="v1/batches", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def post_batch(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        result = await accept_batch(
            ctx.clients,
            ctx.settings,
            ctx.principal,
            req.get_body(),
            dict(req.headers),
            base_url(req),
        )
        headers = {"Location": result.body["statusUrl"]} if "statusUrl" in result.body else {}
        return json_response(result.body, result.status_code, headers)

    return await handle(req, run)


@bp.route(route="v1/batches/{batchId}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def get_batch(req: func.HttpRequest) -> func.HttpResponse:
    async def run(ctx: RequestContext) -> func.HttpResponse:
        body = await batch_status(ctx.clients, ctx.principal, req.route_params["batchId"])
        return json_response(body)

    return await handle(req, run)


@bp.route(route="v1/ingest/exclusions", methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
async def put_exclusions(req: func.HttpRequest) -> func.HttpResponse:
    """The on-prem agent pushes the tenant's copy of its exclusion policy, so records
    that reach us anyway are dropped here too (ingest.md, "Exclusion policy")."""

    async def run(ctx: RequestContext) -> func.HttpResponse:
        ctx.principal.require(INGEST)
        try:
            policy = ExclusionPolicy.model_validate(json.loads(req.get_body() or b"null"))
        except ValueError as exc:
            errors = (
                [FieldError(".".join(map(str, e["loc"])) or "$", e["msg"]) for e in exc.errors()]
                if isinstance(exc, ValidationError)
                else []
            )
            raise Problem(400, "exclusion policy is invalid", field="$", errors=errors) from None
        await save_exclusions(ctx.clients, ctx.principal.tenant_id, policy)
        return json_response(
            {
                "tenantId": ctx.principal.tenant_id,
                "users": len(policy.users),
                "domains": len(policy.domains),
            }
        )

    return await handle(req, run)
