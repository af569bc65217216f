"""Storage of the per-tenant settings (classifier profile, exclusion policy) in the
`tenants` container; the rules themselves are in `shared.exclusions`."""

from __future__ import annotations

from shared.exclusions import ExclusionPolicy, TenantSettings
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries
from shared.tenant_settings import ClassificationSettings

SETTINGS_ID = "settings"


async def read_tenant_settings(clients: Clients, tenant_id: str) -> TenantSettings:
    raw = await read_or_none(
        clients.container(layout.TENANTS), SETTINGS_ID, tenant_id, what="read tenant settings"
    )
    return TenantSettings.model_validate(raw) if raw else TenantSettings(tenantId=tenant_id)


async def save_exclusions(clients: Clients, tenant_id: str, policy: ExclusionPolicy) -> None:
    current = await read_tenant_settings(clients, tenant_id)
    current.exclusions = policy
    await _save(clients, current)


async def save_classification(
    clients: Clients, tenant_id: str, settings: ClassificationSettings, at: str, by: str | None
) -> TenantSettings:
    """Replace the admin's part of the settings, keep the agent's exclusion policy."""
    current = await read_tenant_settings(clients, tenant_id)
    current.classification = settings
    current.updatedAt, current.updatedBy = at, by
    await _save(clients, current)
    return current


async def _save(clients: Clients, current: TenantSettings) -> None:
    body = {"id": SETTINGS_ID, **current.model_dump(mode="json", by_alias=True)}
    await with_retries(
        lambda: clients.container(layout.TENANTS).upsert_item(body), what="save tenant settings"
    )
