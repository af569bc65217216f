"""The aggregate ledger kept in the call document, and the commit groups that apply it.

A `CommitGroup` gathers the transitions of many call writes (the flushes of a batch, up
to `GROUP_CALLS` calls), then, in `finish`: adds them to the aggregate documents
(`shared.storage.aggregates.apply_transitions`, one read-many and a few transactional
batches per aggregate partition for the lot), settles the calls whose transitions it
resumed for another group, and writes its commit item, once. Requests per call: none
for the ledger itself (it rides in the call's own write), a share of the aggregate
batches and of one commit item per group. The rules of the ledger state are pure
(`shared.aggregates.ledger`).

Crash points, each ending as a clean run after the re-run:
- before the call write: nothing happened.
- after it, before the aggregate documents (or part way through them): the call holds
  pending transitions tagged with a group that never committed; the re-run's merge
  finds the call unchanged, `learn` finds no commit item, and its group resumes them
  (documents holding the op id are skipped) and settles the call.
- after the documents, before the commit item: the same, every document skipped.
- after the commit: the call's ledger names a committed group; nothing to do.
A group's commit item is written only after every transition it tagged reached the
aggregates, and a call write folds a pending transition into `applied` only when its
group committed: "committed" never holds early.

Commit items: `commit|{group}` in the aggregates container, partition
`{tenantId}|commit|{yyyy-mm}` (the group id starts with its month), kept as long as an
aggregate document (a call document naming the group never outlives it).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from shared.aggregates import ledger as rules
from shared.aggregates.contribution import Contribution, call_contribution
from shared.models.call import CallDocument
from shared.storage import layout
from shared.storage.aggregates import apply_transitions, ledger_id, ledger_pk
from shared.storage.clients import Clients
from shared.storage.items import AlreadyExists, StaleWrite, create_new
from shared.storage.retry import read_many

log = logging.getLogger(__name__)

LEDGER = "ledger"  # the call item's field holding its ledger state (always in the head)
GROUP_CALLS = 400  # calls per commit group: bounds the group's memory and op ids per document
COMMIT_TTL = layout.AGGREGATES.default_ttl or 396 * 86_400


def commit_key(tenant_id: str, group: str) -> tuple[str, str]:
    """(id, partition key) of a group's commit item."""
    return f"commit|{group}", f"{tenant_id}|commit|{group[:7]}"


def new_group_id() -> str:
    return f"{datetime.now(timezone.utc):%Y-%m}.{uuid.uuid4().hex}"


class CommitGroup:
    """One commit group of a tenant's call writes. `known`: group id -> committed, shared
    by the groups of one batch so a call written by an earlier group of the batch costs
    no commit read."""

    def __init__(
        self,
        clients: Clients,
        tenant_id: str,
        keep_s: int | None = None,
        known: dict[str, bool] | None = None,
    ) -> None:
        self.clients = clients
        self.tenant_id = tenant_id
        self.keep_s = keep_s
        self.id = new_group_id()
        self.known = known if known is not None else {}
        self.known[self.id] = False  # not until `finish` says so
        self.legacy: dict[str, rules.State] = {}  # call id -> state from its ledger item
        self._transitions: dict[tuple[str, int], tuple[Contribution, float]] = {}
        self._settle: dict[str, tuple[Any, rules.State]] = {}  # call id -> (item, state)
        self._tagged = False  # a call write carries this group's id: commit it
        self.calls: set[str] = set()

    # -------------------------------------------------------------- before the merges

    async def learn(self, stored: Iterable[tuple[str, dict[str, Any] | None]]) -> None:
        """For stored call items (call id, raw item or None): whether the groups their
        ledgers name committed, and the ledger items of calls stored before the ledger
        moved into the call; one read-many for both."""
        groups: set[str] = set()
        legacy: list[str] = []
        for call_id, raw in stored:
            if raw is None:
                continue
            if LEDGER not in raw:
                if call_id not in self.legacy:
                    legacy.append(call_id)
                continue
            group = rules.open_flush(raw[LEDGER])
            if group is not None and group not in self.known:
                groups.add(group)
        if not groups and not legacy:
            return
        keys = [commit_key(self.tenant_id, g) for g in sorted(groups)]
        keys += [(ledger_id(c), ledger_pk(self.tenant_id, c)) for c in legacy]
        found = await read_many(
            self.clients.container(layout.AGGREGATES), keys, what="read commits and ledgers"
        )
        for g in groups:
            self.known[g] = commit_key(self.tenant_id, g) in found
        for c in legacy:
            self.legacy[c] = rules.from_ledger_item(
                found.get((ledger_id(c), ledger_pk(self.tenant_id, c)))
            )

    def stored_state(self, call_id: str, raw: dict[str, Any] | None) -> rules.State:
        """The ledger of a stored call (None: not stored), as `learn` left it known."""
        if raw is None:
            return rules.empty()
        if LEDGER in raw:
            return dict(raw[LEDGER] or rules.empty())
        return self.legacy.get(call_id) or rules.empty()

    def committed(self, state: rules.State) -> bool:
        group = rules.open_flush(state)
        return group is not None and self.known.get(group, False)

    # ------------------------------------------------------------------ the merges

    def state_for(
        self, call_id: str, raw: dict[str, Any] | None, document: CallDocument
    ) -> rules.State:
        """The ledger the write of `document` over the stored `raw` carries."""
        stored = self.stored_state(call_id, raw)
        return rules.advance(
            stored, self.committed(stored), call_contribution(document), self.id, time.time()
        )

    def wrote(self, call_id: str, state: rules.State) -> None:
        """A call write carrying `state` (from `state_for`) is committed in Cosmos DB."""
        self.calls.add(call_id)
        self._settle.pop(call_id, None)
        if state.get("flush") == self.id:
            self._tagged = True
        self._add(call_id, state)

    def found_unchanged(self, call_id: str, item: Any) -> None:
        """A merge found the call holding every fragment already (a re-run, a duplicate):
        pending transitions of a group that never committed are resumed here, and the
        call settled after them. `item`: the stored call as read (`StoredCall`)."""
        self.calls.add(call_id)
        state = self.stored_state(call_id, item.body)
        if not state.get("pending") or self.committed(state):
            return
        self._add(call_id, state)
        if state.get("flush") == self.id:
            self._tagged = True  # this group's own write (say, one whose answer was lost)
            return
        self._settle[call_id] = (item, state)

    def _add(self, call_id: str, state: rules.State) -> None:
        for seq, delta, since in rules.transitions(state):
            if delta:
                self._transitions.setdefault((call_id, seq), (delta, since))

    # ------------------------------------------------------------------ the commit

    async def finish(self) -> int:
        """Every transition of the group into the aggregates, the resumed calls settled,
        then the commit item (only if a call write carries the group's id). Returns how
        many transitions it applied (those resumed included)."""
        items = [(c, s, d, t) for (c, s), (d, t) in sorted(self._transitions.items())]
        if items:
            await _run_transition(self.clients, self.tenant_id, items, self.keep_s)
        if self._settle:
            await asyncio.gather(*(self._settle_one(c, i, s) for c, (i, s) in self._settle.items()))
        if self._tagged:
            await _write_commit(self.clients, self.tenant_id, self.id, len(self.calls))
        self.known[self.id] = True
        return len(items)

    async def _settle_one(self, call_id: str, item: Any, state: rules.State) -> None:
        """The call's ledger with the transitions just resumed folded in, unless the call
        changed since it was read (its writer took the pending transitions over)."""
        from shared.storage.call_chunks import write_call_item

        body = {**item.body, LEDGER: rules.settled(state)}
        try:
            await write_call_item(
                self.clients.container(layout.CALLS), body, item, what="settle call ledger"
            )
        except StaleWrite:
            log.info("call changed while its ledger was settled; its writer resumes it")


async def _run_transition(
    clients: Clients,
    tenant_id: str,
    items: list[tuple[str, int, Contribution, float]],
    keep_s: int | None,
) -> None:
    """The group's transitions into the aggregate documents (a seam the crash tests wrap)."""
    await apply_transitions(clients, tenant_id, items, keep_s)


async def _write_commit(clients: Clients, tenant_id: str, group: str, calls: int) -> None:
    """The group's commit item: every transition it tagged is in the aggregates."""
    item_id, pk = commit_key(tenant_id, group)
    body = {"id": item_id, "pk": pk, "kind": "commit", "calls": calls, "ttl": COMMIT_TTL}
    try:
        await create_new(clients.container(layout.AGGREGATES), body, what="write commit")
    except AlreadyExists:
        pass  # a retried create that had landed
