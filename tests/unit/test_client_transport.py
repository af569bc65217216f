"""The product's Cosmos DB and Blob clients do not make aiohttp read the environment
(proxies, ~/.netrc) on every request unless a proxy is configured: that lookup ran in
a worker thread per request and cost more client CPU than the emulator spends answering
(bench/cosmos/run.py)."""

from __future__ import annotations

import asyncio

import pytest

from shared.settings import Settings
from shared.storage.clients import make_clients, transport_options

SETTINGS = Settings(
    storage_connection_string=(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    ),
    cosmos_endpoint="https://127.0.0.1:9/",
    cosmos_key="a2V5",
)


@pytest.mark.parametrize(
    ("environ", "trusted"),
    [
        ({}, False),
        ({"HOME": "/root", "NETRC": "/root/.netrc"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"http_proxy": "http://proxy:3128"}, True),
        ({"ALL_PROXY": "socks5://proxy"}, True),
        ({"HTTPS_PROXY": ""}, False),
    ],
)
def test_environment_trusted_only_with_a_proxy(environ: dict[str, str], trusted: bool) -> None:
    assert transport_options(environ) == {"use_env_settings": trusted}


def _transports(monkeypatch: pytest.MonkeyPatch, proxy: str | None) -> list[bool]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    if proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)

    async def build() -> list[bool]:
        clients = make_clients(SETTINGS)  # no request is sent: nothing listens on port 9
        try:
            cosmos = clients.cosmos.client_connection.pipeline_client._pipeline._transport
            blob = clients.blob_service._pipeline._transport
            return [cosmos._use_env_settings, blob._use_env_settings]
        finally:
            await clients.close()

    return asyncio.run(build())


def test_product_clients_use_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _transports(monkeypatch, None) == [False, False]
    assert _transports(monkeypatch, "http://proxy:3128") == [True, True]
