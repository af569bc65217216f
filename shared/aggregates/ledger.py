"""A call's aggregate ledger: what the quality aggregates reflect of the call, kept in
the call document itself (pure rules; the storage side is `shared/storage/call_ledger.py`).

Why in the call document: the ledger has to be written ahead of the aggregate documents
(a crash in between must leave a record of the transition to finish), and the call is
written anyway when it changes. Carrying the ledger in that same etag-conditional write
costs no request; a separate ledger item cost two per call (pending, then commit).

The state: `applied` (a contribution the aggregates include), `pending` (transitions
written ahead, each with its target contribution and sequence number, whose deltas may
not have reached every aggregate document yet) and `flush` (the commit group that wrote
them). The commit is not a second write of the call: the group writes one small commit
item once every transition it tagged is in the aggregates, so "committed" is a property
of the group, looked up by its id. A later write of the call folds committed pending
transitions into `applied`, and re-tags uncommitted ones with its own group, which then
applies them again (each aggregate document records op ids: a transition reaches a
document once however often it is resumed).

Op ids are `{callId}.{seq}` as the separate ledger items had them, so a call whose ledger
item still holds a pending transition resumes it under the same op id.
"""

from __future__ import annotations

from typing import Any

from shared.aggregates.contribution import Contribution, difference

State = dict[str, Any]


def empty() -> State:
    """A call whose contribution the aggregates do not include at all."""
    return {"seq": 0, "applied": {}, "flush": None, "pending": []}


def target(state: State) -> Contribution:
    """The contribution the aggregates reflect once every pending transition is in."""
    pending = state.get("pending") or []
    return dict(pending[-1]["contribution"]) if pending else dict(state.get("applied") or {})


def settled(state: State) -> State:
    """Every pending transition folded into `applied` (they are in the aggregates)."""
    return {
        "seq": int(state.get("seq") or 0),
        "applied": target(state),
        "flush": None,
        "pending": [],
    }


def advance(
    state: State, committed: bool, contribution: Contribution, flush: str, now: float
) -> State:
    """The ledger a write of the call carries: `state` as stored (its pending transitions
    settled when their group `committed`, else kept and re-tagged), plus a transition to
    `contribution` when that changes any count. Every pending transition of the result
    is tagged `flush`: that group applies them all before it commits."""
    base = settled(state) if committed else {**empty(), **state}
    base["pending"] = [dict(p) for p in base.get("pending") or []]
    if difference(contribution, target(base)):
        seq = int(base.get("seq") or 0) + 1
        base["pending"].append({"seq": seq, "since": round(now, 3), "contribution": contribution})
        base["seq"] = seq
    base["flush"] = flush if base["pending"] else None
    return base


def transitions(state: State) -> list[tuple[int, Contribution, float]]:
    """(seq, delta, since) of each pending transition, in order: each one's delta is its
    target minus the one before it (the first: minus `applied`)."""
    out = []
    before: Contribution = state.get("applied") or {}
    for p in state.get("pending") or []:
        out.append((int(p["seq"]), difference(p["contribution"], before), float(p["since"])))
        before = p["contribution"]
    return out


def open_flush(state: State | None) -> str | None:
    """The group whose commit says whether the pending transitions are in (None: none
    pending, or a transition no group tagged, as a separate ledger item's)."""
    if not state or not state.get("pending"):
        return None
    return str(state["flush"]) if state.get("flush") else None


def from_ledger_item(item: dict[str, Any] | None) -> State:
    """The state a separate ledger item (the layout before this one) describes; its
    pending transition, if any, is untagged: resumed by the next group that sees it."""
    if not item:
        return empty()
    state: State = {
        "seq": int(item.get("seq") or 0),
        "applied": dict(item.get("applied") or {}),
        "flush": None,
        "pending": [],
    }
    pending = item.get("pending")
    if pending:
        state["pending"] = [
            {
                "seq": int(pending["seq"]),
                "since": float(pending.get("since") or 0),
                "contribution": dict(pending.get("contribution") or {}),
            }
        ]
        state["seq"] = int(pending["seq"])
    return state


def without_user(state: State, user: str) -> tuple[State, list[str]]:
    """The ledger with the user's poor-stream counters dropped (a purge: the aggregate
    documents keep the count under "Purged User"), and the document keys that held one."""
    entry = f"@{user}"
    held: set[str] = set()

    def strip(contribution: Contribution) -> Contribution:
        out = {}
        for key, entries in contribution.items():
            if entry in entries:
                held.add(key)
            out[key] = {k: v for k, v in entries.items() if k != entry}
        return out

    out = {**state, "applied": strip(state.get("applied") or {})}
    out["pending"] = [
        {**p, "contribution": strip(p.get("contribution") or {})}
        for p in state.get("pending") or []
    ]
    return out, sorted(held)
