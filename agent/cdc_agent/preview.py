"""`cdc-agent preview`: the exact next batch, shown to the admin before anything leaves.

Why a separate command next to `push --dry-run`: the dry run counts (files, records,
batches); an admin who must get approval to send call data needs to see the content
itself, record by record, after the exclusion policy, in the very bytes the agent would
post. So the preview builds the next batch the way a push does and prints it, and
touches nothing: no network (no token, no exclusion push), no journal write, no lock,
no file moved.

Which batch is "next" follows the push pass (agent.py `run_once`):
1. a batch the last run left pending in the journal is sent first, from its stored
   bytes: the preview decodes those very bytes (the exclusion policy was applied when
   they were claimed; records that the current policy would now exclude are flagged,
   since the agent resends stored bytes unchanged);
2. otherwise the complete files in the spool are read in the order a push takes them,
   with the same group limits, filtered by the policy and cut by the same `split`; the
   first chunk is the next batch. Its batchId is content-derived, so it is the id the
   push will use for it; only `sentAt` is stamped at claim time and differs.
The preview is printed to the console (or a file the admin names), never to the log:
it holds the users' addresses, which the log must never contain.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdc_agent import __version__
from cdc_agent.agent import GROUP_BATCHES, MAX_GROUP_FILES
from cdc_agent.batching import encode, envelope, split
from cdc_agent.config import Config
from cdc_agent.exclusions import ExclusionPolicy, UnsafeXml, cdr_users, parse_qoe, qoe_users
from cdc_agent.journal import Journal
from cdc_agent.sources import BadFile, ParsedFile, Scanner, read_file


@dataclass
class Preview:
    """The next batch and where its records come from."""

    origin: str  # "pending" (resent from the journal) | "spool" (built from files) | "none"
    envelope: dict[str, Any] | None = None
    gzip_bytes: int = 0
    # per file read for this batch: path, kind, records in this batch, excluded
    files: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    # records of a pending batch that the current policy would exclude (indexes)
    now_excluded: list[int] = field(default_factory=list)
    batches_after: int = 0  # further batches the same spool holds now

    def as_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "gzipBytes": self.gzip_bytes,
            "files": self.files,
            "rejected": self.rejected,
            "nowExcluded": self.now_excluded,
            "batchesAfter": self.batches_after,
            "envelope": self.envelope,
        }


def record_users(record: dict[str, Any]) -> list[str]:
    """The addresses a record names, by the same rules the exclusion policy reads."""
    if record.get("kind") == "cdr" and isinstance(record.get("data"), dict):
        return cdr_users(record["data"])
    if record.get("kind") == "qoe" and isinstance(record.get("data"), str):
        try:
            return qoe_users(parse_qoe(record["data"].encode("utf-8")))
        except UnsafeXml:
            return []
    return []


def _from_pending(cfg: Config, journal: Journal, policy: ExclusionPolicy) -> Preview | None:
    group = journal.pending
    if not group:
        return None
    for batch in group["batches"]:
        if batch["state"] != "pending":
            continue
        body = journal.read_body(batch["batchId"])
        if body is None:
            return None  # the push unclaims the group and reads its files again
        env = json.loads(gzip.decompress(body))
        owners = set(batch.get("files", []))
        files = [
            {
                "path": f["path"],
                "kind": f["kind"],
                "records": f["records"],
                "excluded": f["excluded"],
            }
            for i, f in enumerate(group["files"])
            if i in owners
        ]
        flagged = [
            i
            for i, r in enumerate(env["records"])
            if policy and policy.excludes_any(record_users(r))
        ]
        later = sum(1 for b in group["batches"] if b["state"] == "pending") - 1
        return Preview("pending", env, len(body), files, now_excluded=flagged, batches_after=later)
    return None


def _body_missing(journal: Journal) -> bool:
    """The push's own test (Agent._deliver): a pending batch whose stored bytes are gone
    makes it drop the claim, so those files are read again and count as unclaimed."""
    group = journal.pending
    if not group:
        return False
    return any(
        b["state"] == "pending" and journal.read_body(b["batchId"]) is None
        for b in group["batches"]
    )


def _from_spool(cfg: Config, journal: Journal, policy: ExclusionPolicy) -> Preview:
    scanner = Scanner(
        {"qoe": cfg.spool.qoe_dir, "cdr": cfg.spool.cdr_dir}, cfg.spool.settle_seconds
    )
    claimed = set() if _body_missing(journal) else journal.claimed_paths()
    limit_records = cfg.batch.max_records * GROUP_BATCHES
    limit_bytes = cfg.batch.max_bytes * GROUP_BATCHES
    parsed: list[ParsedFile] = []
    rejected: list[dict[str, str]] = []
    records = size = 0
    for f in scanner.ready(skip=claimed):
        # the same cut as Agent._parse_group, without its side effects
        if len(parsed) >= MAX_GROUP_FILES:
            break
        if parsed and (records >= limit_records or size + f.size > limit_bytes):
            break
        try:
            p = read_file(f, policy)
        except BadFile as exc:
            rejected.append({"file": str(f.path), "reason": str(exc)})
            continue
        except OSError:
            continue  # vanished or still changing: a push would skip it too
        parsed.append(p)
        records += len(p.records)
        size += f.size
    tagged = [(i, r) for i, p in enumerate(parsed) for r in p.records]
    chunks = split([r for _, r in tagged], cfg.batch.max_records, cfg.batch.max_bytes)
    if not chunks:
        files = [
            {"path": str(p.file.path), "kind": p.file.kind, "records": 0, "excluded": p.excluded}
            for p in parsed
        ]
        return Preview("none", files=files, rejected=rejected)
    first = chunks[0]
    per_file: dict[int, int] = {}
    for i, _ in tagged[: len(first)]:
        per_file[i] = per_file.get(i, 0) + 1
    last_owner = max(per_file)
    # files whose records are all excluded still travel with this group (sent/ on success)
    files = [
        {
            "path": str(p.file.path),
            "kind": p.file.kind,
            "records": per_file.get(i, 0),
            "excluded": p.excluded,
        }
        for i, p in enumerate(parsed)
        if i <= last_owner
    ]
    env = envelope(cfg.server.tenant_id, cfg.source, first, __version__)
    return Preview("spool", env, len(encode(env)), files, rejected, batches_after=len(chunks) - 1)


def build_preview(cfg: Config) -> Preview:
    """The batch the next push would post first; reads only."""
    policy = ExclusionPolicy.of(cfg.exclusions.users, cfg.exclusions.domains)
    journal = Journal(cfg.spool.state_dir)
    return _from_pending(cfg, journal, policy) or _from_spool(cfg, journal, policy)


def _describe(record: dict[str, Any]) -> str:
    data = record.get("data")
    users = record_users(record)
    if record.get("kind") == "cdr" and isinstance(data, dict):
        call = data.get("callId")
        extra = f" conference {data['conferenceUri']}" if data.get("conferenceUri") else ""
        return (
            f"cdr  call {call}: {' -> '.join(users[:2]) or '(no users)'}{extra}, "
            f"media {','.join(data.get('mediaTypes') or []) or '-'}, "
            f"response {data.get('responseCode')}"
        )
    if record.get("kind") == "qoe" and isinstance(data, str):
        return (
            f"qoe  report of {len(data.encode('utf-8'))} bytes naming "
            f"{', '.join(sorted(set(users))) or '(no users)'}"
        )
    return f"{record.get('kind')}/{record.get('format')}"


def render(p: Preview, cfg: Config) -> str:
    """The preview as the console shows it."""
    lines = [
        f"Preview of the next batch to {cfg.server.endpoint} (nothing sent, nothing "
        "moved, journal untouched)"
    ]
    policy = ExclusionPolicy.of(cfg.exclusions.users, cfg.exclusions.domains)
    lines.append(
        f"  exclusion policy: {len(policy.users)} user(s), {len(policy.domains)} "
        "domain(s); their records stay on premises"
    )
    for r in p.rejected:
        lines.append(f"  would reject {r['file']}: {r['reason']}")
    if p.envelope is None:
        lines.append("  nothing to send: no complete file holds a record to send")
        for f in p.files:
            lines.append(f"  {f['path']}: {f['excluded']} record(s) excluded")
        return "\n".join(lines)
    env = p.envelope
    origin = (
        "left pending by the last run; resent from its stored bytes"
        if p.origin == "pending"
        else "built from the spool now"
    )
    lines.append(f"  batch {env['batchId']} ({origin})")
    lines.append(f"  tenant {env['tenantId']}, source {json.dumps(env['source'])}")
    lines.append(
        f"  {len(env['records'])} record(s), {p.gzip_bytes} bytes gzip"
        + (f"; {p.batches_after} more batch(es) after it" if p.batches_after else "")
    )
    for f in p.files:
        lines.append(
            f"  from {f['path']} ({f['kind']}): {f['records']} record(s) in this "
            f"batch, {f['excluded']} excluded"
        )
    if p.now_excluded:
        lines.append(
            f"  WARNING: {len(p.now_excluded)} record(s) of this pending batch name "
            "users the current policy excludes (the policy changed after the batch "
            "was built); the agent resends stored batches unchanged. Records: "
            + ", ".join(str(i) for i in p.now_excluded)
        )
    for i, r in enumerate(env["records"]):
        lines.append(f"  [{i}] {_describe(r)}")
    lines.append("  exact content: cdc-agent preview --json (or --out FILE)")
    return "\n".join(lines)


def write_json(p: Preview, path: Path | None) -> str | None:
    """The preview as JSON (the envelope exactly as it would be posted, before gzip);
    to `path` when given, else returned for the console."""
    text = json.dumps(p.as_json(), indent=2, ensure_ascii=False)
    if path is None:
        return text
    path.write_text(text + "\n", encoding="utf-8")
    return None
