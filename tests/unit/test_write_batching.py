"""The pure rules of how the write path groups its requests: transactional batches within
Cosmos DB's limits and an aggregate document's transitions applied once each."""

from __future__ import annotations

from typing import Any

from shared.storage.aggregates import BATCH_BYTES, BATCH_OPERATIONS, _chunks, _Pending
from shared.storage.aggregates import _with_transitions as with_transitions
from shared.storage.source_index import _ident


def _pending(op: str, entries: dict[str, int]) -> _Pending:
    return _Pending("2026-01-05|10.0.0.0|24", op, entries, 0.0)


def test_batches_hold_at_most_100_operations_and_1_5_mb() -> None:
    ops: list[tuple[Any, ...]] = [("create", ({"id": str(i)},)) for i in range(250)]
    chunks = _chunks(ops, [10] * 250)
    assert [len(c) for c in chunks] == [BATCH_OPERATIONS, BATCH_OPERATIONS, 50]
    assert [op for c in chunks for op in c] == ops
    big = _chunks(ops[:5], [BATCH_BYTES // 2] * 5)
    assert [len(c) for c in big] == [2, 2, 1]
    # one document over the budget still goes, alone (the server judges it)
    assert [len(c) for c in _chunks(ops[:2], [BATCH_BYTES + 1, 1])] == [1, 1]


def test_a_transition_reaches_a_document_once() -> None:
    first = _pending("a.1", {"audio|x#streams": 2, "@bob": 1})
    doc = with_transitions(None, "t", "2026-01-05|10.0.0.0|24", [first, first])
    assert doc is not None
    assert doc["cells"] == {"audio|x": {"streams": 2}} and doc["poorUsers"] == {"bob": 1}
    assert [o[0] for o in doc["ops"]] == ["a.1"] and doc["pk"] == "t|2026-01"
    stored = doc | {"_etag": "e1"}
    assert with_transitions(stored, "t", "2026-01-05|10.0.0.0|24", [first]) is None
    back = _pending("a.2", {"audio|x#streams": -2, "@bob": -1})
    again = with_transitions(stored, "t", "2026-01-05|10.0.0.0|24", [first, back])
    assert again is not None and again["cells"] == {} and again["poorUsers"] == {}
    assert [o[0] for o in again["ops"]] == ["a.1", "a.2"] and "_etag" not in again


def test_index_documents_fall_in_eight_partitions_per_tenant() -> None:
    parts = {_ident("t", f"id-{i}")[1] for i in range(400)}
    assert parts == {f"t|src|{b}" for b in range(8)}
    assert _ident("t", "x") == _ident("t", "x")
