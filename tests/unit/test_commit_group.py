"""A commit group's bookkeeping, without a server: which transitions it will apply,
which calls it settles, and when it has a commit to write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.aggregates import ledger as rules
from shared.merge import merged_document
from shared.parsing import ParseContext, parse_record
from shared.storage.call_ledger import LEDGER, CommitGroup
from tests.factories import cdr_record

TENANT = "00000000-0000-0000-0000-000000000001"


@dataclass
class Item:  # the shape of `StoredCall` the group reads
    body: dict[str, Any]


def _call() -> Any:
    rec = cdr_record()
    [frag] = parse_record(
        rec["kind"], rec["format"], rec["data"], ParseContext(tenant_id=TENANT, max_qoe_bytes=10**6)
    )
    doc = merged_document(None, TENANT, frag.key, [frag], None)
    assert doc is not None
    return doc


def test_a_new_call_is_tagged_applied_and_committed_by_its_group() -> None:
    doc = _call()
    group = CommitGroup(None, TENANT)  # type: ignore[arg-type]
    state = group.state_for(doc.id, None, doc)
    assert rules.open_flush(state) == group.id and len(rules.transitions(state)) == 1
    group.wrote(doc.id, state)
    assert group._tagged and list(group._transitions) == [(doc.id, 1)]
    assert group.known[group.id] is False  # not until it finished


def test_an_unchanged_call_of_a_group_that_never_committed_is_resumed_and_settled() -> None:
    doc = _call()
    crashed = CommitGroup(None, TENANT)  # type: ignore[arg-type]
    stored = doc.to_cosmos() | {LEDGER: crashed.state_for(doc.id, None, doc)}
    rerun = CommitGroup(None, TENANT, known={crashed.id: False})  # type: ignore[arg-type]
    rerun.found_unchanged(doc.id, Item(stored))
    assert list(rerun._transitions) == [(doc.id, 1)] and doc.id in rerun._settle
    assert not rerun._tagged  # it wrote no call: no commit of its own to write
    # the same call once its group committed: nothing to do
    later = CommitGroup(None, TENANT, known={crashed.id: True})  # type: ignore[arg-type]
    later.found_unchanged(doc.id, Item(stored))
    assert not later._transitions and not later._settle
    # and a write over it folds the committed transition into `applied`
    state = later.state_for(doc.id, stored, doc)
    assert state["pending"] == [] and state["applied"] == rules.target(stored[LEDGER])


def test_a_call_without_a_ledger_starts_from_its_ledger_item() -> None:
    doc = _call()
    group = CommitGroup(None, TENANT)  # type: ignore[arg-type]
    group.legacy[doc.id] = rules.from_ledger_item({"seq": 4, "applied": {}})
    state = group.state_for(doc.id, doc.to_cosmos(), doc)
    assert [t[0] for t in rules.transitions(state)] == [5]
