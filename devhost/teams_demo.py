"""The demo's Teams tenant: Contoso's Teams calls arriving the way Graph delivers them.

`make run` subscribes the demo tenant through the product's own admin API (the Graph
stand-in validates the webhook first, as Graph does), then publishes a few hundred Teams
call records over the last week (peer-to-peer, meetings, PSTN; some poor) plus PSTN and
Direct Routing log rows: each record reaches the product only by notification ->
queue -> fetch with paging -> ingest -> processor, so the portal shows them beside the
Skype for Business calls. Against another Graph-compatible server (CDC_GRAPH_URL set)
only the subscription is made: its calls are whatever that server has.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from devhost.teams_generator import call_record, pstn_row

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def _post(url: str, token: str) -> dict[str, Any]:
    req = urllib.request.Request(
        url, data=b"", method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return dict(json.loads(resp.read() or b"{}"))


def subscribe(host_url: str, admin_token: str) -> dict[str, Any]:
    return _post(f"{host_url}/api/v1/admin/graph/subscription", admin_token)


def teams_records(
    tenant_id: str, n: int = 300, seed: int = 7, days: int = 7
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    out = []
    for i in range(n):
        start = now - timedelta(days=rng.uniform(0.05, days))
        roll = rng.random()
        kind = "groupCall" if roll < 0.15 else ("pstn" if roll < 0.30 else "peerToPeer")
        users = rng.sample(NAMES, 4)
        out.append(
            call_record(
                tenant_id,
                kind=kind,
                seed=seed * 100_000 + i,
                start=start,
                users=users,
                sessions=rng.randint(3, 80) if kind == "groupCall" else 1,
                poor=rng.random() < 0.12,
                minutes=rng.uniform(1, 45),
            )
        )
    return out


def log_rows(
    tenant_id: str, n: int = 60, seed: int = 7, days: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    dr, plan = [], []
    for i in range(n):
        start = now - timedelta(days=rng.uniform(0.05, days))
        upn = f"{rng.choice(NAMES)}@contoso.com"
        if rng.random() < 0.7:
            dr.append(
                pstn_row(
                    tenant_id,
                    seed=seed * 1000 + i,
                    start=start,
                    upn=upn,
                    direct_routing=True,
                    answered=rng.random() < 0.85,
                    trunk=rng.choice(["sbc1.contoso.com", "sbc2.contoso.com"]),
                )
            )
        else:
            plan.append(pstn_row(tenant_id, seed=seed * 1000 + i, start=start, upn=upn))
    return dr, plan


def load_teams_demo(
    host_url: str,
    admin_token: str,
    standin: Any,
    tenant_id: str,
    *,
    calls: int = 300,
    wait: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
) -> int:
    """Subscribe, publish, wait until everything was fetched and processed; returns
    the number of Teams call records published (0 against an external Graph)."""
    if standin is not None:  # before the subscription: its initial backfill reads them
        dr, plan = log_rows(tenant_id)
        standin.add_pstn_rows("getDirectRoutingCalls", dr)
        standin.add_pstn_rows("getPstnCalls", plan)
    sub = subscribe(host_url, admin_token)
    log(f"graph subscription {sub.get('subscriptionId')} until {sub.get('expiresAt')}")
    if standin is None:
        return 0
    records = teams_records(tenant_id, calls)
    t0 = time.monotonic()
    standin.add_calls(tenant_id, records, per_request=50)
    if wait:
        wait()
    log(
        f"{len(records)} Teams call records notified and fetched, "
        f"{len(dr) + len(plan)} PSTN / Direct Routing rows read, in "
        f"{time.monotonic() - t0:.1f}s"
    )
    return len(records)
