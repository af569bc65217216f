"""The Graph fetch path's group hand-over, on its own event loop (no server): records
handed over together travel in one group, each caller returns its own record's outcome
once the group is submitted, a failure reaches every caller, duplicates travel once
(the newer copy, with its own extra)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.graph.handover import Handover


def rec(rid: str, version: int = 1, modified: str = "2026-11-30T10:00:00Z") -> dict[str, Any]:
    return {"id": rid, "version": version, "lastModifiedDateTime": modified}


class Sender:
    def __init__(self, fail: BaseException | None = None, delay: float = 0.0) -> None:
        self.batches: list[tuple[str, list[dict[str, Any]]]] = []
        self.fail, self.delay = fail, delay

    async def __call__(
        self, tenant: str, records: list[dict[str, Any]], extras: dict[str, dict[str, Any]]
    ) -> dict[str, str]:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise self.fail
        self.batches.append((tenant, records))
        self.extras = extras
        return {r["id"]: f"b{len(self.batches)}" for r in records}


def test_concurrent_records_share_one_batch() -> None:
    send = Sender(delay=0.05)

    async def go() -> list[str]:
        h = Handover(linger_s=0.05)
        return await asyncio.gather(*(h.hand_over("t", rec(f"r{i}"), send) for i in range(10)))

    ids = asyncio.run(go())
    assert ids == ["b1"] * 10
    [(tenant, records)] = send.batches
    assert tenant == "t" and [r["id"] for r in records] == sorted(f"r{i}" for i in range(10))


def test_full_group_goes_at_once_and_tenants_never_mix() -> None:
    send = Sender()

    async def go() -> list[str]:
        h = Handover(max_records=4, linger_s=10)  # never lingers that long: full groups go
        calls = [h.hand_over("a", rec(f"a{i}"), send) for i in range(8)]
        calls += [h.hand_over("b", rec(f"b{i}"), send) for i in range(4)]
        return await asyncio.wait_for(asyncio.gather(*calls), 5)

    ids = asyncio.run(go())
    assert len(set(ids)) == 3
    assert sorted(len(r) for _, r in send.batches) == [4, 4, 4]
    assert all({r["id"][0] for r in records} == {t} for t, records in send.batches)


def test_byte_limit_starts_a_new_group() -> None:
    send = Sender()
    big = "x" * 2000

    async def go() -> None:
        h = Handover(max_bytes=5000, linger_s=0.05)
        await asyncio.gather(
            *(h.hand_over("t", rec(f"r{i}") | {"pad": big}, send) for i in range(5))
        )

    asyncio.run(go())
    assert sorted(len(r) for _, r in send.batches) == [1, 2, 2]


def test_a_failed_batch_fails_every_caller() -> None:
    send = Sender(fail=RuntimeError("storage down"))

    async def go() -> list[Any]:
        h = Handover(linger_s=0.02)
        return await asyncio.gather(
            *(h.hand_over("t", rec(f"r{i}"), send) for i in range(3)), return_exceptions=True
        )

    results = asyncio.run(go())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_duplicate_copies_travel_once_the_newer_kept() -> None:
    send = Sender()

    async def go() -> None:
        h = Handover(linger_s=0.02)
        got = await asyncio.gather(
            h.hand_over("t", rec("r", 1, "2026-11-30T10:00:00Z"), send, extra={"n": 1}),
            h.hand_over("t", rec("r", 1, "2026-11-30T10:05:00Z"), send, extra={"n": 2}),
            h.hand_over("t", rec("r", 1, "2026-11-30T09:00:00Z"), send, extra={"n": 3}),
            h.hand_over("t", rec("q"), send),
        )
        assert got == ["b1"] * 4

    asyncio.run(go())
    [(_, records)] = send.batches
    assert [r["id"] for r in records] == ["q", "r"]
    assert records[1]["lastModifiedDateTime"] == "2026-11-30T10:05:00Z"
    assert send.extras == {"q": {}, "r": {"n": 2}}


def test_groups_are_kept_apart_by_scope() -> None:
    send = Sender()

    async def go() -> None:
        h = Handover(linger_s=0.02)
        await asyncio.gather(
            h.hand_over("t", rec("a"), send, scope="stack-1"),
            h.hand_over("t", rec("b"), send, scope="stack-2"),
        )

    asyncio.run(go())
    assert sorted(len(r) for _, r in send.batches) == [1, 1]


def test_a_cancelled_caller_does_not_break_the_others() -> None:
    send = Sender(delay=0.05)

    async def go() -> str:
        h = Handover(linger_s=0.02)
        first = asyncio.ensure_future(h.hand_over("t", rec("r1"), send))
        second = asyncio.ensure_future(h.hand_over("t", rec("r2"), send))
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert asyncio.run(go()) == "b1"


def test_one_record_failing_fails_only_its_own_caller() -> None:
    async def send(tenant: str, records: list[dict[str, Any]], extras: Any) -> dict[str, Any]:
        return {r["id"]: (ValueError("refused") if r["id"] == "bad" else "stored") for r in records}

    async def go() -> list[Any]:
        h = Handover(linger_s=0.02)
        return await asyncio.gather(
            h.hand_over("t", rec("good"), send),
            h.hand_over("t", rec("bad"), send),
            return_exceptions=True,
        )

    good, bad = asyncio.run(go())
    assert good == "stored" and isinstance(bad, ValueError)
