"""The push pass: resume the group in flight, claim complete files, send, finish.

See journal.py for why each step is safe to interrupt. Here: the order of the steps,
the retry loop of one batch, moving files to sent/ or rejected/. Pushing the tenant's
settings and the retention of sent files are in upkeep.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdc_agent import __version__
from cdc_agent.answers import fatal_text, problem_text
from cdc_agent.auth import AuthError, TokenProvider, make_token_provider
from cdc_agent.batching import encode, envelope, split, utc_now_iso
from cdc_agent.config import Config
from cdc_agent.errors import FatalError, Postponed
from cdc_agent.exclusions import ExclusionPolicy
from cdc_agent.journal import Journal, StateLock
from cdc_agent.progress import Progress
from cdc_agent.sources import BadFile, ParsedFile, Scanner, SpoolFile, file_sha256, read_file
from cdc_agent.transport import (
    Backoff,
    HttpSend,
    Outcome,
    Response,
    TransportError,
    classify,
    parse_retry_after,
    urllib_send,
)
from cdc_agent.upkeep import Upkeep

__all__ = ["Agent", "FatalError", "Postponed", "RunSummary"]
log = logging.getLogger("cdc_agent")
GROUP_BATCHES = 4  # batches claimed together: bounds memory and the work a kill repeats
MAX_GROUP_FILES = 5000


@dataclass
class RunSummary:
    files_sent: int = 0
    files_rejected: int = 0
    records_sent: int = 0
    batches_sent: int = 0
    batches_rejected: int = 0
    excluded: int = 0
    pending: bool = False
    error: str | None = None
    batch_ids: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.error:
            return 1
        return 0

    def text(self) -> str:
        parts = [
            f"{self.files_sent} file(s) sent ({self.records_sent} records in "
            f"{self.batches_sent} batch(es))",
            f"{self.excluded} record(s) excluded",
        ]
        if self.files_rejected or self.batches_rejected:
            parts.append(
                f"{self.files_rejected} file(s) / {self.batches_rejected} batch(es) rejected"
            )
        if self.pending:
            parts.append("a batch is still pending (will be retried)")
        return "; ".join(parts)


def _local_day(now: float) -> str:
    return datetime.fromtimestamp(now).date().isoformat()


def _unique(dest: Path) -> Path:
    if not dest.exists():
        return dest
    for n in range(1, 100_000):
        cand = dest.with_name(f"{dest.stem}.{n}{dest.suffix}")
        if not cand.exists():
            return cand
    raise OSError(f"no free name for {dest}")


class Agent(Upkeep):
    """Delivery of the spool (this module) plus the upkeep of `cdc_agent.upkeep`."""

    def __init__(
        self,
        cfg: Config,
        *,
        send: HttpSend = urllib_send,
        tokens: TokenProvider | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        crash: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
        progress: bool = False,
    ) -> None:
        self.cfg = cfg
        self.send = send
        self._tokens = tokens
        self.stop = stop or threading.Event()
        self.sleep = sleep or self._interruptible_sleep
        self.clock = clock
        d = cfg.delivery
        self.backoff = backoff or Backoff(
            d.backoff_base_seconds, d.backoff_max_seconds, d.max_retry_after_seconds
        )
        self.crash = crash
        self.show_progress = progress
        self.policy = ExclusionPolicy.of(cfg.exclusions.users, cfg.exclusions.domains)
        self.scanner = Scanner(
            {"qoe": cfg.spool.qoe_dir, "cdr": cfg.spool.cdr_dir}, cfg.spool.settle_seconds, clock
        )
        self.lock = StateLock(cfg.spool.state_dir)
        self.journal: Journal | None = None

    # plumbing ------------------------------------------------------------------------

    def __enter__(self) -> Agent:
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()

    def _interruptible_sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Postponed("stopping")

    def _step(self, name: str) -> None:
        """A named point between two durable steps (tests inject a crash here)."""
        if self.crash:
            self.crash(name)

    @property
    def tokens(self) -> TokenProvider:
        if self._tokens is None:
            try:
                self._tokens = make_token_provider(self.cfg.auth, self.cfg.server)
            except AuthError as exc:
                raise FatalError(str(exc)) from None
        return self._tokens

    def url(self, path: str) -> str:
        return f"{self.cfg.server.endpoint}/api/v1/{path}"

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        """One exchange with a fresh-enough token; a 401 refreshes the token once."""
        for refresh in (False, True):
            try:
                token = self.tokens.token(refresh=refresh)
            except AuthError as exc:
                raise FatalError(str(exc)) from None
            resp = self.send(
                method,
                self.url(path),
                body,
                {**headers, "Authorization": f"Bearer {token}"},
                self.cfg.server.timeout_seconds,
            )
            if resp.status != 401:
                return resp
        return resp

    def _dirs(self) -> None:
        for d in (self.cfg.spool.sent_dir, self.cfg.spool.rejected_dir, self.cfg.spool.state_dir):
            d.mkdir(parents=True, exist_ok=True)

    # the pass ------------------------------------------------------------------------

    def run_once(self) -> RunSummary:
        """One push pass: everything complete in the spool now, then return."""
        self._dirs()
        summary = RunSummary()
        self.journal = j = Journal(self.cfg.spool.state_dir)
        removed = j.cleanup_orphans()
        if removed:
            log.info(
                "removed %d leftover file(s) of an interrupted run from the state dir", removed
            )
        progress: Progress | None = None
        try:
            self.push_exclusions()
            if j.pending:
                log.info(
                    "resuming the batch group of %d file(s) left by the last run",
                    len(j.pending["files"]),
                )
                self._deliver(summary)
                self._finish(summary)
            skip: set[Path] = set()
            while not self.stop.is_set():
                ready = self.scanner.ready(skip=skip | j.claimed_paths())
                if not ready:
                    break
                if progress is None and self.show_progress and len(ready) > 1:
                    progress = Progress(len(ready))
                elif progress is not None and len(ready) > progress.total - progress.done:
                    progress.grow(len(ready) - (progress.total - progress.done))
                parsed = self._parse_group(ready, skip, summary)
                if not parsed:
                    continue
                done_before = summary.files_sent + summary.files_rejected
                records_before = summary.records_sent
                self._claim(parsed, summary)
                self._deliver(summary)
                self._finish(summary)
                if progress is not None:
                    progress.advance(
                        summary.files_sent + summary.files_rejected - done_before,
                        summary.records_sent - records_before,
                    )
            if self.cfg.monitoring is not None and not self.stop.is_set():
                from cdc_agent.monitoring.pump import pull

                pull(self, summary)  # the monitoring-db source, after the spool folders
            self.purge_sent()
        except (FatalError, Postponed) as exc:
            summary.error = str(exc)
            summary.pending = bool(j.pending)
            j.data["lastError"] = {"at": utc_now_iso(), "message": str(exc)}
            j.save()
            if isinstance(exc, FatalError):
                log.error("%s", exc)
            else:
                log.warning("delivery postponed: %s", exc)
        finally:
            if progress is not None:
                progress.close()
        return summary

    def watch(self) -> None:
        """Run passes until stopped; errors are logged and retried, never fatal, so a
        service keeps going once a secret is renewed or the network returns."""
        log.info(
            "watching %s every %.0f s",
            ", ".join(str(d) for d in self.scanner.dirs.values()),
            self.cfg.spool.poll_seconds,
        )
        failures = 0
        while not self.stop.is_set():
            try:
                summary = self.run_once()
            except Exception:  # a service must survive anything one pass runs into
                log.exception("pass failed")
                summary = RunSummary(error="pass failed")
            if summary.files_sent or summary.files_rejected:
                log.info("pass done: %s", summary.text())
            failures = failures + 1 if summary.error else 0
            wait = self.cfg.spool.poll_seconds
            if failures:
                wait = max(wait, min(300.0, self.cfg.spool.poll_seconds * 2**failures))
            self.stop.wait(wait)
        log.info("stopped")

    def dry_run(self) -> dict[str, Any]:
        """What a push would do now, with no network, no journal write and no move."""
        j = Journal(self.cfg.spool.state_dir)
        report: dict[str, Any] = {
            "pendingBatches": [],
            "files": 0,
            "records": 0,
            "excluded": 0,
            "rejected": [],
            "batches": [],
        }
        if j.pending:
            report["pendingBatches"] = [
                b["batchId"] for b in j.pending["batches"] if b["state"] == "pending"
            ]
        parsed: list[ParsedFile] = []
        for f in self.scanner.ready(skip=j.claimed_paths()):
            try:
                parsed.append(read_file(f, self.policy))
            except BadFile as exc:
                report["rejected"].append({"file": str(f.path), "reason": str(exc)})
            except OSError:
                continue
        records = [r for p in parsed for r in p.records]
        report["files"] = len(parsed)
        report["records"] = len(records)
        report["excluded"] = sum(p.excluded for p in parsed)
        for chunk in split(records, self.cfg.batch.max_records, self.cfg.batch.max_bytes):
            env = envelope(self.cfg.server.tenant_id, self.cfg.source, chunk, __version__)
            report["batches"].append(
                {"batchId": env["batchId"], "records": len(chunk), "gzipBytes": len(encode(env))}
            )
        if self.cfg.monitoring is not None:
            from cdc_agent.monitoring.pump import dry_run

            report["monitoring"] = dry_run(self)  # what the databases would add
        return report

    # claim ---------------------------------------------------------------------------

    def _parse_group(
        self, ready: list[SpoolFile], skip: set[Path], summary: RunSummary
    ) -> list[ParsedFile]:
        limit_records = self.cfg.batch.max_records * GROUP_BATCHES
        limit_bytes = self.cfg.batch.max_bytes * GROUP_BATCHES
        out: list[ParsedFile] = []
        records = size = 0
        for f in ready:
            if self.stop.is_set() or len(out) >= MAX_GROUP_FILES:
                break
            if out and (records >= limit_records or size + f.size > limit_bytes):
                break
            try:
                parsed = read_file(f, self.policy)
            except BadFile as exc:
                self._reject_local(f, str(exc), summary)
                continue
            except OSError as exc:  # vanished, locked by the writer, or still changing
                log.debug("skipping %s for now: %s", f.path, exc)
                skip.add(f.path)
                continue
            out.append(parsed)
            records += len(parsed.records)
            size += f.size
        return out

    def _claim(self, parsed: list[ParsedFile], summary: RunSummary) -> None:
        j = self.journal
        assert j is not None
        tagged = [(i, r) for i, p in enumerate(parsed) for r in p.records]
        chunks = split([r for _, r in tagged], self.cfg.batch.max_records, self.cfg.batch.max_bytes)
        batches = []
        start = 0
        sent_at = utc_now_iso()
        for chunk in chunks:
            owners = sorted({i for i, _ in tagged[start : start + len(chunk)]})
            start += len(chunk)
            env = envelope(self.cfg.server.tenant_id, self.cfg.source, chunk, __version__, sent_at)
            body = encode(env)
            j.write_body(env["batchId"], body)
            batches.append(
                {
                    "batchId": env["batchId"],
                    "records": len(chunk),
                    "bytes": len(body),
                    "files": owners,
                    "state": "pending",
                    "attempts": 0,
                    "httpStatus": None,
                }
            )
        self._step("bodies-written")
        excluded = {"qoe": 0, "cdr": 0}
        for p in parsed:
            excluded[p.file.kind] += p.excluded
        j.data["pending"] = {
            "groupId": uuid.uuid4().hex,
            "createdAt": utc_now_iso(),
            "files": [
                {
                    "path": str(p.file.path),
                    "kind": p.file.kind,
                    "size": p.file.size,
                    "mtimeNs": p.file.mtime_ns,
                    "sha256": p.sha256,
                    "records": len(p.records),
                    "excluded": p.excluded,
                }
                for p in parsed
            ],
            "batches": batches,
        }
        for kind, n in excluded.items():
            j.data["counters"]["excluded"][kind] += n
        j.save()
        summary.excluded += sum(excluded.values())
        if sum(excluded.values()):
            log.info("%d record(s) of excluded users kept on premises", sum(excluded.values()))
        self._step("claimed")

    # send ----------------------------------------------------------------------------

    def _deliver(self, summary: RunSummary) -> None:
        j = self.journal
        assert j is not None and j.pending is not None
        for batch in j.pending["batches"]:
            if batch["state"] != "pending":
                continue
            body = j.read_body(batch["batchId"])
            if body is None:
                # Only disk damage or a manual delete gets here: unclaim the group so its
                # files are read again (the service merges any repeat idempotently).
                log.error(
                    "the stored body of batch %s is missing: its files will be read again",
                    batch["batchId"],
                )
                j.data["pending"] = None
                j.save()
                return
            resp = self._post(batch, body)
            self._step("answered")
            outcome = classify(resp.status)
            batch["httpStatus"] = resp.status
            entry = {
                "batchId": batch["batchId"],
                "at": utc_now_iso(),
                "records": batch["records"],
                "httpStatus": resp.status,
            }
            if outcome is Outcome.DELIVERED:
                batch["state"] = "delivered"
                c = j.data["counters"]
                c["recordsSent"] += batch["records"]
                c["batchesSent"] += 1
                j.data["lastSuccessAt"] = entry["at"]
                j.remember(entry | {"outcome": "delivered"})
                summary.records_sent += batch["records"]
                summary.batches_sent += 1
                summary.batch_ids.append(batch["batchId"])
                log.info(
                    "batch %s delivered: %d records, HTTP %d",
                    batch["batchId"],
                    batch["records"],
                    resp.status,
                )
            else:
                batch["state"] = "rejected"
                batch["problem"] = resp.problem()
                j.data["counters"]["batchesRejected"] += 1
                j.data["lastError"] = {
                    "at": entry["at"],
                    "message": f"batch {batch['batchId']} rejected with HTTP "
                    f"{resp.status}: {problem_text(batch['problem'])}",
                }
                j.remember(entry | {"outcome": "rejected"})
                summary.batches_rejected += 1
                log.error(
                    "batch %s rejected with HTTP %d: %s; its files go to %s",
                    batch["batchId"],
                    resp.status,
                    problem_text(batch["problem"]),
                    self.cfg.spool.rejected_dir,
                )
            j.save()
            self._step("recorded")

    def _post(self, batch: dict[str, Any], body: bytes) -> Response:
        """Post one batch until a definitive answer (2xx or a rejection)."""
        attempts = self.cfg.delivery.max_attempts
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept": "application/json, application/problem+json",
        }
        last = ""
        for attempt in range(1, attempts + 1):
            if self.stop.is_set():
                raise Postponed("stopping")
            batch["attempts"] = batch.get("attempts", 0) + 1
            retry_after: float | None = None
            try:
                resp = self._request("POST", "batches", body, headers)
            except TransportError as exc:
                last = f"cannot reach {self.cfg.server.endpoint}: {exc}"
            else:
                outcome = classify(resp.status)
                if outcome in (Outcome.DELIVERED, Outcome.REJECTED):
                    return resp
                if outcome is Outcome.FATAL:
                    raise FatalError(fatal_text(resp, self.url("batches")))
                retry_after = parse_retry_after(resp.header("Retry-After"))
                last = f"HTTP {resp.status}: {problem_text(resp.problem())}"
            if attempt == attempts:
                break
            delay = self.backoff.delay(attempt, retry_after)
            log.warning(
                "batch %s: %s; retry %d/%d in %.1f s",
                batch["batchId"],
                last,
                attempt,
                attempts - 1,
                delay,
            )
            self.sleep(delay)
        raise Postponed(
            f"batch {batch['batchId']} not delivered after {attempts} attempt(s): {last}"
        )

    # finish --------------------------------------------------------------------------

    def _finish(self, summary: RunSummary) -> None:
        j = self.journal
        assert j is not None
        group = j.pending
        if group is None:
            return
        if any(b["state"] == "pending" for b in group["batches"]):
            raise Postponed("a batch is still pending")
        problems: dict[int, list[dict[str, Any]]] = {}
        for b in group["batches"]:
            if b["state"] == "rejected":
                for i in b["files"]:
                    problems.setdefault(i, []).append(
                        {
                            "batchId": b["batchId"],
                            "httpStatus": b.get("httpStatus"),
                            "problem": b.get("problem"),
                        }
                    )
        day = _local_day(self.clock())
        sent = rejected = 0
        for i, f in enumerate(group["files"]):
            src = Path(f["path"])
            if not self._same_file(src, f):
                continue  # moved by an interrupted finish, or replaced by a newer file
            if i in problems:
                dest = _unique(self.cfg.spool.rejected_dir / day / src.name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                note = {
                    "file": src.name,
                    "rejectedAt": utc_now_iso(),
                    "note": "records of this file in other batches may have been "
                    "delivered; resending is safe (the service merges repeats)",
                    "batches": problems[i],
                }
                Path(f"{dest}.problem.json").write_text(
                    json.dumps(note, indent=2, ensure_ascii=False), encoding="utf-8"
                )
                shutil.move(str(src), str(dest))
                rejected += 1
            else:
                dest = _unique(self.cfg.spool.sent_dir / day / src.name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(src), str(dest))
                sent += 1
            self._step("moved-one")
        if group.get("monitoring"):
            from cdc_agent.monitoring.pump import finish_group

            finish_group(self, group)  # rejected records kept, watermark advanced
        c = j.data["counters"]
        c["filesSent"] += len(group["files"]) - len(problems)
        c["filesRejected"] += len(problems)
        j.data["pending"] = None
        j.save()
        j.remove_bodies([b["batchId"] for b in group["batches"]])
        summary.files_sent += len(group["files"]) - len(problems)
        summary.files_rejected += len(problems)
        log.debug(
            "group %s finished: %d file(s) to sent, %d to rejected",
            group["groupId"],
            sent,
            rejected,
        )
        self._step("finished")

    @staticmethod
    def _same_file(path: Path, f: dict[str, Any]) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if (st.st_size, st.st_mtime_ns) != (f["size"], f["mtimeNs"]):
            return False
        try:
            return file_sha256(path) == f["sha256"]
        except OSError:
            return False

    def _reject_local(self, f: SpoolFile, reason: str, summary: RunSummary) -> None:
        """A file the agent can never send (malformed, unsafe XML, wrong type)."""
        day = _local_day(self.clock())
        dest = _unique(self.cfg.spool.rejected_dir / day / f.path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        note = {
            "file": f.path.name,
            "rejectedAt": utc_now_iso(),
            "problem": {"title": "file rejected by the agent", "detail": reason},
        }
        try:
            Path(f"{dest}.problem.json").write_text(json.dumps(note, indent=2), encoding="utf-8")
            shutil.move(str(f.path), str(dest))
        except OSError as exc:
            log.error("could not move %s to %s: %s", f.path, dest, exc)
            return
        summary.files_rejected += 1
        j = self.journal
        if j is not None:
            j.data["counters"]["filesRejected"] += 1
            j.data["lastError"] = {"at": utc_now_iso(), "message": reason}
            j.save()
        log.error("%s rejected: %s (moved to %s)", f.path.name, reason, dest.parent)
