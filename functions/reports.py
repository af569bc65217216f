"""HTTP triggers of the report set: built-in and custom reports, and running one.

Definitions, validation and running live in `shared.reports.definitions`; this module
reads JSON bodies with a size cap and picks JSON or CSV from the Accept header.
"""

from __future__ import annotations

import azure.functions as func

from functions.contract import DATA, PAGE, Endpoint, Param
from functions.http_support import (
    RequestContext,
    data_response,
    json_body,
    json_response,
    route,
)
from shared.auth.levels import ADMIN, REPORTS
from shared.reports.vocabulary import FILTERS

bp = func.Blueprint()
MAX_REPORT_BYTES = 64 * 1024
ID = Param("id", "path", True, "report id (built-in slug or custom-...)")
# a run narrows the report by the summary's filters (docs/reference/cqd-dimensions.md)
RUN_FILTERS = tuple(
    Param(name, description="narrow the run (exact value, within the report's own filter)")
    for name in FILTERS
)


@route(
    bp,
    Endpoint(
        "get",
        "v1/reports",
        "The report set: built-in and the tenant's custom reports",
        REPORTS,
        "ReportList",
        params=DATA,
        other_media=("text/csv",),
        errors=(400, 401, 403),
    ),
)
async def list_reports_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports.report_set import list_reports

    return data_response(
        ctx.req, await list_reports(ctx.clients, ctx.principal), "reports", "ReportDefinitionOut"
    )


@route(
    bp,
    Endpoint(
        "post",
        "v1/reports",
        "Create a custom report",
        ADMIN,
        "ReportDefinitionOut",
        201,
        body="shared.reports.definitions.ReportDefinitionBody",
        errors=(400, 401, 403, 409, 413, 415),
        headers=(("Location", "the new report"),),
    ),
)
async def create_report_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports.report_set import create_report

    created = await create_report(ctx.clients, ctx.principal, json_body(ctx.req, MAX_REPORT_BYTES))
    return json_response(created, 201, headers={"Location": f"/api/v1/reports/{created['id']}"})


@route(
    bp,
    Endpoint(
        "put",
        "v1/reports/{id}",
        "Replace a custom report (its version goes up)",
        ADMIN,
        "ReportDefinitionOut",
        params=(ID,),
        body="shared.reports.definitions.ReportDefinitionBody",
        errors=(400, 401, 403, 404, 409, 413, 415),
    ),
)
async def replace_report_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports.report_set import replace_report

    body = json_body(ctx.req, MAX_REPORT_BYTES)
    return json_response(
        await replace_report(ctx.clients, ctx.principal, ctx.route_param("id"), body)
    )


@route(
    bp,
    Endpoint(
        "delete",
        "v1/reports/{id}",
        "Delete a custom report",
        ADMIN,
        None,
        204,
        params=(ID,),
        errors=(401, 403, 404, 409),
    ),
)
async def delete_report_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports.report_set import delete_report

    await delete_report(ctx.clients, ctx.principal, ctx.route_param("id"))
    return func.HttpResponse(status_code=204)


@route(
    bp,
    Endpoint(
        "get",
        "v1/reports/{id}/run",
        "Run a report over a period (JSON or CSV)",
        REPORTS,
        "ReportTable",
        params=(
            ID,
            Param(
                "from",
                description="YYYY-MM-DD (inclusive); with `to`, or "
                "neither for the report's default period",
            ),
            Param("to", description="YYYY-MM-DD (inclusive)"),
            *PAGE,
            *RUN_FILTERS,
            *DATA,
        ),
        other_media=("text/csv",),
        errors=(400, 401, 403, 404),
    ),
)
async def run_report_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports.definitions import report_csv
    from shared.reports.report_set import run_report

    body = await run_report(ctx.clients, ctx.principal, ctx.route_param("id"), dict(ctx.req.params))
    return data_response(ctx.req, body, "rows", as_csv=report_csv)
