"""The batch envelope an on-prem server posts (docs/reference/ingest.md)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# (kind, format) pairs the processor can parse, and the JSON type each one's data has.
RECORD_FORMATS: dict[tuple[str, str], type] = {
    ("qoe", "ms-qoe-xml"): str,
    ("cdr", "sfb-cdr-json"): dict,
    ("callRecord", "graph-v1"): dict,
    # A PSTN / Direct Routing log row the Graph fetcher read (getPstnCalls,
    # getDirectRoutingCalls), with `logType`.
    ("pstnCall", "graph-pstn-v1"): dict,
}
MAX_DATA_DEPTH = 32  # deeper JSON is hostile, not telemetry (Graph call records nest ~8)


def json_depth(value: Any) -> int:
    """Nesting depth without recursion, so hostile input cannot exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node)
    return deepest


MAX_SOURCE_EXTRAS = 20  # extra keys an agent may add to `source` (versions, hosts)
MAX_SOURCE_EXTRA_BYTES = 4096  # their JSON, all together: metadata, not payload


class Source(BaseModel):
    """Where the batch came from. Extra keys are kept (agents add their own metadata)
    but bounded: the whole `source` is copied into the batch status document, and an
    unbounded extra would make that document too large to store."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    type: Literal["sfb-server", "teams-graph", "other"] = "sfb-server"
    fqdn: str = Field(min_length=1, max_length=255)
    pool: str | None = Field(default=None, max_length=255)
    site: str | None = Field(default=None, max_length=255)
    version: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _bounded_extras(self) -> Source:
        extras = self.model_extra or {}
        if len(extras) > MAX_SOURCE_EXTRAS:
            raise ValueError(f"source holds at most {MAX_SOURCE_EXTRAS} extra keys")
        size = len(json.dumps(extras, default=str))
        if size > MAX_SOURCE_EXTRA_BYTES:
            raise ValueError(f"source's extra keys exceed {MAX_SOURCE_EXTRA_BYTES} bytes of JSON")
        return self


class Record(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    kind: Literal["qoe", "cdr", "callRecord", "pstnCall"]
    format: str
    data: Any

    @model_validator(mode="after")
    def _format_matches_kind(self) -> Record:
        expected = RECORD_FORMATS.get((self.kind, self.format))
        if expected is None:
            allowed = [f for (k, f) in RECORD_FORMATS if k == self.kind]
            raise ValueError(
                f"format {self.format!r} is not supported for kind {self.kind!r}; "
                f"expected one of {allowed}"
            )
        if not isinstance(self.data, expected):
            raise ValueError(
                f"data must be a JSON {'string' if expected is str else 'object'} "
                f"for {self.kind}/{self.format}"
            )
        if expected is dict and json_depth(self.data) > MAX_DATA_DEPTH:
            raise ValueError(f"data nests deeper than {MAX_DATA_DEPTH} levels")
        return self


class BatchEnvelope(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    schemaVersion: Literal["1.0"]
    batchId: str
    tenantId: str
    source: Source
    sentAt: datetime
    records: list[Record] = Field(min_length=1)

    @field_validator("batchId")
    @classmethod
    def _batch_id(cls, v: str) -> str:
        if not BATCH_ID_RE.match(v):
            raise ValueError("batchId must be 1-128 characters of letters, digits, '.', '_', '-'")
        return v

    @field_validator("tenantId")
    @classmethod
    def _tenant_id(cls, v: str) -> str:
        if not GUID_RE.match(v):
            raise ValueError("tenantId must be a GUID")
        return v.lower()
