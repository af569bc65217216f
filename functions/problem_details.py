"""The problem+json body as a model, for the OpenAPI document only (`functions.problems`
renders the answers). Its own module so that pydantic loads when the document is first
built, not when the route modules are imported."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; `field` names the offending field."""

    model_config = ConfigDict(defer_build=True)

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
