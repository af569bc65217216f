"""The one place a test may be skipped: node id (or a prefix of it, up to a `[`
parameter) -> why. Any other skip fails the run (tests/conftest.py), so a missing
dependency or an unreachable service cannot turn checks into a green build. Expected
failures (`xfail(strict=True)`) are not skips and are not listed here."""

from __future__ import annotations

ALLOWED_SKIPS: dict[str, str] = {}


def allowed(nodeid: str) -> str | None:
    """The listed reason for skipping `nodeid`, or None."""
    if nodeid in ALLOWED_SKIPS:
        return ALLOWED_SKIPS[nodeid]
    base = nodeid.split("[", 1)[0]
    return ALLOWED_SKIPS.get(base)
