"""Development stand-in for Entra ID: a persistent local RSA key, its JWKS on loopback,
and tokens shaped like Entra v2 access tokens (`iss` = `{authority}/{tid}/v2.0`, `tid`,
`oid`, `roles`, `wids`), so the real token validator runs unchanged in development.

The service trusts it only when CDC_DEV_AUTHORITY (loopback only, enforced by
Settings) is set; Azure never sets it. The key lives in `.local/dev-auth/key.pem` so
tokens printed by `python -m devhost.token` stay valid across restarts of the stack.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.stack import AUDIENCE, LOCAL, STATE_FILE

KEY_PATH = LOCAL / "dev-auth" / "key.pem"
KID = "cdc-dev-key-1"
# Shortcuts for people and tests: access level -> the app role that grants it.
LEVEL_ROLES = {
    "admin": "CallAnalytics.Admin",
    "engineer": "CallAnalytics.Engineer",
    "specialist": "CallAnalytics.Specialist",
    "reader": "QualityReports.Read",
    "ingest": "CallData.Ingest",
}
# Application permissions the development issuer grants app tokens for Graph (what an
# admin consents to once per tenant for the real app; see docs/graph.md).
APP_PERMISSIONS = ("CallRecords.Read.All", "CallRecord-PstnCalls.Read.All")
_key_lock = threading.Lock()


def load_key(path: Path = KEY_PATH) -> rsa.RSAPrivateKey:
    """The development signing key, created on first use (0600, atomic)."""
    with _key_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # first writer wins, across processes too
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded


def jwks(key: rsa.RSAPrivateKey | None = None, kid: str = KID) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk((key or load_key()).public_key()))
    return {"keys": [jwk | {"kid": kid, "use": "sig", "alg": "RS256"}]}


def default_authority() -> str | None:
    """CDC_DEV_AUTHORITY, else the running `python -m devhost up`'s `.local/stack.json`."""
    authority = os.environ.get("CDC_DEV_AUTHORITY")
    if authority:
        return authority.rstrip("/")
    if STATE_FILE.exists():
        try:
            value = json.loads(STATE_FILE.read_text())["env"]["CDC_DEV_AUTHORITY"]
            return str(value).rstrip("/")
        except (ValueError, KeyError, TypeError):
            return None
    return None


def default_audience() -> str:
    first = os.environ.get("AUTH_AUDIENCES", "").split(",")[0].strip()
    return first or AUDIENCE


def _roles(roles: Iterable[str] | str) -> list[str]:
    """A bare string is one role, or an access level name ('engineer')."""
    if isinstance(roles, str):
        roles = [roles]
    return [LEVEL_ROLES.get(r, r) for r in roles]


def mint_token(
    tenant_id: str,
    *,
    user: str | None = None,
    roles: Iterable[str] | str = (),
    wids: Iterable[str] = (),
    audience: str | None = None,
    expires_in: int = 3600,
    not_before: int | None = None,
    extra_claims: dict[str, Any] | None = None,
    key: rsa.RSAPrivateKey | None = None,
    authority: str | None = None,
    kid: str = KID,
) -> str:
    """An RS256 access token for `tenant_id`. `user` (UPN, `sip:` stripped) makes it a
    delegated user token (`preferred_username`, `upn`); without it, an app token as the
    on-prem agent gets with client credentials. `not_before` is an absolute epoch second
    (default now); `extra_claims` override anything (tests craft bad tokens with it)."""
    authority = (authority or default_authority() or "").rstrip("/")
    if not authority:
        raise RuntimeError(
            "no development authority: start `python -m devhost up`, "
            "set CDC_DEV_AUTHORITY, or pass authority="
        )
    now = int(time.time())
    upn = user.removeprefix("sip:") if user else None
    subject = upn or "cdc-agent"
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{subject}"))
    claims: dict[str, Any] = {
        "iss": f"{authority}/{tenant_id}/v2.0",
        "aud": audience or default_audience(),
        "tid": tenant_id,
        "oid": oid,
        "sub": oid,
        "iat": now,
        "nbf": now if not_before is None else int(not_before),
        "exp": now + expires_in,
        "ver": "2.0",
        "roles": _roles(roles),
        "wids": list(wids),
    }
    if upn:
        claims["idtyp"] = "user"  # the optional claim Entra adds when configured
        claims["scp"] = "access_as_user"  # the API's one delegated scope (docs/deploy.md)
        claims["preferred_username"] = upn
        claims["upn"] = upn
        claims["name"] = upn.split("@")[0].replace(".", " ").title()
    else:
        claims["idtyp"] = "app"
        claims["azp"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/app"))
    claims.update(extra_claims or {})
    return jwt.encode(claims, key or load_key(), algorithm="RS256", headers={"kid": kid})


class DevAuthority:
    """Serves `{authority}/{tid}/discovery/v2.0/keys`,
    `{authority}/{tid}/v2.0/.well-known/openid-configuration` and, for the Graph
    stand-in's clients, `POST {authority}/{tid}/oauth2/v2.0/token` (client credentials)
    for any tid, on loopback,
    in a daemon thread (stdlib: nothing to install, nothing to await)."""

    def __init__(self, port: int = 0, key: rsa.RSAPrivateKey | None = None) -> None:
        self.key = key or load_key()
        keys_body = json.dumps(jwks(self.key)).encode()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server API name
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
                    payload = keys_body
                elif len(parts) == 4 and parts[1:] == [
                    "v2.0",
                    ".well-known",
                    "openid-configuration",
                ]:
                    base = f"{owner.url}/{parts[0]}"
                    payload = json.dumps(
                        {
                            "issuer": f"{base}/v2.0",
                            "jwks_uri": f"{base}/discovery/v2.0/keys",
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint": f"{base}/oauth2/v2.0/token",
                        }
                    ).encode()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:  # http.server API name
                """`/{tid}/oauth2/v2.0/token`, client-credentials grant: an app token
                for the scope's resource (the Graph stand-in's `https://graph.microsoft.com`)
                with the application permissions an admin would have consented to."""
                parts = self.path.split("?")[0].strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                scope = (form.get("scope") or [""])[0]
                if (
                    len(parts) != 4
                    or parts[1:] != ["oauth2", "v2.0", "token"]
                    or (form.get("grant_type") or [""])[0] != "client_credentials"
                    or not scope.endswith("/.default")
                ):
                    self.send_error(400)
                    return
                token = mint_token(
                    parts[0],
                    authority=owner.url,
                    key=owner.key,
                    audience=scope.removesuffix("/.default"),
                    roles=list(APP_PERMISSIONS),
                )
                payload = json.dumps(
                    {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="dev-authority", daemon=True
        )

    def start(self) -> DevAuthority:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def token(self, tenant_id: str, **kw: Any) -> str:
        """mint_token with this authority and key."""
        kw.setdefault("key", self.key)
        return mint_token(tenant_id, authority=self.url, **kw)
