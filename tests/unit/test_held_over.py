"""Which calls a flush holds over: a large meeting whose legs are still arriving waits
for the next flush (so it is written once, not once per chunk); everything else is
written now, and no record is ever split between a written and a held call."""

from typing import Any

from shared.processor import HOLD_FRAGMENTS, _records_in, held_over


def _chunk(calls: dict[str, list[int]], size: int = 100) -> Any:
    """A chunk's sources for calls named by the record indices they came from."""
    return {key: {i: {"data": "x" * size} for i in indices} for key, indices in calls.items()}


def test_a_call_that_gained_many_legs_is_held_and_the_small_ones_are_not() -> None:
    meeting = list(range(HOLD_FRAGMENTS))
    sources = _chunk({"meeting": meeting, "p2p": [100], "small-conf": [101, 102]})
    fresh = {"meeting": HOLD_FRAGMENTS, "p2p": 1, "small-conf": 2}
    assert held_over(sources, fresh) == {"meeting"}


def test_one_leg_short_of_the_threshold_is_written_now() -> None:
    sources = _chunk({"meeting": list(range(HOLD_FRAGMENTS - 1))})
    assert held_over(sources, {"meeting": HOLD_FRAGMENTS - 1}) == set()


def test_a_held_meeting_that_gained_nothing_since_is_written() -> None:
    # held last time with all its records, no new leg in this chunk: its legs stopped
    sources = _chunk({"meeting": list(range(3 * HOLD_FRAGMENTS))})
    assert held_over(sources, {}) == set()
    assert held_over(sources, {"meeting": HOLD_FRAGMENTS}) == {"meeting"}


def test_a_meeting_sharing_a_record_with_another_call_is_written_with_it() -> None:
    legs = list(range(HOLD_FRAGMENTS))
    sources = _chunk({"meeting": legs, "other": [legs[0]]})
    fresh = {"meeting": HOLD_FRAGMENTS, "other": 1}
    assert held_over(sources, fresh) == set()
    assert _records_in(sources) == HOLD_FRAGMENTS  # the shared record counts once


def test_held_records_stay_within_the_byte_budget_largest_meeting_first() -> None:
    big, other = list(range(50)), list(range(100, 100 + HOLD_FRAGMENTS))
    sources = _chunk({"big": big, "other": other}, size=1000)
    fresh = {"big": 50, "other": HOLD_FRAGMENTS}
    assert held_over(sources, fresh, budget=10**6) == {"big", "other"}
    # room for the larger one only; the other is written now
    assert held_over(sources, fresh, budget=51 * 1010) == {"big"}
    assert held_over(sources, fresh, budget=1000) == set()
