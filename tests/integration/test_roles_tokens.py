"""Every directory role and every app role, through real RS256 tokens from the dev
issuer, against the local host: which route families each grants (docs/reference/roles.md).
The expected levels are written here from that page, not imported from levels.py, so a
wrong row in the code fails (e.g. Global Reader mapped to admin)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from devhost.stack import DEMO_TENANT
from shared.auth.levels import APP_ROLE_LEVELS, WIDS_LEVELS

pytestmark = pytest.mark.stack

# docs/reference/roles.md, "Where a level comes from"
DIRECTORY_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "admin",  # Global Administrator
    "69091246-20e8-4a56-aa4d-066075b2a7a8": "admin",  # Teams Administrator
    "baf37b3a-610e-45da-9e62-d9d1e5e8914b": "admin",  # Teams Communications Administrator
    "75941009-915a-4869-abe7-691bff18279e": "admin",  # Skype for Business Administrator
    "f70938a0-fc10-4177-9e90-2178f8765737": "engineer",  # Teams Comms Support Engineer
    "fcf91098-03e3-41a9-b5ba-6f0ec8188a12": "specialist",  # Teams Comms Support Specialist
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "reader",  # Global Reader
    "4a5d8f65-41da-4de4-8968-e035b65339cf": "reader",  # Reports Reader
}
APP_ROLES = {
    "CallAnalytics.Admin": "admin",
    "CallAnalytics.Engineer": "engineer",
    "CallAnalytics.Specialist": "specialist",
    "QualityReports.Read": "reader",
    "CallData.Ingest": "ingest",
}

# One probe per route family, and the levels the access table lets through.
PERIOD = "from=2031-01-01&to=2031-01-02"
PROBES: dict[str, tuple[str, frozenset[str]]] = {
    "admin": ("/api/v1/admin/buildings", frozenset({"admin"})),
    "euii reports": (f"/api/v1/quality/poor-users?{PERIOD}", frozenset({"admin", "engineer"})),
    "call analytics": (
        "/api/v1/users?search=zz-nobody",
        frozenset({"admin", "engineer", "specialist"}),
    ),
    "reports": (
        f"/api/v1/quality/summary?{PERIOD}",
        frozenset({"admin", "engineer", "specialist", "reader"}),
    ),
    "ingest": (f"/api/v1/batches/{uuid.uuid4()}", frozenset({"admin", "ingest"})),
}


def _status(url: str, token: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def granted(base: str, token: str) -> dict[str, int]:
    out = {}
    for family, (path, _) in PROBES.items():
        status = _status(base.rstrip("/") + path, token)
        assert status != 401 and status < 500, (family, status)
        out[family] = status
    return out


def assert_level(statuses: dict[str, int], level: str | None) -> None:
    for family, (_, allowed) in PROBES.items():
        if level in allowed:
            assert statuses[family] != 403, (family, level, statuses)
        else:
            assert statuses[family] == 403, (family, level, statuses)


def test_the_code_tables_equal_the_documented_tables() -> None:
    assert WIDS_LEVELS == DIRECTORY_ROLES
    assert APP_ROLE_LEVELS == APP_ROLES


@pytest.mark.parametrize("wid", sorted(DIRECTORY_ROLES), ids=lambda w: DIRECTORY_ROLES[w])
def test_each_directory_role_through_wids(
    local_host: str, mint: Callable[..., str], wid: str
) -> None:
    token = mint(DEMO_TENANT, user="someone@contoso.com", wids=[wid])
    assert_level(granted(local_host, token), DIRECTORY_ROLES[wid])


@pytest.mark.parametrize("role", sorted(APP_ROLES))
def test_each_app_role_without_wids(local_host: str, mint: Callable[..., str], role: str) -> None:
    user = None if role == "CallData.Ingest" else "someone@contoso.com"
    token = mint(DEMO_TENANT, user=user, roles=[role])
    assert_level(granted(local_host, token), APP_ROLES[role])


@pytest.mark.parametrize(
    ("role", "wid", "level"),
    [
        ("QualityReports.Read", "f70938a0-fc10-4177-9e90-2178f8765737", "engineer"),
        ("CallAnalytics.Admin", "4a5d8f65-41da-4de4-8968-e035b65339cf", "admin"),
        ("CallAnalytics.Specialist", "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "specialist"),
    ],
)
def test_app_role_and_wids_give_the_widest(
    local_host: str, mint: Callable[..., str], role: str, wid: str, level: str
) -> None:
    token = mint(DEMO_TENANT, user="someone@contoso.com", roles=[role], wids=[wid])
    assert_level(granted(local_host, token), level)


def test_no_mapped_role_is_refused_everywhere(local_host: str, mint: Callable[..., str]) -> None:
    unknown_wid = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"  # Directory Readers: no level
    token = mint(DEMO_TENANT, user="someone@contoso.com", wids=[unknown_wid], roles=["Other"])
    assert_level(granted(local_host, token), None)


def test_wids_are_matched_case_insensitively(local_host: str, mint: Callable[..., str]) -> None:
    token = mint(DEMO_TENANT, user="x@contoso.com", wids=["F2EF992C-3AFB-46B9-B7CF-A126EE74C451"])
    assert_level(granted(local_host, token), "reader")


def _js_table(source: str, name: str) -> dict[str, str]:
    block = re.search(rf"const {name} = \{{(.*?)\}};", source, re.S)
    assert block, name
    return dict(re.findall(r'"([^"]+)":\s*"([a-z]+)"', block.group(1)))


def test_portal_role_tables_equal_levels_py() -> None:
    """The portal decides what to offer from its own copy of the tables; it must be
    levels.py's (the ingest role is not a portal user)."""
    source = (Path(__file__).parents[2] / "portal" / "js" / "auth.js").read_text()
    assert _js_table(source, "DIRECTORY_ROLES") == WIDS_LEVELS
    assert _js_table(source, "APP_ROLES") == {
        r: lvl for r, lvl in APP_ROLE_LEVELS.items() if lvl != "ingest"
    }


def test_app_only_token_ignores_directory_roles(local_host: str, mint: Callable[..., str]) -> None:
    """roles.md: an app-only token takes its level from app roles only."""
    token = mint(DEMO_TENANT, roles=["CallData.Ingest"], wids=[next(iter(DIRECTORY_ROLES))])
    assert_level(granted(local_host, token), "ingest")
