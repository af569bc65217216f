"""Storage of the per-tenant settings (classifier profile, exclusion policy) in the
`tenants` container; the rules themselves are in `shared.exclusions`."""

from __future__ import annotations

from shared.exclusions import ExclusionPolicy, TenantSettings
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries

SETTINGS_ID = "settings"


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
