"""Async Blob and Cosmos DB clients, created on first use and reused per event loop.

Async clients because the synchronous Cosmos client pays 30-40 ms a request on the
emulator (a transport artifact) against ~5 ms for `azure.cosmos.aio`. Clients hold an
aiohttp session bound to the loop that created them, so they are cached per loop: the
Functions worker runs one loop, tests may run several.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.settings import Settings, SettingsError, get_settings
from shared.storage import layout


@dataclass
class Clients:
    blob_service: Any  # azure.storage.blob.aio.BlobServiceClient
    cosmos: Any  # azure.cosmos.aio.CosmosClient
    database: Any  # azure.cosmos.aio.DatabaseProxy

    def container(self, spec: layout.CosmosContainer) -> Any:
        return self.database.get_container_client(spec.name)

    def blobs(self, container: str) -> Any:
        return self.blob_service.get_container_client(container)

    async def close(self) -> None:
        await self.blob_service.close()
        await self.cosmos.close()


_cache: dict[int, tuple[asyncio.AbstractEventLoop, Clients]] = {}


def _credential(settings: Settings) -> Any:
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    if settings.managed_identity_client_id:
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()


def managed_identity_credential(client_id: str | None) -> Any:
    """The app's managed identity as an async azure-identity credential (Microsoft
    Graph's home tenant; shared/graph/tokens.py)."""
    from azure.identity.aio import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id)


def certificate_credential(tenant_id: str, app_id: str, certificate_path: str, host: str) -> Any:
    """A multi-tenant app's certificate credential for another tenant (never a secret)."""
    from azure.identity.aio import CertificateCredential

    return CertificateCredential(tenant_id, app_id, certificate_path, authority=host)


_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "ws_proxy", "wss_proxy")


def transport_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Options of the azure-core aiohttp transport behind every Cosmos DB and Blob client.

    With `use_env_settings` (azure-core's default) aiohttp trusts the environment on
    every request: it scans the environment for proxies and looks the host up in
    ~/.netrc in a worker thread, a thread hop and a file lookup per request that cost
    more client CPU than the emulator spends answering (bench/cosmos/run.py). Neither
    service uses netrc credentials (a netrc entry next to their Authorization header
    would even fail the request), so the environment is trusted only when it names a
    proxy, which then applies as before."""
    env = os.environ if environ is None else environ
    proxied = any(env.get(name) or env.get(name.upper()) for name in _PROXY_VARIABLES)
    return {"use_env_settings": proxied}


def build_cosmos_transport(settings: Settings, kind: Any = None, **extra: Any) -> Any:
    """The Cosmos DB client's transport as the product builds it: a pool of at most
    `cosmos_concurrency` connections (shared/storage/transport.py: each connection keeps
    a 256 KB TLS buffer) with `transport_options()`. `kind`: a `PooledTransport`
    subclass that counts or throttles requests (benchmarks, fault tests), built the same
    way with its own `extra` arguments, so that what they measure is the product's
    transport."""
    from shared.storage.transport import PooledTransport

    return (kind or PooledTransport)(
        connections=settings.cosmos_concurrency, **transport_options(), **extra
    )


def make_clients(settings: Settings, *, cosmos_transport: Any = None) -> Clients:
    """The product's clients. `cosmos_transport`: the Cosmos client's transport when not
    the product's own (`build_cosmos_transport(settings)`, which also builds the counting and
    throttling ones of the benchmarks and fault tests)."""
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.cosmos.aio import CosmosClient
    from azure.storage.blob.aio import BlobServiceClient

    # Downloads stream in 4 MB ranges (the SDK's first GET would otherwise take up to
    # 32 MB at once): the processor's memory stays bounded whatever the batch size.
    chunk = 4 * 1024 * 1024
    options = transport_options()
    if settings.storage_connection_string:
        blob = BlobServiceClient.from_connection_string(
            settings.storage_connection_string,
            max_single_get_size=chunk,
            max_chunk_get_size=chunk,
            transport=AioHttpTransport(**options),
        )
    elif settings.blob_service_uri:
        blob = BlobServiceClient(
            settings.blob_service_uri,
            credential=_credential(settings),
            max_single_get_size=chunk,
            max_chunk_get_size=chunk,
            transport=AioHttpTransport(**options),
        )
    else:
        raise SettingsError("set CDC_STORAGE (local) or CDC_STORAGE__blobServiceUri (Azure)")
    endpoint = settings.require("cosmos_endpoint", "COSMOS_ENDPOINT")
    credential = settings.cosmos_key or _credential(settings)
    cosmos = CosmosClient(
        endpoint,
        credential=credential,
        # The SDK retries 429s itself (honouring retry-after); our retry wrapper adds
        # 503/408/timeouts with backoff on top.
        retry_total=9,
        retry_backoff_max=30,
        connection_timeout=10,
        transport=cosmos_transport
        if cosmos_transport is not None
        else build_cosmos_transport(settings),
    )
    return Clients(blob, cosmos, cosmos.get_database_client(settings.cosmos_database))


def get_clients(settings: Settings | None = None) -> Clients:
    loop = asyncio.get_running_loop()
    cached = _cache.get(id(loop))
    if cached and cached[0] is loop:
        return cached[1]
    # Drop clients of loops that are gone (tests); their sessions died with the loop.
    for key, (old_loop, _) in list(_cache.items()):
        if old_loop.is_closed():
            del _cache[key]
    clients = make_clients(settings or get_settings())
    _cache[id(loop)] = (loop, clients)
    return clients


async def close_clients() -> None:
    loop = asyncio.get_running_loop()
    cached = _cache.pop(id(loop), None)
    if cached:
        await cached[1].close()
