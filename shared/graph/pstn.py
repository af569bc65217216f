"""PSTN and Direct Routing logs (placeholder until the log reader lands)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.graph.client import GraphClient
from shared.graph.config import GraphConfig
from shared.settings import Settings
from shared.storage.clients import Clients


async def queue_logs(config: GraphConfig, tenant_id: str, begin: datetime, end: datetime
                     ) -> bool:
    del config, tenant_id, begin, end
    return False


async def run(clients: Clients, settings: Settings, graph: GraphClient, config: GraphConfig,
              message: dict[str, Any]) -> str:
    del clients, settings, graph, config, message
    return "ignored"
