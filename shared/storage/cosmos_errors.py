"""`azure.cosmos.exceptions`, imported on first use.

Importing anything from `azure.cosmos` loads the whole SDK (~180 ms), and the modules
that only name its exceptions in `except` clauses would put that on every cold start,
before the host has indexed a single function. An `except` clause looks its class up
only when an exception reaches it, by which time a Cosmos client has loaded the SDK.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from azure.cosmos import exceptions

    return getattr(exceptions, name)
