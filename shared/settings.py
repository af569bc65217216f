"""Application settings, read lazily from the environment.

Settings are read on first use, never at import time: the Functions host indexes
`function_app.py` before app settings are guaranteed to be complete, and one missing
setting must not stop every function from being indexed.

`SETTING_NAMES` is the single list of environment names the code reads; the infra
tests compare it with the app settings the Bicep template sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlparse

# Every environment variable the service reads. Keep in step with Settings.from_env;
# tests/infra checks that infra/ sets exactly the ones Azure needs.
SETTING_NAMES: dict[str, str] = {
    "CDC_STORAGE": "Azurite/Storage connection string (local only; Azure uses the __ form)",
    "CDC_STORAGE__blobServiceUri": "Blob endpoint for identity-based access (Azure)",
    "CDC_STORAGE__credential": "'managedidentity' in Azure",
    "CDC_STORAGE__clientId": "client ID of the user-assigned managed identity",
    "COSMOS_ENDPOINT": "Cosmos DB account endpoint",
    "COSMOS_KEY": "Cosmos DB key: local emulator only; Azure uses managed identity",
    "COSMOS_DATABASE": "Cosmos DB database name",
    "AZURE_CLIENT_ID": "client ID of the user-assigned managed identity (Cosmos DB)",
    "AUTH_TENANTS": "comma-separated Entra tenant IDs whose tokens are accepted",
    "AUTH_AUDIENCES": "comma-separated accepted token audiences (app ID URI, client ID)",
    # The portal's Entra sign-in, served as /api/portal/config.json (shared/portal_site.py).
    "CDC_PORTAL_CLIENT_ID": "client ID of the portal's SPA app registration; empty: none",
    "CDC_PORTAL_TENANT_ID": "tenant ID (or 'organizations') the portal signs users in with",
    "CDC_PORTAL_API_SCOPE": "API scope the portal requests: api://<API client ID>/access_as_user",
    "CDC_DEV_AUTHORITY": "loopback URL of the development token issuer; never set in Azure",
    "CDC_MAX_BATCH_RECORDS": "records per batch (default 10000)",
    "CDC_MAX_BATCH_BYTES": "decompressed bytes per batch (default 50 MB)",
    "CDC_MAX_QOE_BYTES": "bytes per QoE report (default 300 KB)",
    "CDC_COSMOS_CONCURRENCY": "concurrent Cosmos DB requests per batch (default 8)",
    "CDC_MAX_PROCESS_ATTEMPTS": "processor runs before a batch goes to the poison path (default 5)",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Application Insights (Azure)",
    "CDC_BUILD_VERSION": "build version shown by admin health (set by the deployment)",
    # quality alerts, read by shared/alerts/quality.py (Thresholds.from_env)
    "CDC_ALERT_POOR_PERCENT": "building audio Poor % per day above which a quality alert "
    "is raised (default 2, the QoE Review Guide's internal target)",
    "CDC_ALERT_MIN_STREAMS": "classified audio streams a building needs in a day before "
    "it can alert (default 20)",
    # Teams call records from Microsoft Graph, read by shared/graph/config.py
    "CDC_GRAPH_URL": "Microsoft Graph base URL (default https://graph.microsoft.com/v1.0)",
    "CDC_GRAPH_AUTHORITY": "token authority for Graph (default https://login.microsoftonline.com)",
    "CDC_GRAPH_TENANTS": "comma-separated Teams tenant IDs to subscribe to call records",
    "CDC_GRAPH_HOME_TENANT": "the app's home tenant: Graph tokens from the managed identity",
    "CDC_GRAPH_APP_ID": "multi-tenant app (client) ID for other tenants (certificate)",
    "CDC_GRAPH_CERTIFICATE_PATH": "PEM/PKCS12 certificate of that app (other tenants)",
    "CDC_GRAPH_WEBHOOK_BASE": "public https base URL of this app for Graph's webhooks "
    "(default https://$WEBSITE_HOSTNAME)",
    "CDC_GRAPH_NOT_FOUND_DELAY_S": "first retry delay of a call record still 404 (default 60)",
    "CDC_GRAPH_MAX_INLINE_WAIT_S": "Retry-After waited in-process before re-queueing (default 20)",
}

ENTRA_AUTHORITY = "https://login.microsoftonline.com"


class SettingsError(RuntimeError):
    """A required setting is missing or malformed; names the setting."""


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    storage_connection_string: str | None = None
    blob_service_uri: str | None = None
    managed_identity_client_id: str | None = None
    cosmos_endpoint: str | None = None
    cosmos_key: str | None = None
    cosmos_database: str = "calldata"
    auth_tenants: tuple[str, ...] = ()
    auth_audiences: tuple[str, ...] = ()
    dev_authority: str | None = None
    max_batch_records: int = 10_000
    max_batch_bytes: int = 50 * 1024 * 1024
    max_qoe_bytes: int = 300 * 1024
    cosmos_concurrency: int = 8
    max_process_attempts: int = 5
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        dev_authority = env.get("CDC_DEV_AUTHORITY") or None
        if dev_authority:
            host = urlparse(dev_authority).hostname
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise SettingsError("CDC_DEV_AUTHORITY must be a loopback URL (development only)")
        return cls(
            storage_connection_string=env.get("CDC_STORAGE") or None,
            blob_service_uri=env.get("CDC_STORAGE__blobServiceUri") or None,
            managed_identity_client_id=env.get("CDC_STORAGE__clientId")
            or env.get("AZURE_CLIENT_ID")
            or None,
            cosmos_endpoint=env.get("COSMOS_ENDPOINT") or None,
            cosmos_key=env.get("COSMOS_KEY") or None,
            cosmos_database=env.get("COSMOS_DATABASE") or "calldata",
            auth_tenants=tuple(t.lower() for t in _csv(env.get("AUTH_TENANTS"))),
            auth_audiences=_csv(env.get("AUTH_AUDIENCES")),
            dev_authority=dev_authority.rstrip("/") if dev_authority else None,
            max_batch_records=_int(env, "CDC_MAX_BATCH_RECORDS", 10_000),
            max_batch_bytes=_int(env, "CDC_MAX_BATCH_BYTES", 50 * 1024 * 1024),
            max_qoe_bytes=_int(env, "CDC_MAX_QOE_BYTES", 300 * 1024),
            cosmos_concurrency=_int(env, "CDC_COSMOS_CONCURRENCY", 8),
            max_process_attempts=_int(env, "CDC_MAX_PROCESS_ATTEMPTS", 5),
        )

    @property
    def authority(self) -> str:
        return self.dev_authority or ENTRA_AUTHORITY

    def require(self, attr: str, name: str) -> str:
        value = getattr(self, attr)
        if not value:
            raise SettingsError(f"setting {name} is required")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget cached settings (tests and the local host change the environment)."""
    get_settings.cache_clear()
