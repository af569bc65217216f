"""Tenant settings over HTTP through the local host and the emulators: only an admin
reads or changes them, an invalid value is a 400 naming the field, each change leaves
an audit record, the same body twice changes nothing, and a profile change applies to
calls processed after it while stored calls keep their classification."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.test_http_api import JSON, call
from tests.factories import OTHER_TENANT

pytestmark = pytest.mark.stack
PATH = "/api/v1/admin/settings"


@pytest.fixture()
def tenant(local_host: str, mint: Any) -> Iterator[str]:
    """A configured tenant other than the demo's, its settings back to the defaults
    afterwards so no other test classifies under ours."""
    yield OTHER_TENANT
    put(local_host, mint(OTHER_TENANT, level="admin"), {})


def put(base: str, token: str, body: Any) -> tuple[int, Any]:
    status, _, answer = call(base, "PUT", PATH, token, json.dumps(body).encode(), JSON)
    return status, answer


@pytest.mark.parametrize("level", ["engineer", "specialist", "reader", "ingest"])
def test_only_admin_reads_or_changes_settings(local_host, mint, tenant, level):
    token = mint(tenant, level=level, user=f"{level}@contoso.com")
    assert call(local_host.base_url, "GET", PATH, token)[0] == 403
    status, body = put(local_host.base_url, token, {"retention": {"callsDays": 7}})
    assert status == 403, body
    admin = mint(tenant, level="admin", user="admin@contoso.com")
    _, _, stored = call(local_host.base_url, "GET", PATH, admin)
    assert stored["retention"]["callsDays"] is None  # the refused PUT changed nothing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention": {"callsDays": 31}}, "retention.callsDays"),
        ({"retention": {"auditDays": 0}}, "retention.auditDays"),
        ({"retention": {"aggregatesDays": "13 months"}}, "retention.aggregatesDays"),
        ({"retention": {"forever": True}}, "retention.forever"),
        ({"yellowTiers": {"jitter_ms": "high"}}, "yellowTiers.jitter_ms"),
        ({"yellowTiers": {"jitter_ms": 45}}, "yellowTiers.jitter_ms"),  # past red (30)
        ({"yellowTiers": {"no_such_metric": 1}}, "yellowTiers.no_such_metric"),
        ({"classifierProfiles": {"graph-v1": "teams2030"}}, "classifierProfiles.graph-v1"),
        ({"classifierProfiles": {"csv": "sfb2019"}}, "classifierProfiles.csv"),
        ({"colour": "blue"}, "colour"),
        ([], "$"),
    ],
)
def test_invalid_value_is_a_400_naming_the_field(local_host, mint, tenant, body, field):
    status, answer = put(local_host.base_url, mint(tenant, level="admin"), body)
    assert status == 400, answer
    assert answer["field"] == field, answer
    assert answer["status"] == 400 and answer["detail"]


def test_changes_are_stored_audited_once_and_profile_change_says_new_data_only(
    local_host, mint, tenant
):
    admin = mint(tenant, level="admin", user="admin@contoso.com")
    base = local_host.base_url
    put(base, admin, {})
    started = datetime.now(timezone.utc).isoformat()
    _, _, before = call(base, "GET", PATH, admin)
    assert before["effectiveProfiles"] == {
        "graph-v1": "teams2021",
        "ms-qoe-xml": "sfb2019",
        "sfb-cdr-json": "sfb2019",
    }
    assert before["retentionMaxDays"] == {"calls": 30, "aggregates": 396, "audit": 365}
    body = {
        "classifierProfiles": {"sfb-cdr-json": "teams2021"},
        "yellowTiers": {"jitter_ms": 20},
        "retention": {"callsDays": 14},
    }
    status, saved = put(base, admin, body)
    assert status == 200, saved
    assert saved["changed"] == [
        "classifierProfiles.sfb-cdr-json",
        "yellowTiers.jitter_ms",
        "retention.callsDays",
    ]
    assert any("from now on" in n for n in saved["notices"])
    assert saved["effectiveProfiles"]["sfb-cdr-json"] == "teams2021"
    assert saved["updatedBy"] == "admin@contoso.com"
    _, _, after = call(base, "GET", PATH, admin)
    assert after["yellowTiers"] == {"jitter_ms": 20.0}
    assert after["retention"]["callsDays"] == 14

    again_status, again = put(base, admin, body)  # idempotent: nothing changes
    assert again_status == 200 and again["changed"] == [] and again["notices"] == []
    status, tier_only = put(base, admin, body | {"yellowTiers": {"jitter_ms": 25}})
    assert tier_only["changed"] == ["yellowTiers.jitter_ms"] and tier_only["notices"] == []

    _, _, audit = call(base, "GET", f"/api/v1/audit?from={quote(started)}", admin)
    changes = [e for e in audit["entries"] if e["action"] == "settings.change"]
    assert sorted(e["field"] for e in changes) == [
        "classifierProfiles.sfb-cdr-json",
        "retention.callsDays",
        "yellowTiers.jitter_ms",
        "yellowTiers.jitter_ms",
    ]
    assert {e["actorName"] for e in changes} == {"admin@contoso.com"}


def test_purge_route_levels_input_and_status(local_host, mint, tenant):
    """Over HTTP: only an admin purges; a user that is no UPN or SIP URI is a 400 naming
    `user`; the answer carries the status URL, which reads back the same purge."""
    base = local_host.base_url
    who = f"nobody{datetime.now(timezone.utc):%H%M%S%f}@contoso.com"
    engineer = mint(tenant, level="engineer", user="eng@contoso.com")
    status, _, body = call(base, "DELETE", f"/api/v1/admin/users/{quote(who)}", engineer)
    assert status == 403, body
    admin = mint(tenant, level="admin", user="admin@contoso.com")
    status, _, body = call(base, "DELETE", "/api/v1/admin/users/%2B15551234", admin)
    assert status == 400 and body["field"] == "user", body
    path = f"/api/v1/admin/users/{quote(who)}?addToExclusions=maybe"
    status, _, body = call(base, "DELETE", path, admin)
    assert status == 400 and body["field"] == "addToExclusions", body
    status, headers, body = call(base, "DELETE", f"/api/v1/admin/users/{quote(who)}", admin)
    assert status == 200, body
    assert body["callsDeleted"] == 0 and body["status"] == "completed"
    assert who not in json.dumps(body) and headers["Location"] == body["statusUrl"]
    status, _, again = call(base, "GET", body["statusUrl"], admin)
    assert status == 200 and again["userHash"] == body["userHash"], again
    assert call(base, "GET", body["statusUrl"], engineer)[0] == 403
    assert call(base, "GET", "/api/v1/admin/purges/" + "0" * 64, admin)[0] == 404


def test_purge_that_runs_long_answers_202_with_a_status_url_and_is_idempotent(
    local_host, mint, tenant
):
    """`Prefer: respond-async` asks for the answer a long purge gets: 202 at once, the
    status URL in `Location` and the body; the same request again joins the run (202,
    the same URL) or, once it is done, finds nothing left (200, zero counts)."""
    import time

    base = local_host.base_url
    admin = mint(tenant, level="admin", user="admin@contoso.com")
    who = f"slow{datetime.now(timezone.utc):%H%M%S%f}@contoso.com"
    path = f"/api/v1/admin/users/{quote(who)}"
    asynchronous = {"Prefer": "respond-async"}
    status, headers, first = call(base, "DELETE", path, admin, headers=asynchronous)
    assert status == 202, first
    assert first["status"] == "running" and first["completedAt"] is None, first
    assert headers["Location"] == first["statusUrl"] and who not in json.dumps(first)
    status, _, again = call(base, "DELETE", path, admin, headers=asynchronous)
    assert status in (200, 202) and again["statusUrl"] == first["statusUrl"], again
    for _ in range(100):
        status, _, polled = call(base, "GET", first["statusUrl"], admin)
        assert status == 200, polled
        if polled["status"] == "completed":
            break
        time.sleep(0.1)
    assert polled["status"] == "completed" and polled["completedAt"], polled
    status, _, last = call(base, "DELETE", path, admin, headers={"Prefer": "wait=10"})
    assert status == 200 and last["status"] == "completed", last
    assert last["callsDeleted"] == 0 and last["historyEntriesDeleted"] == 0, last


def test_quarantine_routes_levels_and_input(local_host, mint, tenant):
    base = local_host.base_url
    engineer = mint(tenant, level="engineer", user="eng@contoso.com")
    admin = mint(tenant, level="admin", user="admin@contoso.com")
    assert call(base, "GET", "/api/v1/admin/quarantine", engineer)[0] == 403
    status, _, listed = call(base, "GET", "/api/v1/admin/quarantine?reason=x", admin)
    assert status == 200 and set(listed) == {"items", "byReason", "count", "continuationToken"}, (
        listed
    )
    status, _, body = call(base, "GET", "/api/v1/admin/quarantine/b1/first", admin)
    assert status == 400 and body["field"] == "index", body
    status, _, body = call(base, "GET", "/api/v1/admin/quarantine/b1/7", admin)
    assert status == 404, body
    status, _, body = call(base, "POST", "/api/v1/admin/quarantine/no-such-batch/replay", admin)
    assert status == 404 and body["field"] == "batchId", body
    assert call(base, "DELETE", "/api/v1/admin/quarantine/b1/7", engineer)[0] == 403
