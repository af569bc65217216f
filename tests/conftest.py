"""Test session setup: the local-stack fixtures, and an order that keeps the local host
(whose blob trigger processes every new batch) out of the way of tests that drive the
processor themselves."""

import pytest

pytest_plugins = ["tests.stack_plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests served by the local host run last: once it is up, it processes any blob that
    lands in `incoming/`, which would race tests that call the processor directly."""
    items.sort(key=lambda item: "local_host" in getattr(item, "fixturenames", ()))
