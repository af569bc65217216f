"""App-only tokens for Microsoft Graph, from azure-identity (its credentials are made in
`shared.storage.clients`, where the app's Azure SDK clients are).

Home tenant: the function app's managed identity (no secret anywhere). Any other
tenant (a multi-tenant app an admin there consented to): a client certificate, never
a client secret. A loopback authority (the development issuer) gets the same
client-credentials request over plain HTTP, which MSAL refuses to send; that path
exists only for the local stack and is chosen only for a loopback URL.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from shared.graph.config import GraphConfig


class TokenProvider(Protocol):
    async def token(self, tenant_id: str, *, refresh: bool = False) -> str: ...

    async def close(self) -> None: ...


class AzureIdentityTokens:
    """Managed identity for the home tenant, CertificateCredential for the others;
    azure-identity caches and refreshes the tokens."""

    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        self._credentials: dict[str, Any] = {}

    def _credential(self, tenant_id: str) -> Any:
        from shared.storage.clients import certificate_credential, managed_identity_credential

        if tenant_id not in self._credentials:
            home = self.config.home_tenant
            if tenant_id == home or (home is None and not self.config.certificate_path):
                self._credentials[tenant_id] = managed_identity_credential(
                    self.config.managed_identity_client_id
                )
                return self._credentials[tenant_id]
            if not (self.config.app_id and self.config.certificate_path):
                from shared.settings import SettingsError

                raise SettingsError(
                    "a tenant other than the home tenant needs "
                    "CDC_GRAPH_APP_ID and CDC_GRAPH_CERTIFICATE_PATH"
                )
            host = self.config.authority.split("://", 1)[-1]
            self._credentials[tenant_id] = certificate_credential(
                tenant_id, self.config.app_id, self.config.certificate_path, host
            )
        return self._credentials[tenant_id]

    async def token(self, tenant_id: str, *, refresh: bool = False) -> str:
        del refresh  # azure-identity refreshes before expiry itself
        access = await self._credential(tenant_id).get_token(self.config.scope)
        return str(access.token)

    async def close(self) -> None:
        for cred in self._credentials.values():
            await cred.close()
        self._credentials.clear()


class LoopbackClientCredentials:
    """`POST {authority}/{tenant}/oauth2/v2.0/token` (client credentials) against the
    development issuer on loopback; cached until a minute before expiry."""

    def __init__(self, config: GraphConfig, session: Any) -> None:
        self.config = config
        self.session = session
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def token(self, tenant_id: str, *, refresh: bool = False) -> str:
        cached = self._cache.get(tenant_id)
        if cached and not refresh and cached[1] > time.time() + 60:
            return cached[0]
        async with self._lock:
            url = f"{self.config.authority}/{tenant_id}/oauth2/v2.0/token"
            form = {
                "grant_type": "client_credentials",
                "scope": self.config.scope,
                "client_id": self.config.app_id or "call-data-connector",
            }
            async with self.session.post(url, data=form) as resp:
                resp.raise_for_status()
                body = await resp.json()
            token = str(body["access_token"])
            self._cache[tenant_id] = (token, time.time() + float(body.get("expires_in", 300)))
            return token

    async def close(self) -> None:
        self._cache.clear()


def token_provider(config: GraphConfig, session: Any) -> TokenProvider:
    if config.authority_is_loopback:
        return LoopbackClientCredentials(config, session)
    return AzureIdentityTokens(config)
