"""The demo data set: a fictional org, Contoso, posting a week of Skype for Business
Server calls (CDRs + QoE reports) through the real ingest API, so `make run` shows real
data in the API and the portal without any Azure resource.

Deterministic for a seed and a day: the calls end today, so the week is always recent.
Calls come from `devhost.qoe_generator` (peer-to-peer, conferences, PSTN, setup
failures with 480/487/500 and diagnostic ids 20-29, dropped calls; some poor); users
are `sip:first.last@contoso.com` plus the short demo names (alice, bob, ...) the
end-to-end tests look for. `make run` also uploads Contoso's building file and on-prem
topology (`load_reference_data`), so reports group by building, site and pool.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from devhost.qoe_generator import demo_users, generate_call

FIRST = [
    "adele",
    "ben",
    "chloe",
    "diego",
    "emma",
    "farid",
    "gina",
    "hugo",
    "isla",
    "jamal",
    "kira",
    "liam",
    "maya",
    "noah",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sami",
    "tara",
    "umar",
    "vera",
    "wei",
    "ximena",
    "yusuf",
    "zoe",
]
LAST = [
    "anders",
    "brooks",
    "chen",
    "dubois",
    "evans",
    "fischer",
    "garcia",
    "hughes",
    "ito",
    "jensen",
    "kowalski",
    "lopez",
    "moreau",
    "nakamura",
    "okafor",
    "patel",
]
SOURCES = [
    {
        "type": "sfb-server",
        "fqdn": "fe01.contoso.local",
        "pool": "pool01.contoso.local",
        "site": "Seattle",
        "version": "7.0.2046.0",
    },
    {
        "type": "sfb-server",
        "fqdn": "fe02.contoso.local",
        "pool": "pool01.contoso.local",
        "site": "London",
        "version": "7.0.2046.0",
    },
]
TERMINAL = {"completed", "completedWithErrors", "failed"}
PSTN = re.compile(r"tel:\+1425(\d{7})")


def contoso_users(n: int = 300, seed: int = 1) -> list[str]:
    """`n` distinct sip:first.last@contoso.com users (a few hundred by default)."""
    rng = random.Random(seed)
    pairs = [(f, la) for f in FIRST for la in LAST]
    rng.shuffle(pairs)
    return [f"sip:{f}.{la}@contoso.com" for f, la in pairs[:n]]


def _pstn_555(records: list[dict[str, Any]]) -> None:
    """Fictional numbers only: the generator's tel:+1425... become tel:+1555... (same
    digits, so a call's CDR and QoE reports still name the same number)."""
    for rec in records:
        if rec["kind"] == "cdr":
            rec["data"] = json.loads(PSTN.sub(r"tel:+1555\1", json.dumps(rec["data"])))
        elif isinstance(rec["data"], str):
            rec["data"] = PSTN.sub(r"tel:+1555\1", rec["data"])


def generate_demo_batches(
    tenant_id: str,
    seed: int = 1,
    *,
    calls_per_day: int = 60,
    days: int = 7,
    users: int = 300,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Batch envelopes (docs/reference/ingest.md) holding a week of Contoso calls
    ending today (half an hour ago): one batch per day and front-end server, records in
    arrival (shuffled) order. Deterministic for (seed, now)."""
    rng = random.Random(seed)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    everyone = demo_users(12) + contoso_users(users, seed)
    named = everyone[:12]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(calls_per_day * days):
        # the last `days` days up to half an hour ago, weighted to office hours
        when = now - timedelta(seconds=rng.uniform(1800, days * 86400))
        if not 7 <= when.hour < 19 and rng.random() < 0.7:
            when = when.replace(hour=rng.randint(7, 18))
            if when > now - timedelta(minutes=30):
                when -= timedelta(days=1)
        pool = named if rng.random() < 0.35 else everyone
        records = generate_call(rng, tenant_id, pool, when)
        _pstn_555(records)
        groups.setdefault((when.date().isoformat(), rng.randrange(len(SOURCES))), []).extend(
            records
        )
    batches: list[dict[str, Any]] = []
    for (day, index), records in sorted(groups.items()):
        # the id follows the content: a re-post of the same batch is an idempotent 200
        digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
        batches.append(
            {
                "schemaVersion": "1.0",
                "batchId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdc-demo/{tenant_id}/{digest}")),
                "tenantId": tenant_id,
                "source": SOURCES[index],
                "sentAt": min(
                    now,
                    datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=1),
                )
                .isoformat()
                .replace("+00:00", "Z"),
                "records": records,
            }
        )
    return batches


def _request(
    method: str,
    url: str,
    token: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url,
        data=body,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post_batch(base_url: str, token: str, batch: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST one envelope gzip-compressed, as the on-prem agent does."""
    body = gzip.compress(json.dumps(batch).encode(), compresslevel=5)
    return _request(
        "POST",
        f"{base_url.rstrip('/')}/api/v1/batches",
        token,
        body,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


def batch_status(base_url: str, token: str, batch_id: str) -> dict[str, Any]:
    status, body = _request("GET", f"{base_url.rstrip('/')}/api/v1/batches/{batch_id}", token)
    if status != 200:
        raise RuntimeError(f"GET batch {batch_id}: {status} {body}")
    return body


def load_demo(
    base_url: str,
    token: str,
    *,
    tenant_id: str | None = None,
    seed: int = 1,
    wait_idle: Callable[[float], None] | None = None,
    timeout: float = 600.0,
    batches: list[dict[str, Any]] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Post the demo batches with an ingest token and wait until every one is processed
    (terminal status); returns the batch ids. Re-running is harmless (idempotent)."""
    from devhost.stack import DEMO_TENANT

    batches = (
        batches if batches is not None else generate_demo_batches(tenant_id or DEMO_TENANT, seed)
    )
    ids = []
    for batch in batches:
        status, body = post_batch(base_url, token, batch)
        if status not in (200, 202):
            raise RuntimeError(f"POST batch {batch['batchId']}: {status} {body}")
        ids.append(batch["batchId"])
        log(f"posted {batch['batchId']} ({len(batch['records'])} records): {status}")
    deadline = time.monotonic() + timeout
    if wait_idle is not None:
        wait_idle(timeout)
    for batch_id in ids:
        while True:
            state = batch_status(base_url, token, batch_id)
            if state.get("status") in TERMINAL:
                log(
                    f"{batch_id}: {state['status']} (stored {state.get('stored')}, "
                    f"calls {state.get('calls')}, quarantined {state.get('quarantined')})"
                )
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still {state.get('status')}")
            time.sleep(0.25)
    return ids


# Contoso's building file (CQD format, no header): the demo's internal networks are
# 10.10-14.x.x; 10.14.0.0/16 is left out on purpose, so the missing-subnets report and
# "not in the building file" have something to show.
DEMO_BUILDINGS = (
    "10.10.0.0,SEA-HQ-Wired,16,Seattle HQ,Contoso,Office,Headquarters,Seattle,98101,US,WA,"
    "North America,1,0\n"
    "10.11.0.0,SEA-Campus,16,Redmond Campus,Contoso,Office,Campus,Redmond,98052,US,WA,"
    "North America,1,1\n"
    "10.12.0.0,LON-Office,16,London Office,Contoso,Office,Branch,London,EC2A,GB,,Europe,1,0\n"
    "10.13.0.0,PAR-Office,16,Paris Office,Contoso,Office,Branch,Paris,75002,FR,,Europe,1,0\n"
)
# Contoso's on-prem topology: one front-end pool (the demo's conferencing servers),
# a mediation pool and its PSTN gateway, so calls group by site and pool.
DEMO_TOPOLOGY: dict[str, Any] = {
    "sites": [
        {"name": "Seattle", "city": "Seattle", "country": "US"},
        {"name": "London", "city": "London", "country": "GB"},
    ],
    "pools": [
        {
            "fqdn": "pool01.contoso.local",
            "role": "frontEnd",
            "site": "Seattle",
            "servers": ["fe01.contoso.local", "fe02.contoso.local"],
        },
        {"fqdn": "med01.contoso.local", "role": "mediation", "site": "Seattle"},
        {"fqdn": "edge01.contoso.local", "role": "edge", "site": "London"},
    ],
    "gateways": [
        {"fqdn": "gw01.contoso.local", "site": "Seattle", "mediationPool": "med01.contoso.local"}
    ],
}


def load_reference_data(
    base_url: str, admin_token: str, *, log: Callable[[str], None] = lambda _: None
) -> None:
    """Upload the demo building file and topology as an admin would, so the dashboard,
    the missing-subnets report and the site/pool groupings are real from the start.
    Replacing them with the same content again is harmless."""
    root = base_url.rstrip("/")
    status, body = _request(
        "PUT",
        f"{root}/api/v1/admin/buildings",
        admin_token,
        DEMO_BUILDINGS.encode(),
        {"Content-Type": "text/csv"},
    )
    if status != 200:
        raise RuntimeError(f"PUT building file: {status} {body}")
    log(f"building file uploaded: {body.get('rows', body.get('rowCount', '?'))} networks")
    status, body = _request(
        "PUT",
        f"{root}/api/v1/admin/topology",
        admin_token,
        json.dumps(DEMO_TOPOLOGY).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 200:
        raise RuntimeError(f"PUT topology: {status} {body}")
    log("topology uploaded: 2 sites, 3 pools, 1 gateway")
