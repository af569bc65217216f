"""The HTTP edge: one way to register a route, authenticate, enforce its levels, run
its handler and render JSON, CSV or problem+json.

A handler receives a `RequestContext` and returns a response; it never checks a role
itself (the `Endpoint` it is registered with says which levels may call it, and
`handle` refuses the others before the handler runs). The services below raise
`shared.errors` classes, rendered here once by `functions.problems`. Transient storage
failures become 503 with Retry-After (the sender retries; nothing was acknowledged),
and anything else a 500 without internals.

Cold start: the Functions worker imports this module with every route module, before
any request, so it imports at its top only what declaring a route needs. Settings,
token validation, telemetry, the storage clients and the CSV writer load with the first
request that uses them.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import azure.functions as func

from functions.contract import CONTINUATION_HEADER, Endpoint, ModelName, declare, model_class
from functions.problems import PROBLEM_CONTENT_TYPE, Problem, as_problem, bearer_challenge
from shared.errors import DomainError, Invalid, TooLarge, Unsupported

if TYPE_CHECKING:
    from shared.auth.tokens import Principal, TokenValidator
    from shared.settings import Settings
    from shared.storage.clients import Clients

log = logging.getLogger(__name__)
ANONYMOUS = func.AuthLevel.ANONYMOUS  # Entra ID tokens are checked by us, not the host


def get_settings() -> Settings:
    from shared.settings import get_settings as settings

    return settings()


def get_validator(settings: Settings) -> TokenValidator:
    """The token validator of `settings` (a seam: tests put a validator of their own)."""
    from shared.auth.tokens import get_validator as validator

    return validator(settings)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers or {},
    )


def csv_response(text: str) -> func.HttpResponse:
    return func.HttpResponse(text, status_code=200, mimetype="text/csv", charset="utf-8")


def wants_csv(req: func.HttpRequest) -> bool:
    """CSV on `?format=csv`, or when the client asks for text/csv ahead of (or without)
    application/json. `format` wins over Accept: Power BI's and Excel's Web connector
    and a browser address bar cannot always set headers."""
    fmt = req.params.get("format")
    if fmt is not None:
        if fmt.lower() not in ("csv", "json"):
            raise Invalid("format must be csv or json", field="format")
        return fmt.lower() == "csv"
    accept = (req.headers.get("Accept") or "").lower()
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def list_csv(rows: list[dict[str, Any]], item: ModelName | None = None) -> str:
    """A list's items as CSV: one column per field of the item model (named as in an
    `Endpoint`; its JSON name as header, so an empty list still has its header row),
    then any other key in first-seen order; lists joined with `;`, nested objects as
    JSON, booleans true/false."""
    import csv

    fields = model_class(item).model_fields if item is not None else {}
    columns: list[str] = [f.alias or name for name, f in fields.items()]
    for r in rows:
        columns += [k for k in r if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        line: list[Any] = []
        for c in columns:
            v = r.get(c)
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, list):
                v = ";".join(json.dumps(x) if isinstance(x, dict) else str(x) for x in v)
            elif isinstance(v, dict):
                v = json.dumps(v)
            line.append("" if v is None else v)
        writer.writerow(line)
    return out.getvalue()


def data_response(
    req: func.HttpRequest,
    body: dict[str, Any],
    rows: str,
    item: ModelName | None = None,
    as_csv: Callable[[dict[str, Any]], str] | None = None,
) -> func.HttpResponse:
    """A list or report: JSON, or CSV of `body[rows]` when asked (`wants_csv`; `as_csv`
    for a report's own column order). The next page's token is the
    `continuationToken` field in JSON and the `X-Continuation-Token` header in both
    (CSV has no other place for it); both answer to the same `continuationToken` query
    parameter. The header is declared on every route with that parameter
    (`functions.contract`)."""
    token = body.get("continuationToken")
    headers = {CONTINUATION_HEADER: token} if token else {}
    if wants_csv(req):
        text = as_csv(body) if as_csv else list_csv(list(body.get(rows) or []), item)
        response = csv_response(text)
        for k, v in headers.items():
            response.headers[k] = v
        return response
    return json_response(body, headers=headers)


def problem_response(problem: Problem) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(problem.body()),
        status_code=problem.status,
        mimetype=PROBLEM_CONTENT_TYPE,
        headers=problem.headers,
    )


def base_url(req: func.HttpRequest) -> str:
    parts = urlsplit(req.url)
    return f"{parts.scheme}://{parts.netloc}"


def json_body(req: func.HttpRequest, limit: int) -> Any:
    """The request's JSON body, refused above `limit` bytes or when not JSON."""
    body = req.get_body() or b""
    if len(body) > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    ctype = (req.headers.get("Content-Type") or "application/json").lower()
    if "json" not in ctype:
        raise Unsupported("the body must be application/json", field="Content-Type")
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Invalid("the body is not valid JSON", field="$") from None


class RequestContext:
    """What a handler needs: the request, settings, clients and, on a route with
    levels, the authenticated principal."""

    def __init__(
        self,
        req: func.HttpRequest,
        principal: Principal | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.req = req
        self._principal = principal
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise RuntimeError("an anonymous route has no principal")
        return self._principal

    @property
    def clients(self) -> Clients:
        from shared.storage.clients import get_clients

        return get_clients(self.settings)

    @property
    def actor(self) -> str | None:
        """Who did it, for the records a change leaves (name, else object or app id)."""
        p = self.principal
        return p.name or p.object_id or p.app_id

    def param(self, name: str) -> str | None:
        return self.req.params.get(name)

    def route_param(self, name: str) -> str:
        return str(self.req.route_params.get(name) or "")


Handler = Callable[[RequestContext], Awaitable[func.HttpResponse]]


async def handle(req: func.HttpRequest, handler: Handler, endpoint: Endpoint) -> func.HttpResponse:
    from shared import telemetry

    telemetry.configure_telemetry()  # idempotent; the scrubber before anything logs
    try:
        if not endpoint.levels:
            return await handler(RequestContext(req))
        settings = get_settings()
        principal = await get_validator(settings).validate_async(req.headers.get("Authorization"))
        principal.require(endpoint.levels)  # before the body is read: 403 wins over 400
        return await handler(RequestContext(req, principal, settings))
    except DomainError as error:
        problem = as_problem(error)
        if problem.status == 401:
            problem.headers["WWW-Authenticate"] = bearer_challenge(
                get_settings(), bool(req.headers.get("Authorization"))
            )
        return problem_response(problem)
    except Exception as exc:
        from shared.storage.retry import is_transient

        if is_transient(exc):
            log.warning("storage unavailable: %s", type(exc).__name__)
            return problem_response(
                Problem(
                    503, "storage is temporarily unavailable; retry", headers={"Retry-After": "5"}
                )
            )
        log.exception("unhandled error in %s %s", req.method, urlsplit(req.url).path)
        return problem_response(Problem(500, "internal error"))


def route(bp: func.Blueprint, endpoint: Endpoint) -> Callable[[Handler], Any]:
    """Register `handler` as the HTTP function of `endpoint` on `bp`, and the endpoint
    in the API contract. The Functions function is named after the handler."""
    declare(endpoint)

    def decorate(handler: Handler) -> Any:
        async def trigger(req: func.HttpRequest) -> func.HttpResponse:
            return await handle(req, handler, endpoint)

        trigger.__name__ = handler.__name__
        trigger.__qualname__ = handler.__qualname__
        trigger.__doc__ = handler.__doc__
        return bp.route(
            route=endpoint.path, methods=[endpoint.method.upper()], auth_level=ANONYMOUS
        )(trigger)

    return decorate
