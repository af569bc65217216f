"""The one start-up of the benchmarks' local stack: development token issuer, emulators
(Azurite, the Cosmos DB server), settings from the stack's environment, containers
provisioned, and the local Functions host on demand. Stopped in reverse order however
the benchmark ends, so a failed run leaves no emulator behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BenchStack:
    authority: Any  # devhost.devauth.DevAuthority
    stack: Any  # devhost.stack.Stack
    hosts: list[Any] = field(default_factory=list)

    @property
    def tenants(self) -> list[str]:
        return self.stack.env["AUTH_TENANTS"].split(",")

    @property
    def tenant(self) -> str:
        return self.tenants[0]

    def start_host(self) -> Any:
        """The function app on the local host (a free port), stopped with the stack."""
        from devhost.host import LocalHost
        from function_app import app

        host = LocalHost(app, port=0, dev_authority=self.authority).start()
        self.hosts.append(host)
        return host


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    from devhost.devauth import DevAuthority
    from devhost.provision import provision_sync
    from devhost.stack import Stack
    from shared.settings import Settings, reset_settings

    authority = DevAuthority().start()
    try:
        stack = Stack(authority_url=authority.url).start()
        try:
            os.environ.update(stack.env)
            reset_settings()
            provision_sync(Settings.from_env())
            running = BenchStack(authority, stack)
            try:
                yield running
            finally:
                for host in running.hosts:
                    host.stop()
        finally:
            stack.stop()
    finally:
        authority.stop()
