"""`cdc-agent status`: what is waiting, what went out, and what the service made of it.

Reads the journal without taking the lock (it is only ever replaced atomically), so it
works while the service runs. The service-side status of the last batches comes from
`GET /api/v1/batches/{batchId}` (stored, quarantined, excluded, calls, errors).
"""

from __future__ import annotations

import json
from typing import Any

from cdc_agent.agent import Agent, FatalError
from cdc_agent.journal import Journal
from cdc_agent.transport import TransportError


def _monitoring(cfg: Any) -> list[dict[str, Any]] | None:
    """The monitoring-db feeds (watermarks, rows read/sent), when configured; imported
    only then, so status without a database loads no SQL code."""
    if cfg.monitoring is None:
        return None
    from cdc_agent.monitoring.source import status

    return status(cfg.monitoring, cfg.spool.state_dir)


def collect(agent: Agent, remote: bool = True, last: int = 5) -> dict[str, Any]:
    cfg = agent.cfg
    j = Journal(cfg.spool.state_dir)
    claimed = j.claimed_paths()
    waiting = [f for f in agent.scanner.candidates() if f.path not in claimed]
    pending = j.pending
    out: dict[str, Any] = {
        "endpoint": cfg.server.endpoint,
        "tenantId": cfg.server.tenant_id,
        "queue": {
            "files": len(waiting),
            "bytes": sum(f.size for f in waiting),
            "qoeFiles": sum(1 for f in waiting if f.kind == "qoe"),
            "cdrFiles": sum(1 for f in waiting if f.kind == "cdr"),
        },
        "inFlight": None,
        "lastSuccessAt": j.data.get("lastSuccessAt"),
        "lastError": j.data.get("lastError"),
        "counters": j.data.get("counters"),
        "exclusions": j.data.get("exclusions"),
        "recent": [],
        "monitoring": _monitoring(cfg),
    }
    if pending:
        out["inFlight"] = {
            "files": len(pending["files"]),
            "batches": [
                {k: b.get(k) for k in ("batchId", "records", "state", "attempts", "httpStatus")}
                for b in pending["batches"]
            ],
            "since": pending.get("createdAt"),
        }
    recent = list(reversed(j.data.get("recent", [])))[:last]
    for entry in recent:
        row = dict(entry)
        if remote and entry.get("outcome") == "delivered":
            try:
                resp = agent._request(
                    "GET", f"batches/{entry['batchId']}", None, {"Accept": "application/json"}
                )
                body = resp.json()
                row["server"] = (
                    body
                    if resp.status == 200 and isinstance(body, dict)
                    else {"httpStatus": resp.status}
                )
            except (TransportError, FatalError) as exc:
                row["server"] = {"error": str(exc)}
                remote = False  # one failure says enough; do not wait on each
        out["recent"].append(row)
    return out


def render(info: dict[str, Any]) -> str:
    c = info.get("counters") or {}
    ex = c.get("excluded") or {}
    q = info["queue"]
    lines = [
        f"Endpoint        {info['endpoint']} (tenant {info['tenantId']})",
        f"Queue           {q['files']} file(s) waiting ({q['qoeFiles']} QoE, {q['cdrFiles']} "
        f"CDR), {q['bytes'] / 1_048_576:.1f} MB",
    ]
    fl = info.get("inFlight")
    if fl:
        states = ", ".join(
            f"{b['batchId']} {b['state']} ({b['attempts']} attempt(s))" for b in fl["batches"]
        )
        lines.append(f"In flight       {fl['files']} file(s) since {fl['since']}: {states}")
    else:
        lines.append("In flight       nothing")
    lines += [
        f"Last success    {info.get('lastSuccessAt') or 'never'}",
        f"Totals          {c.get('filesSent', 0)} files / {c.get('recordsSent', 0)} records "
        f"sent in {c.get('batchesSent', 0)} batches; {c.get('filesRejected', 0)} files "
        f"rejected; excluded {ex.get('qoe', 0)} QoE + {ex.get('cdr', 0)} CDR records",
    ]
    err = info.get("lastError")
    lines.append(
        f"Last error      {err['at']}: {err['message']}" if err else "Last error      none"
    )
    exc = info.get("exclusions") or {}
    lines.append(f"Exclusions      pushed {exc.get('pushedAt') or 'never'}")
    if info.get("monitoring") is not None:
        from cdc_agent.monitoring.source import render_status

        lines += render_status(info["monitoring"])
    if info["recent"]:
        lines.append("Recent batches (newest first):")
        for r in info["recent"]:
            line = f"  {r['at']}  {r['batchId']}  {r['records']:>5} rec  HTTP {r['httpStatus']}"
            s = r.get("server")
            if isinstance(s, dict) and "status" in s:
                line += (
                    f"  server: {s['status']}, stored {s.get('stored')}, quarantined "
                    f"{s.get('quarantined')}, excluded {s.get('excluded')}, calls "
                    f"{s.get('calls')}"
                )
                if s.get("errors"):
                    line += f", first error: {json.dumps(s['errors'][0])[:120]}"
            elif isinstance(s, dict):
                line += f"  server: {s.get('error') or 'HTTP ' + str(s.get('httpStatus'))}"
            lines.append(line)
    return "\n".join(lines)
