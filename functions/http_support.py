"""Shared HTTP glue: authenticate, run a handler, render JSON or problem+json.

Handlers in `shared` raise `Problem` for anything the client did wrong; this module
renders it once. Transient storage failures become 503 with Retry-After (the sender
retries; nothing was acknowledged), and anything else a 500 without internals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from shared.auth.tokens import Principal, get_validator
from shared.problems import PROBLEM_CONTENT_TYPE, Problem
from shared.settings import Settings, get_settings
from shared.storage.clients import Clients, get_clients
from shared.storage.retry import is_transient

log = logging.getLogger(__name__)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers or {},
    )


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


class RequestContext:
    """What a handler needs: settings, clients, the authenticated principal."""

    def __init__(self, req: func.HttpRequest, settings: Settings, principal: Principal) -> None:
        self.req = req
        self.settings = settings
        self.principal = principal

    @property
    def clients(self) -> Clients:
        return get_clients(self.settings)


Handler = Callable[[RequestContext], Awaitable[func.HttpResponse]]


async def handle(req: func.HttpRequest, handler: Handler) -> func.HttpResponse:
    try:
        settings = get_settings()
        principal = await get_validator(settings).validate_async(req.headers.get("Authorization"))
        return await handler(RequestContext(req, settings, principal))
    except Problem as problem:
        return problem_response(problem)
    except Exception as exc:
        if is_transient(exc):
            log.warning("storage unavailable: %s", type(exc).__name__)
            return problem_response(
                Problem(
                    503, "storage is temporarily unavailable; retry", headers={"Retry-After": "5"}
                )
            )
        log.exception("unhandled error in %s %s", req.method, urlsplit(req.url).path)
        return problem_response(Problem(500, "internal error"))
