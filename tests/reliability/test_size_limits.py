"""Inputs that used to answer 500 through the local host: each is now a 4xx naming
the field (an oversized exclusion policy, unknown keys, a 3 MB `source` extra,
forged continuation tokens)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from devhost.stack import DEMO_TENANT
from tests.factories import cdr_record, envelope
from tests.reliability.attacks import GZ, JSON, call, gz

pytestmark = pytest.mark.stack


def test_exclusion_policy_limits(local_host, mint):
    token = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    users = [f"user{i:06d}.someone@contoso.com" for i in range(100_000)]  # the model's maximum
    huge = json.dumps({"users": users}).encode()
    status, _, body = call(local_host, "PUT", "/api/v1/ingest/exclusions", token, huge, JSON)
    assert status == 413 and body["field"] == "users", body
    extra = json.dumps({"users": [], "note": "x"}).encode()
    status, _, body = call(local_host, "PUT", "/api/v1/ingest/exclusions", token, extra, JSON)
    assert status == 400 and "note" in json.dumps(body), body
    status, _, body = call(local_host, "PUT", "/api/v1/ingest/exclusions", token, b"{}", JSON)
    assert status == 200, body


def test_a_3_mb_source_extra_is_400(local_host, mint):
    token = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    env = envelope([cdr_record(call_id=f"{uuid.uuid4()}@fe")], tenant=DEMO_TENANT)
    env["source"]["notes"] = "x" * 3_000_000
    status, _, body = call(local_host, "POST", "/api/v1/batches", token, gz(env), GZ)
    assert status == 400 and body["field"].startswith("source"), body


@pytest.mark.parametrize(
    "state", [{"pk": 5}, {"pk": f"{DEMO_TENANT}|1999-01", "at": "a", "id": "b"}]
)
def test_forged_audit_tokens_are_400(local_host, mint, state):
    token = mint(DEMO_TENANT, user="admin@contoso.com", level="admin")
    raw = base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")
    status, _, body = call(local_host, "GET", f"/api/v1/audit?continuationToken={raw}", token)
    assert status == 400 and body["field"] == "continuationToken", body
