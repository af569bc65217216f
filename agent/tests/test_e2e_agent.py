"""End to end: the push agent against the real local stack (function app on LocalHost,
Azurite, Cosmos DB server, dev token issuer), through `tests/stack_plugin.py`:
`local_host` (base URL str, `.wait_idle()`), `mint(tenant_id, roles=[...])`, `stack`
(its env is in os.environ: CDC_STORAGE for the raw blob checks).

Between the agent and the host sits a small pass-through proxy in this file. It is not
a fake: every request goes to the real host unchanged; the proxy records what the
agent sent (to prove excluded users never left) and can answer 429/503 itself for a
while or hold a request (to kill the agent mid-upload).

Journeys:
1. a backlog (QoE XML + CDR JSONL + CDR CSV) is sent, and every call is found through
   the Call Analytics API for each of its users;
2. excluded users' (and an excluded domain's) records never reach the server: not in
   any request, not in any blob, no call for them through the API, `excluded` 0 on
   the server (nothing arrived to drop), and the policy is stored as a tenant setting;
3. the server answers 429 (Retry-After) and 503 for a while: the agent waits and
   completes;
4. a real `kill -9` of `python -m cdc_agent push` mid-upload, then a restart: every call
   stored, no record under two batch ids, the killed batch resent identically (200).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import write_config

from cdc_agent.agent import Agent
from cdc_agent.config import load_config

pytestmark = [pytest.mark.stack, pytest.mark.slow]

TENANT = "11111111-2222-4333-8444-555555555555"  # devhost.stack.TEST_TENANTS[1]
AGENT_DIR = Path(__file__).resolve().parents[1]
REPO = AGENT_DIR.parent


class Proxy:
    """Pass-through to the real host that records request bodies; `inject` holds
    answers to give instead of forwarding ((status, headers)) or ("hold", seconds)."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.bodies: list[dict[str, Any]] = []  # decoded POST /batches bodies
        self.answers: list[tuple[str, int]] = []  # (batchId, status) of forwarded POSTs
        self.puts: list[bytes] = []
        self.inject: list[Any] = []
        self.seen_posts = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                is_post = self.command == "POST" and self.path.endswith("/batches")
                step = None
                if is_post:
                    proxy.seen_posts += 1
                    step = proxy.inject.pop(0) if proxy.inject else None
                if step is not None and step[0] != "hold":
                    status, headers = step
                    data = json.dumps({"title": "injected", "status": status}).encode()
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if step is not None:
                    time.sleep(step[1])  # the agent may be killed meanwhile
                if is_post and body:
                    proxy.bodies.append(json.loads(gzip.decompress(body)))
                if self.command == "PUT":
                    proxy.puts.append(body or b"")
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                req = urllib.request.Request(
                    proxy.target + self.path, data=body, method=self.command, headers=headers
                )
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        status, rh, data = resp.status, dict(resp.headers), resp.read()
                except urllib.error.HTTPError as exc:
                    status, rh, data = exc.code, dict(exc.headers), exc.read()
                if is_post and body:
                    proxy.answers.append((proxy.bodies[-1]["batchId"], status))
                try:
                    self.send_response(status)
                    for k, v in rh.items():
                        if k.lower() not in (
                            "content-length",
                            "transfer-encoding",
                            "connection",
                            "date",
                            "server",
                        ):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the agent was killed

            do_GET = do_POST = do_PUT = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(local_host: Any) -> Iterator[Proxy]:
    p = Proxy(str(local_host))
    yield p
    p.close()


# data ---------------------------------------------------------------------------------


def make_calls(n: int, users: list[str], seed: int) -> list[list[dict[str, Any]]]:
    """n peer-to-peer calls (CDR + both QoE reports) between `users`, within the last
    day: per call, its records. p2p only, so a call's users are exactly its CDR's two."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from devhost.qoe_generator import generate_call

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    return [
        generate_call(rng, TENANT, users, now - timedelta(minutes=5 + 7 * i), scenario="p2p")
        for i in range(n)
    ]


def call_users(records: list[dict[str, Any]]) -> set[str]:
    out = set()
    for r in records:
        if r["kind"] == "cdr":
            for k in ("user1Uri", "user2Uri"):
                if r["data"].get(k):
                    out.add(r["data"][k].lower().removeprefix("sip:"))
    return out


def write_spool(spool: Path, calls: list[list[dict[str, Any]]]) -> None:
    """QoE reports one per file; CDRs alternately in a JSON lines file and a CSV file."""
    jsonl, rows = [], []
    for i, records in enumerate(calls):
        for j, r in enumerate(records):
            if r["kind"] == "qoe":
                (spool / "qoe" / f"call{i:03d}-{j}.xml").write_text(r["data"], encoding="utf-8")
            elif i % 2:
                rows.append(r["data"])
            else:
                jsonl.append(json.dumps(r["data"]))
    for k in range(0, len(jsonl), 7):
        (spool / "cdr" / f"export{k:03d}.jsonl").write_text("\n".join(jsonl[k : k + 7]) + "\n")
    if rows:
        fields = sorted({k for row in rows for k in row})
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow(
                {
                    k: (
                        ";".join(v)
                        if isinstance(v, list)
                        else str(v).lower()
                        if isinstance(v, bool)
                        else ""
                        if v is None
                        else v
                    )
                    for k, v in row.items()
                }
            )
        (spool / "cdr" / "export.csv").write_text(buf.getvalue(), encoding="utf-8")


def agent_config(tmp: Path, endpoint: str, token: str, **sections: dict[str, Any]) -> Path:
    return write_config(
        tmp,
        endpoint,
        server={"tenant_id": TENANT, "timeout_seconds": 120},
        auth={"mode": "dev-token", "dev_token": token},
        batch={"max_records": 25},
        **sections,
    )


# API ----------------------------------------------------------------------------------


def api(base: str, path: str, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(
        f"{base}/api/v1/{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_completed(
    base: str, token: str, batch_ids: list[str], timeout: float = 120
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    out: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for bid in batch_ids:
            if bid not in out:
                status, body = api(base, f"batches/{bid}", token)
                if status == 200 and body["status"] in (
                    "completed",
                    "completedWithErrors",
                    "failed",
                ):
                    out[bid] = body
        if len(out) == len(batch_ids):
            return out
        time.sleep(0.3)
    raise AssertionError(f"batches not completed: {set(batch_ids) - set(out)}")


def calls_of(base: str, token: str, user: str) -> set[str]:
    now = datetime.now(timezone.utc)
    q = urllib.parse.urlencode(
        {"from": (now - timedelta(days=3)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    )
    found: set[str] = set()
    cont = None
    while True:
        query = q + (f"&continuationToken={urllib.parse.quote(cont)}" if cont else "")
        status, body = api(base, f"users/{urllib.parse.quote(user)}/calls?{query}", token)
        assert status == 200, body
        found |= {c["callId"] for c in body["calls"]}
        cont = body.get("continuationToken")
        if not cont:
            return found


def assert_found(base: str, reader: str, calls: list[list[dict[str, Any]]]) -> None:
    expected: Counter[str] = Counter()
    for records in calls:
        for u in call_users(records):
            expected[u] += 1
    for user, n in expected.items():
        assert len(calls_of(base, reader, user)) == n, user


def blob_texts() -> list[str]:
    """Text of every blob in every container of the stack's Azurite (raw batches,
    quarantine, poison, audit)."""
    from azure.storage.blob import BlobServiceClient

    svc = BlobServiceClient.from_connection_string(os.environ["CDC_STORAGE"])
    out = []
    for c in svc.list_containers():
        cc = svc.get_container_client(c.name)
        for b in cc.list_blobs():
            data = cc.download_blob(b.name).readall()
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):  # not gzip, or a truncated one another test left
                pass
            out.append(data.decode("utf-8", "replace").lower())
    return out


def users_for(tag: str) -> list[str]:
    return [
        f"sip:{name}.{tag}@contoso.com"
        for name in ("alice", "bob", "carol", "dave", "erin", "frank")
    ]


def settle(local_host: Any) -> None:
    wait_idle: Callable[..., None] | None = getattr(local_host, "wait_idle", None)
    if wait_idle:
        wait_idle(120)


# tests --------------------------------------------------------------------------------


def test_backlog_is_delivered_and_every_call_is_found(
    local_host: Any, mint: Any, proxy: Proxy, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    calls = make_calls(30, users_for(tag), seed=1)
    cfg = agent_config(tmp_path, proxy.url, mint(TENANT, roles=["CallData.Ingest"]))
    write_spool(tmp_path / "spool", calls)
    summary = Agent(load_config(cfg), progress=True).run_once()
    assert summary.error is None and summary.files_rejected == 0
    assert summary.records_sent == sum(len(c) for c in calls)
    settle(local_host)
    reader = mint(TENANT, roles=["CallAnalytics.Admin"])
    done = wait_completed(str(local_host), reader, summary.batch_ids)
    assert all(d["status"] == "completed" and d["quarantined"] == 0 for d in done.values())
    assert sum(d["stored"] for d in done.values()) == summary.records_sent
    assert_found(str(local_host), reader, calls)


def test_excluded_users_never_reach_the_server(
    local_host: Any, mint: Any, proxy: Proxy, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    users = users_for(tag)
    secret_domain = f"restricted-{tag}.contoso.com"
    users.append(f"sip:zed@{secret_domain}")
    excluded_user = users[0]  # alice.<tag>
    calls = make_calls(30, users, seed=2)
    cfg = agent_config(
        tmp_path,
        proxy.url,
        mint(TENANT, roles=["CallData.Ingest"]),
        exclusions={"users": [excluded_user], "domains": [secret_domain]},
    )
    write_spool(tmp_path / "spool", calls)
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None and summary.excluded > 0
    kept = [
        c
        for c in calls
        if not call_users(c) & {excluded_user.removeprefix("sip:"), f"zed@{secret_domain}"}
    ]
    assert summary.records_sent == sum(len(c) for c in kept)
    settle(local_host)
    reader = mint(TENANT, roles=["CallAnalytics.Admin"])
    done = wait_completed(str(local_host), reader, summary.batch_ids)
    assert all(d["excluded"] == 0 for d in done.values())  # nothing arrived to drop
    bare_user = excluded_user.removeprefix("sip:")
    sent = json.dumps(proxy.bodies).lower()
    assert bare_user not in sent and secret_domain not in sent
    assert not any(bare_user in t or secret_domain in t for t in blob_texts())
    assert calls_of(str(local_host), reader, bare_user) == set()
    assert calls_of(str(local_host), reader, f"zed@{secret_domain}") == set()
    assert_found(str(local_host), reader, kept)
    assert json.loads(proxy.puts[0]) == {"users": [bare_user], "domains": [secret_domain]}


def test_server_busy_for_a_while_agent_waits_and_completes(
    local_host: Any, mint: Any, proxy: Proxy, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    calls = make_calls(6, users_for(tag), seed=3)
    cfg = agent_config(
        tmp_path,
        proxy.url,
        mint(TENANT, roles=["CallData.Ingest"]),
        delivery={
            "max_attempts": 10,
            "backoff_base_seconds": 0.2,
            "backoff_max_seconds": 1,
            "max_retry_after_seconds": 5,
        },
    )
    write_spool(tmp_path / "spool", calls)
    proxy.inject = [(429, {"Retry-After": "2"}), (503, {}), (503, {"Retry-After": "1"}), (429, {})]
    started = time.monotonic()
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None and summary.files_rejected == 0
    assert time.monotonic() - started >= 3  # it honoured the Retry-After answers
    assert proxy.seen_posts == 4 + len(summary.batch_ids)
    settle(local_host)
    reader = mint(TENANT, roles=["CallAnalytics.Admin"])
    wait_completed(str(local_host), reader, summary.batch_ids)
    assert_found(str(local_host), reader, calls)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_mid_upload_and_restart_no_loss_no_duplicate(
    local_host: Any, mint: Any, proxy: Proxy, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    calls = make_calls(30, users_for(tag), seed=4)
    cfg = agent_config(tmp_path, proxy.url, mint(TENANT, roles=["CallData.Ingest"]))
    write_spool(tmp_path / "spool", calls)
    proxy.inject = [None, ("hold", 2.0)]  # the second batch: held, then forwarded
    env = {**os.environ, "PYTHONPATH": str(AGENT_DIR)}
    cmd = [sys.executable, "-m", "cdc_agent", "-c", str(cfg), "push", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proxy.seen_posts < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.seen_posts >= 2, "the agent did not reach its second batch"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2.5)  # the held batch reaches the server and is stored
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # no record under two different batch ids; the killed batch came back identically
    by_record: dict[str, set[str]] = {}
    for body in proxy.bodies:
        for r in body["records"]:
            by_record.setdefault(json.dumps(r, sort_keys=True), set()).add(body["batchId"])
    assert all(len(ids) == 1 for ids in by_record.values())
    assert len(by_record) == sum(len(c) for c in calls)
    assert any(status == 200 for _, status in proxy.answers)
    assert {s for _, s in proxy.answers} <= {200, 202}
    assert not [p for d in ("qoe", "cdr") for p in (tmp_path / "spool" / d).iterdir()]
    settle(local_host)
    reader = mint(TENANT, roles=["CallAnalytics.Admin"])
    batch_ids = sorted({b for b, _ in proxy.answers})
    done_status = wait_completed(str(local_host), reader, batch_ids)
    assert sum(d["stored"] for d in done_status.values()) == len(by_record)
    assert_found(str(local_host), reader, calls)


def test_agent_pushes_the_topology(local_host: Any, mint: Any, tmp_path: Path) -> None:
    """`cdc-agent push-topology file.json` (ingest identity) replaces the tenant's
    topology; an invalid file is refused by the service and the command says so."""
    from cdc_agent.cli import run

    token = mint(TENANT, roles=["CallData.Ingest"])
    cfg = agent_config(tmp_path, str(local_host), token)
    topo = tmp_path / "topology.json"
    topo.write_text(
        json.dumps(
            {
                "sites": [{"name": "Redmond"}],
                "pools": [{"fqdn": "med01.contoso.local", "role": "mediation", "site": "Redmond"}],
                "gateways": [],
            }
        )
    )
    assert run(["-c", str(cfg), "push-topology", str(topo)]) == 0
    admin = mint(TENANT, roles=["CallAnalytics.Admin"])
    status, body = api(str(local_host), "admin/topology", admin)
    assert status == 200 and body["pools"] == 1, body
    topo.write_text(json.dumps({"sites": [], "pools": [{"fqdn": "x", "role": "pbx"}]}))
    assert run(["-c", str(cfg), "push-topology", str(topo)]) != 0
