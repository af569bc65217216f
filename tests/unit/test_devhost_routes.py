"""The local host's routing comes from the app's own function metadata; these pin the
route template semantics of the Functions host ({x}, {x?}, {*x}, constraints, case,
trailing slash) and the blob trigger path binding, without starting anything."""

from __future__ import annotations

import azure.functions as func
import pytest

from devhost.host import blob_path_regex, match_route, read_functions, route_prefix


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("v1/batches", "v1/batches", {}),
        ("v1/batches", "v1/batches/", {}),
        ("v1/batches", "V1/Batches", {}),
        ("v1/batches/{batchId}", "v1/batches/abc-1", {"batchId": "abc-1"}),
        ("v1/batches/{batchId}", "v1/batches", None),
        ("v1/batches/{batchId}", "v1/batches/a/b", None),
        (
            "v1/users/{user}/calls",
            "v1/users/alice@contoso.com/calls",
            {"user": "alice@contoso.com"},
        ),
        ("v1/items/{id:int}", "v1/items/42", {"id": "42"}),
        ("v1/x/{id?}", "v1/x", {}),
        ("v1/x/{id?}", "v1/x/5", {"id": "5"}),
        ("v1/x/{id?}", "v1/x/5/6", None),
        ("files/{*rest}", "files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("files/{*rest}", "files", {"rest": ""}),
        ("v1/a.b", "v1/aXb", None),  # literal dots are literal
    ],
)
def test_route_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match_route(template, path) == expected


def test_blob_paths_bind_across_slashes_like_the_blob_trigger() -> None:
    container, pattern, prefix = blob_path_regex("incoming/{name}")
    assert (container, prefix) == ("incoming", "")
    m = pattern.match("tenant/2026/11/21/batch.json.gz")
    assert m and m.group("name") == "tenant/2026/11/21/batch.json.gz"
    container, pattern, prefix = blob_path_regex("drop/reports/{name}.xml")
    assert (container, prefix) == ("drop", "reports/")
    assert pattern.match("reports/a/b.xml") and not pattern.match("reports/a/b.json")


def _app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/things/{id}", methods=["GET", "DELETE"])
    def thing(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("x")

    @app.route(route="v1/things/special", methods=["GET"])
    async def special(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("y")

    @app.blob_trigger(arg_name="blob", path="incoming/{name}", connection="CDC_STORAGE")
    def on_blob(blob: func.InputStream) -> None:
        pass

    return app


def test_functions_are_read_from_the_app_metadata() -> None:
    http, blobs = read_functions(_app())
    # literal templates first, as the Functions host prefers the most specific route
    assert [r.template for r in http] == ["v1/things/special", "v1/things/{id}"]
    assert http[1].methods == {"GET", "DELETE"} and http[1].arg == "req"
    assert len(blobs) == 1
    assert (blobs[0].container, blobs[0].connection, blobs[0].arg) == (
        "incoming",
        "CDC_STORAGE",
        "blob",
    )


def test_route_prefix_comes_from_host_json() -> None:
    assert route_prefix({"extensions": {"http": {"routePrefix": "/api/"}}}) == "api"
    assert route_prefix({"extensions": {"http": {"routePrefix": ""}}}) == ""
    assert route_prefix({}) == "api"
    assert route_prefix() == "api"  # the repository's host.json
