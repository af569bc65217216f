"""How `monitoring-db` pages go through the agent's claim -> send -> finish steps.

Kept out of agent.py on purpose: the agent calls `pull` once per pass (after the spool
folders) and `finish_group` when it finishes a group that came from a database. A page
becomes one group; its journal entry has no files but carries the page's `monitoring`
delta (keys, watermark, counters), applied to monitoring.json by `finish_group` before
the journal forgets the group.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdc_agent import __version__
from cdc_agent.batching import encode, envelope, split, utc_now_iso
from cdc_agent.monitoring.source import (
    Feed,
    MonitoringDown,
    MonitoringSource,
    MonitoringState,
    Page,
    commit,
)

if TYPE_CHECKING:
    from cdc_agent.agent import Agent, RunSummary

log = logging.getLogger("cdc_agent")


def source_for(agent: Agent) -> MonitoringSource | None:
    cfg = agent.cfg.monitoring
    if cfg is None:
        return None
    src: MonitoringSource | None = getattr(agent, "_monitoring_source", None)
    if src is None:
        src = MonitoringSource(
            cfg, agent.policy, agent.cfg.spool.state_dir, clock=agent.clock, sleep=agent.sleep
        )
        agent._monitoring_source = src  # type: ignore[attr-defined]
    src._masks = None  # the network configuration may have changed since the last pass
    return src


def pull(agent: Agent, summary: RunSummary) -> None:
    """Read every configured feed from its watermark; send each page as a group.
    A database that stays down is recorded (status shows it) and the others still run;
    FatalError / Postponed from delivery propagate like for spool files."""
    src = source_for(agent)
    if src is None:
        return
    try:
        state = MonitoringState.load(agent.cfg.spool.state_dir)
    except MonitoringDown as exc:  # monitoring.json damaged: say so, read nothing
        log.error("%s", exc)
        summary.error = summary.error or str(exc)
        return
    agent._monitoring_state = state  # type: ignore[attr-defined]  # finish_group's copy
    errors: list[str] = []
    try:
        _pull_all(agent, src, state, summary, errors)
    finally:
        agent._monitoring_state = None  # type: ignore[attr-defined]
    state.save()
    if errors and not summary.error:
        summary.error = "; ".join(errors)


def _pull_all(
    agent: Agent,
    src: MonitoringSource,
    state: MonitoringState,
    summary: RunSummary,
    errors: list[str],
) -> None:
    for feed in src.feeds:
        if agent.stop.is_set():
            break
        try:
            _pull_feed(agent, src, feed, state, summary)
        except MonitoringDown as exc:
            st = state.feed(feed)
            st["state"] = "down"
            st["lastError"] = {"at": utc_now_iso(), "message": str(exc)}
            state.save()
            log.error("%s", exc)
            errors.append(str(exc))


def _pull_feed(
    agent: Agent, src: MonitoringSource, feed: Feed, state: MonitoringState, summary: RunSummary
) -> None:
    for page in src.pages(feed, state):
        page.delta["overlapMinutes"] = feed.overlap.total_seconds() / 60
        if not page.delta["keys"]:
            continue
        if agent.stop.is_set():
            return
        if page.records:
            claim(agent, page)
            agent._deliver(summary)
            agent._finish(summary)  # applies the delta through finish_group
        else:  # only excluded (or unusable) rows: nothing to send, remember them
            commit(state, page.delta, delivered_records=0, rejected=False)
            state.save()
        summary.excluded += page.delta["excluded"]
        if page.delta["excluded"]:
            log.info(
                "%s: %d record(s) of excluded users kept on premises",
                feed.database,
                page.delta["excluded"],
            )


def claim(agent: Agent, page: Page) -> None:
    """The page's records as pending batches + the delta, in one journal write."""
    j = agent.journal
    assert j is not None
    sent_at = utc_now_iso()
    batches = []
    for chunk in split(page.records, agent.cfg.batch.max_records, agent.cfg.batch.max_bytes):
        env = envelope(agent.cfg.server.tenant_id, agent.cfg.source, chunk, __version__, sent_at)
        body = encode(env)
        j.write_body(env["batchId"], body)
        batches.append(
            {
                "batchId": env["batchId"],
                "records": len(chunk),
                "bytes": len(body),
                "files": [],
                "state": "pending",
                "attempts": 0,
                "httpStatus": None,
            }
        )
    agent._step("bodies-written")
    j.data["pending"] = {
        "groupId": page.delta["groupId"],
        "createdAt": utc_now_iso(),
        "files": [],
        "batches": batches,
        "monitoring": page.delta,
    }
    j.data["counters"]["excluded"][page.feed.kind] += page.delta["excluded"]
    j.save()
    log.info(
        "%s: %d new row(s) -> %d record(s) in %d batch(es)",
        page.feed.database,
        page.delta["rows"],
        len(page.records),
        len(batches),
    )
    agent._step("claimed")


def finish_group(agent: Agent, group: dict[str, Any]) -> None:
    """Before the journal drops a database group: keep the records of a rejected batch
    in rejected_dir (nothing accepted is lost), then apply the delta."""
    j = agent.journal
    assert j is not None
    delta = group["monitoring"]
    rejected = [b for b in group["batches"] if b["state"] == "rejected"]
    day = utc_now_iso()[:10]
    for b in rejected:
        body = j.read_body(b["batchId"])
        dest = Path(agent.cfg.spool.rejected_dir) / day / f"{delta['feed']}-{b['batchId']}.json.gz"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if body is not None and not dest.exists():
            dest.write_bytes(body)
            note = {
                "file": dest.name,
                "rejectedAt": utc_now_iso(),
                "source": "monitoring-db",
                "batches": [
                    {
                        "batchId": b["batchId"],
                        "httpStatus": b.get("httpStatus"),
                        "problem": b.get("problem"),
                    }
                ],
            }
            Path(f"{dest}.problem.json").write_text(json.dumps(note, indent=2), encoding="utf-8")
    delivered = sum(b["records"] for b in group["batches"] if b["state"] == "delivered")
    state: MonitoringState | None = getattr(agent, "_monitoring_state", None)
    if state is None:  # a group resumed at the start of a pass
        state = MonitoringState.load(agent.cfg.spool.state_dir)
    if commit(state, delta, delivered_records=delivered, rejected=bool(rejected)):
        state.save()
    agent._step("monitoring-committed")


def dry_run(agent: Agent) -> list[dict[str, Any]]:
    """What a pass would take from each feed now; reads only, records nothing (the state
    it loads is never saved)."""
    src = source_for(agent)
    assert src is not None
    state = MonitoringState.load(agent.cfg.spool.state_dir)
    out: list[dict[str, Any]] = []
    for feed in src.feeds:
        row: dict[str, Any] = {
            "feed": feed.name,
            "database": feed.database,
            "rows": 0,
            "records": 0,
            "excluded": 0,
        }
        try:
            for page in src.pages(feed, state):
                row["rows"] += page.delta["rows"]
                row["records"] += len(page.records)
                row["excluded"] += page.delta["excluded"]
        except MonitoringDown as exc:
            row["error"] = str(exc)
        out.append(row)
    return out
