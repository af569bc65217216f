"""RFC 9457 problem details: every rejection says what was wrong and where."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

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
    503: "Service Unavailable",
}


@dataclass
class FieldError:
    field: str  # JSON path of the offending field, e.g. "records[3].format"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class Problem(Exception):
    """A client-facing error. Raised anywhere in `shared`, rendered once by the glue."""

    status: int
    detail: str
    field: str | None = None
    errors: list[FieldError] = dc_field(default_factory=list)
    headers: dict[str, str] = dc_field(default_factory=dict)
    extra: dict[str, Any] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

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


def bad_request(detail: str, field: str | None = None, **extra: Any) -> Problem:
    return Problem(400, detail, field=field, extra=extra)
