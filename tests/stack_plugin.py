"""Session fixtures for the real local stack: emulators, dev issuer, local host.

Enabled by `pytest_plugins = ["tests.stack_plugin"]` in tests/conftest.py. Only what a
test asks for is started, so unit tests start nothing; everything started is stopped at
the end of the session (and by atexit / parent-death signal if pytest is killed).

- `dev_authority`: devhost.devauth.DevAuthority (JWKS on loopback), `.url`, `.token()`.
- `stack`: devhost.stack.Stack with Azurite + Cosmos on free ports, provisioned from
  shared/storage/layout.py; its env (CDC_STORAGE, COSMOS_*, AUTH_*, CDC_DEV_AUTHORITY)
  is in os.environ for the session and settings are reset.
- `mint`: `mint(tenant_id=DEMO_TENANT, *, user=None, roles=(), level=None, wids=(),
  **kw) -> str`, a token the stack accepts (`level` = admin/engineer/specialist/reader/
  ingest, or a role name).
- `local_host`: the base URL (a str, e.g. "http://127.0.0.1:40123") of a LocalHost
  serving function_app.app; `.host` is the LocalHost (`.host.wait_idle()` waits until
  the blob processor has drained, `.host.poisoned` lists poison blobs).
- `demo_data`: loads the demo data set (devhost.demo) into `local_host` once; returns
  the batch ids. Tests that need demo data (e2e) ask for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from devhost.devauth import LEVEL_ROLES, DevAuthority
from devhost.stack import DEMO_TENANT, Stack


class HostURL(str):
    """The local host's base URL, carrying the LocalHost itself as `.host`, so tests
    that only want a URL use it as a string and others reach `wait_idle()`."""

    host: Any

    def __new__(cls, host: Any) -> HostURL:
        url = super().__new__(cls, host.base_url)
        url.host = host
        return url

    @property
    def base_url(self) -> str:
        return str(self)

    def wait_idle(self, timeout: float = 60.0) -> None:
        self.host.wait_idle(timeout)


@pytest.fixture(scope="session")
def dev_authority() -> Iterator[DevAuthority]:
    authority = DevAuthority().start()
    yield authority
    authority.stop()


@pytest.fixture(scope="session")
def stack(dev_authority: DevAuthority) -> Iterator[Stack]:
    from devhost.provision import provision_sync
    from shared.settings import Settings, reset_settings

    running = Stack(authority_url=dev_authority.url).start()
    saved = {k: os.environ.get(k) for k in running.env}
    os.environ.update(running.env)
    reset_settings()
    try:
        provision_sync(Settings.from_env())
        yield running
    finally:
        running.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()


@pytest.fixture(scope="session")
def mint(dev_authority: DevAuthority) -> Callable[..., str]:
    """mint(tenant_id, *, user=None, roles=(), level=None, wids=(), **kw) -> token."""

    def _mint(
        tenant_id: str = DEMO_TENANT,
        *,
        user: str | None = None,
        roles: Iterable[str] | str = (),
        level: str | None = None,
        wids: Iterable[str] = (),
        **kw: Any,
    ) -> str:
        names = [roles] if isinstance(roles, str) else list(roles)
        if level:
            names.append(level)
        wanted = list(dict.fromkeys(LEVEL_ROLES.get(r, r) for r in names))
        return dev_authority.token(tenant_id, user=user, roles=wanted, wids=list(wids), **kw)

    return _mint


@pytest.fixture(scope="session")
def local_host(stack: Stack, dev_authority: DevAuthority) -> Iterator[HostURL]:
    from devhost.host import LocalHost
    from function_app import app

    host = LocalHost(app, port=0, retry_delay_s=0.2, dev_authority=dev_authority).start()
    try:
        yield HostURL(host)
    finally:
        host.stop()


@pytest.fixture(scope="session")
def demo_data(local_host: HostURL, mint: Callable[..., str]) -> list[str]:
    from devhost.demo import load_demo

    return load_demo(
        local_host, mint(DEMO_TENANT, roles=["CallData.Ingest"]), wait_idle=local_host.wait_idle
    )
