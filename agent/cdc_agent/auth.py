"""Bearer tokens for the ingest API.

- `certificate` / `secret`: azure-identity client credentials for the app registration
  holding the `CallData.Ingest` app role, scope `{api_audience}/.default`. azure-identity
  is imported only in these modes, so the dev stack and the tests do not need it.
- `dev-token`: a static token from the config, or the output of a command (the local
  stack's `python -m devhost.token --tenant T --role CallData.Ingest`).

Tokens are cached until five minutes before they expire; a 401 forces one refresh.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from typing import Any, Protocol

from cdc_agent.config import AuthConfig, ServerConfig

REFRESH_MARGIN_S = 300


class AuthError(Exception):
    """No token could be obtained; the message says which setting to look at."""


class TokenProvider(Protocol):
    def token(self, *, refresh: bool = False) -> str: ...


def jwt_expiry(token: str) -> float | None:
    """`exp` of a JWT, read without verification (only to schedule a refresh)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
        return float(exp) if exp is not None else None
    except (IndexError, ValueError, TypeError, AttributeError):
        return None


class _Cached:
    def __init__(self) -> None:
        self._token: str | None = None
        self._expires = 0.0

    def token(self, *, refresh: bool = False) -> str:
        if refresh or self._token is None or time.time() > self._expires - REFRESH_MARGIN_S:
            self._token, self._expires = self._fetch()
        return self._token

    def _fetch(self) -> tuple[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError


class StaticToken(_Cached):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._static = token.strip()

    def _fetch(self) -> tuple[str, float]:
        return self._static, jwt_expiry(self._static) or time.time() + 10 * 365 * 86400


class CommandToken(_Cached):
    """Runs a command that prints a token (the dev stack's token minter)."""

    def __init__(self, command: tuple[str, ...], cwd: str | os.PathLike[str] | None) -> None:
        super().__init__()
        self.command, self.cwd = command, cwd

    def _fetch(self) -> tuple[str, float]:
        try:
            done = subprocess.run(
                list(self.command),
                cwd=self.cwd,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AuthError(
                f"[auth] dev_token_command {list(self.command)} failed: {exc}"
            ) from None
        lines = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
        if done.returncode != 0 or not lines:
            raise AuthError(
                f"[auth] dev_token_command exited with {done.returncode}: "
                f"{done.stderr.strip()[-500:]}"
            )
        token = lines[-1]
        return token, jwt_expiry(token) or time.time() + 600


class AzureIdentityToken(_Cached):
    def __init__(self, credential: Any, scope: str) -> None:
        super().__init__()
        self.credential, self.scope = credential, scope

    def _fetch(self) -> tuple[str, float]:
        try:
            at = self.credential.get_token(self.scope)
        except Exception as exc:  # azure-identity raises several types; all mean "no token"
            raise AuthError(f"could not get a token for {self.scope}: {exc}") from None
        return at.token, float(at.expires_on)


# The public and sovereign Entra ID authority hosts (azure.identity.AzureAuthorityHosts).
MICROSOFT_CLOUDS = frozenset(
    {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}
)


def _host(authority: str) -> str:
    """`https://login.microsoftonline.us/` or `login.microsoftonline.us` -> the host."""
    return authority.split("://", 1)[-1].split("/", 1)[0].lower()


def make_token_provider(auth: AuthConfig, server: ServerConfig) -> TokenProvider:
    if auth.mode == "dev-token":
        if auth.dev_token:
            return StaticToken(auth.dev_token)
        assert auth.dev_token_command
        return CommandToken(auth.dev_token_command, auth.dev_token_cwd)
    try:
        from azure import identity  # only the modes that need it import it
    except ImportError as exc:
        raise AuthError(
            f"[auth] mode = {auth.mode!r} needs azure-identity: pip install azure-identity ({exc})"
        ) from None
    kwargs: dict[str, Any] = {}
    if auth.authority_host:
        kwargs["authority"] = auth.authority_host
        if _host(auth.authority_host) not in MICROSOFT_CLOUDS:
            # MSAL asks login.microsoftonline.com whether it knows any other authority
            # (Azure Stack, AD FS, the local stack's development issuer) and refuses it.
            kwargs["disable_instance_discovery"] = True
    scope = f"{server.api_audience}/.default"
    if auth.mode == "secret":
        assert auth.secret_env
        secret = os.environ.get(auth.secret_env)
        if not secret:
            raise AuthError(
                f"[auth] secret_env: environment variable {auth.secret_env} is "
                "not set for this account"
            )
        cred: Any = identity.ClientSecretCredential(
            server.tenant_id, auth.client_id or "", secret, **kwargs
        )
    else:
        assert auth.certificate_path
        if not auth.certificate_path.exists():
            raise AuthError(f"[auth] certificate_path: {auth.certificate_path} does not exist")
        password = None
        if auth.certificate_password_env:
            password = os.environ.get(auth.certificate_password_env)
            if password is None:
                raise AuthError(
                    f"[auth] certificate_password_env: environment variable "
                    f"{auth.certificate_password_env} is not set"
                )
        cred = identity.CertificateCredential(
            server.tenant_id,
            auth.client_id or "",
            str(auth.certificate_path),
            password=password,
            **kwargs,
        )
    return AzureIdentityToken(cred, scope)
