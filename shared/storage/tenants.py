"""Per-tenant settings: classifier profile and the exclusion policy."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, Field, field_validator

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries

SETTINGS_ID = "settings"


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
        domain = address.rsplit("@", 1)[-1] if "@" in address else None
        return bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.domains)

    @cached_property
    def _users(self) -> frozenset[str]:
        return frozenset(self.users)


class TenantSettings(BaseModel):
    tenantId: str
    classifierProfile: str | None = None  # None: default by source (classification.md)
    exclusions: ExclusionPolicy = Field(default_factory=ExclusionPolicy)


async def read_tenant_settings(clients: Clients, tenant_id: str) -> TenantSettings:
    raw = await read_or_none(
        clients.container(layout.TENANTS), SETTINGS_ID, tenant_id, what="read tenant settings"
    )
    return TenantSettings.model_validate(raw) if raw else TenantSettings(tenantId=tenant_id)


async def save_exclusions(clients: Clients, tenant_id: str, policy: ExclusionPolicy) -> None:
    current = await read_tenant_settings(clients, tenant_id)
    current.exclusions = policy
    body = {"id": SETTINGS_ID, **current.model_dump(mode="json")}
    await with_retries(
        lambda: clients.container(layout.TENANTS).upsert_item(body), what="save tenant settings"
    )
