"""Quality alert rules, pure: thresholds, ids, which rows breach, which days are
evaluated. The records themselves are tested against the emulator
(tests/integration/test_alerts_store.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from shared.alerts.quality import Thresholds, alert_id, breaches, evaluation_days
from shared.settings import SettingsError

DAY = "2031-03-04"
NOW = datetime(2031, 3, 5, 9, 7, tzinfo=timezone.utc)


def row(building: str | None, poor: int, good: int, day: str = DAY) -> dict[str, Any]:
    pct = round(100.0 * poor / (poor + good), 2) if poor + good else None
    return {
        "day": day,
        "building": building,
        "poor": poor,
        "good": good,
        "streams": poor + good + 1,
        "poorPercent": pct,
    }


# ------------------------------------------------------------------------------ rules


def test_thresholds_from_env() -> None:
    assert Thresholds.from_env({}) == Thresholds(2.0, 20)
    assert Thresholds.from_env(
        {"CDC_ALERT_POOR_PERCENT": "12.5", "CDC_ALERT_MIN_STREAMS": "50"}
    ) == Thresholds(12.5, 50)
    with pytest.raises(SettingsError, match="CDC_ALERT_MIN_STREAMS"):
        Thresholds.from_env({"CDC_ALERT_MIN_STREAMS": "many"})
    with pytest.raises(SettingsError, match="negative"):
        Thresholds.from_env({"CDC_ALERT_POOR_PERCENT": "-1"})


def test_alert_id_is_deterministic_and_safe() -> None:
    a = alert_id(DAY, "Building 7/West #2?")
    assert a == alert_id(DAY, "  building 7/WEST #2? ")
    assert a != alert_id("2031-03-05", "Building 7/West #2?")
    assert a.startswith(f"quality|{DAY}|") and not set("/\\?#") & set(a)


def test_breaches_need_enough_streams_and_strictly_over_the_threshold() -> None:
    rows = [row("A", 5, 15), row("B", 6, 14), row("C", 10, 5), row(None, 50, 0), row("D", 0, 0)]
    got = breaches(rows, Thresholds(25.0, 20))
    assert [b["building"] for b in got] == ["B"]  # A is exactly 25 %, C has 15 streams
    assert got[0] == {
        "day": DAY,
        "building": "B",
        "poorPercent": 30.0,
        "poor": 6,
        "good": 14,
        "streams": 21,
    }


def test_evaluation_days_are_yesterday_and_today() -> None:
    assert evaluation_days(NOW) == [date(2031, 3, 4), date(2031, 3, 5)]
