"""The admin portal, served by the function app from the API's own origin (/api/portal/).

Thin glue over `shared.portal_site` (which says why the portal lives here). Anonymous:
the files are public; every API call the portal makes carries the user's bearer token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from functions.http_support import problem_response
from shared.openapi import Param, Route, openapi_document, register
from shared.portal_site import read_portal_file
from shared.problems import Problem

bp = func.Blueprint()

# `{*path}` (the rest of the URL) is a Functions route detail; OpenAPI names it {path}.
for _method in ("get", "head"):
    register(
        Route(
            _method,
            "portal/{path}",
            "Admin portal static files (HTML, JS, CSS)",
            (),
            None,
            errors=(404,),
            other_media=("text/html",),
            params=(Param("path", "path", True, "file below the portal folder"),),
        )
    )
openapi_document.cache_clear()  # register() does not invalidate an already built document


@bp.route(route="portal/{*path}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def portal(req: func.HttpRequest) -> func.HttpResponse:
    url_path = urlsplit(req.url).path
    if not url_path.endswith("/") and not req.route_params.get("path"):
        # /api/portal -> /api/portal/: the pages' relative links resolve below the folder.
        return func.HttpResponse(status_code=308, headers={"Location": url_path + "/"})
    found = read_portal_file(req.route_params.get("path") or "")
    if found is None:
        return problem_response(Problem(404, "no such portal file", field="path"))
    if req.headers.get("If-None-Match") == found.etag:
        return func.HttpResponse(status_code=304, headers=found.headers())
    body = b"" if req.method == "HEAD" else found.body
    return func.HttpResponse(
        body, status_code=200, headers={**found.headers(), "Content-Type": found.content_type}
    )
