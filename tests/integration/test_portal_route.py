"""The portal as Azure serves it: function `portal` at /api/portal/, through the local
host (the same FunctionApp, HTTP over loopback), next to the API it calls with a bearer
token on the same origin."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest

from devhost.stack import DEMO_TENANT
from shared.portal_site import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.stack


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.fixture()
def portal_settings() -> Iterator[dict[str, str]]:
    """The app settings infra/app/function.bicep sets once the portal is registered (the
    local host runs the app in this process, so os.environ is its app settings)."""
    values = {
        "CDC_PORTAL_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "CDC_PORTAL_TENANT_ID": DEMO_TENANT,
        "CDC_PORTAL_API_SCOPE": "api://66666666-7777-8888-9999-000000000000/access_as_user",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_portal_pages_are_served_with_their_security_headers(local_host: str) -> None:
    status, headers, body = fetch(f"{local_host}/api/portal/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"<title>Call Data Connector</title>" in body
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'self'" in CONTENT_SECURITY_POLICY  # MSAL's bridge iframe
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "access-control-allow-origin" not in headers  # same origin: no CORS
    for rel, kind in (
        ("js/app.js", "text/javascript"),
        ("js/views/calls.js", "text/javascript"),
        ("css/portal.css", "text/css"),
        ("auth-redirect.html", "text/html"),
        ("index.html", "text/html"),
    ):
        status, headers, body = fetch(f"{local_host}/api/portal/{rel}")
        assert status == 200, rel
        assert headers["content-type"].startswith(kind), rel
        assert body, rel


def test_portal_folder_without_slash_redirects(local_host: str) -> None:
    status, headers, _ = fetch(f"{local_host}/api/portal")
    assert status == 308
    assert headers["location"] == "/api/portal/"


def test_only_browser_files_are_served(local_host: str) -> None:
    for rel in (
        "package.json",
        "package-lock.json",
        "tools/vendor-msal.mjs",
        "README.md",
        ".gitignore",
        "staticwebapp.config.json",
        "node_modules/x.js",
        "nope.js",
        "%2e%2e/host.json",
        "js/%2e%2e/%2e%2e/host.json",
        "..%5chost.json",
        "css/..%2f..%2frequirements.txt",
    ):
        status, headers, body = fetch(f"{local_host}/api/portal/{rel}")
        assert status == 404, rel
        assert headers["content-type"].startswith("application/problem+json"), rel
        assert json.loads(body)["field"] == "path", rel


def test_head_and_conditional_get(local_host: str) -> None:
    status, headers, body = fetch(f"{local_host}/api/portal/js/app.js", method="HEAD")
    assert status == 200 and body == b""
    etag = headers["etag"]
    assert headers["cache-control"] == "no-cache"
    status, _, body = fetch(f"{local_host}/api/portal/js/app.js", headers={"If-None-Match": etag})
    assert status == 304 and body == b""


def test_config_without_registration_is_the_committed_file(local_host: str) -> None:
    for k in ("CDC_PORTAL_CLIENT_ID", "CDC_PORTAL_TENANT_ID", "CDC_PORTAL_API_SCOPE"):
        assert not os.environ.get(k)
    status, headers, body = fetch(f"{local_host}/api/portal/config.json")
    assert status == 200 and headers["cache-control"] == "no-store"
    with open("portal/config.json") as f:
        assert json.loads(body) == json.load(f)


def test_config_from_app_settings_signs_in_with_entra(
    local_host: str, portal_settings: dict[str, str]
) -> None:
    status, headers, body = fetch(f"{local_host}/api/portal/config.json")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert headers["cache-control"] == "no-store"
    config = json.loads(body)
    assert config["auth"] == "msal"
    assert config["apiBase"] == "/api"
    assert config["msal"]["clientId"] == portal_settings["CDC_PORTAL_CLIENT_ID"]
    assert config["msal"]["tenantId"] == DEMO_TENANT
    assert config["msal"]["apiScope"].endswith("/access_as_user")
    assert config["msal"]["redirectPath"] == "index.html"
    assert config["msal"]["bridgePath"] == "auth-redirect.html"


def test_portal_reaches_the_api_on_its_own_origin_with_the_bearer_token(
    local_host: str, mint: Any
) -> None:
    """What the portal's api.js does: `apiBase` from config.json, resolved against the
    page's URL, and the token in Authorization. Same origin, nothing in between to strip
    the header, so the API sees the token."""
    _, _, body = fetch(f"{local_host}/api/portal/config.json")
    page = f"{local_host}/api/portal/index.html"
    api = urljoin(page, json.loads(body)["apiBase"])
    assert api == f"{local_host}/api"
    status, _, _ = fetch(f"{api}/v1/admin/health")
    assert status == 401  # no token, no answer
    token = mint(DEMO_TENANT, level="admin", user="admin@contoso.com")
    status, _, body = fetch(f"{api}/v1/admin/health", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert "checks" in json.loads(body)
