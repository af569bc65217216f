"""The managed-identity branches, through azure-identity's real `ManagedIdentityCredential`
against the development issuer's App Service identity endpoint (`IDENTITY_ENDPOINT` and
`IDENTITY_HEADER`, the variables App Service and Functions set for a managed identity):
Microsoft Graph's home tenant (shared/graph/tokens.py), the Storage / Cosmos DB
credential with a user-assigned identity and the default chain without one
(shared/storage/clients.py). The tokens are real RS256 tokens, verified against the
issuer's published keys. Loopback thread only: no emulator needed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from devhost.devauth import APP_PERMISSIONS, DevAuthority, jwks
from shared.graph.config import GraphConfig
from shared.graph.tokens import AzureIdentityTokens, token_provider
from shared.settings import Settings
from shared.storage.clients import _credential

CLIENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "user-assigned-identity"))


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevAuthority]:
    running = DevAuthority().start()
    yield running
    running.stop()


@pytest.fixture
def app_service(monkeypatch: pytest.MonkeyPatch, issuer: DevAuthority) -> DevAuthority:
    """The environment App Service gives a function app with a managed identity."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{issuer.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", issuer.identity_header)
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    return issuer


def verified(issuer: DevAuthority, token: str, audience: str) -> dict[str, Any]:
    key = jwt.PyJWK(jwks(issuer.key)["keys"][0]).key
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience)


def test_graph_home_tenant_signs_in_with_the_managed_identity(app_service: DevAuthority) -> None:
    home = app_service.home_tenant
    config = GraphConfig(home_tenant=home, managed_identity_client_id=CLIENT_ID)
    tokens = token_provider(config, session=None)
    assert isinstance(tokens, AzureIdentityTokens)  # a real authority: azure-identity

    async def get() -> str:
        try:
            return await tokens.token(home)
        finally:
            await tokens.close()

    claims = verified(app_service, asyncio.run(get()), "https://graph.microsoft.com")
    assert claims["tid"] == home and claims["azp"] == CLIENT_ID
    assert claims["roles"] == list(APP_PERMISSIONS) and claims["idtyp"] == "app"


@pytest.mark.parametrize(
    ("client_id", "expected_azp"),
    [
        (CLIENT_ID, CLIENT_ID),  # user-assigned: the app setting names it
        (None, None),  # system-assigned, through DefaultAzureCredential's chain
    ],
)
def test_storage_credential_is_the_managed_identity(
    app_service: DevAuthority, client_id: str | None, expected_azp: str | None
) -> None:
    credential = _credential(Settings(managed_identity_client_id=client_id))

    async def get() -> str:
        try:
            return (await credential.get_token("https://storage.azure.com/.default")).token
        finally:
            await credential.close()

    claims = verified(app_service, asyncio.run(get()), "https://storage.azure.com")
    assert claims["tid"] == app_service.home_tenant and claims["roles"] == []
    if expected_azp is None:
        assert claims["azp"] != CLIENT_ID
    else:
        assert claims["azp"] == expected_azp


def test_a_wrong_identity_header_gets_no_token(
    app_service: DevAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    credential = _credential(Settings(managed_identity_client_id=CLIENT_ID))

    async def get() -> Any:
        try:
            return await credential.get_token("https://storage.azure.com/.default")
        finally:
            await credential.close()

    with pytest.raises(Exception, match=r"(?i)unauthori|401|managed identity"):
        asyncio.run(get())
