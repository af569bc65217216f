"""What can go wrong with a request, said in the domain's words.

The domain and the services raise these; they know nothing of HTTP. The edge
(`functions/http_support.py`) maps each class to a status code and a problem+json body
once, so a status code, a header or a URL is never decided below `functions/`.

Every error names the offending field where there is one (a JSON path such as
`records[3].format`, a query parameter, a header): a client can fix its request
without reading our code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FieldError:
    field: str  # JSON path of the offending field, e.g. "records[3].format"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DomainError(Exception):
    """Base of the errors a client caused or may retry; anything else is a bug."""

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = list(errors or [])
        self.extra = dict(extra or {})


class Invalid(DomainError):
    """The input breaks a rule (bad value, bad shape, bad JSON)."""


class Unauthenticated(DomainError):
    """No identity could be established (no token, a bad or expired one)."""


class Forbidden(DomainError):
    """The identity is known but may not do this (role, tenant)."""


class NotFound(DomainError):
    """The thing named does not exist for this tenant (or may not be seen)."""


class Conflict(DomainError):
    """The request contradicts the stored state (same id other content, a name taken,
    a concurrent change, a read-only item)."""


class TooLarge(DomainError):
    """The input is over a size or count limit."""


class Unsupported(DomainError):
    """The input's media type or encoding is not one we read."""


class UpstreamRefused(DomainError):
    """A service we call on the client's behalf (Microsoft Graph) refused the request."""


class Unavailable(DomainError):
    """A dependency could not be reached; the same request may succeed later."""
