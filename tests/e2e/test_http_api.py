"""End to end over HTTP through the local Functions host and the real emulators:
ingest with every documented status code, processing by the blob trigger, the Call
Analytics role matrix, and the specialist leak check over the whole demo data set."""

from __future__ import annotations

import gzip
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from devhost.stack import DEMO_TENANT
from tests.factories import EMPTY_TENANT, OTHER_TENANT, cdr_record, envelope

pytestmark = pytest.mark.stack
JSON = {"Content-Type": "application/json"}
GZ = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw, status, rh = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw, status, rh = err.read(), err.code, dict(err.headers)
    ctype = rh.get("Content-Type", "")
    return status, rh, (json.loads(raw) if "json" in ctype and raw else raw)


@pytest.fixture(scope="module")
def ingest_token(mint) -> str:
    return mint(DEMO_TENANT, roles=["CallData.Ingest"])


def test_gzip_batch_over_http_is_stored_and_readable(local_host, mint, ingest_token):
    user = f"e2e{uuid.uuid4().hex[:6]}@contoso.com"
    env = envelope(
        [cdr_record(n=i, caller=f"sip:{user}", call_id=f"{uuid.uuid4()}@fe") for i in range(5)],
        tenant=DEMO_TENANT,
    )
    started = time.perf_counter()
    status, headers, body = call(
        local_host,
        "POST",
        "/api/v1/batches",
        ingest_token,
        gzip.compress(json.dumps(env).encode()),
        GZ,
    )
    assert status == 202, body
    assert body["records"] == 5 and body["statusUrl"].endswith(env["batchId"])
    assert headers["Location"] == body["statusUrl"]
    local_host.wait_idle(60)
    status, _, batch = call(local_host, "GET", f"/api/v1/batches/{env['batchId']}", ingest_token)
    assert status == 200 and batch["status"] == "completed"
    assert (batch["received"], batch["stored"], batch["calls"]) == (5, 5, 5)
    eng = mint(DEMO_TENANT, roles=["CallAnalytics.Engineer"], user="eng@contoso.com")
    period = "from=2026-11-01&to=2026-12-01"
    status, _, history = call(local_host, "GET", f"/api/v1/users/{user}/calls?{period}", eng)
    assert status == 200 and len(history["calls"]) == 5
    status, _, detail = call(
        local_host, "GET", f"/api/v1/calls/{history['calls'][0]['callId']}", eng
    )
    assert status == 200 and f"sip:{user}" in {p["uri"] for p in detail["participants"]}
    assert time.perf_counter() - started < 10, "answerable within 10 s of acceptance"
    # an identical retry answers 200 with the status; other content under the id, 409
    status, _, body = call(
        local_host, "POST", "/api/v1/batches", ingest_token, json.dumps(env).encode(), JSON
    )
    assert status == 200 and body["status"] == "completed"
    env["records"][0]["data"]["responseCode"] = 486
    status, _, body = call(
        local_host, "POST", "/api/v1/batches", ingest_token, json.dumps(env).encode(), JSON
    )
    assert status == 409 and body["field"] == "batchId"


def _bomb() -> bytes:
    return gzip.compress(b" " * 60_000_000)


@pytest.mark.parametrize(
    "name,body,headers,token_kind,status,field",
    [
        ("malformed JSON", b"{", JSON, "ingest", 400, "body"),
        (
            "bad envelope",
            json.dumps({"schemaVersion": "1.0"}).encode(),
            JSON,
            "ingest",
            400,
            "batchId",
        ),
        ("no token", b"{}", JSON, None, 401, None),
        ("wrong role", b"{}", JSON, "reader", 403, None),
        ("other tenant", None, JSON, "other", 403, "tenantId"),
        ("gzip bomb", None, GZ, "ingest", 413, "body"),
        ("text/plain", b"{}", {"Content-Type": "text/plain"}, "ingest", 415, "Content-Type"),
        (
            "deflate",
            b"{}",
            {"Content-Type": "application/json", "Content-Encoding": "deflate"},
            "ingest",
            415,
            "Content-Encoding",
        ),
    ],
)
def test_bad_input_gets_its_status_and_a_problem_body(
    local_host, mint, name, body, headers, token_kind, status, field
):
    tokens = {
        "ingest": mint(DEMO_TENANT, roles=["CallData.Ingest"]),
        "reader": mint(DEMO_TENANT, roles=["QualityReports.Read"]),
        "other": mint(OTHER_TENANT, roles=["CallData.Ingest"]),
        None: None,
    }
    if name == "other tenant":
        body = json.dumps(envelope([cdr_record()], tenant=DEMO_TENANT)).encode()
    if name == "gzip bomb":
        body = _bomb()
    got, rh, problem = call(
        local_host, "POST", "/api/v1/batches", tokens[token_kind], body, headers
    )
    assert got == status, (name, problem)
    assert rh["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"]
    if field:
        assert problem.get("field", "").startswith(field), problem


def test_token_attacks_over_http(local_host, mint, dev_authority):
    from cryptography.hazmat.primitives.asymmetric import rsa

    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": mint(DEMO_TENANT, roles=["CallData.Ingest"], expires_in=-600),
        "not yet valid": mint(
            DEMO_TENANT, roles=["CallData.Ingest"], not_before=int(time.time()) + 600
        ),
        "wrong audience": mint(DEMO_TENANT, roles=["CallData.Ingest"], audience="api://x"),
        "wrong key": mint(DEMO_TENANT, roles=["CallData.Ingest"], key=rogue),
        "unknown kid": mint(DEMO_TENANT, roles=["CallData.Ingest"], kid="nope"),
        "unconfigured tenant": mint(str(uuid.uuid4()), roles=["CallData.Ingest"]),
        "missing tid": mint(DEMO_TENANT, roles=["CallData.Ingest"], extra_claims={"tid": None}),
    }
    for name, token in bad.items():
        status, _, body = call(local_host, "GET", "/api/v1/batches/x", token)
        assert status == 401, (name, body)


# Call Analytics role matrix: route x level x {own tenant, other tenant}.
LEVELS = {
    "admin": ["CallAnalytics.Admin"],
    "engineer": ["CallAnalytics.Engineer"],
    "specialist": ["CallAnalytics.Specialist"],
    "reader": ["QualityReports.Read"],
    "ingest": ["CallData.Ingest"],
    "none": [],
}
ALLOWED = {
    "search": {"admin", "engineer", "specialist"},
    "history": {"admin", "engineer", "specialist"},
    "detail": {"admin", "engineer", "specialist"},
    "audit": {"admin"},
    "batch": {"admin", "ingest"},
    "summary": {"admin", "engineer", "specialist", "reader"},
    "poorUsers": {"admin", "engineer"},
    "buildings": {"admin"},
    "adminHealth": {"admin"},
}


def test_role_matrix(local_host, mint, demo_data):
    eng = mint(DEMO_TENANT, roles=["CallAnalytics.Engineer"])
    _, _, found = call(local_host, "GET", "/api/v1/users?search=alice", eng)
    user = found["users"][0]["user"]
    _, _, history = call(local_host, "GET", f"/api/v1/users/{user}/calls", eng)
    cid = history["calls"][0]["callId"]
    today = datetime.now(timezone.utc).date()
    period = f"from={today - timedelta(days=8)}&to={today}"
    paths = {
        "search": "/api/v1/users?search=alice",
        "history": f"/api/v1/users/{user}/calls",
        "detail": f"/api/v1/calls/{cid}?user={user}",
        "audit": "/api/v1/audit",
        "batch": f"/api/v1/batches/{demo_data[0]}",
        "summary": f"/api/v1/quality/summary?groupBy=building&{period}",
        "poorUsers": f"/api/v1/quality/poor-users?{period}",
        "buildings": "/api/v1/admin/buildings",
        "adminHealth": "/api/v1/admin/health",
    }
    # What would identify this tenant's data in another tenant's answer.
    markers = {user, cid, DEMO_TENANT, *demo_data, *(u["user"] for u in found["users"])}
    failures: list[tuple[Any, ...]] = []
    for route, path in paths.items():
        for level, roles in LEVELS.items():
            own = call(
                local_host, "GET", path, mint(DEMO_TENANT, roles=roles, user=f"{level}@contoso.com")
            )[0]
            expected = 200 if level in ALLOWED[route] else 403
            if own != expected:
                failures.append((route, level, "own", own, expected))
            other, _, other_body = call(
                local_host,
                "GET",
                path,
                mint(EMPTY_TENANT, roles=roles, user=f"{level}@fabrikam.com"),
            )
            if other == 200 and route == "audit":
                # its own audit log: what its own principals asked for (this test's reads)
                actors = {e.get("actorName") for e in other_body.get("entries", [])}
                if not all(str(a).endswith("@fabrikam.com") for a in actors):
                    failures.append(
                        (route, level, "other tenant's audit", sorted(map(str, actors)))
                    )
            elif other == 200:
                # the history route echoes the user asked for; nothing else may appear
                leaked = _of_tenant(other_body, markers - ({user} if route == "history" else set()))
                if leaked:
                    failures.append((route, level, "other tenant's body", leaked))
            # another tenant never sees this tenant's data: no role (403), or its own
            # (empty) data, or 404 for an id that is not in its tenant
            if level in ALLOWED[route] and route in ("detail", "batch"):
                ok = other == 404
            elif level in ALLOWED[route]:
                ok = other == 200
            else:
                ok = other == 403
            if not ok:
                failures.append((route, level, "other", other))
    assert failures == [], json.dumps(failures)


def _of_tenant(body: Any, markers: set[str]) -> list[str]:
    """Markers of the demo tenant found in a body, and non-empty data lists (the other
    tenant has no data at all, so every list it is shown must be empty)."""
    text = json.dumps(body)
    found = sorted(m for m in markers if m and m in text)
    if isinstance(body, dict):
        for key in ("users", "calls", "rows", "entries", "items"):
            if body.get(key):
                found.append(f"{key}: {len(body[key])} item(s)")
    return found


IP_RE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
MAC_RE = re.compile(r"\b(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\b")
PHONE_RE = re.compile(r"\+\d{7,}(?!\*)\b")


def test_specialist_responses_leak_nothing_over_the_demo_data(local_host, mint, demo_data):
    """Every user's history and every call they took part in, read as a specialist."""
    eng = mint(DEMO_TENANT, roles=["CallAnalytics.Engineer"])
    users: set[str] = set()
    for name in ("al", "bo", "ca", "da", "er", "fr", "gr", "he", "iv", "ju"):
        _, _, found = call(local_host, "GET", f"/api/v1/users?search={name}", eng)
        users |= {u["user"] for u in found["users"]}
    assert users
    checked = 0
    for user in sorted(users):
        spec = mint(DEMO_TENANT, roles=["CallAnalytics.Specialist"], user="tier1@contoso.com")
        status, _, history = call(local_host, "GET", f"/api/v1/users/{user}/calls", spec)
        assert status == 200
        text = json.dumps(history)
        assert "participants" not in history["calls"][0] if history["calls"] else True
        for c in history["calls"]:
            status, _, detail = call(
                local_host, "GET", f"/api/v1/calls/{c['callId']}?user={user}", spec
            )
            assert status == 200
            text += json.dumps(detail)
            checked += 1
        others = re.findall(r"sip:([a-z0-9.]+@[a-z0-9.]+)", text)
        assert set(others) <= {user}, f"other participants visible: {set(others) - {user}}"
        for pattern, what in (
            (IP_RE, "IP address"),
            (MAC_RE, "MAC/BSSID"),
            (PHONE_RE, "unmasked phone number"),
        ):
            assert not pattern.search(text), (what, pattern.search(text))
        for field in (
            "dnsSuffix",
            "ssid",
            "bssid",
            "userAgent",
            "captureDevice",
            "renderDevice",
            "machineName",
            "macAddress",
            "ipAddress",
            "subnet",
            "sourceIds",
            "sipCallId",
            "streamId",
        ):
            assert f'"{field}"' not in text, field
    assert checked > 50
