"""The API contract: each route's declaration, and the OpenAPI 3.1 document built from it.

A route is declared once, as an `Endpoint` passed to `functions.http_support.route`:
path, method, the access levels it requires, its parameters, request and response
models. The same object registers the Functions trigger, enforces the levels before
the handler runs, and becomes the route's entry in the document, so the documented and
the enforced level cannot differ and a route cannot exist undocumented.

Models are named, not imported (`"BatchAccepted"`: a model of `shared.models.api`;
`"shared.tenant_settings.SettingsOut"`: any other module's). The Functions worker
imports every route module to index its functions before the first request, so a route
module that imported its models would make each cold start import pydantic and define
every model class; named, they load when the OpenAPI document is first built or a
handler first uses one (`model_class`).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

from shared.auth.levels import LEVEL_ORDER, Level

if TYPE_CHECKING:
    from pydantic import BaseModel

# A model's name: "Name" in `shared.models.api`, else "package.module.Name".
ModelName = str
RESPONSE_MODELS = "shared.models.api"
PROBLEM_MODEL = "functions.problem_details.ProblemDetails"


@cache
def model_class(name: ModelName) -> type[BaseModel]:
    """The pydantic model a route names, imported on first use."""
    from pydantic import BaseModel

    module, _, attr = name.rpartition(".")
    found = getattr(importlib.import_module(module or RESPONSE_MODELS), attr)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise TypeError(f"{name} is not a pydantic model")
    return found


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"] = "query"
    required: bool = False
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Endpoint:
    """One route. `levels` empty: anonymous (no token is read at all)."""

    method: str
    path: str  # as registered, without the /api prefix: "v1/batches/{batchId}"
    summary: str
    levels: frozenset[Level]
    response: ModelName | None
    status: int = 200
    params: tuple[Param, ...] = ()
    body: ModelName | None = None
    body_media: tuple[str, ...] = ("application/json",)
    other_media: tuple[str, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403)
    also: tuple[tuple[int, str, ModelName], ...] = ()  # other success answers
    also_text: tuple[tuple[int, str], ...] = ()  # other success answers in text/plain
    # headers the success answer always carries (name, description), e.g. Location
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def documented_path(self) -> str:
        """The path as OpenAPI writes it: a Functions catch-all `{*rest}` is `{rest}`."""
        return "/api/" + re.sub(r"\{\*(\w+)\}", r"{\1}", self.path)

    @property
    def pages(self) -> bool:
        """Whether the route pages (takes `continuationToken`, answers the header)."""
        return any(p.name == PAGE[0].name and p.where == "query" for p in self.params)

    @property
    def ordered_levels(self) -> list[str]:
        return [lvl for lvl in LEVEL_ORDER if lvl in self.levels]


FROM_TO = (
    Param("from", description="ISO-8601 start (inclusive)"),
    Param("to", description="ISO-8601 end (exclusive)"),
)
PAGE = (Param("continuationToken", description="from the previous page"),)
# The next page's token as a response header too: the one place a CSV page has for it.
# Declared on the success answer of every route that takes `continuationToken`.
CONTINUATION_HEADER = "X-Continuation-Token"
ACCEPT_CSV = Param("Accept", "header", description="text/csv for CSV")
FORMAT = Param(
    "format",
    description="csv or json: overrides Accept (for clients that cannot set headers)",
    schema={"type": "string", "enum": ["json", "csv"]},
)
# Every report and list answers JSON, or CSV on `Accept: text/csv` / `?format=csv`
# (docs/reference/api.md).
DATA = (FORMAT, ACCEPT_CSV)

ENDPOINTS: list[Endpoint] = []


def declare(endpoint: Endpoint) -> Endpoint:
    """Add a route to the catalogue (once per method and path)."""
    if any((e.method, e.path) == (endpoint.method, endpoint.path) for e in ENDPOINTS):
        raise ValueError(f"route declared twice: {endpoint.method} {endpoint.path}")
    ENDPOINTS.append(endpoint)
    openapi_document.cache_clear()
    return endpoint


def _schema_ref(name: ModelName, schemas: dict[str, Any]) -> dict[str, str]:
    model = model_class(name)
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(e: Endpoint, schemas: dict[str, Any], problem: dict[str, str]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": e.summary,
        "operationId": e.method
        + "_"
        + "".join(c if c.isalnum() else "_" for c in e.documented_path[5:]).strip("_"),
        "responses": {},
    }
    if e.levels:
        op["security"] = [{"entra": []}]
        op["description"] = "Levels: " + ", ".join(e.ordered_levels) + " (docs/reference/roles.md)."
    if e.params:
        op["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in e.params
        ]
    if e.body is not None:
        body_schema = _schema_ref(e.body, schemas)
        op["requestBody"] = {
            "required": True,
            "content": {m: {"schema": body_schema} for m in e.body_media},
        }
    elif e.method in ("put", "post") and e.body_media != ("application/json",):
        op["requestBody"] = {
            "required": True,
            "content": {m: {"schema": {"type": "string"}} for m in e.body_media},
        }
    content: dict[str, Any] = {
        "application/json": {
            "schema": _schema_ref(e.response, schemas) if e.response else {"type": "object"}
        }
    }
    for media in e.other_media:
        content[media] = {"schema": {"type": "string"}}
    op["responses"][str(e.status)] = {"description": "OK", "content": content}
    success_headers = {
        name: {"description": text, "required": True, "schema": {"type": "string"}}
        for name, text in e.headers
    }
    if e.pages:
        success_headers[CONTINUATION_HEADER] = {
            "description": "the next page's continuationToken (absent on the last page)",
            "required": False,
            "schema": {"type": "string"},
        }
    if success_headers:
        op["responses"][str(e.status)]["headers"] = success_headers
    for status, description, model in e.also:
        op["responses"][str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": _schema_ref(model, schemas)}},
        }
        if status == 202:  # still running: where to look and when
            op["responses"]["202"]["headers"] = success_headers | {
                "Retry-After": {
                    "description": "seconds before asking the status URL",
                    "required": False,
                    "schema": {"type": "string"},
                }
            }
    for status, description in e.also_text:
        op["responses"][str(status)] = {
            "description": description,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    for code in e.errors:
        op["responses"][str(code)] = {
            "description": "problem",
            "content": {"application/problem+json": {"schema": problem}},
        }
        if code == 401:
            op["responses"]["401"]["headers"] = {"WWW-Authenticate": CHALLENGE_HEADER}
    return op


# The sign-in challenge of every 401 (functions/problems.py, docs/power-bi.md).
CHALLENGE_HEADER: dict[str, Any] = {
    "description": 'Bearer authorization_uri="<authority>/<tenant>/oauth2/authorize", '
    'resource_id="<API app ID URI>" (error="invalid_token" when a token was sent)',
    "required": True,
    "schema": {"type": "string", "pattern": "^Bearer "},
}


def _all_routes_declared() -> None:
    """Routes are declared when their module is imported; the composition root imports
    them all, so the document is complete whoever asks first."""
    import function_app  # noqa: F401


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    _all_routes_declared()
    schemas: dict[str, Any] = {}
    problem = _schema_ref(PROBLEM_MODEL, schemas)
    paths: dict[str, Any] = {}
    for e in ENDPOINTS:
        paths.setdefault(e.documented_path, {})[e.method] = _operation(e, schemas, problem)
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
