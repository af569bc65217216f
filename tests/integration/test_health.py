import asyncio
import uuid

import pytest

from functions.health import status_for
from shared.health import admin_health, public_health
from shared.processor import BatchProcessor
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.clients import get_clients
from tests.factories import TENANT
from tests.integration.test_analytics import who

pytestmark = pytest.mark.stack


def test_health_reports_poison_and_sources(stack):
    async def go():
        c = get_clients()
        body = await public_health(c)
        code = status_for(body)
        assert (code, body) == (200, {"status": "ok"})
        name = f"{TENANT}/2026/11/21/hp-{uuid.uuid4()}.json.gz"
        await c.blobs(layout.INCOMING).get_blob_client(name).upload_blob(b"not gzip")
        await BatchProcessor(c, get_settings()).process("incoming/" + name)
        detail = await admin_health(c, who("admin"))
        return status_for(detail), detail

    code, body = asyncio.run(go())
    assert code == 200 and body["status"] == "degraded"
    assert body["last24h"]["poisonedBatches"] >= 1
    assert all(c["ok"] for c in body["checks"])


def test_stopped_cosmos_is_unhealthy_and_recovers(dev_authority):
    """A dedicated stack (the session's stays up): stop its Cosmos DB emulator, the probe
    answers 503 'unhealthy'; start it again (and provision), the probe is ok again."""
    from devhost.provision import provision
    from devhost.stack import Stack
    from shared.settings import Settings
    from shared.storage.clients import make_clients

    own = Stack(authority_url=dev_authority.url).start()
    try:
        settings = Settings.from_env(own.env)

        async def probe() -> tuple[int, dict]:
            clients = make_clients(settings)
            try:
                body = await public_health(clients)
                return status_for(body), body
            finally:
                await clients.close()

        asyncio.run(provision(settings))
        assert asyncio.run(probe()) == (200, {"status": "ok"})
        cosmos = next(e for e in own.emulators if e.name == "cosmos")
        cosmos.stop()
        assert asyncio.run(probe()) == (503, {"status": "unhealthy"})
        own.restart_cosmos()
        asyncio.run(provision(settings))
        assert asyncio.run(probe()) == (200, {"status": "ok"})
    finally:
        own.stop()
