"""The OpenAPI document covers every HTTP route the FunctionApp registers."""

import json
import re

from functions.contract import openapi_document


def _registered() -> set[tuple[str, str]]:
    from devhost.host import app_functions
    from function_app import app

    routes = set()
    for fn in app_functions(app):
        trigger = fn.get_trigger()
        if type(trigger).__name__ == "HttpTrigger":
            for m in trigger.methods:
                # a catch-all `{*rest}` is one OpenAPI path parameter `{rest}`
                route = re.sub(r"\{\*(\w+)\}", r"{\1}", trigger.route)
                routes.add((str(getattr(m, "value", m)).lower(), "/api/" + route))
    return routes


def test_every_route_is_documented():
    import function_app  # noqa: F401  (blueprint modules register their routes at import)

    doc = openapi_document()
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert _registered() == documented


def test_document_is_openapi_3_1_with_problem_responses():
    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    post = doc["paths"]["/api/v1/batches"]["post"]
    assert {"202", "200", "400", "401", "403", "409", "413", "415"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["413"]["content"]
    json.dumps(doc)  # serialisable
