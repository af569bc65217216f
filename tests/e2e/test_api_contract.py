"""The one API contract, over HTTP through the local host and the real emulators:
camelCase in every body for every level, the sources' own ids kept and searchable
(`GET /api/v1/calls?sourceId=`), the Debug-side visibility of those ids, JSON or CSV
with one paging vocabulary, and the 401 challenge Power BI's Web connector needs."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devhost.stack import AUDIENCE, DEMO_TENANT
from shared.identity import call_id as product_call_id
from tests.e2e.test_http_api import LEVELS, call
from tests.factories import OTHER_TENANT, cdr_record, envelope

pytestmark = pytest.mark.stack
JSON = {"Content-Type": "application/json"}
GRAPH_SAMPLE = Path(__file__).parents[1] / "golden" / "graph" / "ms_get_callrecord_expanded.json"
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
# Maps whose keys are data, not field names: QoE device-event names (as [MS-QoE] spells
# them), SIP response codes, record format names.
DATA_KEYED = {
    "deviceRatios",
    "deviceFlags",
    "failuresBySipCode",
    "effectiveProfiles",
    "profiles",
    "byReason",
}


def graph_record(n: int, start: datetime, version: int = 1) -> dict[str, Any]:
    """The Microsoft Learn sample callRecord with fresh ids (record, sessions, segments,
    streams) and times."""
    rec = copy.deepcopy(json.loads(GRAPH_SAMPLE.read_text(encoding="utf-8")))
    rec["id"] = str(uuid.uuid4())
    rec["version"] = version
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    rec["startDateTime"], rec["endDateTime"] = iso(start), iso(start + timedelta(minutes=5))
    counter = 0
    for s in rec["sessions"]:
        s["id"] = str(uuid.uuid4())
        for seg in s.get("segments", []):
            seg["id"] = str(uuid.uuid4())
            for media in seg.get("media", []):
                for st in media.get("streams", []):
                    counter += 1
                    st["streamId"] = str(10_000_000 + n * 100 + counter)
    return rec


def _post(host: str, token: str, records: list[dict[str, Any]], tenant: str = DEMO_TENANT) -> None:
    env = envelope(records, tenant=tenant)
    status, _, body = call(host, "POST", "/api/v1/batches", token, json.dumps(env).encode(), JSON)
    assert status == 202, body


@pytest.fixture(scope="module")
def sources(local_host, mint) -> dict[str, Any]:
    """20 Graph call records, a peer-to-peer SfB call and a 3-leg SfB meeting."""
    ingest = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    graphs = [graph_record(i, start + timedelta(minutes=i)) for i in range(20)]
    records = [{"kind": "callRecord", "format": "graph-v1", "data": g} for g in graphs]
    tag = uuid.uuid4().hex[:8]
    p2p_call_id = f"{tag}-p2p@fe01.contoso.local"
    conf = f"sip:org{tag}@contoso.com;gruu;opaque=app:conf:focus:id:M{tag.upper()}"
    legs = [f"{tag}-leg{i}@fe01.contoso.local" for i in range(3)]
    records.append(
        cdr_record(n=1, caller=f"sip:p{tag}@contoso.com", call_id=p2p_call_id, start=start)
    )
    records += [
        cdr_record(
            n=10 + i, caller=f"sip:u{i}{tag}@contoso.com", conference=conf, call_id=leg, start=start
        )
        for i, leg in enumerate(legs)
    ]
    # one user with more calls than a history page holds
    records += [
        cdr_record(
            n=100 + i,
            caller=f"sip:pg{tag}@contoso.com",
            call_id=f"{tag}-pg{i}@fe01.contoso.local",
            start=start + timedelta(minutes=i),
        )
        for i in range(55)
    ]
    _post(local_host, ingest, records)
    # a newer version of the first Graph record replaces the older one
    newer = copy.deepcopy(graphs[0])
    newer["version"] = 2
    _post(local_host, ingest, [{"kind": "callRecord", "format": "graph-v1", "data": newer}])
    local_host.wait_idle(90)
    return {
        "graphs": graphs,
        "p2p": p2p_call_id,
        "conf": conf,
        "confId": f"M{tag.upper()}",
        "legs": legs,
        "tag": tag,
        "p2pCall": product_call_id(DEMO_TENANT, "sip:" + p2p_call_id),
    }


def _token(mint, level: str, tenant: str = DEMO_TENANT) -> str:
    return mint(tenant, roles=LEVELS[level], user=f"{level}@contoso.com")


def _lookup(host: str, token: str, source_id: str) -> tuple[int, Any]:
    status, _, body = call(
        host, "GET", f"/api/v1/calls?sourceId={quote(source_id, safe='')}", token
    )
    return status, body


def test_every_graph_record_is_found_by_its_callrecord_id(local_host, mint, sources):
    eng = _token(mint, "engineer")
    found = 0
    started = time.perf_counter()
    for g in sources["graphs"]:
        status, body = _lookup(local_host, eng, g["id"])
        assert status == 200, body
        ids = [c["callId"] for c in body["calls"]]
        assert ids == [product_call_id(DEMO_TENANT, "graph:" + g["id"])], (g["id"], body)
        found += 1
        # and by a session id, in another spelling
        status, body = _lookup(local_host, eng, g["sessions"][0]["id"].upper())
        assert [c["callId"] for c in body["calls"]] == ids
    assert found == 20
    per_pair = (time.perf_counter() - started) / 20
    print(f"sourceId lookup: {found}/20 Graph records found, {per_pair * 500:.0f} ms per lookup")


def test_sfb_calls_are_found_by_sip_call_id_and_conference_uri_or_id(local_host, mint, sources):
    admin = _token(mint, "admin")
    status, body = _lookup(local_host, admin, f"<{sources['p2p'].upper()}>")
    assert status == 200 and [c["callId"] for c in body["calls"]] == [sources["p2pCall"]], body
    meeting = None
    for sid in (sources["conf"], sources["confId"], *sources["legs"]):
        status, body = _lookup(local_host, admin, sid)
        assert status == 200 and len(body["calls"]) == 1, (sid, body)
        meeting = meeting or body["calls"][0]["callId"]
        assert body["calls"][0]["callId"] == meeting
        assert body["calls"][0]["callType"] == "conference"
    # our own call id answers too; an unknown id answers an empty list, not 404
    status, body = _lookup(local_host, admin, sources["p2pCall"])
    assert [c["callId"] for c in body["calls"]] == [sources["p2pCall"]]
    for unknown in (
        "no-such-id@nowhere",
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d",
        "a/b#c?d",
    ):
        status, body = _lookup(local_host, admin, unknown)
        assert status == 200 and body["calls"] == [], (unknown, body)


def test_lookup_levels_tenant_isolation_bad_input_and_audit(local_host, mint, sources):
    gid = sources["graphs"][1]["id"]
    for level in ("specialist", "reader", "ingest", "none"):
        assert _lookup(local_host, _token(mint, level), gid)[0] == 403, level
    status, body = _lookup(local_host, _token(mint, "engineer", OTHER_TENANT), gid)
    assert status == 200 and body["calls"] == []
    status, _, problem = call(local_host, "GET", "/api/v1/calls", _token(mint, "engineer"))
    assert status == 400 and problem["field"] == "sourceId"
    status, body = _lookup(local_host, _token(mint, "engineer"), "x" * 600)
    assert status == 400 and body["field"] == "sourceId"
    status, _, audit = call(local_host, "GET", "/api/v1/audit", _token(mint, "admin"))
    assert status == 200
    assert any(
        e["action"] == "callLookup" and e["level"] == "engineer" for e in audit["entries"]
    ), audit["entries"][:5]


def test_call_detail_shows_source_ids_on_the_debug_side_only(local_host, mint, sources):
    g = sources["graphs"][0]
    cid = product_call_id(DEMO_TENANT, "graph:" + g["id"])
    status, _, detail = call(local_host, "GET", f"/api/v1/calls/{cid}", _token(mint, "engineer"))
    assert status == 200, detail
    (ids,) = detail["sourceIds"]  # version 2 replaced version 1: one fragment
    assert (ids["callRecordId"], ids["version"], ids["sourceFormat"]) == (g["id"], 2, "graph-v1")
    assert ids["sessionIds"] == sorted(s["id"] for s in g["sessions"])
    streams = {
        st["streamId"]
        for s in g["sessions"]
        for seg in s["segments"]
        for m in seg["media"]
        for st in m["streams"]
    }
    assert set(ids["streamIds"]) <= streams and ids["streamIds"]
    assert ids["segmentIds"]
    # a meeting: the engineer sees every leg's SIP dialog; a specialist none at all
    _, body = _lookup(local_host, _token(mint, "engineer"), sources["conf"])
    meeting = body["calls"][0]["callId"]
    _, _, full = call(local_host, "GET", f"/api/v1/calls/{meeting}", _token(mint, "engineer"))
    assert sorted(i["sipCallId"] for i in full["sourceIds"]) == sorted(sources["legs"])
    assert all(i["conferenceUri"] == sources["conf"].lower() for i in full["sourceIds"])
    user = f"u1{sources['tag']}@contoso.com"
    status, _, spec = call(
        local_host,
        "GET",
        f"/api/v1/calls/{meeting}?user={user}",
        _token(mint, "specialist"),
    )
    assert status == 200, spec
    text = json.dumps(spec)
    assert "sourceIds" not in spec and "sipCallId" not in text
    for other in (sources["legs"][0], sources["legs"][2], sources["confId"].lower()):
        assert other not in text.lower(), other
    assert len(spec["sessions"]) == 1  # the searched user's own leg


def _non_camel(node: Any, path: str = "") -> list[str]:
    bad: list[str] = []
    if isinstance(node, list):
        for v in node:
            bad += _non_camel(v, path + "[]")
    elif isinstance(node, dict):
        for k, v in node.items():
            if not CAMEL.match(k):
                bad.append(f"{path}.{k}")
            if k not in DATA_KEYED:
                bad += _non_camel(v, f"{path}.{k}")
    return bad


def _get_paths(local_host, mint, sources, demo_data) -> dict[str, str]:
    """One real request per GET route of the OpenAPI document (path parameters filled
    with ids that exist)."""
    from functions.contract import openapi_document

    eng = _token(mint, "engineer")
    _, _, found = call(local_host, "GET", "/api/v1/users?search=alice", eng)
    user = found["users"][0]["user"]
    _, _, history = call(local_host, "GET", f"/api/v1/users/{user}/calls", eng)
    cid = history["calls"][0]["callId"]
    today = datetime.now(timezone.utc).date()
    period = f"from={today - timedelta(days=8)}&to={today}"
    fill = {
        "/api/v1/users": "/api/v1/users?search=alice",
        "/api/v1/users/{user}/calls": f"/api/v1/users/{user}/calls",
        "/api/v1/calls": f"/api/v1/calls?sourceId={sources['graphs'][2]['id']}",
        "/api/v1/calls/{callId}": f"/api/v1/calls/{cid}?user={user}",
        "/api/v1/batches/{batchId}": f"/api/v1/batches/{demo_data[0]}",
        "/api/v1/quality/summary": f"/api/v1/quality/summary?groupBy=building&{period}",
        "/api/v1/quality/poor-users": f"/api/v1/quality/poor-users?{period}",
        "/api/v1/quality/missing-subnets": f"/api/v1/quality/missing-subnets?{period}",
        "/api/v1/quality/pstn-trunks": f"/api/v1/quality/pstn-trunks?{period}",
        "/api/v1/reports/{id}/run": "/api/v1/reports/{id}/run",
    }
    _, _, reports = call(local_host, "GET", "/api/v1/reports", eng)
    fill["/api/v1/reports/{id}/run"] = f"/api/v1/reports/{reports['reports'][0]['id']}/run"
    paths = {}
    for path, ops in openapi_document()["paths"].items():
        if "get" in ops and path.startswith("/api/v1/"):  # /api/portal/ serves files
            paths[path] = fill.get(path, path)
    # routes whose path ids this test does not make (admin purges, quarantine items) are
    # walked by their own tests; every other GET route is requested here
    return {route: p for route, p in paths.items() if "{" not in p}


def test_every_response_body_of_every_route_has_only_camel_case_keys(
    local_host, mint, sources, demo_data
):
    paths = _get_paths(local_host, mint, sources, demo_data)
    bad: list[tuple[str, str, list[str]]] = []
    seen_ok: set[str] = set()
    for level in ("admin", "engineer", "specialist", "reader", "ingest", "none"):
        token = _token(mint, level)
        for route, path in paths.items():
            status, _, body = call(local_host, "GET", path, token)
            assert status < 500, (route, level, status, body)
            if status == 200 and route != "/api/v1/openapi.json":
                seen_ok.add(route)
            if isinstance(body, dict | list) and route != "/api/v1/openapi.json":
                keys = _non_camel(body)
                if keys:
                    bad.append((route, level, keys[:5]))
        # the routes with a body: a real one (ingest) and a refused one (problem+json)
        status, _, body = call(
            local_host,
            "POST",
            "/api/v1/batches",
            token,
            json.dumps(envelope([cdr_record()], tenant=DEMO_TENANT)).encode(),
            JSON,
        )
        bad += [("/api/v1/batches", level, k) for k in [_non_camel(body)] if k]
        for method, route in (
            ("put", "/api/v1/ingest/exclusions"),
            ("post", "/api/v1/reports"),
            ("put", "/api/v1/admin/topology"),
        ):
            status, _, body = call(local_host, method.upper(), route, token, b"{}", JSON)
            assert status < 500, (route, level, status)
            bad += [(route, level, k) for k in [_non_camel(body)] if k]
    assert bad == []
    assert seen_ok >= {p for p in paths if p not in ("/api/v1/openapi.json",)}, set(paths) - seen_ok


def test_openapi_names_every_field_in_camel_case():
    from functions.contract import openapi_document

    doc = openapi_document()
    bad = []
    for name, schema in doc["components"]["schemas"].items():
        for prop in schema.get("properties", {}):
            if not CAMEL.match(prop):
                bad.append(f"{name}.{prop}")
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for p in op.get("parameters", []):
                if p["in"] == "query" and not CAMEL.match(p["name"]):
                    bad.append(f"{path}?{p['name']}")
    assert bad == []


def test_lists_and_reports_answer_csv_with_the_same_paging_names(local_host, mint, sources):
    admin = _token(mint, "admin")
    today = datetime.now(timezone.utc).date()
    period = f"from={today - timedelta(days=8)}&to={today}"
    paging = []
    for path in (
        "/api/v1/users?search=al",
        f"/api/v1/calls?sourceId={sources['graphs'][3]['id']}",
        "/api/v1/audit",
        "/api/v1/reports",
        "/api/v1/admin/alerts",
        "/api/v1/admin/quarantine",
        f"/api/v1/quality/missing-subnets?{period}",
        f"/api/v1/quality/summary?groupBy=building&{period}",
    ):
        for how in ({"Accept": "text/csv"}, None):
            url = path + (("&" if "?" in path else "?") + "format=csv" if how is None else "")
            status, rh, text = call(local_host, "GET", url, admin, headers=how)
            assert status == 200, (url, text)
            assert rh["Content-Type"].startswith("text/csv"), (url, rh)
            header = next(csv.reader(io.StringIO(text.decode())))
            assert header and all(h and " " not in h for h in header), (url, header)
        status, _, body = call(local_host, "GET", path, admin)
        assert status == 200
        paging.append(sorted(k for k in body if "continuation" in k.lower() or k == "nextLink"))
    status, _, problem = call(local_host, "GET", "/api/v1/audit?format=xml", admin)
    assert status == 400 and problem["field"] == "format"
    # the lists that page call it continuationToken, as do their query parameters
    assert {tuple(p) for p in paging if p} == {("continuationToken",)}
    from functions.contract import openapi_document

    names = {
        p["name"]
        for ops in openapi_document()["paths"].values()
        for op in ops.values()
        for p in op.get("parameters", [])
        # paging words (Graph's webhook `validationToken` is not paging)
        if any(w in p["name"].lower() for w in ("continuation", "page", "next", "skip", "cursor"))
    }
    assert names == {"continuationToken"}


def test_history_pages_by_continuation_token_in_json_and_csv(local_host, mint, sources):
    eng = _token(mint, "engineer")
    user = f"pg{sources['tag']}@contoso.com"
    _, _, first = call(local_host, "GET", f"/api/v1/users/{user}/calls", eng)
    token = first["continuationToken"]
    assert token and len(first["calls"]) == 50
    status, rh, text = call(local_host, "GET", f"/api/v1/users/{user}/calls?format=csv", eng)
    assert status == 200 and rh["X-Continuation-Token"] == token
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    assert [r["callId"] for r in rows] == [c["callId"] for c in first["calls"]]
    _, _, second = call(
        local_host, "GET", f"/api/v1/users/{user}/calls?continuationToken={token}", eng
    )
    assert len(second["calls"]) == 5 and second["continuationToken"] is None
    assert not {c["callId"] for c in second["calls"]} & {c["callId"] for c in first["calls"]}


def test_401_carries_the_sign_in_challenge(local_host, dev_authority, mint):
    for path in ("/api/v1/quality/summary", "/api/v1/calls?sourceId=x", "/api/v1/audit"):
        status, rh, problem = call(local_host, "GET", path)
        assert status == 401 and problem["status"] == 401
        challenge = rh["WWW-Authenticate"]
        # the local host serves two tenants: any work account signs in, its tenant is
        # then checked against the configured ones
        assert challenge == (
            f'Bearer authorization_uri="{dev_authority.url}/organizations/oauth2/authorize", '
            f'resource_id="{AUDIENCE}"'
        ), challenge
    expired = mint(DEMO_TENANT, roles=["QualityReports.Read"], expires_in=-600)
    status, rh, _ = call(local_host, "GET", "/api/v1/quality/summary", expired)
    assert status == 401 and rh["WWW-Authenticate"].endswith(', error="invalid_token"')
    assert "authorization_uri=" in rh["WWW-Authenticate"]


def test_200_graph_records_posted_are_each_found_by_their_callrecord_id(local_host, mint):
    """The check the issue is closed by: post Graph call records (50 a batch, as the
    Graph fetcher hands them over), then `GET /calls?sourceId=<callRecord id>` finds
    every one, and only it."""
    ingest = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=5)
    graphs = [graph_record(500 + i, start + timedelta(seconds=20 * i)) for i in range(200)]
    for i in range(0, 200, 50):
        _post(
            local_host,
            ingest,
            [{"kind": "callRecord", "format": "graph-v1", "data": g} for g in graphs[i : i + 50]],
        )
    local_host.wait_idle(300)
    eng = _token(mint, "engineer")
    missing = []
    for g in graphs:
        status, body = _lookup(local_host, eng, g["id"])
        assert status == 200, body
        if [c["callId"] for c in body["calls"]] != [
            product_call_id(DEMO_TENANT, "graph:" + g["id"])
        ]:
            missing.append(g["id"])
    print(f"held-out check: {200 - len(missing)}/200 Graph records found by callRecord id")
    assert missing == []


# The response headers the API itself sets (the others are HTTP's own: Content-Type,
# Content-Length, Date, caching).
API_HEADERS = {"x-continuation-token", "location", "www-authenticate", "retry-after"}


def _declared(op: dict[str, Any], status: int) -> tuple[set[str], set[str]]:
    """(declared, required) header names of one answer, lower-cased."""
    headers = op["responses"].get(str(status), {}).get("headers", {})
    return {h.lower() for h in headers}, {h.lower() for h, d in headers.items() if d["required"]}


def test_the_headers_sent_are_the_headers_the_document_declares(
    local_host, mint, sources, demo_data
):
    """Every response header the API sets is declared for that route and status, every
    declared required header is sent, and the continuation header equals the body's
    token. Walks every GET route at three levels and without a token, the paged routes
    on a page that has a next one (JSON and CSV), and the routes that answer Location."""
    from functions.contract import openapi_document

    doc = openapi_document()
    seen: list[tuple[str, str, int, dict[str, str], Any]] = []

    def send(method: str, route: str, path: str, token: str | None, **kw: Any) -> Any:
        status, rh, body = call(local_host, method, path, token, **kw)
        seen.append((method.lower(), route, status, {k.lower(): v for k, v in rh.items()}, body))
        return status, rh, body

    paths = _get_paths(local_host, mint, sources, demo_data)
    for level in ("admin", "engineer", "reader"):
        token = _token(mint, level)
        for route, path in paths.items():
            send("GET", route, path, token)
    for route, path in paths.items():
        send("GET", route, path, None)
        send("GET", route, path, "not-a-token")
    # pages that have a next one
    user = f"pg{sources['tag']}@contoso.com"
    eng, admin = _token(mint, "engineer"), _token(mint, "admin")
    history = "/api/v1/users/{user}/calls"
    _, _, first = send("GET", history, f"/api/v1/users/{user}/calls", eng)
    send("GET", history, f"/api/v1/users/{user}/calls?format=csv", eng)
    send(
        "GET",
        history,
        f"/api/v1/users/{user}/calls?continuationToken={first['continuationToken']}",
        eng,
    )
    backfill = "/api/v1/admin/source-index/backfill"
    took = time.perf_counter()
    _, _, run = send("POST", backfill, backfill, admin)
    took = time.perf_counter() - took
    print(f"source-index backfill: one run {took:.1f} s ({run})")
    assert run["continuationToken"], run  # the demo tenant has more calls than one run takes
    send("POST", backfill, f"{backfill}?continuationToken={quote(run['continuationToken'])}", admin)
    send("POST", backfill, f"{backfill}?continuationToken=nope", admin)
    # Location: a custom report created (and removed again)
    definition = {"name": f"headers {uuid.uuid4().hex[:6]}", "groupBy": ["day"]}
    status, _, created = send(
        "POST",
        "/api/v1/reports",
        "/api/v1/reports",
        admin,
        body=json.dumps(definition).encode(),
        headers=JSON,
    )
    assert status == 201, created
    call(local_host, "DELETE", f"/api/v1/reports/{created['id']}", admin)

    problems, continued = [], set()
    for method, route, status, headers, body in seen:
        op = doc["paths"][route][method]
        declared, required = _declared(op, status)
        sent = set(headers) & API_HEADERS
        if not sent <= declared or not required <= sent:
            problems.append((method, route, status, sorted(sent), sorted(declared)))
        if isinstance(body, dict) and "continuationToken" in body:
            assert headers.get("x-continuation-token") == (body["continuationToken"] or None), route
        if "x-continuation-token" in headers:
            continued.add(route)
    assert problems == []
    assert continued >= {history, backfill}
    # every route with levels answered a 401 with the challenge it declares
    unauthorised = {r for m, r, s, h, _ in seen if s == 401 and "www-authenticate" in h}
    assert unauthorised >= {r for r in paths if doc["paths"][r]["get"].get("security")}
