"""Telemetry set-up: logging filters always; OpenTelemetry with the Azure Monitor
exporter only when APPLICATIONINSIGHTS_CONNECTION_STRING is set (imported lazily: it
costs more than the whole function app at cold start)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from shared.telemetry.metrics import (
    disable_metrics,
    disable_tracing,
    enable_metrics,
    enable_tracing,
    make_span_processor,
)
from shared.telemetry.scrubbing import attach_root_filters, install_logging, uninstall_logging

log = logging.getLogger("shared.telemetry")  # one logger name for the whole package


# The Azure SDKs log request URLs, headers and partition keys at INFO (Cosmos DB
# document URLs and partition keys hold UPNs here): only their warnings and errors.
SDK_LOGGERS = (
    "azure",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.cosmos",
    "urllib3",
)

_configured = {"done": False, "exporting": False}
_configure_lock = threading.Lock()


def configure_telemetry(env: Mapping[str, str] | None = None) -> bool:
    """The one logging set-up, called by every entry point (HTTP edge, blob trigger,
    timers) before anything logs: a worker that only serves HTTP (Flex Consumption
    scales HTTP triggers on their own instances) scrubs as the processor does.
    Logging filters always, SDK loggers at WARNING, and Azure Monitor (logs, traces,
    metrics) once, only when APPLICATIONINSIGHTS_CONNECTION_STRING is set. Returns
    whether telemetry is exported. Never raises: telemetry must not stop a batch."""
    install_logging()
    if _configured["done"]:
        return _configured["exporting"]
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    attach_root_filters()
    with _configure_lock:
        if _configured["done"]:
            return _configured["exporting"]
        source = os.environ if env is None else env
        connection = source.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
        if connection:
            try:
                _configure_azure_monitor(connection, source.get("AZURE_CLIENT_ID"))
                _configured["exporting"] = True
            except Exception:
                log.exception("Azure Monitor telemetry could not be configured; continuing")
        _configured["done"] = True
        return _configured["exporting"]


def _configure_azure_monitor(connection: str, client_id: str | None) -> None:
    # Imported here, not at module level: ~1 s of imports only where it is used.
    from azure.monitor.opentelemetry import configure_azure_monitor

    kwargs: dict[str, Any] = {
        "connection_string": connection,
        "span_processors": [make_span_processor()],
    }
    if client_id:  # local auth is off on the component: ingest with the app's identity
        from azure.identity import ManagedIdentityCredential

        kwargs["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**kwargs)
    attach_root_filters()  # the handler it added too
    enable_metrics()
    enable_tracing()


def reset_for_tests() -> None:
    """Forget configuration and instruments (tests)."""
    disable_metrics()
    disable_tracing()
    uninstall_logging()
    with _configure_lock:
        _configured.update(done=False, exporting=False)
