"""Entra ID access token validation (RS256, JWKS, iss/aud/exp/nbf/tid).

The signing keys come from the token's tenant's JWKS (`{authority}/{tid}/discovery/
v2.0/keys`), cached (`KeySet`): refreshed every `KEYS_MAX_AGE` so a key Entra removed
stops being trusted within that time, and when a token names an unknown `kid`, at
most once per `REFRESH_COOLDOWN` (and not at all for `FAILURE_COOLDOWN` after a failed
fetch), so a flood of tokens with made-up `kid`s cannot turn into a flood of fetches.
App-only tokens (`idtyp=app`, client credentials) get levels from app roles only: a
directory role claim on an app token does not make it a user (docs/reference/roles.md).
Only tenants
configured in AUTH_TENANTS are accepted, before any key is fetched, so a token from an
unknown tenant cannot make us fetch anything. The development authority (loopback only,
CDC_DEV_AUTHORITY) replaces the Entra authority; Azure never sets it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.auth.levels import Level, levels_from_claims
from shared.errors import Forbidden, Unauthenticated
from shared.settings import Settings

if TYPE_CHECKING:
    from jwt import PyJWK

LEEWAY_SECONDS = 120  # clock skew between Entra, the on-prem server and us
KEYS_MAX_AGE = 12 * 3600.0  # a key set is refetched at least twice a day
REFRESH_COOLDOWN = 60.0  # unknown kid: at most one forced refetch a minute
FAILURE_COOLDOWN = 30.0  # after a failed fetch, none for this long


class KeySet:
    """One tenant's signing keys, as the JWKS endpoint last listed them.

    Why not PyJWT's own caches: its per-key cache never expires (a key removed from the
    JWKS stays trusted for the life of the worker) and its refetch cooldown starts only
    after a successful fetch (while the endpoint fails, every unknown `kid` fetches)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.clock = clock
        self.fetches = 0
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        import jwt

        now = self.clock()
        self._attempted_at = now
        self.fetches += 1
        try:
            client = jwt.PyJWKClient(self.url, cache_keys=False, cache_jwk_set=False, timeout=10)
            keys = {k.key_id: k for k in client.get_signing_keys() if k.key_id}
        except jwt.PyJWKClientError:
            self._failed_at = now
            raise
        self._keys, self._fetched_at, self._failed_at = keys, now, None

    def _may_fetch(self, now: float, forced: bool) -> bool:
        if self._failed_at is not None and now - self._failed_at < FAILURE_COOLDOWN:
            return False
        if forced and self._attempted_at is not None:
            return now - self._attempted_at >= REFRESH_COOLDOWN
        return True

    def key(self, kid: str) -> PyJWK:
        import jwt

        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= KEYS_MAX_AGE
            if stale and self._may_fetch(now, forced=False):
                try:
                    self._refresh()
                except jwt.PyJWKClientError:
                    if self._fetched_at is None:
                        raise
                    # the last good set still serves until the endpoint answers again
            known = kid in self._keys or self._fetched_at is None
            if not known and self._may_fetch(now, forced=True):
                self._refresh()
            found = self._keys.get(kid)
            if found is None:
                if self._failed_at is not None and self._fetched_at is None:
                    raise jwt.PyJWKClientError("the signing keys could not be fetched")
                raise jwt.PyJWKClientError(f"no signing key with kid {kid[:64]!r}")
            return found


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
            raise Forbidden(
                "the token has no role that allows this operation",
                extra={"requiredLevels": sorted(allowed)},
            )
        if tenant_id is not None and tenant_id.lower() != self.tenant_id:
            raise Forbidden("the token's tenant does not match the data's tenant", field="tenantId")


def is_app_only(claims: dict[str, Any]) -> bool:
    """An application acting as itself (client credentials). Entra says so with the
    optional `idtyp=app` claim; without that claim, an app-only token is one with no
    delegated scopes (`scp`) and no user name."""
    idtyp = claims.get("idtyp")
    if idtyp is not None:
        return idtyp == "app"
    return not claims.get("scp") and not (claims.get("upn") or claims.get("preferred_username"))


def unauthorized(detail: str) -> Unauthenticated:
    return Unauthenticated(detail)


class TokenValidator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: dict[str, KeySet] = {}
        self._lock = threading.Lock()

    def _issuers(self, tid: str) -> list[str]:
        issuers = [f"{self.settings.authority}/{tid}/v2.0"]
        if not self.settings.dev_authority:
            issuers.append(f"https://sts.windows.net/{tid}/")  # v1.0 access tokens
        return issuers

    def key_set(self, tid: str) -> KeySet:
        with self._lock:
            keys = self._jwks.get(tid)
            if keys is None:
                keys = KeySet(f"{self.settings.authority}/{tid}/discovery/v2.0/keys")
                self._jwks[tid] = keys
            return keys

    def _signing_key(self, tid: str, kid: Any) -> Any:
        import jwt

        if not isinstance(kid, str) or not kid:
            raise unauthorized("token header has no kid")
        try:
            return self.key_set(tid).key(kid)
        except jwt.PyJWKClientError as exc:
            raise unauthorized(f"token signing key not found: {exc}") from None

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
        key = self._signing_key(tid, header.get("kid"))
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
        if is_app_only(claims):
            wids = ()  # an app acting as itself: app roles only, never directory roles
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
