"""HTTP trigger of the API's own description: the OpenAPI 3.1 document."""

from __future__ import annotations

import azure.functions as func

from functions.contract import Endpoint, openapi_document
from functions.http_support import RequestContext, json_response, route

bp = func.Blueprint()


@route(bp, Endpoint("get", "v1/openapi.json", "This document", frozenset(), None, errors=()))
async def openapi(ctx: RequestContext) -> func.HttpResponse:
    return json_response(openapi_document())
