"""The state directory: a JSON journal written atomically, the built batch bodies, a lock.

Why this design (issue 6, "Checkpointing"): a kill can land between any two steps, so
every step is either idempotent or recorded before the next one starts.

    state_dir/
      journal.json              the journal (replaced atomically with os.replace)
      batches/<batchId>.json.gz the exact bytes of each pending batch
      agent.lock                one agent at a time (Task Scheduler + service overlap)

A pass is: claim -> send -> finish.
1. claim: the files are parsed, filtered and cut into batches; each batch body is
   written (fsync + rename) BEFORE the journal names it; then one journal write records
   the group (files with size/mtime/sha256, batches, state `pending`) and adds the
   excluded counts. A kill before that write leaves only orphan bodies (deleted at start)
   and unclaimed files, which are claimed again: nothing was sent yet, so nothing doubles.
2. send: each pending batch is posted from its stored bytes; after a 2xx, one journal
   write marks it `delivered` and adds the sent counts. A kill between the server's
   answer and that write resends the same bytes (same batchId): the server answers 200.
3. finish: files move to sent/ (or rejected/ with the problem body) and one journal
   write drops the group. A kill mid-way leaves the group in the journal: files still in
   the spool are moved if they are the same file (size, mtime, sha256), never a newer
   file that landed with the same name.
Only one group is in flight at a time, so the journal stays small and ordered.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

JOURNAL_VERSION = 1
MAX_RECENT = 50


class JournalError(Exception):
    """The journal cannot be read; the message says what to do."""


class AgentBusy(Exception):
    """Another agent process holds the state directory."""


def fsync_dir(path: Path) -> None:
    """Make a rename durable on POSIX; Windows has no directory handles to sync."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file, fsync, then os.replace: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def empty_state() -> dict[str, Any]:
    return {
        "version": JOURNAL_VERSION,
        "pending": None,
        "counters": {
            "filesSent": 0,
            "filesRejected": 0,
            "recordsSent": 0,
            "batchesSent": 0,
            "batchesRejected": 0,
            "excluded": {"qoe": 0, "cdr": 0},
        },
        "lastSuccessAt": None,
        "lastError": None,
        "recent": [],
        "exclusions": {"fingerprint": None, "pushedAt": None},
    }


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / "journal.json"
        self.batch_dir = state_dir / "batches"
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return empty_state()
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
                raise ValueError(f"unexpected version {data.get('version')!r}")
        except (ValueError, UnicodeDecodeError, AttributeError) as exc:
            raise JournalError(
                f"{self.path} is unreadable ({exc}). It is only ever replaced atomically, so "
                "this means disk damage or a manual edit: restore it, or move it away to "
                "start over (files still in the spool will be sent again; the service "
                "merges repeats without duplicating calls)."
            ) from None
        base = empty_state()
        for key, value in base.items():
            data.setdefault(key, value)
        for key, value in base["counters"].items():
            data["counters"].setdefault(key, value)
        return data

    def save(self) -> None:
        body = json.dumps(self.data, indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write(self.path, body.encode("utf-8"))

    # the group in flight -----------------------------------------------------------

    @property
    def pending(self) -> dict[str, Any] | None:
        return self.data.get("pending")

    def claimed_paths(self) -> set[Path]:
        group = self.pending
        return {Path(f["path"]) for f in group["files"]} if group else set()

    # batch bodies ------------------------------------------------------------------

    def body_path(self, batch_id: str) -> Path:
        return self.batch_dir / f"{batch_id}.json.gz"

    def write_body(self, batch_id: str, body: bytes) -> None:
        atomic_write(self.body_path(batch_id), body)

    def read_body(self, batch_id: str) -> bytes | None:
        try:
            return self.body_path(batch_id).read_bytes()
        except FileNotFoundError:
            return None

    def remove_bodies(self, batch_ids: list[str]) -> None:
        for bid in batch_ids:
            with contextlib.suppress(FileNotFoundError):
                self.body_path(bid).unlink()

    def cleanup_orphans(self) -> int:
        """Delete bodies no pending batch names (a kill before the claim was recorded)
        and temp files of interrupted atomic writes."""
        keep = {b["batchId"] for b in (self.pending or {}).get("batches", [])}
        removed = 0
        for folder in (self.batch_dir, self.dir):
            if not folder.exists():
                continue
            for p in folder.iterdir():
                orphan_body = (
                    folder == self.batch_dir
                    and p.name.endswith(".json.gz")
                    and (p.name[: -len(".json.gz")] not in keep)
                )
                if orphan_body or p.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        p.unlink()
                        removed += 1
        return removed

    def remember(self, entry: dict[str, Any]) -> None:
        recent = self.data.setdefault("recent", [])
        recent.append(entry)
        del recent[:-MAX_RECENT]


class StateLock:
    """An exclusive lock on state_dir/agent.lock, released by the OS if the process dies
    (so a killed agent never blocks the next run)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "agent.lock"
        self._fh: IO[bytes] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+b")
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise AgentBusy(
                f"another cdc-agent is using {self.path.parent} "
                "(a scheduled push overlapping the service?)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n".encode())
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            if sys.platform == "win32":
                import msvcrt

                self._fh.seek(0)
                with contextlib.suppress(OSError):
                    msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
        finally:
            self._fh.close()
            self._fh = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
