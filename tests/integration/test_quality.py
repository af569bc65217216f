"""Quality aggregates and reports against the emulators, end to end: ingest -> processor
(with duplicated, re-ordered and crashed batches) -> aggregates equal a brute-force
recount over the stored calls; building upload; reports, CSV and role checks over HTTP."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import azure.functions as func
import pytest

import devhost.qoe_generator as gen
import functions.http_support as http_support
import shared.processor as processor_module
from functions.buildings import get_buildings, put_buildings
from functions.quality import missing_subnets_route, poor_users_route, quality_summary_route
from shared.aggregates.contribution import add_into, call_contribution
from shared.auth.tokens import Principal
from shared.models.call import CallDocument
from shared.reports.service import Period, read_aggregates
from shared.settings import get_settings
from shared.storage import layout
from shared.storage.call_ledger import CommitGroup
from shared.storage.calls import merge_call, read_calls_raw
from shared.storage.clients import get_clients
from tests.aggregates_testlib import SimulatedCrash, crash_points, crashing_groups
from tests.factories import envelope, gz
from tests.integration.test_processor import GZ, _blob_names
from tests.oracle.aggregates import expected_aggregates, project_stored

pytestmark = pytest.mark.stack

FROM, TO = "2031-01-30", "2031-02-02"
START = datetime(2031, 1, 31, 22, tzinfo=timezone.utc)  # crosses a month partition


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def who(level: str, tenant: str) -> Principal:
    return Principal(
        tenant_id=tenant, object_id=f"oid-{level}", name=f"{level}@contoso.com", levels=(level,)
    )


async def post_and_process(tenant: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    from shared.ingest import accept_batch
    from shared.processor import BatchProcessor

    settings = get_settings()
    env = envelope(records, tenant=tenant)
    r = await accept_batch(get_clients(settings), settings, who("ingest", tenant), gz(env), GZ)
    assert r.created, r.body
    [name] = [n for n in await _blob_names(layout.INCOMING, tenant) if env["batchId"] in n]
    proc = BatchProcessor(get_clients(settings), settings)
    for _ in range(5):
        try:
            return await proc.process(f"incoming/{name}")
        except SimulatedCrash:
            # The host retries the same blob (the crash patch disarms after a few runs).
            await asyncio.sleep(0.2)  # let the dying run's other merges settle
    raise AssertionError("the batch never completed")


async def stored_calls(tenant: str) -> list[CallDocument]:
    container = get_clients().container(layout.CALLS)
    query = "SELECT * FROM c WHERE c.tenantId = @t"
    return [
        CallDocument.model_validate(d)
        async for d in container.query_items(query, parameters=[{"name": "@t", "value": tenant}])
    ]


async def stored_aggregates(tenant: str) -> dict[str, dict[str, int]]:
    docs = await read_aggregates(
        get_clients(),
        tenant,
        Period.parse({"from": FROM, "to": TO}),
        "c.day, c.subnet, c.prefix, c.cells, c.poorUsers",
    )
    out: dict[str, dict[str, int]] = {}
    for d in docs:
        prefix = "" if d.get("prefix") is None else d["prefix"]
        flat = {f"{c}#{m}": n for c, ms in d["cells"].items() for m, n in ms.items()}
        flat |= {f"@{u}": n for u, n in d["poorUsers"].items()}
        if flat:
            out[f"{d['day']}|{d['subnet']}|{prefix}"] = flat
    return out


@pytest.fixture(scope="module")
def loaded(stack: Any) -> Iterator[dict[str, Any]]:
    """A fresh tenant with 60 generated calls, loaded the hard way."""
    tenant = str(uuid.uuid4())
    rng = random.Random(42)
    users = gen.demo_users(16)
    records = []
    for i in range(60):
        records += gen.generate_call(rng, tenant, users, START + timedelta(minutes=4 * i))
    rng.shuffle(records)
    third = len(records) // 3
    batches = [
        records[:third],
        records[third : 2 * third],
        records[2 * third :],
        rng.sample(records, third),
    ]  # the last one: all duplicates, new batch id
    # The second batch is processed by a process that keeps dying: first between two
    # merges of a flush (some calls written, none in the aggregates), then after the
    # call writes, part way through the aggregate documents, and after them before the
    # commit; the fifth attempt completes.
    real_merge = processor_module.merge_call
    merged = {"n": 0, "armed": False}

    async def dying_merge(*args: Any, **kwargs: Any) -> Any:
        out = await real_merge(*args, **kwargs)
        merged["n"] += 1
        if merged["armed"] and merged["n"] == 10:
            merged["armed"] = False
            raise SimulatedCrash("killed between the merges of a flush")
        return out

    async def load() -> tuple[list[dict[str, Any]], list[str]]:
        statuses = []
        died: list[str] = []
        for i, batch in enumerate(batches):
            if i != 1:
                statuses.append(await post_and_process(tenant, batch))
                continue
            merged["armed"], merged["n"] = True, 0
            processor_module.merge_call = dying_merge
            try:
                with crashing_groups(["ledger", "some-docs", "docs"]) as died:
                    statuses.append(await post_and_process(tenant, batch))
            finally:
                processor_module.merge_call = real_merge
        return statuses, died

    with crash_points():
        statuses, died = run(load())
    yield {"tenant": tenant, "statuses": statuses, "crashes": len(died) + 1}


def test_aggregates_equal_brute_force_recount(loaded: dict[str, Any]) -> None:
    tenant = loaded["tenant"]
    assert loaded["crashes"] > 3
    assert all(s["status"] in ("completed", "completedWithErrors") for s in loaded["statuses"])

    async def both() -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        calls = await stored_calls(tenant)
        assert len(calls) >= 60
        expected = expected_aggregates(c.to_cosmos() for c in calls)
        return expected, project_stored(await stored_aggregates(tenant))

    expected, actual = run(both())
    assert actual == expected
    assert {day[:7] for day, _, _ in expected} == {"2031-01", "2031-02"}


def test_reapplying_everything_changes_nothing(loaded: dict[str, Any]) -> None:
    tenant = loaded["tenant"]

    async def again() -> tuple[bool, dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        calls = await stored_calls(tenant)
        group = CommitGroup(get_clients(), tenant)
        raws = await read_calls_raw(get_clients(), tenant, [c.key for c in calls])
        await group.learn((c.id, raws[c.key]) for c in calls)
        for c in calls:  # every call merged again with nothing new: nothing to apply
            await merge_call(get_clients(), tenant, c.key, lambda _: None, raws[c.key], group)
        wrote = await group.finish()
        expected = expected_aggregates(c.to_cosmos() for c in calls)
        return bool(wrote), expected, project_stored(await stored_aggregates(tenant))

    wrote, expected, actual = run(again())
    assert not wrote and actual == expected


# ------------------------------------------------------------------------- over HTTP


class _Validator:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    async def validate_async(self, authorization: str | None) -> Principal:
        return self.principal


def call(
    route: Any,
    principal: Principal | None,
    method: str = "GET",
    params: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    monkeypatch: Any = None,
) -> func.HttpResponse:
    if principal is not None:
        monkeypatch.setattr(http_support, "get_validator", lambda s: _Validator(principal))
    req = func.HttpRequest(
        method=method,
        url="http://localhost/api/x",
        params=params or {},
        headers={"Authorization": "Bearer x", **(headers or {})},
        body=body,
    )
    return run(route.build().get_user_function()(req))


def building_file(calls: list[CallDocument]) -> tuple[str, set[str]]:
    """Ranges covering the inside (10.x) subnets seen, one building per second octet;
    192.168.x stays uncovered (the missing-subnets report must list it)."""
    subnets = set()
    for c in calls:
        for s in c.view.sessions:
            for ep in (s.caller, s.callee):
                if ep.ip_address and ep.ip_address.startswith("10."):
                    subnets.add(".".join(ep.ip_address.split(".")[:2]))
    lines = [
        f"{n}.0.0,Net{n},16,Bldg-{n.split('.')[1]},,,,Seattle,98001,US,WA,West,1,0"
        for n in sorted(subnets)
    ]
    return "\n".join(lines) + "\n", subnets


@pytest.fixture(scope="module")
def with_buildings(loaded: dict[str, Any]) -> dict[str, Any]:
    calls = run(stored_calls(loaded["tenant"]))
    body, covered = building_file(calls)
    return {**loaded, "calls": calls, "file": body, "covered": covered}


def test_building_upload_summary_and_errors(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = with_buildings["tenant"]
    admin = who("admin", tenant)
    bad = call(
        put_buildings, admin, "PUT", body=b"10.0.0.0,N,7,B,,,,,,,,,1,0\n", monkeypatch=monkeypatch
    )
    assert bad.status_code == 400
    problem = json.loads(bad.get_body())
    assert problem["errors"][0]["field"] == "row 1, column 3 (NetworkRange)"
    assert (
        call(
            put_buildings, who("engineer", tenant), "PUT", body=b"x", monkeypatch=monkeypatch
        ).status_code
        == 403
    )
    ok = call(
        put_buildings, admin, "PUT", body=with_buildings["file"].encode(), monkeypatch=monkeypatch
    )
    assert ok.status_code == 200, ok.get_body()
    summary = json.loads(call(get_buildings, admin, monkeypatch=monkeypatch).get_body())
    assert summary["rows"] == len(with_buildings["covered"]) and summary["uploadedBy"]
    # A second upload replaces the first.
    first_line = with_buildings["file"].splitlines()[0] + "\n"
    call(put_buildings, admin, "PUT", body=first_line.encode(), monkeypatch=monkeypatch)
    assert json.loads(call(get_buildings, admin, monkeypatch=monkeypatch).get_body())["rows"] == 1
    assert (
        call(
            put_buildings,
            admin,
            "PUT",
            body=with_buildings["file"].encode(),
            monkeypatch=monkeypatch,
        ).status_code
        == 200
    )


def _totals(expected: dict[Any, dict[str, int]], measure: str) -> int:
    return sum(n for e in expected.values() for k, n in e.items() if k.endswith(f"#{measure}"))


def _oracle(calls: list[CallDocument]) -> dict[Any, dict[str, int]]:
    return expected_aggregates(c.to_cosmos() for c in calls)


def test_summary_by_building_matches_recount_and_csv(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    test_building_upload_summary_and_errors(with_buildings, monkeypatch)  # file in place
    tenant = with_buildings["tenant"]
    expected = _oracle(with_buildings["calls"])
    params = {"from": FROM, "to": TO, "groupBy": "building"}
    resp = call(
        quality_summary_route, who("reader", tenant), params=params, monkeypatch=monkeypatch
    )
    assert resp.status_code == 200, resp.get_body()
    body = json.loads(resp.get_body())
    for measure in ("streams", "good", "poor", "unclassified", "sessions", "poorCalls"):
        assert sum(r[measure] for r in body["rows"]) == _totals(expected, measure)
    assert body["documentsRead"] == len(expected)
    buildings = {r["building"] for r in body["rows"]}
    assert None in buildings and any(b and b.startswith("Bldg-") for b in buildings)
    for r in body["rows"]:
        good_poor = r["good"] + r["poor"]
        assert r["poorPercent"] == (round(100 * r["poor"] / good_poor, 2) if good_poor else None)
    # CSV: the same table.
    text = call(
        quality_summary_route,
        who("reader", tenant),
        params=params,
        headers={"Accept": "text/csv"},
        monkeypatch=monkeypatch,
    )
    assert text.mimetype == "text/csv"
    parsed = list(csv.DictReader(io.StringIO(text.get_body().decode())))
    assert len(parsed) == len(body["rows"])
    for line, r in zip(parsed, body["rows"], strict=True):
        assert (line["building"] or None) == r["building"]
        for measure in ("streams", "good", "poor", "unclassified", "callSetupFailures"):
            assert int(line[measure]) == r[measure]
        assert (float(line["poorPercent"]) if line["poorPercent"] else None) == r["poorPercent"]
        for metric, n in r["poorDueTo"].items():
            assert int(line[f"poorDueTo.{metric}"]) == n
    # Drill-down building -> subnet with a filter; day/week/month and dims group too.
    some = next(b for b in buildings if b)
    sub = json.loads(
        call(
            quality_summary_route,
            who("engineer", tenant),
            params={
                "from": FROM,
                "to": TO,
                "groupBy": "subnet",
                "building": some,
                "mediaType": "audio",
            },
            monkeypatch=monkeypatch,
        ).get_body()
    )
    assert sub["rows"] and all(r["subnet"].startswith("10.") for r in sub["rows"])
    multi = json.loads(
        call(
            quality_summary_route,
            who("specialist", tenant),
            params={"from": FROM, "to": TO, "groupBy": "month,insideCorp,connectionType"},
            monkeypatch=monkeypatch,
        ).get_body()
    )
    assert {r["month"] for r in multi["rows"]} == {"2031-01", "2031-02"}
    assert sum(r["streams"] for r in multi["rows"]) == _totals(expected, "streams")


def test_no_euii_for_reader_and_specialist(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = with_buildings["tenant"]
    ips = {
        ep.ip_address
        for c in with_buildings["calls"]
        for s in c.view.sessions
        for ep in (s.caller, s.callee)
        if ep.ip_address
    }
    users = {"alice@", "bob@", "carol@"}
    for level in ("reader", "specialist"):
        for route, params in (
            (quality_summary_route, {"groupBy": "subnet"}),
            (missing_subnets_route, {}),
        ):
            resp = call(
                route,
                who(level, tenant),
                params={"from": FROM, "to": TO, **params},
                monkeypatch=monkeypatch,
            )
            text = resp.get_body().decode()
            assert resp.status_code == 200
            for row in json.loads(text)["rows"]:
                assert row["subnet"] == "unknown" or row["subnet"].endswith(".0")
            assert not [ip for ip in ips if f'"{ip}"' in text and not ip.endswith(".0")]
            assert not [u for u in users if u in text]
        denied = call(
            poor_users_route,
            who(level, tenant),
            params={"from": FROM, "to": TO},
            monkeypatch=monkeypatch,
        )
        assert denied.status_code == 403


def test_poor_users_and_missing_subnets(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = with_buildings["tenant"]
    expected = _oracle(with_buildings["calls"])
    resp = call(
        poor_users_route,
        who("engineer", tenant),
        params={"from": FROM, "to": TO},
        monkeypatch=monkeypatch,
    )
    assert resp.status_code == 200
    rows = json.loads(resp.get_body())["rows"]
    want: dict[str, int] = {}
    for entries in expected.values():
        for k, n in entries.items():
            if k.startswith("@"):
                want[k[1:]] = want.get(k[1:], 0) + n
    assert {r["user"]: r["poorStreams"] for r in rows} == want and want
    # missing subnets: uncovered subnets (192.168.x) with >= 10 audio streams
    audio: dict[str, int] = {}
    for key, entries in expected.items():
        _, subnet, _ = key
        if subnet.startswith("192.168."):
            audio[subnet] = audio.get(subnet, 0) + sum(
                n for k, n in entries.items() if k.startswith("audio|") and k.endswith("#streams")
            )
    missing = json.loads(
        call(
            missing_subnets_route,
            who("admin", tenant),
            params={"from": FROM, "to": TO},
            monkeypatch=monkeypatch,
        ).get_body()
    )
    assert {r["subnet"]: r["audioStreams"] for r in missing["rows"]} == {
        s: n for s, n in audio.items() if n >= 10
    }


def test_other_tenants_and_unknown_tenants(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = str(uuid.uuid4())
    resp = call(
        quality_summary_route,
        who("admin", other),
        params={"from": FROM, "to": TO},
        monkeypatch=monkeypatch,
    )
    assert resp.status_code == 200 and json.loads(resp.get_body())["rows"] == []
    # A real token from a tenant that is not configured: 401 before any key fetch.
    monkeypatch.undo()

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    token = ".".join(
        [
            b64({"alg": "RS256", "kid": "k"}),
            b64({"tid": other, "aud": "api://call-data-connector"}),
            "sig",
        ]
    )
    req = func.HttpRequest(
        method="GET",
        url="http://localhost/api/v1/quality/summary",
        params={"from": FROM, "to": TO},
        headers={"Authorization": f"Bearer {token}"},
        body=b"",
    )
    denied = run(quality_summary_route.build().get_user_function()(req))
    assert denied.status_code == 401


def test_add_into_is_the_same_sum(with_buildings: dict[str, Any]) -> None:
    """The product's per-call sum, in any order, equals the oracle's recount."""
    calls = list(with_buildings["calls"])
    random.Random(1).shuffle(calls)
    total: dict[str, dict[str, int]] = {}
    for c in calls:
        add_into(total, call_contribution(c))
    assert project_stored(total) == _oracle(with_buildings["calls"]) != {}


def _walk(
    route: Any, principal: Principal, params: dict[str, str], monkeypatch: Any
) -> list[dict[str, Any]]:
    """Every page of a report, in JSON, following `continuationToken`; each CSV page
    carries the same token in `X-Continuation-Token` and the same rows."""
    pages, token = [], None
    while True:
        asked = {**params, **({"continuationToken": token} if token else {})}
        resp = call(route, principal, params=asked, monkeypatch=monkeypatch)
        assert resp.status_code == 200, resp.get_body()
        body = json.loads(resp.get_body())
        as_csv = call(route, principal, params={**asked, "format": "csv"}, monkeypatch=monkeypatch)
        rows = list(csv.DictReader(io.StringIO(as_csv.get_body().decode())))
        assert len(rows) == len(body["rows"])
        assert as_csv.headers.get("X-Continuation-Token") == body["continuationToken"]
        assert resp.headers.get("X-Continuation-Token") == body["continuationToken"]
        pages.append(body)
        token = body["continuationToken"]
        if token is None:
            return pages


def test_reports_page_by_continuation_token_in_json_and_csv(
    with_buildings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page holds `shared.paging.PAGE_ROWS` rows (3 here, 1,000 in service): the pages
    together are the whole report, in its order, each row once."""
    import shared.paging as paging
    from functions.reports import run_report_route

    tenant = with_buildings["tenant"]
    cases = [
        (quality_summary_route, who("admin", tenant), {"groupBy": "subnet,day"}),
        (quality_summary_route, who("reader", tenant), {"groupBy": "building,mediaType"}),
        (poor_users_route, who("engineer", tenant), {}),
        (missing_subnets_route, who("admin", tenant), {}),
    ]
    for route, principal, extra in cases:
        params = {"from": FROM, "to": TO, **extra}
        whole = json.loads(
            call(route, principal, params=params, monkeypatch=monkeypatch).get_body()
        )
        assert whole["continuationToken"] is None
        monkeypatch.setattr(paging, "PAGE_ROWS", 3)
        pages = _walk(route, principal, params, monkeypatch)
        monkeypatch.setattr(paging, "PAGE_ROWS", 1000)
        assert [len(p["rows"]) for p in pages[:-1]] == [3] * (len(pages) - 1), extra
        assert [r for p in pages for r in p["rows"]] == whole["rows"], extra
        if len(whole["rows"]) > 3:
            assert len(pages) > 1
    # a report of the report set pages the same way (JSON; CSV keeps the header)
    monkeypatch.setattr(http_support, "get_validator", lambda s: _Validator(who("admin", tenant)))
    run_rows: list[list[dict[str, Any]]] = []
    for size in (1000, 2):
        monkeypatch.setattr(paging, "PAGE_ROWS", size)
        token, rows = None, []
        for _ in range(100):
            req = func.HttpRequest(
                method="GET",
                url="http://localhost/api/x",
                params={"from": FROM, "to": TO, **({"continuationToken": token} if token else {})},
                route_params={"id": "quality-by-building"},
                headers={"Authorization": "Bearer x"},
                body=b"",
            )
            resp = run(run_report_route.build().get_user_function()(req))
            assert resp.status_code == 200, resp.get_body()
            body = json.loads(resp.get_body())
            assert len(body["rows"]) <= size
            assert resp.headers.get("X-Continuation-Token") == body["continuationToken"]
            rows += body["rows"]
            token = body["continuationToken"]
            if token is None:
                break
        run_rows.append(rows)
    assert run_rows[0] == run_rows[1] and len(run_rows[0]) > 2
    # a token continues only the query it came from
    monkeypatch.setattr(paging, "PAGE_ROWS", 3)
    first = json.loads(
        call(
            quality_summary_route,
            who("admin", tenant),
            params={"from": FROM, "to": TO, "groupBy": "subnet,day"},
            monkeypatch=monkeypatch,
        ).get_body()
    )
    other = call(
        quality_summary_route,
        who("admin", tenant),
        params={
            "from": FROM,
            "to": TO,
            "groupBy": "subnet",
            "continuationToken": first["continuationToken"],
        },
        monkeypatch=monkeypatch,
    )
    assert other.status_code == 400
    assert json.loads(other.get_body())["field"] == "continuationToken"
