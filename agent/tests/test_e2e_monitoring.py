"""End to end: `cdc-agent push` with a `monitoring-db` source against the real local
stack (function app on the local host, Azurite, the Cosmos DB server, dev tokens).

The same generated calls go in twice: read by the agent from Monitoring databases (a
SQLite pair laid out as QoEMetrics / LcsCDR, read-only) into one tenant, and as QoE XML
files + CDR exports from the spool folders into another. Then every call is read back
through the Call Analytics API in both tenants and must be the same call: ratings,
reasons, stream classification, flags, endpoints (network, devices), the documented
gaps aside (see test_monitoring_db.py).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import write_config
from monitoring_testlib import MonitoringDb, as_stored
from pydantic.alias_generators import to_camel
from test_e2e_agent import api, settle, users_for, wait_completed, write_spool
from test_monitoring_db import ENDPOINT_GAPS, STREAM_GAPS, gen_calls, views

from cdc_agent.agent import Agent
from cdc_agent.config import load_config
from cdc_agent.journal import Journal

pytestmark = [pytest.mark.stack, pytest.mark.slow]

DB_TENANT = "11111111-2222-4333-8444-555555555555"  # devhost.stack.TEST_TENANTS
AGENT_DIR = Path(__file__).resolve().parents[1]


def _tenants() -> tuple[str, str]:
    from devhost.stack import TEST_TENANTS

    other = next(t for t in TEST_TENANTS if t != DB_TENANT)
    return DB_TENANT, other


def _comparable(detail: dict[str, Any]) -> dict[str, Any]:
    """A call detail without what legitimately differs between the two paths: ids,
    the record provenance, and the fields the documented schema does not hold (the API
    spells them in camelCase)."""
    out = {k: v for k, v in detail.items() if k not in ("callId", "sources")}
    for s in out.get("sessions", []):
        for role in ("caller", "callee"):
            ep = s.get(role, {})
            for gap in ENDPOINT_GAPS:
                ep.pop(to_camel(gap), None)
            # resolved at read time from the tenant's building file / topology, which
            # other tests may set in one of the two tenants: not the record's content
            ep.pop("place", None)
            ratios = {k: v for k, v in (ep.pop("deviceRatios", None) or {}).items() if v}
            if ratios:
                ep["deviceRatios"] = ratios
        for st in s.get("streams", []):
            for gap in STREAM_GAPS:
                st.pop(to_camel(gap), None)
    for p in out.get("participants", []):
        p.pop("displayName", None)
    return out


def test_push_from_monitoring_databases_equals_the_same_calls_as_xml(
    local_host: Any, mint: Any, tmp_path: Path
) -> None:
    db_tenant, xml_tenant = _tenants()
    tag = uuid.uuid4().hex[:8]
    seed = random.Random(tag).randrange(1 << 30)  # fresh call ids in a reused stack
    calls = as_stored(gen_calls(12, seed, users=users_for(tag)))

    # 1. the databases, read by the CLI in a child process (as Task Scheduler runs it)
    db = MonitoringDb(tmp_path / "db")
    for c in calls:
        db.add_records(c)
    db_dir = tmp_path / "from-db"
    db_dir.mkdir()
    cfg_db = write_config(
        db_dir,
        str(local_host),
        server={"tenant_id": db_tenant, "timeout_seconds": 120},
        auth={"mode": "dev-token", "dev_token": mint(db_tenant, roles=["CallData.Ingest"])},
        batch={"max_records": 25},
        monitoring_db={
            "qoe_url": db.url("qoe"),
            "cdr_url": db.url("cdr"),
            "page_size": 7,
            "backfill_days": 30,
        },
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(AGENT_DIR), str(AGENT_DIR.parent)])}
    done = subprocess.run(
        [sys.executable, "-m", "cdc_agent", "-c", str(cfg_db), "push", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    db_batches = [
        e["batchId"]
        for e in Journal(db_dir / "state").data["recent"]
        if e["outcome"] == "delivered"
    ]
    assert db_batches

    # 2. the same calls as files in the spool folders, into the other tenant
    xml_dir = tmp_path / "from-xml"
    xml_dir.mkdir()
    cfg_xml = write_config(
        xml_dir,
        str(local_host),
        server={"tenant_id": xml_tenant, "timeout_seconds": 120},
        auth={"mode": "dev-token", "dev_token": mint(xml_tenant, roles=["CallData.Ingest"])},
        batch={"max_records": 25},
    )
    write_spool(xml_dir / "spool", calls)
    summary = Agent(load_config(cfg_xml)).run_once()
    assert summary.error is None and summary.files_rejected == 0

    settle(local_host)
    base = str(local_host)
    for tenant, batches in ((db_tenant, db_batches), (xml_tenant, summary.batch_ids)):
        reader = mint(tenant, roles=["CallAnalytics.Admin"])
        done_ = wait_completed(base, reader, batches)
        assert all(d["status"] == "completed" and d["quarantined"] == 0 for d in done_.values()), (
            done_
        )
    stored_db = sum(
        d["stored"]
        for d in wait_completed(
            base, mint(db_tenant, roles=["CallAnalytics.Admin"]), db_batches
        ).values()
    )
    assert stored_db == sum(len(c) for c in calls)

    # 3. every call, read back in both tenants, is the same call
    from shared.identity import call_id

    keys = sorted(views([r for c in calls for r in c]))
    assert len(keys) == len(calls)
    readers = {t: mint(t, roles=["CallAnalytics.Admin"]) for t in (db_tenant, xml_tenant)}
    differ = {}
    streams = 0
    for key in keys:
        got = {}
        for tenant in (db_tenant, xml_tenant):
            status, body = api(base, f"calls/{call_id(tenant, key)}", readers[tenant])
            assert status == 200, (tenant, key, body)
            got[tenant] = _comparable(body)
        if got[db_tenant] != got[xml_tenant]:
            differ[key] = (
                json.dumps(got[db_tenant], sort_keys=True)[:3000],
                json.dumps(got[xml_tenant], sort_keys=True)[:3000],
            )
        streams += sum(len(s.get("streams", [])) for s in got[xml_tenant]["sessions"])
    assert differ == {}
    assert streams > len(keys)  # classified streams were compared, not empty shells
