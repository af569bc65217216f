"""The admin portal, served by the function app from the API's own origin (/api/portal/).

Thin glue over `shared.portal_site` (which says why the portal lives here). Anonymous
(an `Endpoint` without levels: no token is read): the files are public; every API call
the portal makes carries the user's bearer token. The answer is the file itself, not
JSON, so the handler builds its `HttpResponse`; a missing file is `NotFound` like
anywhere else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from functions.contract import Endpoint, Param
from functions.http_support import RequestContext, route
from shared.errors import NotFound

bp = func.Blueprint()


def _endpoint(method: str) -> Endpoint:
    # `{*path}` (the rest of the URL) is a Functions route detail; OpenAPI names it {path}.
    return Endpoint(
        method,
        "portal/{*path}",
        "Admin portal static files (HTML, JS, CSS)",
        frozenset(),
        None,
        params=(Param("path", "path", True, "file below the portal folder"),),
        other_media=("text/html",),
        errors=(404,),
    )


def _serve(ctx: RequestContext) -> func.HttpResponse:
    from shared.portal_site import read_portal_file

    req = ctx.req
    url_path = urlsplit(req.url).path
    rel = ctx.route_param("path")
    if not url_path.endswith("/") and not rel:
        # /api/portal -> /api/portal/: the pages' relative links resolve below the folder.
        return func.HttpResponse(status_code=308, headers={"Location": url_path + "/"})
    found = read_portal_file(rel)
    if found is None:
        raise NotFound("no such portal file", field="path")
    if req.headers.get("If-None-Match") == found.etag:
        return func.HttpResponse(status_code=304, headers=found.headers())
    body = b"" if req.method == "HEAD" else found.body
    return func.HttpResponse(
        body, status_code=200, headers={**found.headers(), "Content-Type": found.content_type}
    )


@route(bp, _endpoint("get"))
async def portal(ctx: RequestContext) -> func.HttpResponse:
    return _serve(ctx)


@route(bp, _endpoint("head"))
async def portal_head(ctx: RequestContext) -> func.HttpResponse:
    return _serve(ctx)
