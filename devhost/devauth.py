"""Development stand-in for Entra ID: a persistent local RSA key, its JWKS on loopback,
and tokens shaped like Entra v2 access tokens (`iss` = `{authority}/{tid}/v2.0`, `tid`,
`oid`, `roles`, `wids`), so the real token validator runs unchanged in development.

The service trusts it only when CDC_DEV_AUTHORITY (loopback only, enforced by
Settings) is set; Azure never sets it. The key lives in `.local/dev-auth/key.pem` so
tokens printed by `python -m devhost.token` stay valid across restarts of the stack.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

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


def write_self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (also valid for 127.0.0.1) and its key, as
    `{name}.crt` / `{name}.key` PEM files: the issuer's TLS front, or an app
    registration's client certificate (azure-identity reads both from one PEM file:
    `{name}.pem`, key then certificate, is written too)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    crt, pem, key_path = (directory / f"{name}{ext}" for ext in (".crt", ".pem", ".key"))
    crt.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    pem.write_bytes(key_pem + cert_pem)
    for path in (key_path, pem):
        path.chmod(0o600)
    return crt, key_path


GRAPH_RESOURCE = "https://graph.microsoft.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AppRegistration:
    """An app registration the development issuer knows, as an Entra tenant would: the
    credential it signs in with (a client secret, or the public certificate whose key
    signs its client assertions) and the app roles assigned to it on the API. A client
    that names a registered id and proves nothing gets `invalid_client`, as from Entra."""

    client_id: str
    roles: tuple[str, ...] = ()
    secret: str | None = None
    certificate_pem: bytes | None = None


class _Refused(Exception):
    """A token request the issuer answers with an OAuth error body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class DevAuthority:
    """Serves `{authority}/{tid}/discovery/v2.0/keys`,
    `{authority}/{tid}/v2.0/.well-known/openid-configuration`,
    `POST {authority}/{tid}/oauth2/v2.0/token` (client credentials: the Graph stand-in's
    clients, and the on-prem agent's secret or certificate sign-in) and `GET
    {authority}/msi/token` (the App Service managed-identity endpoint, for
    azure-identity's `ManagedIdentityCredential` with `IDENTITY_ENDPOINT` /
    `IDENTITY_HEADER` pointed here), for any tid, on loopback, in daemon threads
    (stdlib: nothing to install, nothing to await).

    With `tls` (a certificate and key PEM for 127.0.0.1) the same endpoints are also served
    over HTTPS at `https_url`: MSAL sends client credentials to an https authority only.
    Tokens always carry the plain `url` as issuer, the authority the service trusts."""

    def __init__(
        self,
        port: int = 0,
        key: rsa.RSAPrivateKey | None = None,
        *,
        apps: Iterable[AppRegistration] = (),
        tls: tuple[Path, Path] | None = None,
        home_tenant: str = "00000000-0000-0000-0000-00000000d0e1",
    ) -> None:
        self.key = key or load_key()
        self.apps = {a.client_id: a for a in apps}
        self.home_tenant = home_tenant  # the managed identity's tenant
        self.identity_header = secrets.token_urlsafe(16)  # App Service's IDENTITY_HEADER
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.tls_server: ThreadingHTTPServer | None = None
        self.https_url: str | None = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.tls_server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.tls_server.daemon_threads = True
            self.tls_server.socket = context.wrap_socket(self.tls_server.socket, server_side=True)
            self.https_url = f"https://127.0.0.1:{self.tls_server.server_address[1]}"
        self._servers = [srv for srv in (self.server, self.tls_server) if srv is not None]
        self._threads = [
            threading.Thread(target=srv.serve_forever, name="dev-authority", daemon=True)
            for srv in self._servers
        ]

    # ------------------------------------------------------------------ the endpoints

    def _metadata(self, tid: str, base: str) -> dict[str, Any]:
        """OpenID configuration; endpoints on the origin the client asked (http or https)."""
        return {
            "issuer": f"{self.url}/{tid}/v2.0",
            "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
            "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def _roles_for(self, audience: str, app: AppRegistration | None) -> list[str]:
        """Graph: the application permissions an admin consented to; the API: the app
        roles assigned to the registered app."""
        if audience == GRAPH_RESOURCE:
            return list(APP_PERMISSIONS)
        return list(app.roles) if app else []

    def _authenticate(self, app: AppRegistration, form: dict[str, str], endpoint: str) -> None:
        if app.secret is not None:
            if not secrets.compare_digest(form.get("client_secret", ""), app.secret):
                raise _Refused(401, "invalid_client", "AADSTS7000215: Invalid client secret")
            return
        if app.certificate_pem is None or form.get("client_assertion_type") != ASSERTION_TYPE:
            raise _Refused(401, "invalid_client", "AADSTS7000216: client assertion required")
        public = x509.load_pem_x509_certificate(app.certificate_pem).public_key()
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                public,  # type: ignore[arg-type]
                algorithms=["RS256", "PS256"],
                audience=endpoint,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _Refused(401, "invalid_client", f"AADSTS700027: {exc}") from None
        if claims["iss"] != app.client_id or claims["sub"] != app.client_id:
            raise _Refused(401, "invalid_client", "AADSTS700027: iss/sub is not the client")

    def client_credentials(self, tid: str, form: dict[str, str], endpoint: str) -> dict[str, Any]:
        """The client-credentials grant: an app token for the scope's resource. A
        registered client must prove its credential; an unregistered one (the local
        stack's Graph client) is trusted and gets the Graph permissions."""
        scope = form.get("scope", "")
        if form.get("grant_type") != "client_credentials" or not scope.endswith("/.default"):
            raise _Refused(400, "invalid_request", "client_credentials with a /.default scope")
        audience = scope.removesuffix("/.default")
        app = self.apps.get(form.get("client_id", ""))
        if app is not None:
            self._authenticate(app, form, endpoint)
        roles = self._roles_for(audience, app) if app else list(APP_PERMISSIONS)
        extra = {"azp": app.client_id, "appid": app.client_id} if app else None
        token = self.token(tid, audience=audience, roles=roles, extra_claims=extra)
        return {"token_type": "Bearer", "expires_in": 3599, "access_token": token}

    def managed_identity(self, query: dict[str, str], header: str | None) -> dict[str, Any]:
        """App Service's managed-identity endpoint (api-version 2019-08-01): a token of
        the home tenant for `resource`, only with the environment's identity header."""
        if header is None or not secrets.compare_digest(header, self.identity_header):
            raise _Refused(401, "unauthorized", "X-IDENTITY-HEADER missing or wrong")
        resource = query.get("resource", "")
        if query.get("api-version") != "2019-08-01" or not resource:
            raise _Refused(400, "invalid_request", "api-version 2019-08-01 and a resource")
        audience = resource.removesuffix("/.default")
        client_id = query.get("client_id") or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self.home_tenant}/managed-identity")
        )
        app = self.apps.get(client_id)
        token = self.token(
            self.home_tenant,
            audience=audience,
            roles=self._roles_for(audience, app),
            extra_claims={"azp": client_id, "appid": client_id, "idtyp": "app"},
        )
        return {
            "access_token": token,
            "expires_on": str(int(time.time()) + 3600),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self
        keys_body = json.dumps(jwks(self.key)).encode()

        class Handler(BaseHTTPRequestHandler):
            def _base(self) -> str:
                tls = owner.tls_server is not None and self.server is owner.tls_server
                return str(owner.https_url) if tls else owner.url

            def _send(self, status: int, body: bytes | dict[str, Any]) -> None:
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # http.server API name
                path, _, query = self.path.partition("?")
                parts = path.strip("/").split("/")
                try:
                    if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
                        self._send(200, keys_body)
                    elif len(parts) == 4 and parts[1:] == [
                        "v2.0",
                        ".well-known",
                        "openid-configuration",
                    ]:
                        self._send(200, owner._metadata(parts[0], self._base()))
                    elif parts == ["msi", "token"]:
                        form = {k: v[0] for k, v in parse_qs(query).items()}
                        header = self.headers.get("X-IDENTITY-HEADER")
                        self._send(200, owner.managed_identity(form, header))
                    else:
                        self.send_error(404)
                except _Refused as refused:
                    self._send(refused.status, {"error": refused.error})

            def do_POST(self) -> None:  # http.server API name
                parts = self.path.split("?")[0].strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                raw = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
                form = {k: v[0] for k, v in raw.items()}
                if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
                    self.send_error(404)
                    return
                endpoint = f"{self._base()}/{parts[0]}/oauth2/v2.0/token"
                try:
                    self._send(200, owner.client_credentials(parts[0], form, endpoint))
                except _Refused as refused:
                    body = {"error": refused.error, "error_description": refused.description}
                    self._send(refused.status, body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> DevAuthority:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for srv, thread in zip(self._servers, self._threads, strict=True):
            if thread.is_alive():
                srv.shutdown()
            srv.server_close()

    def token(self, tenant_id: str, **kw: Any) -> str:
        """mint_token with this authority and key."""
        kw.setdefault("key", self.key)
        return mint_token(tenant_id, authority=self.url, **kw)
