"""The admin portal's static files, as the function app serves them at /api/portal/.

Why the function app serves the portal, and not Static Web Apps or a storage static
site: from the API's own origin the portal's fetch carries its Entra bearer token
straight to /api (no proxy in between: a Static Web Apps linked backend replaces the
`Authorization` header and is not documented for Flex Consumption), no CORS rule has to
name the portal's origin, and `azd deploy` ships portal and API together, so they can
never disagree on versions. The cost is a few small anonymous reads through the app.

Only the files a browser needs are served (an allow-list of suffixes; no npm manifests,
tools, node_modules or dotfiles), with the portal's Content-Security-Policy as a header
too. `config.json` is built from the app settings when the portal has an app
registration (CDC_PORTAL_*), so one deployment needs no edited file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORTAL_DIR = Path(__file__).resolve().parents[1] / "portal"

# What a browser loads from portal/; anything else is 404 (README.md, package*.json, ...).
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
CONFIG_NAME = "config.json"  # the one JSON file a browser may read
DENIED_DIRS = frozenset({"node_modules", "tools"})

# Same policy as the <meta> tag in index.html, plus what only a header can say:
# frame-ancestors 'self' lets MSAL's silent renewal frame auth-redirect.html from this
# origin and nobody else frame the portal.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self' https://login.microsoftonline.com; "
    "frame-src 'self' https://login.microsoftonline.com; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# App settings the portal's sign-in comes from (set by infra/app/function.bicep).
PORTAL_SETTINGS = ("CDC_PORTAL_CLIENT_ID", "CDC_PORTAL_TENANT_ID", "CDC_PORTAL_API_SCOPE")


@dataclass(frozen=True)
class PortalFile:
    body: bytes
    content_type: str
    cache_control: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    def headers(self) -> dict[str, str]:
        return {**SECURITY_HEADERS, "Cache-Control": self.cache_control, "ETag": self.etag}


def _safe_parts(rel: str) -> list[str] | None:
    """The path's segments, or None for anything but plain names below portal/:
    no `..`, no dotfiles, no backslashes or NUL, no denied folders."""
    if "\\" in rel or "\x00" in rel:
        return None
    parts = [p for p in rel.split("/") if p]
    if any(p.startswith(".") for p in parts) or any(p in DENIED_DIRS for p in parts):
        return None
    return parts


def portal_config(
    env: Mapping[str, str] | None = None, portal_dir: Path = PORTAL_DIR
) -> dict[str, Any]:
    """config.json for the browser: the file as committed (local stack: development
    sign-in on localhost), or, once CDC_PORTAL_CLIENT_ID is set, Entra ID sign-in with
    the portal's client ID, the tenant and the API scope from the app settings."""
    env = os.environ if env is None else env
    config: dict[str, Any] = json.loads((portal_dir / CONFIG_NAME).read_text())
    client_id = (env.get("CDC_PORTAL_CLIENT_ID") or "").strip()
    if client_id:
        msal = dict(config.get("msal") or {})
        msal.update(
            clientId=client_id,
            tenantId=(env.get("CDC_PORTAL_TENANT_ID") or "").strip() or "organizations",
            apiScope=(env.get("CDC_PORTAL_API_SCOPE") or "").strip(),
        )
        config.update(auth="msal", apiBase="/api", msal=msal)
    return config


def read_portal_file(
    rel: str, env: Mapping[str, str] | None = None, portal_dir: Path = PORTAL_DIR
) -> PortalFile | None:
    """The file at `rel` below portal/ ('' and folders: their index.html), or None
    when it does not exist or is not something the browser may load."""
    parts = _safe_parts(rel)
    if parts is None:
        return None
    try:
        return _read(portal_dir.resolve(), parts, env, portal_dir)
    except (OSError, ValueError):  # a name too long for the file system, and the like
        return None


def _read(
    root: Path, parts: list[str], env: Mapping[str, str] | None, portal_dir: Path
) -> PortalFile | None:
    target = root.joinpath(*parts).resolve() if parts else root
    if not target.is_relative_to(root):  # a symlink pointing out of portal/
        return None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    if target == root / CONFIG_NAME:
        body = json.dumps(portal_config(env, portal_dir), indent=2).encode()
        return PortalFile(body, "application/json; charset=utf-8", "no-store")
    content_type = CONTENT_TYPES.get(target.suffix.lower())
    if content_type is None:
        return None
    # no-cache = revalidate with the ETag each time: a deployment is seen at once.
    return PortalFile(target.read_bytes(), content_type, "no-cache")
