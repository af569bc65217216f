"""Shared helpers of the agent tests: sample records, an agent.toml builder, and a
loopback stand-in of OUR ingest API (not of an Azure service) that answers like
docs/reference/ingest.md says (202 new, 200 identical retry, 409 other content) and
can be scripted to answer 429/503/400... or to hang, for the retry and crash tests."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
TOKEN = "test-token"


def cdr_row(
    n: int, caller: str = "sip:alice@contoso.com", callee: str = "sip:bob@contoso.com", **kw: Any
) -> dict[str, Any]:
    row = {
        "sessionIdTime": f"2026-11-21T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "sessionIdSeq": n,
        "callId": f"call-{n}@fe01",
        "fromTag": f"f{n}",
        "toTag": f"t{n}",
        "user1Uri": caller,
        "user2Uri": callee,
        "inviteTime": "2026-11-21T10:00:00Z",
        "responseTime": "2026-11-21T10:00:02Z",
        "endTime": "2026-11-21T10:05:00Z",
        "responseCode": 200,
        "diagnosticId": None,
        "mediaTypes": ["audio"],
        "isConference": False,
        "conferenceUri": None,
    }
    row.update(kw)
    return row


def qoe_xml(
    call_id: str = "call-1@fe01",
    from_uri: str = "sip:alice@contoso.com",
    to_uri: str = "sip:bob@contoso.com",
    conf: str | None = None,
) -> str:
    conf_el = f"<ConfURI>{conf}</ConfURI>" if conf else ""
    return (
        '<VQReportEvent xmlns="ms-rtcp-metrics" xmlns:v2="ms-rtcp-metrics.v2">'
        '<VQSessionReport SessionId="s1"><Endpoint Name="PC1"/>'
        f'<DialogInfo CallId="{call_id}" FromTag="a" ToTag="b" Start="2026-11-21T10:00:00Z" '
        'End="2026-11-21T10:05:00Z">'
        f"<FromURI>{from_uri}</FromURI><ToURI>{to_uri}</ToURI><Caller>true</Caller>"
        f"<LocalContactURI>{from_uri};opaque=user:epid:x;gruu</LocalContactURI>"
        f"<RemoteContactURI>{to_uri};opaque=user:epid:y;gruu</RemoteContactURI>{conf_el}"
        "<LocalUserAgent>UCCAPI/16.0</LocalUserAgent></DialogInfo>"
        '<MediaLine Label="main-audio"><Description><Connectivity><Ice>DIRECT</Ice>'
        "</Connectivity></Description></MediaLine></VQSessionReport></VQReportEvent>"
    )


def write_config(tmp: Path, endpoint: str, **sections: dict[str, Any]) -> Path:
    """agent.toml under tmp with spool folders under tmp; `sections` override keys."""
    base: dict[str, dict[str, Any]] = {
        "server": {
            "endpoint": endpoint,
            "tenant_id": TENANT,
            "api_audience": "api://call-data-connector",
            "timeout_seconds": 5,
        },
        "auth": {"mode": "dev-token", "dev_token": TOKEN},
        "spool": {
            "qoe_dir": "spool/qoe",
            "cdr_dir": "spool/cdr",
            "sent_dir": "out/sent",
            "rejected_dir": "out/rejected",
            "state_dir": "state",
            "settle_seconds": 0,
            "poll_seconds": 0.2,
        },
        "batch": {"max_records": 10, "max_mb": 1},
        "delivery": {
            "max_attempts": 4,
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "max_retry_after_seconds": 0.2,
        },
        "exclusions": {"users": [], "domains": []},
        "source": {
            "fqdn": "fe01.contoso.local",
            "pool": "pool01.contoso.local",
            "site": "Seattle",
            "version": "7.0.2046.0",
        },
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        for k, v in values.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    (tmp / "spool" / "qoe").mkdir(parents=True, exist_ok=True)
    (tmp / "spool" / "cdr").mkdir(parents=True, exist_ok=True)
    path = tmp / "agent.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def content_hash(env: dict[str, Any]) -> str:
    body = {k: v for k, v in env.items() if k != "sentAt"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class IngestStub:
    """Our ingest API on loopback. `script` holds answers to serve before the normal
    behaviour: (status, headers, body) or ("hang", seconds)."""

    def __init__(self) -> None:
        self.batches: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []  # every POST, decoded, in order
        self.answers: list[int] = []
        self.script: list[Any] = []
        self.exclusions: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self,
                status: int,
                body: Any,
                headers: dict[str, str] | None = None,
                ctype: str = "application/json",
                post: bool = True,
            ) -> None:
                data = json.dumps(body).encode()
                # an answer to POST /batches is sent and recorded under the lock, so a
                # client that sends its next request as soon as it reads this answer
                # cannot have that one recorded first
                with stub.lock if post else contextlib.nullcontext():
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    try:
                        self.wfile.write(data)
                    except OSError:  # the client was killed while we answered
                        return
                    if post:
                        stub.answers.append(status)

            def do_GET(self) -> None:
                bid = self.path.rsplit("/", 1)[-1]
                doc = stub.batches.get(bid)
                if doc is None:
                    self._send(
                        404,
                        {"title": "no such batch"},
                        post=False,
                        ctype="application/problem+json",
                    )
                    return
                self._send(
                    200,
                    {
                        "batchId": bid,
                        "tenantId": TENANT,
                        "status": "completed",
                        "received": doc["records"],
                        "stored": doc["records"],
                        "quarantined": 0,
                        "excluded": 0,
                        "calls": doc["records"],
                        "errors": [],
                        "receivedAt": "x",
                        "completedAt": "y",
                    },
                    post=False,
                )

            def do_PUT(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n))
                stub.exclusions.append(body)
                self._send(
                    200,
                    {
                        "tenantId": TENANT,
                        "users": len(body["users"]),
                        "domains": len(body["domains"]),
                    },
                    post=False,
                )

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                stub.tokens.append(self.headers.get("Authorization", ""))
                with stub.lock:
                    step = stub.script.pop(0) if stub.script else None
                if step is not None and step[0] == "hang":
                    time.sleep(step[1])
                    step = None
                if step is not None:
                    status, headers, body = step
                    self._send(status, body, headers, "application/problem+json")
                    return
                assert self.headers["Content-Encoding"] == "gzip"
                assert self.headers["Content-Type"] == "application/json"
                env = json.loads(gzip.decompress(raw))
                with stub.lock:
                    stub.posts.append(env)
                    digest = content_hash(env)
                    existing = stub.batches.get(env["batchId"])
                    if existing and existing["hash"] != digest:
                        status = 409
                    elif existing:
                        status = 200
                    else:
                        stub.batches[env["batchId"]] = {
                            "hash": digest,
                            "env": env,
                            "records": len(env["records"]),
                        }
                        status = 202
                if status == 409:
                    self._send(
                        409,
                        {"title": "different content", "status": 409},
                        ctype="application/problem+json",
                    )
                else:
                    self._send(
                        status,
                        {
                            "batchId": env["batchId"],
                            "status": "accepted",
                            "records": len(env["records"]),
                        },
                    )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stored_records(self) -> list[dict[str, Any]]:
        """Records of every distinct batch the 'server' stored (what a reader would see)."""
        return [r for doc in self.batches.values() for r in doc["env"]["records"]]
