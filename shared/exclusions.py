"""The tenant's own rules: which users and domains stay on premises (the exclusion
policy) and which classifier profile applies. Pure values; `shared.storage.tenants`
stores them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.classification.thresholds import DEFAULT_PROFILE_BY_SOURCE, ProfileChoice
from shared.tenant_settings import ClassificationSettings

# Identities inside text (a QoE XML report): addresses with or without a scheme, and
# Entra object ids (GUIDs), which a Graph call record carries without any UPN.
# An address starts where a run of its characters starts (the lookbehind): tried from
# every position inside a long run of word characters, the pattern backtracked over the
# rest of the run each time, quadratic in the run (a 300 KB QoE comment took minutes).
_ADDRESS = re.compile(r"(?i)(?<![\w.%+'-])(?:sips?:|tel:)?[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
_GUID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_MAX_STRINGS = 100_000  # a record is bounded by the batch limit; this bounds the walk


def record_strings(data: Any) -> Iterator[str]:
    """Every string in a raw record (keys excluded), without recursion."""
    stack, seen = [data], 0
    while stack and seen < _MAX_STRINGS:
        node = stack.pop()
        if isinstance(node, str):
            seen += 1
            yield node
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


MAX_POLICY_BYTES = 1_000_000  # stored policy; many users fit (50,000 UPNs of 20 chars)
MAX_POLICY_BODY_BYTES = 4_000_000  # the request body, before normalisation


class ExclusionPolicy(BaseModel):
    """Users (SIP URI / UPN / Entra object id) and domains whose data must stay on
    premises. The processor asks `excludes_record` before it parses a record, so an
    excluded user's record is never written anywhere, not even to quarantine."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    users: list[str] = Field(default_factory=list, max_length=100_000)
    domains: list[str] = Field(default_factory=list, max_length=10_000)

    def stored_bytes(self) -> int:
        """Size of the policy as stored in the tenant's settings item (one Cosmos DB
        item: 2 MB at most, with room kept for the rest of the settings)."""
        return len(self.model_dump_json())

    @field_validator("users", "domains")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        out = []
        for v in values:
            v = v.strip().lower()
            if v.startswith("sip:"):
                v = v[4:]
            if v:
                out.append(v.lstrip("@"))
        return sorted(set(out))

    def excludes(self, uri: str | None) -> bool:
        if not uri:
            return False
        address = uri.lower()
        if address.startswith("sips:"):
            address = address[5:]
        elif address.startswith(("sip:", "tel:")):
            address = address[4:]
        address = address.split(";", 1)[0]
        if address in self._users:
            return True
        domain = address.rsplit("@", 1)[-1] if "@" in address else ""
        return bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.domains)

    def excludes_record(self, data: Any) -> bool:
        """Whether any identity anywhere in a raw record (any field, any shape, parsed
        or not) is excluded: a SIP URI, UPN or object id as a value of its own, or an
        address or GUID inside text."""
        if not (self.users or self.domains):
            return False
        for text in record_strings(data):
            if len(text) <= 512 and self.excludes(text.strip().strip("<>")):
                return True
            if "@" in text and any(self.excludes(m) for m in _ADDRESS.findall(text)):
                return True
            guids = _GUID.findall(text) if self.users and len(text) > 36 else ()
            if any(g.lower() in self._users for g in guids):
                return True
        return False

    @cached_property
    def _users(self) -> frozenset[str]:
        return frozenset(self.users)


class TenantSettings(BaseModel):
    model_config = ConfigDict(defer_build=True)

    tenantId: str
    classifierProfile: str | None = None  # None: by source (docs/reference/classification.md)
    exclusions: ExclusionPolicy = Field(default_factory=ExclusionPolicy)
    # Set by an admin (`shared.tenant_settings`); absent on tenants that never set it.
    classification: ClassificationSettings = Field(default_factory=ClassificationSettings)
    updatedAt: str | None = None
    updatedBy: str | None = None

    def profile_choice(self) -> ProfileChoice:
        """Per-source profiles set by an admin win; the older single profile is the
        fallback for the sources they leave out."""
        chosen = self.classification.profiles()
        if not chosen:
            return self.classifierProfile
        if self.classifierProfile is None:
            return chosen
        return {s: chosen.get(s, self.classifierProfile) for s in DEFAULT_PROFILE_BY_SOURCE}
