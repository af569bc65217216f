"""Call Analytics reads against the real Cosmos DB emulator."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.analytics.audit import audited, read_audit, record_read
from shared.analytics.service import call_detail, search_users, user_calls
from shared.auth.tokens import Principal
from shared.problems import Problem
from shared.storage.clients import get_clients
from tests.factories import TENANT, cdr_record, envelope
from tests.integration.test_processor import _post, _process

pytestmark = pytest.mark.stack


def who(level: str, tenant: str = TENANT) -> Principal:
    return Principal(
        tenant_id=tenant, object_id=f"oid-{level}", name=f"{level}@contoso.com", levels=(level,)
    )


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def history(stack):
    """One user with 7 calls over a week, loaded through ingest and the processor."""
    user = f"hist{uuid.uuid4().hex[:6]}@contoso.com"

    async def load() -> list[dict]:
        records = [
            cdr_record(n=i, caller=f"sip:{user}", call_id=f"{uuid.uuid4()}@fe") for i in range(7)
        ]
        for i, r in enumerate(records):
            r["data"]["user1DisplayName"] = "Hist Orian"
            r["data"]["sessionIdTime"] = r["data"]["inviteTime"] = f"2026-11-1{i}T10:00:00Z"
            r["data"]["responseTime"] = r["data"]["inviteTime"]
            r["data"]["endTime"] = r["data"]["inviteTime"].replace("10:00", "10:05")
        env = envelope(records)
        await _post(env)
        await _process(env["batchId"])
        return records

    return user, run(load())


def test_search_finds_users_by_prefix(history):
    user, _ = history

    async def go():
        c = get_clients()
        found = await search_users(c, who("engineer"), user[:10])
        by_name = await search_users(c, who("engineer"), "hist or")
        with pytest.raises(Problem) as info:
            await search_users(c, who("reader"), user)
        return found, by_name, info.value.status

    found, by_name, status = run(go())
    assert [u["user"] for u in found["users"]] == [user]
    assert user in [u["user"] for u in by_name["users"]] and status == 403


def test_history_pages_newest_first(history):
    user, _ = history

    async def pages():
        c = get_clients()
        seen, token = [], None
        while True:
            page = await user_calls(
                c,
                who("engineer"),
                user,
                "2026-11-01T00:00:00Z",
                "2026-11-30T00:00:00Z",
                token,
                limit=3,
            )
            seen += page["calls"]
            token = page["continuationToken"]
            if not token:
                return seen

    calls = run(pages())
    starts = [c["start"] for c in calls]
    assert len(calls) == 7 and starts == sorted(starts, reverse=True)
    assert len({c["callId"] for c in calls}) == 7


def test_history_is_single_partition_and_detail_a_point_read(history, monkeypatch):
    """Spy on the real container clients: which operations each read uses."""
    user, _ = history
    from azure.cosmos.aio import ContainerProxy

    used: list[tuple[str, object]] = []
    real_query, real_read = ContainerProxy.query_items, ContainerProxy.read_item

    def query_items(self, query, *a, **kw):
        used.append(("query", kw.get("partition_key")))
        return real_query(self, query, *a, **kw)

    async def read_item(self, item, partition_key, **kw):
        used.append(("read", partition_key))
        return await real_read(self, item, partition_key, **kw)

    monkeypatch.setattr(ContainerProxy, "query_items", query_items)
    monkeypatch.setattr(ContainerProxy, "read_item", read_item)

    async def go():
        c = get_clients()
        page = await user_calls(c, who("engineer"), user, None, "2026-11-30T00:00:00Z", None)
        queries = list(used)
        # The first detail also loads the tenant's building file and topology (cached
        # for the `place` of each endpoint); once warm, detail is one point read.
        await call_detail(c, who("engineer"), page["calls"][0]["callId"], None)
        used.clear()
        await call_detail(c, who("engineer"), page["calls"][1]["callId"], None)
        return queries, list(used)

    history_ops, detail_ops = run(go())
    assert history_ops == [("query", f"{TENANT}|{user}")]
    assert len(detail_ops) == 1 and detail_ops[0][0] == "read"


def test_detail_rules_by_level(history):
    user, _ = history

    async def go():
        c = get_clients()
        page = await user_calls(c, who("engineer"), user, None, "2026-11-30T00:00:00Z", None)
        cid = page["calls"][0]["callId"]
        eng = await call_detail(c, who("engineer"), cid, None)
        spec = await call_detail(c, who("specialist"), cid, user)
        errors = []
        for principal, searched in (
            (who("specialist"), None),
            (who("reader"), user),
            (who("specialist"), "nobody@contoso.com"),
            (who("engineer", str(uuid.uuid4())), None),
        ):
            try:
                await call_detail(c, principal, cid, searched)
            except Problem as p:
                errors.append(p.status)
        return eng, spec, errors

    eng, spec, errors = run(go())
    assert "bob@contoso.com" in str(eng) and "bob@contoso.com" not in str(spec)
    assert errors == [400, 403, 404, 404]


def test_audit_records_reads_for_admins_only(stack):
    async def go():
        c = get_clients()
        target = f"audited{uuid.uuid4().hex[:6]}@contoso.com"
        await record_read(c, who("engineer"), "userCalls", user=target)
        page = await read_audit(c, who("admin"), None, None, None)
        with pytest.raises(Problem):
            await read_audit(c, who("engineer"), None, None, None)
        return target, page

    target, page = run(go())
    mine = [e for e in page["entries"] if e["targetUser"] == target]
    assert mine and mine[0]["actorId"] == "oid-engineer" and mine[0]["level"] == "engineer"


def test_audited_read_records_attempts_that_found_nothing_but_not_refused_roles(stack):
    """The audit write runs alongside the read: a read that fails (404) is still on
    record, and its error is what the caller gets; a role without Call Analytics is
    refused before anything is read or recorded."""

    async def go():
        c = get_clients()
        found, missing, refused = (f"aud{uuid.uuid4().hex[:6]}@contoso.com" for _ in range(3))

        async def ok():
            return {"ok": True}

        async def gone():
            raise Problem(404, "no such call for this tenant", field="callId")

        body = await audited(c, who("engineer"), "userCalls", ok, user=found)
        with pytest.raises(Problem) as e404:
            await audited(c, who("specialist"), "callDetail", gone, user=missing)
        with pytest.raises(Problem) as e403:
            await audited(c, who("reader"), "userCalls", ok, user=refused)
        page = await read_audit(c, who("admin"), None, None, None)
        return body, e404.value.status, e403.value.status, page, (found, missing, refused)

    body, s404, s403, page, (found, missing, refused) = run(go())
    targets = {e["targetUser"]: e for e in page["entries"]}
    assert body == {"ok": True} and (s404, s403) == (404, 403)
    assert targets[found]["level"] == "engineer" and targets[missing]["action"] == "callDetail"
    assert refused not in targets
