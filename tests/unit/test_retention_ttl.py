"""The per-item ttl retention writes (pure rules): an aggregate's ttl counts from the
end of its day and never exceeds the retention; a purge's `Prefer` header picks the wait."""

from __future__ import annotations

from datetime import datetime, timezone

from functions.admin import PURGE_WAIT_S, purge_wait
from shared.tenant_settings import DAY, day_ttl


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def test_ttl_counts_from_the_end_of_the_day() -> None:
    now = _epoch("2026-12-01T12:00:00")
    assert day_ttl("2026-11-28", 10 * DAY, now) == 10 * DAY - 2 * DAY - 12 * 3600
    assert day_ttl("2026-12-01", 10 * DAY, now) == 10 * DAY  # capped: never more
    assert day_ttl("2031-01-01", 10 * DAY, now) == 10 * DAY  # a future day too


def test_a_day_past_its_retention_expires_at_once() -> None:
    now = _epoch("2026-12-01T00:00:00")
    assert day_ttl("2026-01-01", 30 * DAY, now) == 1


def test_prefer_header_chooses_the_wait() -> None:
    assert purge_wait(None) == PURGE_WAIT_S
    assert purge_wait("respond-async") == 0.0
    assert purge_wait("respond-async, wait=5") == 5.0
    assert purge_wait("wait=999") == PURGE_WAIT_S
    assert purge_wait("wait=soon") == PURGE_WAIT_S
    assert purge_wait("return=minimal") == PURGE_WAIT_S
