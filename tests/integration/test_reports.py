"""The report set against the emulators: generated calls loaded through ingest and the
processor; every out-of-the-box report equals a brute-force recount over the stored
calls; custom reports with the role matrix; the topology (validation, the ingest
identity may push it) and the place of a user and a mediation server in call detail."""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
import random
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

import azure.functions as func
import pytest

import devhost.qoe_generator as gen
import functions.http_support as http_support
from functions.reports import (
    create_report_route,
    delete_report_route,
    list_reports_route,
    replace_report_route,
    run_report_route,
)
from functions.topology import get_topology, put_topology
from shared.analytics.service import call_detail
from shared.auth.tokens import Principal
from shared.buildings import BuildingRow, parse_building_file
from shared.errors import Invalid
from shared.models.call import CallDocument, Endpoint, metric_name
from shared.reports import places
from shared.reports.definitions import BUILT_IN, BUILT_IN_BY_ID, ReportDefinition
from shared.reports.report_set import create_report, delete_report, run_report
from shared.storage.buildings import save_building_file
from shared.storage.clients import get_clients
from shared.topology import server_signature
from tests.integration.test_quality import building_file, post_and_process, stored_calls
from tests.oracle.aggregates import expected_aggregates

pytestmark = pytest.mark.stack

FROM, TO = "2032-03-29", "2032-04-03"
START = datetime(2032, 3, 30, 20, tzinfo=timezone.utc)  # crosses a month partition
LEVELS = ("admin", "engineer", "specialist", "reader")
EDGE = "edge01.contoso.com"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def who(level: str, tenant: str) -> Principal:
    return Principal(
        tenant_id=tenant, object_id=f"oid-{level}", name=f"{level}@contoso.com", levels=(level,)
    )


class _Validator:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    async def validate_async(self, authorization: str | None) -> Principal:
        return self.principal


def call(
    monkeypatch: pytest.MonkeyPatch,
    route: Any,
    principal: Principal,
    method: str = "GET",
    *,
    rid: str | None = None,
    params: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    monkeypatch.setattr(http_support, "get_validator", lambda s: _Validator(principal))
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    req = func.HttpRequest(
        method=method,
        url="http://localhost/api/x",
        params=params or {},
        route_params={"id": rid} if rid else {},
        body=raw,
        headers={
            "Authorization": "Bearer x",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    return run(route.build().get_user_function()(req))


def as_json(resp: func.HttpResponse) -> Any:
    return json.loads(resp.get_body())


def topology_body() -> dict[str, Any]:
    """fe01 (the generator's POOL) hosts conferencing and mediation in Redmond: both
    server roles the generated calls use resolve to it (the only pool of each role)."""
    return {
        "sites": [{"name": "Redmond"}, {"name": "Dublin"}],
        "pools": [
            {"fqdn": gen.POOL, "role": ["frontEnd", "mediation"], "site": "Redmond"},
            {"fqdn": EDGE, "role": "edge", "site": "Dublin"},
        ],
        "gateways": [{"fqdn": "gw01.contoso.local", "site": "Redmond", "mediationPool": gen.POOL}],
    }


@pytest.fixture(scope="module")
def data(stack: Any) -> dict[str, Any]:
    """A fresh tenant: 70 generated calls (10 forced PSTN, through the mediation server)
    over four days, a building file for its inside subnets, and the topology."""
    tenant = str(uuid.uuid4())
    rng = random.Random(7)
    users = gen.demo_users(14)
    records: list[dict[str, Any]] = []
    for i in range(70):
        records += gen.generate_call(
            rng,
            tenant,
            users,
            START + timedelta(minutes=75 * i),
            scenario="pstn" if i % 7 == 0 else None,
        )
    rng.shuffle(records)

    async def load() -> tuple[list[CallDocument], list[BuildingRow]]:
        half = len(records) // 2
        for part in (records[:half], records[half:]):
            status = await post_and_process(tenant, part)
            assert status["status"] in ("completed", "completedWithErrors")
        calls = await stored_calls(tenant)
        rows = parse_building_file(building_file(calls)[0])
        await save_building_file(get_clients(), tenant, rows, "test")
        return calls, rows

    calls, rows = run(load())
    return {"tenant": tenant, "calls": calls, "buildings": rows}


@pytest.fixture
def topology(data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    resp = call(
        monkeypatch, put_topology, who("ingest", data["tenant"]), "PUT", body=topology_body()
    )
    assert resp.status_code == 200, resp.get_body()
    return data


# ------------------------------------------------------------------ brute force


def _building(subnet: str, rows: list[BuildingRow]) -> BuildingRow | None:
    """Linear scan, longest prefix: independent of BuildingIndex."""
    try:
        address = ipaddress.ip_address(subnet)
    except ValueError:
        return None
    best = None
    for r in rows:
        if address in ipaddress.ip_network(f"{r.network_ip}/{r.prefix}") and (
            best is None or r.prefix > best.prefix
        ):
            best = r
    return best


def _server(cell_parts: list[str]) -> tuple[str | None, str | None]:
    """The test topology by hand: fe01 has the frontEnd and mediation roles, edge01 edge."""
    servers = [p for p in cell_parts[4:] if "=" not in p]
    if not servers:
        return None, None
    role = servers[0].split(":", 1)[0]
    if role in ("frontEnd", "mediation"):
        return "Redmond", gen.POOL
    if role == "edge":
        return "Dublin", EDGE
    return None, None


def _dims(day: str, subnet: str, cell: str, rows: list[BuildingRow]) -> dict[str, Any]:
    parts = cell.split("|")
    extra = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
    row = _building(subnet, rows)
    site, pool = _server(parts)
    d = date.fromisoformat(day)
    return {
        "day": day,
        "week": f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
        "month": day[:7],
        "building": row.building_name if row else None,
        "networkName": row.network_name if row else None,
        "city": row.city if row else None,
        "region": row.region if row else None,
        "subnet": subnet,
        "mediaType": parts[0],
        "connectionType": parts[1],
        "insideCorp": bool(row and row.inside_corp),  # a file is active
        "vpn": parts[3] == "1" or bool(row and row.vpn),
        "site": site,
        "pool": pool,
        # docs/reference/cqd-dimensions.md, read from the cell's name=value parts
        "product": extra["p"],
        "isTeams": extra["p"] == "teams",
        "clientType": extra["ct"],
        "userAgentCategory": f"{extra['p']}-{extra['ct']}",
        "clientVersion": extra["cv"],
        "transport": extra["tr"],
        "relay": {"1": True, "0": False}.get(extra["rl"]),
        "wifiBand": extra["wb"],
        "hour": int(extra["h"]),
    }


def _keep(dims: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for name, want in filters.items():
        wants = want if isinstance(want, list) else [want]
        if not any(
            dims[name] == w or (isinstance(w, str) and str(dims[name] or "").lower() == w.lower())
            for w in wants
        ):
            return False
    return True


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 2) if b else None


def _server_of(session: Mapping[str, Any]) -> str | None:
    """The session's server signature (the topology's rule, not the aggregates'): callee
    first, as a user calls the MCU or a phone number through the mediation server."""
    for role in ("callee", "caller"):
        signature = server_signature(Endpoint.model_validate(session.get(role) or {"role": role}))
        if signature:
            return signature
    return None


def oracle_figures(calls: list[CallDocument]) -> dict[tuple[str, str, str], dict[str, int]]:
    """The independent recount (tests/oracle) over the calls as stored (JSON)."""
    return expected_aggregates((c.to_cosmos() for c in calls), _server_of)


def brute_force(
    definition: ReportDefinition, calls: list[CallDocument], rows: list[BuildingRow]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The report's table recounted from the stored calls by the independent oracle."""
    groups: dict[tuple[Any, ...], Counter[str]] = {}
    for (day, subnet, _), entries in oracle_figures(calls).items():
        if not FROM <= day <= TO:
            continue
        for entry, n in entries.items():
            if entry.startswith("@"):
                continue
            cell, measure = entry.split("#", 1)
            dims = _dims(day, subnet, cell, rows)
            if _keep(dims, definition.filters):
                groups.setdefault(tuple(dims[g] for g in definition.group_by), Counter())[
                    measure
                ] += n
    out = {}
    for group, c in groups.items():
        succeeded = c["cdrStreams"] - c["setupFailedStreams"]
        derived = {
            "setupSucceededStreams": succeeded,
            "poorPercent": _pct(c["poor"], c["poor"] + c["good"]),
            # CQD: setup failures / streams with CDR data; drops / streams set up
            "callSetupFailurePercent": _pct(c["setupFailedStreams"], c["cdrStreams"]),
            "droppedStreamPercent": _pct(c["droppedStreams"], succeeded),
            # the API spells metric names as the body's `metrics` keys (`jitterMs`)
            "poorDueTo": {
                metric_name(k[len("poorDueTo.") :]): n
                for k, n in c.items()
                if k.startswith("poorDueTo.") and n
            },
        }
        for name, prefix in (
            ("rateMyCall", "rating."),
            ("feedbackTokens", "feedbackToken."),
        ):
            derived[name] = {
                k[len(prefix) :]: n for k, n in c.items() if k.startswith(prefix) and n
            }
        out[group] = {m: derived[m] if m in derived else c[m] for m in definition.measures}
    return out


# ------------------------------------------------------------------ built-in reports


@pytest.mark.parametrize("rid", [d.id for d in BUILT_IN])
def test_each_built_in_report_equals_a_brute_force_recount(
    topology: dict[str, Any], monkeypatch: pytest.MonkeyPatch, rid: str
) -> None:
    tenant, definition = topology["tenant"], BUILT_IN_BY_ID[rid]
    resp = call(
        monkeypatch,
        run_report_route,
        who("admin", tenant),
        rid=rid,
        params={"from": FROM, "to": TO},
    )
    assert resp.status_code == 200, resp.get_body()
    body = as_json(resp)
    assert body["report"] == {
        "id": rid,
        "name": definition.name,
        "version": definition.version,
        "builtIn": True,
    }
    assert (body["from"], body["to"]) == (FROM, TO)
    if definition.source == "poorUsers":
        want: Counter[str] = Counter()
        for entries in oracle_figures(topology["calls"]).values():
            for entry, n in entries.items():
                if entry.startswith("@"):
                    want[entry[1:]] += n
        assert {r["user"]: r["poorStreams"] for r in body["rows"]} == dict(want) and want
        return
    expected = brute_force(definition, topology["calls"], topology["buildings"])
    got = {
        tuple(r[g] for g in definition.group_by): {m: r[m] for m in definition.measures}
        for r in body["rows"]
    }
    assert got == expected
    assert expected and sum(
        v.get("streams", v.get("sessions", v.get("cdrStreams", 0))) for v in expected.values()
    )
    assert all(set(r) == {*definition.group_by, *definition.measures} for r in body["rows"])
    # CSV: the same table.
    text = call(
        monkeypatch,
        run_report_route,
        who("admin", tenant),
        rid=rid,
        params={"from": FROM, "to": TO},
        headers={"Accept": "text/csv"},
    )
    assert text.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(text.get_body().decode())))
    assert len(lines) == len(body["rows"])
    for line, r in zip(lines, body["rows"], strict=True):
        for m in definition.measures:
            prefix = {
                "poorDueTo": "poorDueTo.",
                "rateMyCall": "rating.",
                "feedbackTokens": "feedbackToken.",
            }.get(m)
            if prefix:
                for metric, n in r[m].items():
                    assert int(line[f"{prefix}{metric}"]) == n
            elif r[m] is None:
                assert line[m] == ""
            else:
                assert float(line[m]) == r[m]


def test_site_and_pool_come_from_the_topology(
    topology: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = topology["tenant"]
    params = {"from": FROM, "to": TO}
    body = as_json(
        call(
            monkeypatch,
            run_report_route,
            who("reader", tenant),
            rid="quality-by-site-and-pool",
            params=params,
        )
    )
    keys = {(r["site"], r["pool"]) for r in body["rows"]}
    assert ("Redmond", gen.POOL) in keys and (None, None) in keys
    # A new topology re-labels the same (already aggregated) days: with two mediation
    # pools and no FQDN in the records, the mediation sessions match no pool any more.
    two = topology_body()
    two["pools"][0]["role"] = "frontEnd"
    two["pools"] += [
        {"fqdn": "med01.contoso.local", "role": "mediation", "site": "Redmond"},
        {"fqdn": "med02.contoso.local", "role": "mediation", "site": "Dublin"},
    ]
    two["gateways"] = []
    assert call(monkeypatch, put_topology, who("admin", tenant), "PUT", body=two).status_code == 200
    after = as_json(
        call(
            monkeypatch,
            run_report_route,
            who("reader", tenant),
            rid="quality-by-site-and-pool",
            params=params,
        )
    )
    before_total = sum(r["sessions"] for r in body["rows"])
    assert sum(r["sessions"] for r in after["rows"]) == before_total
    fe01 = sum(r["sessions"] for r in after["rows"] if r["pool"] == gen.POOL)
    assert 0 < fe01 < sum(r["sessions"] for r in body["rows"] if r["pool"] == gen.POOL)


def test_default_period_and_reader_visibility(topology: dict[str, Any]) -> None:
    tenant = topology["tenant"]

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        c = get_clients()
        default = await run_report(
            c, who("engineer", tenant), "reliability", {}, today=date(2032, 4, 3)
        )
        explicit = await run_report(
            c, who("engineer", tenant), "reliability", {"from": "2032-03-05", "to": "2032-04-03"}
        )
        network = await run_report(
            c, who("reader", tenant), "quality-by-network", {"from": FROM, "to": TO}
        )
        return default, explicit, network

    default, explicit, network = run(go())
    assert (default["from"], default["to"]) == ("2032-03-05", "2032-04-03")
    assert default["rows"] == explicit["rows"] and default["rows"]
    assert all(r["subnet"] == "unknown" or r["subnet"].endswith(".0") for r in network["rows"])


def test_a_run_narrows_a_report_by_filters_and_never_widens_it(
    topology: dict[str, Any],
) -> None:
    tenant = topology["tenant"]
    span = {"from": FROM, "to": TO}
    engineer = who("engineer", tenant)

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        c = get_clients()
        whole = await run_report(c, engineer, "quality-by-network", span)
        inside = await run_report(c, engineer, "quality-by-network", {**span, "insideCorp": "true"})
        outside = await run_report(
            c, engineer, "quality-by-network", {**span, "insideCorp": "false"}
        )
        return whole, inside, outside

    whole, inside, outside = run(go())
    assert inside["filters"]["insideCorp"] is True
    assert sum(r["streams"] for r in inside["rows"]) + sum(
        r["streams"] for r in outside["rows"]
    ) == sum(r["streams"] for r in whole["rows"])
    assert 0 < sum(r["streams"] for r in inside["rows"]) < sum(r["streams"] for r in whole["rows"])

    async def widen() -> None:
        c = get_clients()
        created = await create_report(
            c,
            who("admin", tenant),
            {"name": "audio only", "groupBy": ["building"], "filters": {"mediaType": "audio"}},
        )
        try:
            await run_report(c, engineer, created["id"], {**span, "mediaType": "video"})
        finally:
            await delete_report(c, who("admin", tenant), created["id"])

    with pytest.raises(Invalid) as refused:
        run(widen())
    assert refused.value.field == "mediaType"


# ------------------------------------------------------------------ custom reports


def test_custom_reports_role_matrix(
    topology: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = topology["tenant"]
    definition = {
        "name": "Wi-Fi by building",
        "groupBy": ["building", "day"],
        "filters": {"connectionType": "wifi", "mediaType": ["audio", "video"]},
        "measures": ["streams", "poor", "good", "poorPercent"],
        "period": {"lastDays": 7},
    }
    for level in ("engineer", "specialist", "reader", "ingest"):
        denied = call(monkeypatch, create_report_route, who(level, tenant), "POST", body=definition)
        assert denied.status_code == 403, level
    bad = call(
        monkeypatch,
        create_report_route,
        who("admin", tenant),
        "POST",
        body={**definition, "groupBy": ["building", "floor"]},
    )
    assert bad.status_code == 400 and as_json(bad)["field"] == "groupBy[1]"
    assert (
        call(
            monkeypatch, create_report_route, who("admin", tenant), "POST", body=b"{not json"
        ).status_code
        == 400
    )
    created = call(monkeypatch, create_report_route, who("admin", tenant), "POST", body=definition)
    assert created.status_code == 201, created.get_body()
    report = as_json(created)
    rid = report["id"]
    assert report["version"] == 1 and not report["builtIn"] and report["createdBy"]
    assert created.headers["Location"] == f"/api/v1/reports/{rid}"
    dup = call(monkeypatch, create_report_route, who("admin", tenant), "POST", body=definition)
    assert dup.status_code == 409 and as_json(dup)["field"] == "name"

    # Every reading level lists and runs it; per-user is listed for engineer/admin only.
    for level in LEVELS:
        listed = as_json(call(monkeypatch, list_reports_route, who(level, tenant)))["reports"]
        ids = [r["id"] for r in listed]
        assert rid in ids
        mine = next(r for r in listed if r["id"] == rid)
        authors = level in ("admin", "engineer")  # UPNs: hidden below engineer
        assert ("createdBy" in mine and "updatedBy" in mine) == authors, (level, mine)
        assert ("per-user" in ids) == (level in ("admin", "engineer"))
        ran = call(
            monkeypatch,
            run_report_route,
            who(level, tenant),
            rid=rid,
            params={"from": FROM, "to": TO},
        )
        assert ran.status_code == 200, (level, ran.get_body())
        expected = brute_force(
            ReportDefinition(
                rid,
                definition["name"],
                1,
                "",
                tuple(definition["groupBy"]),
                definition["filters"],
                tuple(definition["measures"]),
                definition["period"],
                built_in=False,
            ),
            topology["calls"],
            topology["buildings"],
        )
        got = {
            tuple(r[g] for g in definition["groupBy"]): {m: r[m] for m in definition["measures"]}
            for r in as_json(ran)["rows"]
        }
        assert got == expected and expected
        per_user = call(
            monkeypatch,
            run_report_route,
            who(level, tenant),
            rid="per-user",
            params={"from": FROM, "to": TO},
        )
        assert per_user.status_code == (200 if level in ("admin", "engineer") else 403)
    assert call(monkeypatch, list_reports_route, who("ingest", tenant)).status_code == 403

    # Modify: admin only, validated, version goes up; built-ins are read-only.
    changed = {**definition, "name": "Wi-Fi by city", "groupBy": ["city"]}
    for level in ("engineer", "specialist", "reader"):
        assert (
            call(
                monkeypatch, replace_report_route, who(level, tenant), "PUT", rid=rid, body=changed
            ).status_code
            == 403
        )
    bad = call(
        monkeypatch,
        replace_report_route,
        who("admin", tenant),
        "PUT",
        rid=rid,
        body={**changed, "measures": ["poorPercent", "mos"]},
    )
    assert bad.status_code == 400 and as_json(bad)["field"] == "measures[1]"
    ok = call(monkeypatch, replace_report_route, who("admin", tenant), "PUT", rid=rid, body=changed)
    assert ok.status_code == 200 and as_json(ok)["version"] == 2
    assert as_json(ok)["groupBy"] == ["city"]
    rows = as_json(
        call(
            monkeypatch,
            run_report_route,
            who("reader", tenant),
            rid=rid,
            params={"from": FROM, "to": TO},
        )
    )
    assert rows["report"]["version"] == 2 and rows["groupBy"] == ["city"]
    assert (
        call(
            monkeypatch,
            replace_report_route,
            who("admin", tenant),
            "PUT",
            rid="overview",
            body=changed,
        ).status_code
        == 409
    )
    assert (
        call(
            monkeypatch,
            replace_report_route,
            who("admin", tenant),
            "PUT",
            rid="custom-000000000000",
            body=changed,
        ).status_code
        == 404
    )

    # Another tenant sees none of it.
    other = str(uuid.uuid4())
    assert (
        call(
            monkeypatch,
            run_report_route,
            who("admin", other),
            rid=rid,
            params={"from": FROM, "to": TO},
        ).status_code
        == 404
    )
    assert rid not in [
        r["id"]
        for r in as_json(call(monkeypatch, list_reports_route, who("admin", other)))["reports"]
    ]

    # Delete: admin only; then it is gone; built-ins cannot be deleted.
    for level in ("engineer", "specialist", "reader"):
        assert (
            call(
                monkeypatch, delete_report_route, who(level, tenant), "DELETE", rid=rid
            ).status_code
            == 403
        )
    assert (
        call(
            monkeypatch, delete_report_route, who("admin", tenant), "DELETE", rid="overview"
        ).status_code
        == 409
    )
    assert (
        call(monkeypatch, delete_report_route, who("admin", tenant), "DELETE", rid=rid).status_code
        == 204
    )
    assert (
        call(monkeypatch, delete_report_route, who("admin", tenant), "DELETE", rid=rid).status_code
        == 404
    )
    assert (
        call(
            monkeypatch,
            run_report_route,
            who("reader", tenant),
            rid=rid,
            params={"from": FROM, "to": TO},
        ).status_code
        == 404
    )


# ------------------------------------------------------------------------ topology


def test_topology_validation_and_levels(
    data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = data["tenant"]
    bad = topology_body()
    bad["pools"][1]["site"] = "Paris"
    bad["pools"][0]["role"] = ["frontEnd", "mediation", "director"]
    resp = call(monkeypatch, put_topology, who("admin", tenant), "PUT", body=bad)
    assert resp.status_code == 400
    problem = as_json(resp)
    assert {e["field"] for e in problem["errors"]} == {"pools[0].role[2]", "pools[1].site"}
    for level in ("engineer", "specialist", "reader"):
        assert (
            call(
                monkeypatch, put_topology, who(level, tenant), "PUT", body=topology_body()
            ).status_code
            == 403
        )
    assert (
        call(
            monkeypatch,
            put_topology,
            who("admin", tenant),
            "PUT",
            body=b"[",
        ).status_code
        == 400
    )
    assert (
        call(
            monkeypatch,
            put_topology,
            who("ingest", tenant),
            "PUT",
            body=topology_body(),
            headers={"Content-Type": "text/plain"},
        ).status_code
        == 415
    )
    ok = call(monkeypatch, put_topology, who("ingest", tenant), "PUT", body=topology_body())
    assert ok.status_code == 200
    summary = as_json(ok)
    assert summary["active"] and (summary["sites"], summary["pools"], summary["gateways"]) == (
        2,
        2,
        1,
    )
    got = as_json(call(monkeypatch, get_topology, who("admin", tenant)))
    assert got["topology"]["pools"][0] == {
        "fqdn": gen.POOL,
        "role": ["frontEnd", "mediation"],
        "site": "Redmond",
    }
    assert got["version"] >= 1 and got["uploadedBy"] == "ingest@contoso.com"
    assert call(monkeypatch, get_topology, who("ingest", tenant)).status_code == 403


def test_a_pstn_call_shows_the_mediation_servers_site_and_pool(topology: dict[str, Any]) -> None:
    tenant = topology["tenant"]
    places._context.clear()  # the fixture just (re)uploaded the topology: no 30 s wait
    pstn = next(
        c
        for c in topology["calls"]
        if any(
            ep.user_agent == gen.MEDIATION_UA and (ep.ip_address or "").startswith("10.")
            for s in c.view.sessions
            for ep in (s.caller, s.callee)
        )
    )
    session = next(
        s
        for s in pstn.view.sessions
        if gen.MEDIATION_UA in (s.caller.user_agent, s.callee.user_agent)
    )
    server_role = "caller" if session.caller.user_agent == gen.MEDIATION_UA else "callee"
    user_role = "callee" if server_role == "caller" else "caller"
    user = getattr(session, user_role)

    async def go(level: str) -> dict[str, Any]:
        searched = user.uri if level == "specialist" else None
        return await call_detail(get_clients(), who(level, tenant), pstn.id, searched)

    for level in ("admin", "engineer"):
        detail = run(go(level))
        shown = next(s for s in detail["sessions"] if s["id"] == session.id)
        server_place = shown[server_role]["place"]
        assert (server_place["site"], server_place["pool"]) == ("Redmond", gen.POOL)
        assert server_place["serverRole"] == "mediation"
        server_ep = getattr(session, server_role)
        row = _building(server_ep.ip_address or "", topology["buildings"])
        assert server_place["building"] == (row.building_name if row else None)
        user_place = shown[user_role]["place"]
        assert "site" not in user_place and "pool" not in user_place
        row = _building(user.ip_address or "", topology["buildings"])
        assert user_place["building"] == (row.building_name if row else None)
        assert user_place["networkName"] == (row.network_name if row else None)
        assert user_place["insideCorp"] is bool(row and row.inside_corp)
    specialist = run(go("specialist"))
    assert "place" not in json.dumps(specialist)
