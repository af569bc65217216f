"""End to end: `cdc-agent preview` on demo data, then a real push to the local stack
(function app on the local host, Azurite, Cosmos DB server, dev token issuer): the
batch the service receives first is the previewed one (same batchId), every previewed
record is stored, and the excluded user, absent from the preview, has no call."""

from __future__ import annotations

import json
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import write_config

from cdc_agent.agent import Agent
from cdc_agent.cli import run
from cdc_agent.config import load_config

pytestmark = [pytest.mark.stack, pytest.mark.slow]

TENANT = "11111111-2222-4333-8444-555555555555"  # devhost.stack.TEST_TENANTS[1]
REPO = Path(__file__).resolve().parents[2]


def _api(base: str, path: str, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(
        f"{base}/api/v1/{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _completed(base: str, token: str, batch_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _api(base, f"batches/{batch_id}", token)
        if status == 200 and body["status"] in ("completed", "completedWithErrors", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} not completed")


def test_preview_then_push_to_the_local_stack(
    local_host: Any, mint: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from devhost.qoe_generator import generate_call

    tag = uuid.uuid4().hex[:8]
    users = [f"sip:{n}.{tag}@contoso.com" for n in ("alice", "bob", "carol", "dave")]
    excluded = users[0]
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    spool = tmp_path / "spool"
    cfg = write_config(
        tmp_path,
        str(local_host),
        server={"tenant_id": TENANT, "timeout_seconds": 120},
        auth={"mode": "dev-token", "dev_token": mint(TENANT, roles=["CallData.Ingest"])},
        batch={"max_records": 25},
        exclusions={"users": [excluded]},
    )
    for i in range(8):
        records = generate_call(
            rng,
            TENANT,
            users,
            now - timedelta(minutes=5 + 9 * i),
            scenario=("p2p", "conference", "pstn", "p2p")[i % 4],
        )
        cdrs = [r["data"] for r in records if r["kind"] == "cdr"]
        (spool / "cdr" / f"call{i}.jsonl").write_text(
            "\n".join(json.dumps(c) for c in cdrs) + "\n", encoding="utf-8"
        )
        for j, r in enumerate(r for r in records if r["kind"] == "qoe"):
            (spool / "qoe" / f"call{i}-{j}.xml").write_text(r["data"], encoding="utf-8")

    capsys.readouterr()
    assert run(["-c", str(cfg), "preview", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    env = shown["envelope"]
    bare = excluded.removeprefix("sip:")
    assert shown["origin"] == "spool" and 0 < len(env["records"]) <= 25
    assert bare not in json.dumps(env).lower()
    assert sum(f["excluded"] for f in shown["files"]) > 0

    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None and summary.batch_ids[0] == env["batchId"]
    getattr(local_host, "wait_idle", lambda _t: None)(120)
    reader = mint(TENANT, roles=["CallAnalytics.Admin"])
    status = _completed(str(local_host), reader, env["batchId"])
    assert status["status"] == "completed"
    assert status["received"] == status["stored"] == len(env["records"])
    assert status["excluded"] == 0  # nothing of the excluded user arrived to drop
    q = urllib.parse.urlencode(
        {"from": (now - timedelta(days=2)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    )
    code, body = _api(str(local_host), f"users/{urllib.parse.quote(bare)}/calls?{q}", reader)
    assert code == 200 and body["calls"] == []
    other = users[1].removeprefix("sip:")
    code, body = _api(str(local_host), f"users/{urllib.parse.quote(other)}/calls?{q}", reader)
    assert code == 200 and body["calls"]
