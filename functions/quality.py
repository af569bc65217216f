"""HTTP triggers of the CQD-style quality reports: summary, poor users, missing subnets.

JSON or CSV, picked from the Accept header; the reports themselves are built in
`shared.reports`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions.contract import DATA, FROM_TO, PAGE, Endpoint, Param
from functions.http_support import RequestContext, data_response, route
from shared.auth.levels import REPORTS
from shared.reports.vocabulary import (
    EUII_LEVELS,
    FILTERS,
    GROUP_BY,
    MISSING_SUBNET_COLUMNS,
    POOR_USER_COLUMNS,
)

if TYPE_CHECKING:
    from shared.auth.tokens import Principal
    from shared.storage.clients import Clients

    Report = Callable[[Clients, Principal, Mapping[str, str]], Awaitable[dict[str, Any]]]

bp = func.Blueprint()
GROUP_BY_HELP = "|".join(GROUP_BY) + " (comma-separated)"
# every filter the summary takes (docs/reference/cqd-dimensions.md), declared so the
# OpenAPI document lists them
FILTER_PARAMS = tuple(Param(name, description="filter (exact value)") for name in FILTERS)


async def _report(
    ctx: RequestContext, report: Report, columns: Sequence[str] = ()
) -> func.HttpResponse:
    from shared.reports import to_csv

    body = await report(ctx.clients, ctx.principal, dict(ctx.req.params))
    return data_response(ctx.req, body, "rows", as_csv=lambda b: to_csv(b, columns))


@route(
    bp,
    Endpoint(
        "get",
        "v1/quality/summary",
        "CQD summary: counts and Poor % by a grouping",
        REPORTS,
        "ReportTable",
        params=(
            *FROM_TO,
            Param("groupBy", description=GROUP_BY_HELP),
            *FILTER_PARAMS,
            *PAGE,
            *DATA,
        ),
        other_media=("text/csv",),
    ),
)
async def quality_summary_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports import quality_summary

    return await _report(ctx, quality_summary)


@route(
    bp,
    Endpoint(
        "get",
        "v1/quality/poor-users",
        "Users with poor streams (drill-down)",
        EUII_LEVELS,
        "ReportTable",
        params=(*FROM_TO, Param("building"), Param("subnet"), *PAGE, *DATA),
        other_media=("text/csv",),
    ),
)
async def poor_users_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports import poor_users

    return await _report(ctx, poor_users, POOR_USER_COLUMNS)


@route(
    bp,
    Endpoint(
        "get",
        "v1/quality/missing-subnets",
        "Subnets with >= 10 audio streams not in the building file",
        REPORTS,
        "ReportTable",
        params=(*FROM_TO, *PAGE, *DATA),
        other_media=("text/csv",),
    ),
)
async def missing_subnets_route(ctx: RequestContext) -> func.HttpResponse:
    from shared.reports import missing_subnets

    return await _report(ctx, missing_subnets, MISSING_SUBNET_COLUMNS)
