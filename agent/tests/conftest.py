"""Fixtures of the agent tests. Puts `agent/` (the package) and this folder (the shared
helpers in agent_testlib.py) on sys.path, so the tests run from the repository root with
`pytest agent/tests` and from inside agent/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for p in (HERE.parent, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from agent_testlib import IngestStub, write_config  # noqa: E402

REPO = HERE.parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """The end-to-end tests use the repository's local-stack fixtures (stack,
    local_host, mint). tests/conftest.py registers them when tests/ is collected too;
    this registers them when only agent/tests runs. Outside the repository (agent/
    alone) there is no stack, and only the unit tests run."""
    if not (REPO / "tests" / "stack_plugin.py").exists():
        return
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if not config.pluginmanager.has_plugin("tests.stack_plugin"):
        config.pluginmanager.import_plugin("tests.stack_plugin")


@pytest.fixture
def stub() -> Iterator[IngestStub]:
    s = IngestStub()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def make_config(tmp_path: Path, stub: IngestStub) -> Any:
    def make(**sections: dict[str, Any]) -> Path:
        return write_config(tmp_path, stub.url, **sections)

    return make
