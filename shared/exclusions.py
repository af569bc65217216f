"""The tenant's own rules: which users and domains stay on premises (the exclusion
policy) and which classifier profile applies. Pure values; `shared.storage.tenants`
stores them."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, Field, field_validator

from shared.classification.thresholds import DEFAULT_PROFILE_BY_SOURCE, ProfileChoice
from shared.tenant_settings import ClassificationSettings


class ExclusionPolicy(BaseModel):
    """Users (SIP URI / UPN) and domains whose data must stay on premises."""

    users: list[str] = Field(default_factory=list, max_length=100_000)
    domains: list[str] = Field(default_factory=list, max_length=10_000)

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
        if address.startswith(("sip:", "tel:")):
            address = address[4:]
        address = address.split(";", 1)[0]
        if address in self._users:
            return True
        domain = address.rsplit("@", 1)[-1] if "@" in address else ""
        return bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.domains)

    @cached_property
    def _users(self) -> frozenset[str]:
        return frozenset(self.users)


class TenantSettings(BaseModel):
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
