"""Test session setup: the local-stack fixtures, an order that keeps the local host
(whose blob trigger processes every new batch) out of the way of tests that drive the
processor themselves, and no silent skips."""

from __future__ import annotations

import pytest

from tests.skips import allowed

pytest_plugins = ["tests.stack_plugin"]

# Skips seen this session that tests/skips.py does not list.
_UNLISTED: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests served by the local host run last: once it is up, it processes any blob that
    lands in `incoming/`, which would race tests that call the processor directly.
    Tests marked `no_cover` run first: pytest-cov pauses coverage around such a test,
    and a thread already running then (the stack's Graph stand-in, a host) is not
    traced again afterwards, so its code would go unmeasured for the rest of the run.
    Before the first stack test no such thread exists (a `no_cover` test must not use
    the stack: it starts the stand-in before the pause)."""

    def key(item: pytest.Item) -> tuple[bool, bool]:
        unmeasured = item.get_closest_marker("no_cover") is not None
        return not unmeasured, "local_host" in getattr(item, "fixturenames", ())

    items.sort(key=key)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skip that tests/skips.py does not list (xfails are not skips)."""
    if report.skipped and not hasattr(report, "wasxfail") and allowed(report.nodeid) is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        _UNLISTED.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skip not listed with its reason in tests/skips.py fails the run."""
    if _UNLISTED and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _UNLISTED:
        terminalreporter.section("skips not listed in tests/skips.py (the run fails)")
        for line in _UNLISTED:
            terminalreporter.write_line(line)
