"""Call Analytics reads against the real Cosmos DB emulator."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from functions.problems import as_problem
from shared.analytics.audit import audited, read_audit, record_read
from shared.analytics.service import call_detail, search_users, user_calls
from shared.auth.tokens import Principal
from shared.errors import DomainError, NotFound
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
        with pytest.raises(DomainError) as info:
            await search_users(c, who("reader"), user)
        return found, by_name, as_problem(info.value).status

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
            except DomainError as p:
                errors.append(as_problem(p).status)
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
        with pytest.raises(DomainError):
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
            raise NotFound("no such call for this tenant", field="callId")

        body = await audited(c, who("engineer"), "userCalls", ok, user=found)
        with pytest.raises(DomainError) as e404:
            await audited(c, who("specialist"), "callDetail", gone, user=missing)
        with pytest.raises(DomainError) as e403:
            await audited(c, who("reader"), "userCalls", ok, user=refused)
        page = await read_audit(c, who("admin"), None, None, None)
        statuses = as_problem(e404.value).status, as_problem(e403.value).status
        return body, *statuses, page, (found, missing, refused)

    body, s404, s403, page, (found, missing, refused) = run(go())
    targets = {e["targetUser"]: e for e in page["entries"]}
    assert body == {"ok": True} and (s404, s403) == (404, 403)
    assert targets[found]["level"] == "engineer" and targets[missing]["action"] == "callDetail"
    assert refused not in targets


def test_sip_uris_with_user_phone_are_phone_numbers_everywhere(stack):
    """`sip:+1425...@contoso.com;user=phone` is a number: no history, no directory
    entry, never found by search, masked for engineers in history and detail."""
    caller = f"ph{uuid.uuid4().hex[:6]}@contoso.com"
    digits = f"+1425{uuid.uuid4().int % 10**7:07d}"
    phone = f"sip:{digits}@contoso.com;user=phone"

    async def go():
        rec = cdr_record(caller=f"sip:{caller}", callee=phone, call_id=f"{uuid.uuid4()}@fe")
        rec["data"]["user1DisplayName"] = None
        env = envelope([rec])
        await _post(env)
        await _process(env["batchId"])
        c = get_clients()
        found = await search_users(c, who("admin"), digits[:8])
        with pytest.raises(DomainError) as as_user:
            await user_calls(c, who("admin"), phone, None, "2026-11-30T00:00:00Z", None)
        page = await user_calls(c, who("engineer"), caller, None, "2026-11-30T00:00:00Z", None)
        admin_page = await user_calls(c, who("admin"), caller, None, "2026-11-30T00:00:00Z", None)
        detail = await call_detail(c, who("engineer"), page["calls"][0]["callId"], None)
        return found, as_problem(as_user.value).status, page, admin_page, detail

    found, status, page, admin_page, detail = run(go())
    assert found["users"] == [] and status == 400
    assert digits not in str(page) and digits[:-3] + "***" in str(page), page
    assert digits not in str(detail) and "user=phone" not in str(detail)
    assert digits in str(admin_page)  # admin sees numbers in full (roles reference)


@pytest.mark.parametrize(
    "state",
    [{"pk": 5}, {"pk": f"{TENANT}|1999-01", "at": "x", "id": "y"}, {"pk": None, "at": 1}],
)
def test_bad_audit_continuation_tokens_are_400(stack, state):
    from shared.analytics.service import encode_page_token

    async def go():
        with pytest.raises(DomainError) as info:
            await read_audit(get_clients(), who("admin"), None, None, encode_page_token(state))
        return as_problem(info.value)

    p = run(go())
    assert p.status == 400 and p.body()["field"] == "continuationToken"


def test_bad_history_continuation_token_is_400(history):
    from shared.analytics.service import encode_page_token

    user, _ = history

    async def go():
        with pytest.raises(DomainError) as info:
            await user_calls(
                get_clients(), who("engineer"), user, None, None, encode_page_token({"start": 5})
            )
        return as_problem(info.value)

    p = run(go())
    assert p.status == 400 and p.body()["field"] == "continuationToken"
