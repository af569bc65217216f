"""End-to-end: the admin portal in headless Chromium against the local stack (demo data).

Journeys, each in a fresh browser profile, driven by `tests/e2e/portal/driver.mjs`
through playwright-core (npm) and the Debian `chromium` package:
- an engineer finds a poor call and sees a red metric (with its threshold tooltip) on the
  Advanced tab;
- a specialist opening the same call gets no Advanced tab, no Debug details, and no other
  participant's name;
- an admin downloads the dashboard CSV, uploads a bad building file (errors by row), then
  a good one, and sees the dashboard regroup by the new buildings (then drills down to
  subnets and affected users);
- an admin changes settings (by keyboard alone), views a quarantined record, replays a
  batch whole by keyboard (the page following the continuation over several runs),
  purges a user after a confirmation naming them;
- an admin runs every out-of-the-box report, narrows one and downloads its CSV by
  keyboard alone, creates a custom report (refused first at the field), runs, edits and
  deletes it; a reader and an engineer run reports and are offered no change;
- an admin lists and acknowledges alerts (by keyboard), uploads a refused and then a
  good topology (by keyboard alone: Tab, Space opens the file chooser, Tab, Enter),
  views the exclusion policy and the building file history.
Every screenshot is also checked by axe-core: no serious or critical violation.
Screenshots of every page go to test-output/portal/.

What it needs and installs itself: /usr/bin/chromium (apt-get, as root) and node/npm (apt
too), playwright-core + msal-browser from portal/package-lock.json into
.local/portal-node/ (npm ci). No browser download ever (`npx playwright install` fails
here).

What it expects from the local stack (tests/stack_plugin.py):
- fixture `local_host`: the base URL of the running host (http://127.0.0.1:7071), which
  serves /api/... and the portal at /api/portal/ (the function app's own route, as in
  Azure; the dev host's /portal/ serves the same files), with the demo data loaded;
- fixture `mint`: a callable minting a dev token; called by keyword, whatever its
  parameter names for level, user and tenant (see `_mint_token`). Without it,
  `devhost.devauth.mint_token` is used;
- `POST /dev/token` on the host; when it is missing (404), the driver answers the page's
  request with tokens minted here, so the sign-in journey is the same.
Note: the admin journey replaces the demo tenant's building file (E2E-HQ, E2E-Branch).
"""

from __future__ import annotations

import hashlib
import inspect
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib import error, parse, request

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
NODE_DIR = ROOT / ".local" / "portal-node"
DRIVER = Path(__file__).parent / "portal" / "driver.mjs"
OUT = ROOT / "test-output" / "portal"
CHROMIUM = "/usr/bin/chromium"
TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
DEMO_NAMES = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
]
SIGN_IN = {
    "engineer": "e2e.engineer@contoso.com",
    "specialist": "e2e.specialist@contoso.com",
    "admin": "e2e.admin@contoso.com",
    "reader": "e2e.reader@contoso.com",
}
UNKNOWN_SUBNETS = {"", "unknown", "none", "null"}
QUARANTINED = 5  # records of the batch the admin replays whole from the quarantine page
REPLAY_RUN = 2  # records per replay run during the test, so that takes three runs


# ---------------------------------------------------------------- tools: install if missing


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(
            f"{' '.join(packages)} missing and not root: apt-get install -y {' '.join(packages)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=900)


@pytest.fixture(scope="session")
def portal_tools() -> dict[str, str]:
    """Chromium, node and playwright-core (npm ci into .local/portal-node), once."""
    if not Path(CHROMIUM).exists():
        _apt_install("chromium")
    if not shutil.which("node") or not shutil.which("npm"):
        _apt_install("nodejs", "npm")
    lock = (PORTAL / "package-lock.json").read_bytes() + (PORTAL / "package.json").read_bytes()
    stamp = hashlib.sha256(lock).hexdigest()
    stamp_file = NODE_DIR / ".installed"
    core = NODE_DIR / "node_modules" / "playwright-core" / "package.json"
    if not core.exists() or not stamp_file.exists() or stamp_file.read_text() != stamp:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(PORTAL / "package.json", NODE_DIR / "package.json")
        shutil.copy(PORTAL / "package-lock.json", NODE_DIR / "package-lock.json")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
        stamp_file.write_text(stamp)
    return {"node": shutil.which("node") or "node", "nodeModules": str(NODE_DIR / "node_modules")}


# ---------------------------------------------------------------------------------- tokens


def _mint_token(mint: Any, level: str, user: str) -> str:
    """Calls the `mint` fixture (or devhost.devauth.mint_token) by keyword, matching its
    parameter names: *level*/role -> level, *user*/upn/name -> user, *tenant* -> tenant."""
    if mint is None:
        from devhost.devauth import mint_token as mint
    values: dict[str, Any] = {}
    params = inspect.signature(mint).parameters
    for name in params:
        low = name.lower()
        if "level" in low or low in ("role", "roles"):
            values[name] = level
        elif "tenant" in low or low == "tid":
            values[name] = TENANT
        elif "user" in low or low in ("upn", "name", "subject", "sub"):
            values[name] = user
    if any("level" in n.lower() or n.lower() in ("role", "roles") for n in values):
        result = mint(**values)
    else:  # no recognisable parameter names: (level, user) positionally
        result = mint(level, user)
    if isinstance(result, dict):
        result = result.get("token") or result.get("access_token")
    return result.decode() if isinstance(result, bytes) else str(result)


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token

    def get(self, path: str, **query: str) -> Any:
        url = f"{self.base}/api{path}"
        if query:
            url += "?" + parse.urlencode({k: v for k, v in query.items() if v is not None})
        req = request.Request(
            url, headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        )
        with request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def put(self, path: str, body: Any) -> Any:
        req = request.Request(
            f"{self.base}/api{path}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


def _dev_token_offered(base: str) -> bool:
    body = json.dumps(
        {"tenantId": TENANT, "user": SIGN_IN["engineer"], "level": "engineer"}
    ).encode()
    req = request.Request(
        f"{base.rstrip('/')}/dev/token",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with request.urlopen(req, timeout=15) as resp:
            return "token" in json.loads(resp.read())
    except (error.HTTPError, error.URLError, ValueError):
        return False


# ------------------------------------------------------------------- what to look for


def _red_flags(call: dict[str, Any]) -> list[str]:
    return [
        metric
        for s in call.get("sessions", [])
        for st in s.get("streams", [])
        for metric, flag in ((st.get("quality") or {}).get("flags") or {}).items()
        if flag == "red" and (st.get("metrics") or {}).get(metric) is not None
    ]


def _other_names(call: dict[str, Any], user: str) -> list[str]:
    names: list[str] = []
    for p in call.get("participants", []):
        uri = (p.get("uri") or "").lower()
        if uri.removeprefix("sip:") == user.lower() or p.get("kind") in ("server", "phone"):
            continue
        for value in (p.get("displayName"), uri.removeprefix("sip:")):
            if value and value not in ("Internal User", "External User", "Conference"):
                names.append(value)
    return names


def _find_poor_call(api: Api, frm: str, to: str) -> tuple[str, dict[str, Any], list[str]]:
    """A demo user, one of their poor calls with a red metric and another named participant."""
    seen: set[str] = set()
    for name in DEMO_NAMES:
        for u in api.get("/v1/users", search=name)["users"]:
            user = u["user"]
            if user in seen:
                continue
            seen.add(user)
            calls = api.get(f"/v1/users/{parse.quote(user)}/calls", **{"from": frm, "to": to})
            for c in calls["calls"]:
                if c.get("rating") != "poor" or c.get("callType") != "peerToPeer":
                    continue
                detail = api.get(f"/v1/calls/{parse.quote(c['callId'])}", user=user)
                others = _other_names(detail, user)
                if _red_flags(detail) and others:
                    return user, detail, others
    pytest.fail(
        f"no demo user among {sorted(seen) or DEMO_NAMES} has a poor peer-to-peer call "
        f"with a red metric between {frm} and {to}: is the demo data loaded?"
    )


def _building_files(admin: Api, today: date, tmp: Path) -> tuple[Path, Path, list[str], str | None]:
    """The admin journey's building files (good and bad), the buildings the good one
    names, and the day it is uploaded valid from (None: the upload's default).

    The demo tenant has a building timeline already, so an upload labels the days from
    today on and earlier days keep their files. Each building must then own subnets with
    streams on those days, or the dashboard has no row for it: the subnets are taken from
    today's streams, busiest first; just after midnight UTC, when today may have none,
    from yesterday's and today's, with the file valid from yesterday."""
    valid_from: str | None = None
    nets = _subnets_with_streams(admin, today, today + timedelta(days=1))
    if len(nets) < 2:
        valid_from = (today - timedelta(days=1)).isoformat()
        nets = _subnets_with_streams(admin, today - timedelta(days=1), today + timedelta(days=1))
    assert nets, "no IPv4 subnets with streams since yesterday in the demo data's quality summary"
    names = ["E2E-HQ", "E2E-Branch"] if len(nets) > 1 else ["E2E-HQ"]
    lines = []
    for i, net in enumerate(nets):
        b = names[0] if i % 2 == 0 else names[1]
        lines.append(
            f"{net},Contoso/{b}/{i},24,{b},Contoso,Office,Engineering,Seattle,98001,US,WA,NA,1,0,0"
        )
    good = tmp / "buildings.csv"
    good.write_text("\n".join(lines) + "\n")
    bad = tmp / "buildings-bad.csv"
    bad.write_text(lines[0] + "\n10.99.0.0,Broken,40,Nowhere,,,,,,,,,x,0,0\n")
    return good, bad, names, valid_from


def _subnets_with_streams(admin: Api, first: date, end: date) -> list[str]:
    """The IPv4 /24 networks with streams from `first` to the start of `end` (a bare `to`
    date is that day's midnight), busiest first."""
    rows = admin.get(
        "/v1/quality/summary",
        groupBy="subnet",
        **{"from": first.isoformat(), "to": end.isoformat()},
    )["rows"]
    nets: list[str] = []
    for r in sorted(rows, key=lambda r: -(r.get("streams") or 0)):
        try:
            net = ipaddress.ip_network(f"{r.get('subnet')}/24", strict=False)
        except ValueError:
            continue  # unknown subnet, IPv6: not in a CQD building file
        if net.version == 4 and str(net.network_address) not in nets:
            nets.append(str(net.network_address))
    return nets


# ------------------------------------------------------------------------------ the test


def _quarantine_batch(base: str, token: str, records: int) -> str:
    """A batch of records the processor must quarantine, so the quarantine page has rows
    and a batch to replay whole. Returns its id."""
    import time
    import uuid

    from devhost.demo import TERMINAL, batch_status, post_batch
    from tests.factories import envelope

    batch = envelope(
        [
            {"kind": "cdr", "format": "sfb-cdr-json", "data": {"note": f"not a cdr {i}"}}
            for i in range(records)
        ],
        tenant=TENANT,
        batch_id=str(uuid.uuid4()),
    )
    status, body = post_batch(base, token, batch)
    assert status == 202, body
    for _ in range(200):
        if batch_status(base, token, batch["batchId"]).get("status") in TERMINAL:
            break
        time.sleep(0.1)
    return str(batch["batchId"])


def _raise_alerts(days: int) -> int:
    """Evaluates the demo tenant's last days with a low threshold, through the alert
    service itself, so the alerts page has open alerts to list and acknowledge."""
    import asyncio

    from shared.alerts.quality import Thresholds, evaluate_tenant
    from shared.settings import get_settings
    from shared.storage.clients import get_clients

    today = datetime.now(timezone.utc).date()

    async def evaluate() -> int:
        result = await evaluate_tenant(
            get_clients(get_settings()),
            TENANT,
            [today - timedelta(days=n) for n in range(days)],
            Thresholds(poor_percent=0.5, min_streams=1),
        )
        return len(result.raised) + len(result.refreshed) + result.unchanged

    return asyncio.run(evaluate())


def _topology_files(tmp: Path) -> tuple[Path, Path, int]:
    from devhost.demo import DEMO_TOPOLOGY

    good = tmp / "topology.json"
    good.write_text(json.dumps(DEMO_TOPOLOGY))
    bad = tmp / "topology-bad.json"
    bad.write_text(json.dumps({"sites": [{"name": "Seattle"}], "pools": [{"site": "Nowhere"}]}))
    return good, bad, len(DEMO_TOPOLOGY["pools"])


def test_portal_journeys(
    request: pytest.FixtureRequest,
    local_host: str,
    demo_data: object,
    portal_tools: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        mint = request.getfixturevalue("mint")
    except pytest.FixtureLookupError:
        mint = None
    base = local_host.rstrip("/")
    tokens = {lvl: _mint_token(mint, lvl, SIGN_IN[lvl]) for lvl in SIGN_IN}
    engineer, admin = Api(base, tokens["engineer"]), Api(base, tokens["admin"])

    now = datetime.now(timezone.utc).date()
    frm, to = (now - timedelta(days=60)).isoformat(), now.isoformat()
    user, call, others = _find_poor_call(engineer, frm, to)
    good, bad, buildings, buildings_valid_from = _building_files(admin, now, tmp_path)

    ingest_token = _mint_token(mint, "ingest", "agent")
    quarantined = _quarantine_batch(base, ingest_token, QUARANTINED)
    # The local host runs in this process: fewer records per replay run, so the page's
    # replay of the batch takes several runs (the API's bound is 100 records a run).
    import shared.admin.quarantine as quarantine_service

    monkeypatch.setattr(quarantine_service, "RECORDS_PER_RUN", REPLAY_RUN)
    # The demo's own building file and topology, as `make run` loads them: alerts are
    # per building, and the admin journey then replaces the file with its own.
    from devhost.demo import load_reference_data

    load_reference_data(base, tokens["admin"])
    assert _raise_alerts(14) > 0, "no building passed even a 0.5% alert threshold"
    excluded = "e2e.excluded@contoso.com"
    policy = admin.get("/v1/admin/exclusions")
    Api(base, ingest_token).put(
        "/v1/ingest/exclusions",
        {"users": sorted({*policy["users"], excluded}), "domains": policy["domains"]},
    )
    built_in = [r["id"] for r in admin.get("/v1/reports")["reports"] if r["builtIn"]]
    topology, bad_topology, pools = _topology_files(tmp_path)
    search = user.split("@")[0][:4]
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    config = {
        "baseUrl": base,
        "portalPath": "/api/portal/",
        "outDir": str(OUT),
        "nodeModules": portal_tools["nodeModules"],
        "chromium": CHROMIUM,
        "tenantId": TENANT,
        "tokens": None if _dev_token_offered(base) else tokens,
        "engineer": {
            "signInAs": SIGN_IN["engineer"],
            "searchText": search,
            "user": user,
            "callId": call["callId"],
            "from": frm,
            "to": to,
        },
        "specialist": {
            "signInAs": SIGN_IN["specialist"],
            "searchText": search,
            "user": user,
            "callId": call["callId"],
            "from": frm,
            "to": to,
            "hiddenNames": others,
        },
        "adminOps": {
            "purgeUser": "nobody.e2e.purge@contoso.com",
            "quarantine": {
                "batchId": quarantined,
                "records": QUARANTINED,
                "runs": -(-QUARANTINED // REPLAY_RUN),
            },
        },
        "reports": {
            "ids": built_in,
            "builtIns": len(built_in),
            "from": frm,
            "to": to,
            "shotEach": ["overview", "quality-by-building", "reliability", "per-user"],
            "customName": "E2E by building and connection",
            "readerSignInAs": SIGN_IN["reader"],
        },
        "adminPages": {
            "from": (now - timedelta(days=13)).isoformat(),
            "topology": str(topology),
            "badTopology": str(bad_topology),
            "pools": pools,
            "excludedUser": excluded,
        },
        "admin": {
            "signInAs": SIGN_IN["admin"],
            "goodFile": str(good),
            "badFile": str(bad),
            "expectBuildings": buildings,
            "validFrom": buildings_valid_from,
            "from": frm,
            "to": to,
        },
    }
    config_file = tmp_path / "portal-e2e.json"
    config_file.write_text(json.dumps(config))
    proc = subprocess.run(
        [portal_tools["node"], str(DRIVER), str(config_file)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    sys.stderr.write(proc.stderr)
    result_line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and result_line, (
        f"driver failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    results = json.loads(result_line[-1][len("RESULT ") :])
    report = "\n".join(
        f"{name}: {'ok' if r['ok'] else 'FAILED: ' + r.get('error', '')}\n  - "
        + "\n  - ".join(r["checks"])
        for name, r in results.items()
    )
    print(report)
    assert all(r["ok"] for r in results.values()), report
    shots = sorted(p.name for p in OUT.glob("*.png"))
    for page in (
        "engineer-01-signin",
        "call-advanced-red-metric",
        "specialist",
        "quality-dashboard-before",
        "buildings-validation-errors",
        "quality-dashboard-after",
        "settings-invalid",
        "settings-saved",
        "quarantine",
        "quarantine-replayed",
        "purge-confirm",
        "purge-done",
        "engineer-no-admin",
        "reports-list",
        "report-overview",
        "report-run-filtered",
        "report-new-invalid",
        "report-custom-run",
        "report-delete-confirm",
        "reader-reports",
        "reader-report-run",
        "alerts",
        "alerts-acknowledged",
        "topology-invalid",
        "topology",
        "exclusions",
        "buildings-history",
    ):
        assert any(page in s for s in shots), f"no screenshot of {page}: {shots}"
