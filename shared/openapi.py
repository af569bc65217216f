"""OpenAPI 3.1 document, generated from the pydantic models and the route catalogue.

`ROUTES` lists every HTTP route with its models; a test compares it with the routes
the FunctionApp registers, so a new route without documentation fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models.call import CallView
from shared.models.envelope import BatchEnvelope


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; `field` names the offending field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchAccepted(BaseModel):
    batchId: str
    status: str
    statusUrl: str
    records: int


class BatchError(BaseModel):
    index: int
    reason: str


class BatchStatus(BaseModel):
    batchId: str
    tenantId: str
    status: Literal["accepted", "processing", "completed", "completedWithErrors", "failed"]
    received: int
    stored: int
    quarantined: int
    excluded: int
    calls: int
    errors: list[BatchError]
    receivedAt: str | None
    completedAt: str | None


class ExclusionPolicyBody(BaseModel):
    users: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)


class ExclusionSaved(BaseModel):
    tenantId: str
    users: int
    domains: int


class UserEntry(BaseModel):
    user: str
    displayName: str | None
    sipUri: str | None
    lastSeen: str | None


class UserSearch(BaseModel):
    users: list[UserEntry]


class CallSummary(BaseModel):
    callId: str
    callType: str | None
    start: str | None
    end: str | None
    durationS: float | None
    rating: str | None
    reasons: list[str]
    participantCount: int | None
    participants: list[str] | None = Field(default=None, description="engineer and admin only")


class CallHistory(BaseModel):
    user: str
    from_: str = Field(alias="from")
    to: str
    calls: list[CallSummary]
    continuationToken: str | None


class CallDetail(CallView):
    """Fields absent for a specialist are not in the response at all (roles.md)."""

    model_config = ConfigDict(extra="allow")
    callId: str
    participant_count: int


class AuditEntry(BaseModel):
    at: str
    action: str
    actorId: str | None
    actorName: str | None
    level: str | None
    targetUser: str | None
    callId: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    continuationToken: str | None


class ReportTable(BaseModel):
    """A report: one row per group with counts, Poor % and poor-due-to counts."""

    model_config = ConfigDict(extra="allow")
    from_: str = Field(alias="from")
    to: str
    documentsRead: int
    rows: list[dict[str, Any]]


class BuildingSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    rows: int | None = None


# Report set and topology (issue 10; handlers in functions/reports.py).


class ReportDefinitionBody(BaseModel):
    """A custom report. Dimensions, filters and measures are validated against those
    that exist; a bad one is a 400 naming its path (`groupBy[1]`, `filters.x`)."""

    name: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=500)
    groupBy: list[str] = Field(
        description="1-4 of day, week, month, building, networkName, "
        "city, region, subnet, connectionType, mediaType, insideCorp, "
        "vpn, site, pool"
    )
    filters: dict[str, Any] | None = Field(
        default=None,
        description=("{dimension: value or [values]}; insideCorp and vpn take true/false"),
    )
    measures: list[str] | None = Field(
        default=None,
        description=(
            "streams, good, poor, unclassified, droppedStreams, sessions, poorCalls, "
            "shortCalls, callSetupFailures, poorPercent, callSetupFailurePercent, "
            "droppedStreamPercent, poorDueTo"
        ),
    )
    period: dict[str, int] | None = Field(
        default=None, description=('default period: {"lastDays": 1-396} or {"lastMonths": 1-13}')
    )


class ReportDefinitionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    version: int
    builtIn: bool
    source: Literal["summary", "poorUsers"]
    groupBy: list[str]
    measures: list[str]
    levels: list[str]


class ReportList(BaseModel):
    reports: list[ReportDefinitionOut]


class TopologySite(BaseModel):
    name: str
    description: str | None = None
    city: str | None = None
    country: str | None = None


class TopologyPool(BaseModel):
    fqdn: str
    role: Literal["frontEnd", "edge", "mediation"] | list[Literal["frontEnd", "edge", "mediation"]]
    site: str
    servers: list[str] | None = Field(default=None, description="member server FQDNs")


class TopologyGateway(BaseModel):
    fqdn: str
    site: str
    mediationPool: str | None = None


class TopologyBody(BaseModel):
    """Sessions whose endpoint is one of these servers (by FQDN, or by role when only one
    pool has it) carry its site and pool in reports and call detail."""

    sites: list[TopologySite]
    pools: list[TopologyPool] = Field(default_factory=list)
    gateways: list[TopologyGateway] = Field(default_factory=list)


class TopologySummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    active: bool
    version: int
    sites: int
    pools: int
    gateways: int


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"] = "query"
    required: bool = False
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as registered, without the /api prefix: "v1/batches/{batchId}"
    summary: str
    levels: tuple[str, ...]
    response: type[BaseModel] | None
    status: int = 200
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    other_media: tuple[str, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403)


_FROM_TO = (
    Param("from", description="ISO-8601 start (inclusive)"),
    Param("to", description="ISO-8601 end (exclusive)"),
)
_PAGE = (Param("continuationToken", description="from the previous page"),)

_READ = ("admin", "engineer", "specialist", "reader")
_ID = Param("id", "path", True, "report id (built-in slug or custom-...)")

ROUTES: list[Route] = [
    Route(
        "post",
        "v1/batches",
        "Post a batch of call telemetry",
        ("ingest", "admin"),
        BatchAccepted,
        202,
        body=BatchEnvelope,
        params=(Param("Content-Encoding", "header", description="gzip or absent"),),
        errors=(400, 401, 403, 409, 413, 415),
    ),
    Route(
        "get",
        "v1/batches/{batchId}",
        "Status and counts of a batch",
        ("ingest", "admin"),
        BatchStatus,
        params=(Param("batchId", "path", True),),
        errors=(401, 403, 404),
    ),
    Route(
        "put",
        "v1/ingest/exclusions",
        "Replace the tenant's exclusion policy",
        ("ingest", "admin"),
        ExclusionSaved,
        body=ExclusionPolicyBody,
    ),
    Route(
        "get",
        "v1/users",
        "Find users seen in call data (top 25)",
        ("admin", "engineer", "specialist"),
        UserSearch,
        params=(Param("search", required=True, description="name, UPN or SIP prefix"),),
    ),
    Route(
        "get",
        "v1/users/{user}/calls",
        "A user's calls and meetings, newest first",
        ("admin", "engineer", "specialist"),
        CallHistory,
        params=(Param("user", "path", True, "UPN or SIP URI"), *_FROM_TO, *_PAGE),
    ),
    Route(
        "get",
        "v1/calls/{callId}",
        "Call detail with ratings and metric flags",
        ("admin", "engineer", "specialist"),
        CallDetail,
        params=(
            Param("callId", "path", True),
            Param("user", description="the user searched for (required for specialist)"),
        ),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "get",
        "v1/audit",
        "Who read whose call data",
        ("admin",),
        AuditPage,
        params=(*_FROM_TO, *_PAGE),
    ),
    Route("get", "v1/openapi.json", "This document", (), None, errors=()),
    Route(
        "get",
        "v1/quality/summary",
        "CQD summary: counts and Poor % by a grouping",
        ("admin", "engineer", "specialist", "reader"),
        ReportTable,
        params=(
            *_FROM_TO,
            Param(
                "groupBy",
                description=(
                    "day|week|month|building|networkName|city|region|subnet|connectionType|"
                    "mediaType|insideCorp|vpn|site|pool (comma-separated)"
                ),
            ),
            Param("Accept", "header", description="text/csv for CSV"),
        ),
        other_media=("text/csv",),
    ),
    Route(
        "get",
        "v1/quality/poor-users",
        "Users with poor streams (drill-down)",
        ("admin", "engineer"),
        ReportTable,
        params=(*_FROM_TO, Param("building"), Param("subnet")),
        other_media=("text/csv",),
    ),
    Route(
        "get",
        "v1/quality/missing-subnets",
        "Subnets with >= 10 audio streams not in the building file",
        ("admin", "engineer", "specialist", "reader"),
        ReportTable,
        params=_FROM_TO,
        other_media=("text/csv",),
    ),
    Route(
        "put",
        "v1/admin/buildings",
        "Replace the tenant's building file (CSV/TSV)",
        ("admin",),
        BuildingSummary,
        body=None,
        errors=(400, 401, 403, 413),
    ),
    Route(
        "get",
        "v1/admin/buildings",
        "The active building file's summary",
        ("admin",),
        BuildingSummary,
    ),
    # Report set and topology (issue 10).
    Route(
        "get",
        "v1/reports",
        "The report set: built-in and the tenant's custom reports",
        _READ,
        ReportList,
        errors=(401, 403),
    ),
    Route(
        "post",
        "v1/reports",
        "Create a custom report",
        ("admin",),
        ReportDefinitionOut,
        201,
        body=ReportDefinitionBody,
        errors=(400, 401, 403, 409, 413, 415),
    ),
    Route(
        "put",
        "v1/reports/{id}",
        "Replace a custom report (its version goes up)",
        ("admin",),
        ReportDefinitionOut,
        params=(_ID,),
        body=ReportDefinitionBody,
        errors=(400, 401, 403, 404, 409, 413, 415),
    ),
    Route(
        "delete",
        "v1/reports/{id}",
        "Delete a custom report",
        ("admin",),
        None,
        204,
        params=(_ID,),
        errors=(401, 403, 404, 409),
    ),
    Route(
        "get",
        "v1/reports/{id}/run",
        "Run a report over a period (JSON or CSV)",
        _READ,
        ReportTable,
        params=(
            _ID,
            Param(
                "from",
                description="YYYY-MM-DD (inclusive); with `to`, or neither "
                "for the report's default period",
            ),
            Param("to", description="YYYY-MM-DD (inclusive)"),
            Param("Accept", "header", description="text/csv for CSV"),
        ),
        other_media=("text/csv",),
        errors=(400, 401, 403, 404),
    ),
    Route(
        "put",
        "v1/admin/topology",
        "Replace the tenant's on-prem topology",
        ("admin", "ingest"),
        TopologySummary,
        body=TopologyBody,
        errors=(400, 401, 403, 413, 415),
    ),
    Route(
        "get",
        "v1/admin/topology",
        "The active on-prem topology",
        ("admin",),
        TopologySummary,
        errors=(401, 403),
    ),
    Route(
        "get", "v1/health", "Liveness of Blob and Cosmos DB (status only)", (), None, errors=(503,)
    ),
    Route(
        "get",
        "v1/admin/health",
        "Pipeline health: backlog, poison, sources",
        ("admin",),
        None,
        errors=(401, 403, 503),
    ),
]


def register(route: Route) -> None:
    """Route families outside this module add their entries at import of their
    blueprint module (function_app imports them all before any request)."""
    if all((r.method, r.path) != (route.method, route.path) for r in ROUTES):
        ROUTES.append(route)


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    problem = _schema_ref(ProblemDetails, schemas)
    paths: dict[str, Any] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": r.method
            + "_"
            + "".join(c if c.isalnum() else "_" for c in r.path).strip("_"),
            "responses": {},
        }
        if r.levels:
            op["security"] = [{"entra": []}]
            op["description"] = "Levels: " + ", ".join(r.levels) + " (roles.md)."
        if r.params:
            op["parameters"] = [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": p.schema,
                }
                for p in r.params
            ]
        if r.body is not None:
            body_schema = _schema_ref(r.body, schemas)
            op["requestBody"] = {
                "required": True,
                "content": {r.body_media: {"schema": body_schema}},
            }
        elif r.method == "put" and r.path == "v1/admin/buildings":
            op["requestBody"] = {
                "required": True,
                "content": {
                    m: {"schema": {"type": "string"}}
                    for m in ("text/csv", "text/tab-separated-values")
                },
            }
        content: dict[str, Any] = {
            "application/json": {
                "schema": _schema_ref(r.response, schemas) if r.response else {"type": "object"}
            }
        }
        for media in r.other_media:
            content[media] = {"schema": {"type": "string"}}
        op["responses"][str(r.status)] = {"description": "OK", "content": content}
        if r.method == "post" and r.path == "v1/batches":
            op["responses"]["200"] = {
                "description": "identical retry",
                "content": {"application/json": {"schema": _schema_ref(BatchStatus, schemas)}},
            }
        for code in r.errors:
            op["responses"][str(code)] = {
                "description": "problem",
                "content": {"application/problem+json": {"schema": problem}},
            }
        paths.setdefault("/api/" + r.path, {})[r.method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Call Data Connector API",
            "version": "1.0.0",
            "description": "Call telemetry ingest, Call Analytics and CQD-style reports.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "entra": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (Entra ID access token)",
                }
            },
        },
    }
