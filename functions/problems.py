"""RFC 9457 problem details: every rejection says what was wrong and where.

The one place where a domain error becomes an HTTP status, headers and a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
    Unsupported,
    UpstreamRefused,
)

if TYPE_CHECKING:
    from shared.settings import Settings

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

STATUS_OF: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Unsupported: 415,
    UpstreamRefused: 502,
    Unavailable: 503,
}

# A bearer challenge tells the client which scheme to use and that its token was the
# problem (RFC 6750 section 3).
_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def bearer_challenge(settings: Settings, token_sent: bool) -> str:
    """The 401 challenge, with where to sign in and for which resource, so Power BI's and
    Excel's Web connector ("Organizational account") can sign the user in on their own
    (docs/power-bi.md). The authority is the tenant's when the API serves one tenant,
    else `organizations` (any work account; the token's tenant is checked after).
    `error="invalid_token"` only when a token was sent (RFC 6750 section 3.1)."""
    tenant = settings.auth_tenants[0] if len(settings.auth_tenants) == 1 else "organizations"
    uris = [a for a in settings.auth_audiences if a.startswith(("api://", "https://"))]
    resource = (uris or list(settings.auth_audiences) or [""])[0]
    value = (
        f'Bearer authorization_uri="{settings.authority}/{tenant}/oauth2/authorize", '
        f'resource_id="{resource}"'
    )
    return value + (', error="invalid_token"' if token_sent else "")


@dataclass
class Problem:
    """A client-facing error as it goes on the wire."""

    status: int
    detail: str
    field: str | None = None
    errors: list[FieldError] = dc_field(default_factory=list)
    headers: dict[str, str] = dc_field(default_factory=dict)
    extra: dict[str, Any] = dc_field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "about:blank",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.field:
            out["field"] = self.field
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
            out.setdefault("field", self.errors[0].field)
        out.update(self.extra)
        return out


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error (its nearest mapped base class)."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def as_problem(error: DomainError) -> Problem:
    status = status_of(error)
    headers = dict(_CHALLENGE) if status == 401 else {}
    return Problem(
        status,
        error.detail,
        field=error.field,
        errors=error.errors,
        headers=headers,
        extra=error.extra,
    )
