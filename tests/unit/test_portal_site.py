"""shared.portal_site on a portal folder of its own: what is served, what never is, and
config.json from the app settings (the route itself: tests/integration/test_portal_route.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.portal_site import SECURITY_HEADERS, portal_config, read_portal_file

CONFIG = {
    "auth": "auto",
    "apiBase": "/api",
    "devTokenUrl": "/dev/token",
    "msal": {
        "clientId": "",
        "tenantId": "",
        "apiScope": "",
        "redirectPath": "index.html",
        "bridgePath": "auth-redirect.html",
    },
}


@pytest.fixture()
def portal(tmp_path: Path) -> Path:
    root = tmp_path / "portal"
    for rel, text in {
        "index.html": "<html>",
        "config.json": json.dumps(CONFIG),
        "js/app.js": "export {}",
        "css/portal.css": "body{}",
        "vendor/msal-browser.min.js": "msal",
        ".env.js": "secret",
        "js/.hidden.js": "secret",
        "tools/vendor-msal.mjs": "tool",
        "node_modules/x/index.js": "dep",
        "package.json": "{}",
        "README.md": "# r",
        "js/views/index.html": "<p>",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "outside.js").write_text("outside")
    (root / "js" / "link.js").symlink_to(tmp_path / "outside.js")
    return root


def test_browser_files_are_served(portal: Path) -> None:
    for rel, kind in (
        ("", "text/html"),
        ("index.html", "text/html"),
        ("js/app.js", "text/javascript"),
        ("css/portal.css", "text/css"),
        ("vendor/msal-browser.min.js", "text/javascript"),
        ("js/views/", "text/html"),
        ("js//app.js", "text/javascript"),
    ):
        found = read_portal_file(rel, {}, portal)
        assert found is not None, rel
        assert found.content_type.startswith(kind), rel
        assert (
            found.headers()["Content-Security-Policy"]
            == (SECURITY_HEADERS["Content-Security-Policy"])
        )
        assert found.headers()["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "rel",
    [
        ".env.js",
        "js/.hidden.js",
        "tools/vendor-msal.mjs",
        "node_modules/x/index.js",
        "package.json",
        "README.md",
        "../outside.js",
        "js/../../outside.js",
        "js/link.js",
        "js\\app.js",
        "js/app.js\x00",
        "missing.js",
        "js",
        "a" * 5000,
        "js/" + "b" * 300,
    ],
)
def test_nothing_else_is(portal: Path, rel: str) -> None:
    assert read_portal_file(rel, {}, portal) is None  # "js": a folder without index.html


def test_config_is_the_file_until_the_portal_is_registered(portal: Path) -> None:
    assert portal_config({}, portal) == CONFIG
    found = read_portal_file("config.json", {}, portal)
    assert found is not None and found.cache_control == "no-store"
    assert json.loads(found.body) == CONFIG


def test_config_from_settings(portal: Path) -> None:
    env = {
        "CDC_PORTAL_CLIENT_ID": " pc ",
        "CDC_PORTAL_TENANT_ID": "",
        "CDC_PORTAL_API_SCOPE": "api://a/access_as_user",
    }
    config = portal_config(env, portal)
    assert config["auth"] == "msal" and config["apiBase"] == "/api"
    assert config["msal"] == {
        "clientId": "pc",
        "tenantId": "organizations",
        "apiScope": "api://a/access_as_user",
        "redirectPath": "index.html",
        "bridgePath": "auth-redirect.html",
    }
    found = read_portal_file("config.json", {**env, "CDC_PORTAL_TENANT_ID": "t1"}, portal)
    assert found is not None and json.loads(found.body)["msal"]["tenantId"] == "t1"


def test_content_type_survives_the_workers_encoding() -> None:
    """The local host reads the HttpResponse directly; in Azure the worker encodes it with
    azure.functions' HttpResponseConverter, which adds text/plain unless a Content-Type
    header is already there. The portal's header must be the one that goes out."""
    import asyncio

    import azure.functions as func
    from azure.functions.http import HttpResponseConverter

    from functions.portal import portal

    req = func.HttpRequest(
        "GET",
        "https://app.example/api/portal/js/app.js",
        headers={},
        route_params={"path": "js/app.js"},
        body=b"",
    )
    datum = HttpResponseConverter.encode(asyncio.run(portal(req)), expected_type=None)
    headers = {k.lower(): v.value for k, v in datum.value["headers"].items()}
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert str(datum.value["status_code"].value) == "200"
