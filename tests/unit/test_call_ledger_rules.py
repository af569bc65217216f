"""The pure rules of the aggregate ledger a call document carries: a write folds the
transitions of a committed group into `applied`, keeps and re-tags those of a group not
known to have committed, and adds one transition when the counts change."""

from __future__ import annotations

from shared.aggregates import ledger as rules

A = {"2026-01-05|10.0.0.0|24": {"audio|wired|in|no#streams": 2, "@bob": 1}}
B = {"2026-01-05|10.0.0.0|24": {"audio|wired|in|no#streams": 3, "@bob": 1}}
C = {"2026-01-05|10.0.0.0|24": {"audio|wired|in|no#streams": 3}}


def test_a_new_call_writes_one_transition_tagged_with_its_group() -> None:
    state = rules.advance(rules.empty(), False, A, "g1", 10.0)
    assert state["seq"] == 1 and state["flush"] == "g1" and state["applied"] == {}
    assert rules.transitions(state) == [(1, A, 10.0)]
    assert rules.open_flush(state) == "g1" and rules.target(state) == A


def test_a_committed_group_is_folded_and_an_open_one_resumed() -> None:
    first = rules.advance(rules.empty(), False, A, "g1", 10.0)
    committed = rules.advance(first, True, B, "g2", 11.0)
    assert committed["applied"] == A and committed["flush"] == "g2"
    assert rules.transitions(committed) == [
        (2, {"2026-01-05|10.0.0.0|24": {"audio|wired|in|no#streams": 1}}, 11.0)
    ]
    # g1 not known to have committed: its transition stays (re-tagged), the new one after it
    open_ = rules.advance(first, False, B, "g2", 11.0)
    assert open_["applied"] == {} and open_["flush"] == "g2"
    assert [t[0] for t in rules.transitions(open_)] == [1, 2]
    assert rules.transitions(open_)[0][1] == A
    total: dict[str, dict[str, int]] = {}
    for _, delta, _ in rules.transitions(open_):
        for key, entries in delta.items():
            for k, n in entries.items():
                total.setdefault(key, {})[k] = total.get(key, {}).get(k, 0) + n
    assert total == B


def test_no_change_no_transition_and_settling_folds_everything() -> None:
    first = rules.advance(rules.empty(), False, A, "g1", 10.0)
    same = rules.advance(first, True, A, "g2", 11.0)
    assert same["pending"] == [] and same["flush"] is None and rules.open_flush(same) is None
    assert rules.settled(first) == {"seq": 1, "applied": A, "flush": None, "pending": []}


def test_a_ledger_item_of_the_layout_before_resumes_under_its_op_seq() -> None:
    item = {"seq": 3, "applied": A, "pending": {"seq": 4, "contribution": B, "since": 5.0}}
    state = rules.from_ledger_item(item)
    assert state["seq"] == 4 and rules.open_flush(state) is None  # never "committed"
    assert rules.transitions(state)[0][0] == 4
    assert rules.from_ledger_item(None) == rules.empty()
    assert rules.target(rules.from_ledger_item({"seq": 2, "applied": A})) == A


def test_a_purge_drops_the_users_counters_everywhere() -> None:
    state = rules.advance(rules.advance(rules.empty(), False, A, "g1", 1.0), False, C, "g2", 2.0)
    out, held = rules.without_user(state, "bob")
    assert held == ["2026-01-05|10.0.0.0|24"]
    assert "@bob" not in str(out)
