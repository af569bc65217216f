"""Read and replace the tenant's classification and retention settings; each changed
setting leaves its own audit record (who, when, which field, from what to what), so an
auditor can tell when a yellow tier or a retention period changed and who changed it."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from shared.analytics.service import iso
from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.exclusions import TenantSettings
from shared.storage import audit as audit_store
from shared.storage.clients import Clients
from shared.storage.tenants import read_tenant_settings, save_classification
from shared.tenant_settings import (
    PROFILE_NOTICE,
    RETENTION_MAX_DAYS,
    SettingsOut,
    changes,
    effective_profiles,
    parse_settings,
)


def _require_admin(principal: Principal) -> None:
    principal.require(ADMIN)


def _out(tenant: TenantSettings, changed: list[str], notices: list[str]) -> dict[str, Any]:
    c = tenant.classification
    return SettingsOut(
        tenant_id=tenant.tenantId,
        classifier_profiles=dict(c.classifier_profiles),
        effective_profiles=effective_profiles(c),
        yellow_tiers=dict(c.yellow_tiers),
        retention=c.retention,
        retention_max_days=dict(RETENTION_MAX_DAYS),
        updated_at=tenant.updatedAt,
        updated_by=tenant.updatedBy,
        changed=changed,
        notices=notices,
    ).model_dump(mode="json", by_alias=True)


async def get_settings(clients: Clients, principal: Principal) -> dict[str, Any]:
    _require_admin(principal)
    return _out(await read_tenant_settings(clients, principal.tenant_id), [], [])


async def put_settings(clients: Clients, principal: Principal, body: Any) -> dict[str, Any]:
    """Validate, store, audit each change. Idempotent: the same body twice changes
    nothing the second time and writes no audit record."""
    _require_admin(principal)
    wanted = parse_settings(body)
    current = await read_tenant_settings(clients, principal.tenant_id)
    diff = changes(current.classification, wanted)
    if not diff:
        return _out(current, [], [])
    now = datetime.now(timezone.utc)
    actor = principal.name or principal.object_id or principal.app_id
    saved = await save_classification(clients, principal.tenant_id, wanted, iso(now), actor)
    audit_store.forget_audit_ttl(principal.tenant_id)
    for change in diff:
        await audit_store.write_entry(
            clients,
            {
                "id": str(uuid.uuid4()),
                "pk": audit_store.audit_pk(principal.tenant_id, now),
                "tenantId": principal.tenant_id,
                "at": iso(now),
                "action": "settings.change",
                "actorId": principal.object_id,
                "actorName": principal.name,
                "level": principal.level,
                "field": change["field"],
                "from": change["from"],
                "to": change["to"],
            },
        )
    notices = (
        [PROFILE_NOTICE] if any(c["field"].startswith("classifierProfiles.") for c in diff) else []
    )
    return _out(saved, [c["field"] for c in diff], notices)
