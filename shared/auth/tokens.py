"""Entra ID access token validation (RS256, JWKS, iss/aud/exp/nbf/tid).

The signing keys come from the token's tenant's JWKS (`{authority}/{tid}/discovery/
v2.0/keys`), cached and refreshed when a token names an unknown `kid`. Only tenants
configured in AUTH_TENANTS are accepted, before any key is fetched, so a token from an
unknown tenant cannot make us fetch anything. The development authority (loopback only,
CDC_DEV_AUTHORITY) replaces the Entra authority; Azure never sets it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.auth.levels import Level, levels_from_claims
from shared.problems import Problem
from shared.settings import Settings

if TYPE_CHECKING:
    from jwt import PyJWKClient

LEEWAY_SECONDS = 120  # clock skew between Entra, the on-prem server and us


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    object_id: str | None
    name: str | None
    levels: tuple[Level, ...]
    roles: tuple[str, ...] = ()
    app_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def level(self) -> Level | None:
        return self.levels[0] if self.levels else None

    def require(self, allowed: frozenset[Level], tenant_id: str | None = None) -> None:
        if not set(self.levels) & allowed:
            raise Problem(
                403,
                "the token has no role that allows this operation",
                extra={"requiredLevels": sorted(allowed)},
            )
        if tenant_id is not None and tenant_id.lower() != self.tenant_id:
            raise Problem(
                403, "the token's tenant does not match the data's tenant", field="tenantId"
            )


def unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenValidator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: dict[str, PyJWKClient] = {}
        self._lock = threading.Lock()

    def _issuers(self, tid: str) -> list[str]:
        issuers = [f"{self.settings.authority}/{tid}/v2.0"]
        if not self.settings.dev_authority:
            issuers.append(f"https://sts.windows.net/{tid}/")  # v1.0 access tokens
        return issuers

    def _jwks_client(self, tid: str) -> PyJWKClient:
        from jwt import PyJWKClient

        with self._lock:
            client = self._jwks.get(tid)
            if client is None:
                url = f"{self.settings.authority}/{tid}/discovery/v2.0/keys"
                client = PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=10)
                self._jwks[tid] = client
            return client

    def validate(self, authorization: str | None) -> Principal:
        """Blocking (may fetch JWKS); call via `validate_async` from async code."""
        import jwt  # here, not at module level: PyJWT loads `cryptography` (~80 ms of
        # cold start before the host has indexed a function)

        if not authorization:
            raise unauthorized("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization must be 'Bearer <token>'")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise unauthorized(f"malformed token: {exc}") from None
        if header.get("alg") != "RS256":
            raise unauthorized("token must be signed with RS256")
        tid = str(unverified.get("tid") or "").lower()
        if not tid:
            raise unauthorized("token has no tid claim")
        if tid not in self.settings.auth_tenants:
            raise unauthorized("token's tenant is not configured for this service")
        if not self.settings.auth_audiences:
            raise unauthorized("no token audience is configured (AUTH_AUDIENCES)")
        try:
            key = self._jwks_client(tid).get_signing_key_from_jwt(token)
        except jwt.PyJWKClientError as exc:
            raise unauthorized(f"token signing key not found: {exc}") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=list(self.settings.auth_audiences),
                issuer=self._issuers(tid),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("token audience is not this API") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("token issuer is not the tenant's Entra ID") from None
        except jwt.PyJWTError as exc:
            raise unauthorized(f"token rejected: {exc}") from None
        roles = tuple(str(r) for r in claims.get("roles") or ())
        wids = tuple(str(w) for w in claims.get("wids") or ())
        return Principal(
            tenant_id=tid,
            object_id=claims.get("oid"),
            name=claims.get("preferred_username") or claims.get("upn") or claims.get("name"),
            levels=tuple(levels_from_claims(wids, roles)),
            roles=roles,
            app_id=claims.get("azp") or claims.get("appid"),
            claims=claims,
        )

    async def validate_async(self, authorization: str | None) -> Principal:
        return await asyncio.to_thread(self.validate, authorization)


_validators: dict[int, TokenValidator] = {}


def get_validator(settings: Settings) -> TokenValidator:
    """One validator (and JWKS cache) per settings object."""
    v = _validators.get(id(settings))
    if v is None or v.settings is not settings:
        v = _validators[id(settings)] = TokenValidator(settings)
    return v
