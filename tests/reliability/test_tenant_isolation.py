"""Issue 9, auth: a valid token of tenant A replayed on tenant B's batch ids, call ids
and users gets 403/404 or its own (empty) data, never B's; an altered token (tid
swapped without re-signing, or tid and issuer disagreeing) is 401; one principal with
roles in two tenants (a guest: same oid and name in both) sees through each token
only that tenant's data. (alg none, HS256 with the public key, unknown kid, expired,
future nbf, missing tid, wrong audience: tests/unit/test_tokens.py and
tests/e2e/test_http_api.py::test_token_attacks_over_http.)"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from devhost.stack import DEMO_TENANT
from tests.factories import OTHER_TENANT, cdr_record, envelope
from tests.reliability.attacks import GZ, call, gz

pytestmark = pytest.mark.stack
A, B = DEMO_TENANT, OTHER_TENANT
RUN = uuid.uuid4().hex[:6]
GUEST = f"guest{RUN}@partner.example"
GUEST_OID = str(uuid.uuid4())
PERIOD = "from=2026-11-01&to=2026-12-01"


def _user(tenant: str) -> str:
    return f"{'a' if tenant == A else 'b'}only{RUN}@{'contoso' if tenant == A else 'fabrikam'}.com"


@pytest.fixture(scope="module")
def two_tenants(local_host, mint) -> dict[str, dict[str, Any]]:
    """Per tenant: a batch with calls of a user only it has and of the guest."""
    out: dict[str, dict[str, Any]] = {}
    for tenant in (A, B):
        token = mint(tenant, roles=["CallData.Ingest"])
        records = [
            cdr_record(n=i, caller=f"sip:{_user(tenant)}", call_id=f"{tenant[:4]}-{RUN}-{i}@fe")
            for i in range(3)
        ]
        records += [
            cdr_record(
                n=10 + i,
                caller=f"sip:{GUEST}",
                callee=f"sip:{_user(tenant)}",
                call_id=f"{tenant[:4]}-{RUN}-g{i}@fe",
            )
            for i in range(2)
        ]
        env = envelope(records, tenant=tenant)
        status, _, body = call(local_host, "POST", "/api/v1/batches", token, gz(env), GZ)
        assert status == 202, body
        out[tenant] = {"batchId": env["batchId"], "ingest": token}
    local_host.wait_idle(120)
    for tenant in (A, B):
        eng = mint(tenant, roles=["CallAnalytics.Engineer"], user=f"eng@{tenant[:4]}.com")
        status, _, history = call(
            local_host, "GET", f"/api/v1/users/{_user(tenant)}/calls?{PERIOD}", eng
        )
        assert status == 200 and len(history["calls"]) == 5, history
        out[tenant]["callIds"] = [c["callId"] for c in history["calls"]]
    return out


def _no_trace_of(tenant: str, data: dict[str, Any], body: Any, *, echo: bool = False) -> None:
    """Nothing of `tenant`'s data in `body` (`echo`: the user asked for may be repeated)."""
    text = json.dumps(body)
    if echo:
        text = text.replace(f'"user": "{_user(tenant)}"', "")
    assert _user(tenant) not in text
    assert data["batchId"] not in text
    for cid in data["callIds"]:
        assert cid not in text


def test_tenant_a_token_replayed_on_tenant_b_ids_gets_no_data(
    local_host, mint, two_tenants, figures
):
    b = two_tenants[B]
    results: dict[str, int] = {}
    # ingest: B's batch status with A's ingest token; a batch for B posted with it
    token = mint(A, roles=["CallData.Ingest"])
    status, _, body = call(local_host, "GET", f"/api/v1/batches/{b['batchId']}", token)
    assert status == 404, body
    results["GET B's batch with A's ingest token"] = status
    env = envelope([cdr_record(call_id=f"x-{RUN}@fe")], tenant=B)
    status, _, body = call(local_host, "POST", "/api/v1/batches", token, gz(env), GZ)
    assert status == 403 and body["field"] == "tenantId", body
    results["POST a batch for B with A's ingest token"] = status
    # Call Analytics, every level that can read calls
    for level in ("CallAnalytics.Admin", "CallAnalytics.Engineer", "CallAnalytics.Specialist"):
        token = mint(A, roles=[level], user=f"{level}@contoso.com")
        for cid in b["callIds"]:
            status, _, body = call(local_host, "GET", f"/api/v1/calls/{cid}?user={_user(B)}", token)
            assert status == 404, (level, body)
            _no_trace_of(B, b, body)
        results[f"GET B's calls as A {level}"] = status
        status, _, body = call(local_host, "GET", f"/api/v1/users/{_user(B)}/calls?{PERIOD}", token)
        assert status == 200 and body["calls"] == [], (level, body)
        _no_trace_of(B, b, body, echo=True)
        results[f"B's user history as A {level} (empty)"] = status
        status, _, body = call(local_host, "GET", f"/api/v1/users?search={_user(B)[:8]}", token)
        assert status == 200 and body["users"] == [], (level, body)
        results[f"search B's user as A {level} (none)"] = status
    # A's admin: audit, admin health and quality of A only
    admin = mint(A, roles=["CallAnalytics.Admin"])
    for path in ("/api/v1/audit", "/api/v1/admin/health", f"/api/v1/quality/poor-users?{PERIOD}"):
        status, _, body = call(local_host, "GET", path, admin)
        assert status == 200, (path, body)
        if path == "/api/v1/audit":  # A's own record of what A's users asked for (B's
            # user and call ids included: they typed them), nothing read from B
            assert b["batchId"] not in json.dumps(body)
        else:
            _no_trace_of(B, b, body)
    figures(**results)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    body = _segments(token)[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_altered_tokens_are_401(local_host, mint, two_tenants, figures):
    b = two_tenants[B]
    token = mint(A, roles=["CallAnalytics.Admin"])
    head, _, sig = _segments(token)
    swapped = _claims(token) | {"tid": B}  # tid swapped, signature of the original
    issuer_mismatch = mint(
        B, roles=["CallAnalytics.Admin"], extra_claims={"iss": _claims(token)["iss"]}
    )  # signed, iss of A
    cases = {
        "tid swapped, not re-signed": f"{head}.{_b64(swapped)}.{sig}",
        "tid B with A's issuer": issuer_mismatch,
        "signature stripped": f"{head}.{_segments(token)[1]}.",
    }
    for name, bad in cases.items():
        status, _, body = call(local_host, "GET", f"/api/v1/calls/{b['callIds'][0]}", bad)
        assert status == 401, (name, body)
        _no_trace_of(B, b, body)
    figures(**{name: 401 for name in cases})


def test_a_principal_with_roles_in_two_tenants_sees_each_tenants_own_data(
    local_host, mint, two_tenants, figures
):
    """The same guest (one oid, one name) is an engineer in A and in B: each token
    reads its own tenant's data only, even for the guest's own calls."""
    seen: dict[str, Any] = {}
    for tenant, other in ((A, B), (B, A)):
        token = mint(
            tenant,
            roles=["CallAnalytics.Engineer"],
            user=GUEST,
            extra_claims={"oid": GUEST_OID, "sub": GUEST_OID},
        )
        status, _, history = call(local_host, "GET", f"/api/v1/users/{GUEST}/calls?{PERIOD}", token)
        assert status == 200
        own = {c["callId"] for c in history["calls"]}
        assert len(own) == 2 and own <= set(two_tenants[tenant]["callIds"]), history
        assert not own & set(two_tenants[other]["callIds"])
        for cid in two_tenants[tenant]["callIds"]:
            assert call(local_host, "GET", f"/api/v1/calls/{cid}", token)[0] == 200
        for cid in two_tenants[other]["callIds"]:
            status, _, body = call(local_host, "GET", f"/api/v1/calls/{cid}", token)
            assert status == 404, body
        status, _, found = call(
            local_host, "GET", f"/api/v1/users?search={_user(other)[:8]}", token
        )
        assert status == 200 and found["users"] == []
        status, _, found = call(
            local_host, "GET", f"/api/v1/users?search={_user(tenant)[:8]}", token
        )
        assert [u["user"] for u in found["users"]] == [_user(tenant)]
        seen[tenant] = sorted(own)
    assert not set(seen[A]) & set(seen[B])
    figures(guestCallsSeenInA=len(seen[A]), guestCallsSeenInB=len(seen[B]))
