"""HTTP triggers of the tenant's on-prem topology: replace it (agent or admin), read it."""

from __future__ import annotations

import azure.functions as func

from functions.contract import Endpoint
from functions.http_support import RequestContext, json_body, json_response, route
from shared.auth.levels import ADMIN, INGEST

bp = func.Blueprint()
MAX_TOPOLOGY_BYTES = 1024 * 1024  # far below Cosmos DB's 2 MB item limit


@route(
    bp,
    Endpoint(
        "put",
        "v1/admin/topology",
        "Replace the tenant's on-prem topology",
        INGEST,
        "TopologySummary",
        body="shared.topology_validation.TopologyBody",
        errors=(400, 401, 403, 413, 415),
    ),
)
async def put_topology(ctx: RequestContext) -> func.HttpResponse:
    """The on-prem agent pushes it with its ingest identity (`CallData.Ingest`), admins
    may upload it by hand."""
    from shared.storage.topology import save_topology
    from shared.topology_validation import parse_topology

    topology = parse_topology(json_body(ctx.req, MAX_TOPOLOGY_BYTES))
    summary = await save_topology(ctx.clients, ctx.principal.tenant_id, topology, ctx.actor)
    return json_response(summary)


@route(
    bp,
    Endpoint(
        "get",
        "v1/admin/topology",
        "The active on-prem topology",
        ADMIN,
        "TopologySummary",
        errors=(401, 403),
    ),
)
async def get_topology(ctx: RequestContext) -> func.HttpResponse:
    from shared.storage.topology import read_topology

    return json_response(await read_topology(ctx.clients, ctx.principal.tenant_id))
