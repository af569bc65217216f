"""The `monitoring-db` source: incremental, paged, read-only reads of QoEMetrics/LcsCDR.

Why a watermark *and* a remembered set: the rows are keyed by a time and a sequence
number (QoEMetrics `ConferenceDateTime, SessionSeq`; LcsCDR `SessionIdTime,
SessionIdSeq`), but rows do not arrive in key order: the callee's QoE report completes
a session the caller's report created minutes before, and a CDR row is written when the
session ends, long after its `SessionIdTime`. So each pass reads again from
`watermark - overlap` (keyset pages, oldest first, at most `page_size` rows a query),
and skips every record it already sent with the same content: the key and a hash of
each record sent within the overlap window are kept. A session completed later yields
a new record (the callee's report), sent then; an unchanged one is never sent twice.

Durability: a page's records go through the same claim -> send -> finish steps as
spool files (journal.py). The claim records, with the batches, the page's keys and new
watermark; finish writes them to `monitoring.json` (atomically) before the journal
drops the group, and writing them twice changes nothing. So a kill at any point either
re-reads a page whose records were never sent or resends the same stored bytes.

Read-only: only SELECTs built with SQLAlchemy Core, each page on a connection whose
transaction is rolled back; the SQL login needs db_datareader (or SELECT on the tables
in schema.py) and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cdc_agent.batching import record_json, utc_now_iso
from cdc_agent.exclusions import ExclusionPolicy, UnsafeXml, cdr_users, parse_qoe, qoe_users
from cdc_agent.journal import atomic_write
from cdc_agent.monitoring import cdr as cdr_rows
from cdc_agent.monitoring import qoe as qoe_rows
from cdc_agent.monitoring.config import MonitoringConfig

log = logging.getLogger("cdc_agent")
STATE_FILE = "monitoring.json"
STATE_VERSION = 1
MAX_COMMITTED = 50
KEY_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: keys sort by time as text


class MonitoringDown(Exception):
    """A database could not be read in this pass (after retries)."""


@dataclass
class Feed:
    """One table read incrementally: `qoe` (QoEMetrics Session), `cdr` (LcsCDR
    SessionDetails) or `cdrConference` (LcsCDR ConferenceSessionDetails)."""

    name: str
    database: str
    url: str
    kind: str  # record kind: qoe | cdr
    overlap: timedelta


@dataclass
class Item:
    """What one database row contributes: its key, time and records."""

    row_key: str
    time: datetime
    records: list[tuple[str, dict[str, Any]]]  # (suffix, record)


@dataclass
class Page:
    feed: Feed
    records: list[dict[str, Any]]
    delta: dict[str, Any]
    last: tuple[datetime, int] | None
    full: bool
    rows_seen: int = 0


@dataclass
class MonitoringState:
    """monitoring.json: per feed the watermark, the keys sent within the overlap, and
    the counters `status` shows."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> MonitoringState:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("unexpected version")
        except FileNotFoundError:
            data = {"version": STATE_VERSION, "feeds": {}}
        except ValueError as exc:
            raise MonitoringDown(
                f"{path} is unreadable ({exc}); move it away to read the "
                "databases again from backfill_days (the service merges "
                "repeats)"
            ) from None
        return cls(path, data)

    def feed(self, feed: Feed) -> dict[str, Any]:
        st: dict[str, Any] = self.data["feeds"].setdefault(feed.name, {})
        st.setdefault("database", feed.database)
        for key, value in (
            ("watermark", None),
            ("sent", {}),
            ("rowsRead", 0),
            ("rowsSent", 0),
            ("recordsSent", 0),
            ("excluded", 0),
            ("rowsRejected", 0),
            ("rowsUnusable", 0),
            ("committed", []),
            ("state", "never read"),
            ("lastReadAt", None),
            ("lastError", None),
        ):
            st.setdefault(key, value)
        return st

    def save(self) -> None:
        body = json.dumps(self.data, indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write(self.path, body.encode("utf-8"))


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _key_time(t: datetime) -> str:
    return _naive_utc(t).strftime(KEY_TIME)


def _sha(record: dict[str, Any]) -> str:
    return hashlib.sha256(record_json(record).encode("utf-8")).hexdigest()[:20]


def feeds_of(cfg: MonitoringConfig) -> list[Feed]:
    out = []
    if cfg.qoe_url:
        out.append(
            Feed(
                "qoe", "QoEMetrics", cfg.qoe_url, "qoe", timedelta(minutes=cfg.qoe_overlap_minutes)
            )
        )
    if cfg.cdr_url:
        overlap = timedelta(minutes=cfg.cdr_overlap_minutes)
        out.append(Feed("cdr", "LcsCDR", cfg.cdr_url, "cdr", overlap))
        out.append(Feed("cdrConference", "LcsCDR", cfg.cdr_url, "cdr", overlap))
    return out


class MonitoringSource:
    """Reads pages of new records from the configured databases."""

    def __init__(
        self,
        cfg: MonitoringConfig,
        policy: ExclusionPolicy,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.policy = policy
        self.state_dir = state_dir
        self.clock = clock
        self.sleep = sleep
        self.feeds = feeds_of(cfg)
        self._engines: dict[str, Any] = {}
        self._masks: dict[str, int] | None = None

    # connections ----------------------------------------------------------------------

    def engine(self, url: str) -> Any:
        """One engine per URL, created on first use (pymssql is imported only then)."""
        if url in self._engines:
            return self._engines[url]
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        args: dict[str, Any] = {}
        u = make_url(url)
        if u.get_backend_name() == "mssql":
            args = {
                "login_timeout": int(self.cfg.login_timeout_seconds),
                "timeout": int(self.cfg.query_timeout_seconds),
                "appname": "cdc-agent",
            }
            if self.cfg.user:  # SQL login, or a Windows account by NTLM; else SSPI
                assert self.cfg.password_env is not None
                password = os.environ.get(self.cfg.password_env)
                if not password:
                    raise MonitoringDown(
                        f"the environment variable {self.cfg.password_env} "
                        "(monitoring_db password_env) is not set"
                    )
                args |= {"user": self.cfg.user, "password": password}
        engine = create_engine(url, connect_args=args, pool_pre_ping=True)
        self._engines[url] = engine
        return engine

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def _read(self, feed: Feed, fn: Callable[[Any], Any]) -> Any:
        """Run `fn(connection)` with retries; never commits (read-only)."""
        from sqlalchemy.exc import DBAPIError, ProgrammingError, SQLAlchemyError

        attempts = self.cfg.max_attempts
        last = ""
        for attempt in range(1, attempts + 1):
            try:
                with self.engine(feed.url).connect() as conn:
                    try:
                        return fn(conn)
                    finally:
                        conn.rollback()
            except ProgrammingError as exc:  # missing table/column or no permission
                raise MonitoringDown(
                    f"{feed.database}: {_db_error(exc)} (does the login have db_datareader?)"
                ) from None
            except (DBAPIError, SQLAlchemyError, OSError) as exc:
                last = _db_error(exc)
            if attempt < attempts:
                delay = self.cfg.retry_seconds * 2 ** (attempt - 1)
                log.warning(
                    "%s cannot be read (%s); retry %d/%d in %.1f s",
                    feed.database,
                    last,
                    attempt,
                    attempts - 1,
                    delay,
                )
                self.sleep(delay)
        raise MonitoringDown(f"{feed.database} cannot be read after {attempts} attempt(s): {last}")

    # pages --------------------------------------------------------------------------

    def since(self, st: dict[str, Any], feed: Feed) -> datetime:
        """Where a pass starts: watermark - overlap. A watermark ahead of this machine's
        clock (a row stamped in the future: clock skew) counts as now, so rows stamped
        normally after it are still inside the window."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc).replace(tzinfo=None)
        wm = st.get("watermark")
        if wm:
            return min(datetime.strptime(wm, KEY_TIME), now) - feed.overlap
        return now - timedelta(days=self.cfg.backfill_days)

    def _items(
        self, feed: Feed, conn: Any, since: datetime, after: tuple[datetime, int] | None
    ) -> tuple[list[Item], int, tuple[datetime, int] | None]:
        """One page of rows -> (items, rows read, key of the last row)."""
        if feed.name == "qoe":
            return self._qoe_items(conn, since, after)
        return self._cdr_items(conn, since, after, conference=feed.name == "cdrConference")

    def _qoe_items(
        self, conn: Any, since: datetime, after: tuple[datetime, int] | None
    ) -> tuple[list[Item], int, tuple[datetime, int] | None]:
        sessions = (
            conn.execute(qoe_rows.session_page(since, after, self.cfg.page_size)).mappings().all()
        )
        if not sessions:
            return [], 0, None
        t0, t1 = sessions[0]["ConferenceDateTime"], sessions[-1]["ConferenceDateTime"]
        if self._masks is None:
            self._masks = qoe_rows.subnet_masks(conn.execute(qoe_rows.subnets()).mappings().all())
        grouped = qoe_rows.group_children(
            sessions,
            conn.execute(qoe_rows.media_lines(t0, t1)).mappings().all(),
            conn.execute(qoe_rows.audio_streams(t0, t1)).mappings().all(),
            conn.execute(qoe_rows.video_streams(t0, t1)).mappings().all(),
            conn.execute(qoe_rows.app_sharing_streams(t0, t1)).mappings().all(),
            conn.execute(qoe_rows.client_events(t0, t1)).mappings().all(),
        )
        items = []
        for rows in grouped:
            t, seq = rows.key
            recs = [
                (suffix, {"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
                for suffix, xml in qoe_rows.session_reports(rows, self._masks)
            ]
            items.append(Item(f"{_key_time(t)}|{seq}", t, recs))
        last = sessions[-1]
        return items, len(sessions), (last["ConferenceDateTime"], int(last["SessionSeq"]))

    def _cdr_items(
        self, conn: Any, since: datetime, after: tuple[datetime, int] | None, *, conference: bool
    ) -> tuple[list[Item], int, tuple[datetime, int] | None]:
        page = cdr_rows.conference_page if conference else cdr_rows.p2p_page
        rows = conn.execute(page(since, after, self.cfg.page_size)).mappings().all()
        if not rows:
            return [], 0, None
        t0, t1 = rows[0]["SessionIdTime"], rows[-1]["SessionIdTime"]
        media = cdr_rows.media_by_key(conn.execute(cdr_rows.media(t0, t1)).mappings().all())
        items = []
        for r in rows:
            t, seq = r["SessionIdTime"], int(r["SessionIdSeq"])
            data = cdr_rows.cdr_record(r, media.get((t, seq), []), conference)
            recs: list[tuple[str, dict[str, Any]]] = (
                []
                if data is None
                else [("cdr", {"kind": "cdr", "format": "sfb-cdr-json", "data": data})]
            )
            items.append(Item(f"{_key_time(t)}|{seq}", t, recs))
        last = rows[-1]
        return items, len(rows), (last["SessionIdTime"], int(last["SessionIdSeq"]))

    def _excluded(self, record: dict[str, Any]) -> bool:
        if not self.policy:
            return False
        if record["kind"] == "cdr":
            return self.policy.excludes_any(cdr_users(record["data"]))
        try:
            return self.policy.excludes_any(qoe_users(parse_qoe(record["data"].encode())))
        except UnsafeXml:  # cannot happen for a report built here; never send unchecked
            return True

    def pages(self, feed: Feed, state: MonitoringState) -> Iterator[Page]:
        """Pages of not-yet-sent records, oldest first, from watermark - overlap."""
        st = state.feed(feed)
        since = self.since(st, feed)
        after: tuple[datetime, int] | None = None
        while True:

            def read(conn: Any, a: tuple[datetime, int] | None = after) -> Any:
                return self._items(feed, conn, since, a)

            items, n, last = self._read(feed, read)
            st["lastReadAt"] = utc_now_iso()
            st["state"] = "ok"
            st["lastError"] = None
            sent = st["sent"]
            keys: dict[str, str] = {}
            records: list[dict[str, Any]] = []
            excluded = rows = unusable = 0
            newest: datetime | None = None
            for item in items:
                if not item.records:  # no Call-ID / caller / known media line: counted once
                    key = f"{item.row_key}:none"
                    if sent.get(key) != "-":
                        keys[key] = "-"
                        unusable += 1
                took = False
                for suffix, record in item.records:
                    key = f"{item.row_key}:{suffix}"
                    digest = _sha(record)
                    if sent.get(key) == digest:
                        continue
                    keys[key] = digest
                    took = True
                    if self._excluded(record):
                        excluded += 1
                    else:
                        records.append(record)
                if took:
                    rows += 1
                newest = item.time if newest is None or item.time > newest else newest
            if unusable:
                log.warning(
                    "%s: %d row(s) that make no record (no Call-ID, no caller or no "
                    "known media line); counted in status",
                    feed.database,
                    unusable,
                )
            delta = {
                "groupId": uuid.uuid4().hex,
                "feed": feed.name,
                "keys": keys,
                "rows": rows,
                "excluded": excluded,
                "records": len(records),
                "unusable": unusable,
                "watermark": _key_time(newest) if newest is not None else None,
            }
            yield Page(feed, records, delta, last, full=n >= self.cfg.page_size, rows_seen=n)
            if last is None or n < self.cfg.page_size:
                return
            after = last


def _db_error(exc: BaseException) -> str:
    """A short, single-line reason (driver messages carry no call data)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return f"{type(orig).__name__}: {text[:240]}"


def commit(
    state: MonitoringState, delta: dict[str, Any], *, delivered_records: int, rejected: bool
) -> bool:
    """Apply a page's keys, watermark and counters (once per group); False if already."""
    feed_name = delta["feed"]
    st = state.data["feeds"].setdefault(feed_name, {})
    for key, value in (
        ("watermark", None),
        ("sent", {}),
        ("rowsRead", 0),
        ("rowsSent", 0),
        ("recordsSent", 0),
        ("excluded", 0),
        ("rowsRejected", 0),
        ("rowsUnusable", 0),
        ("committed", []),
    ):
        st.setdefault(key, value)
    if delta["groupId"] in st["committed"]:
        return False
    st["sent"].update(delta["keys"])
    wm = delta.get("watermark")
    if wm and (st["watermark"] is None or wm > st["watermark"]):
        st["watermark"] = wm
    st["rowsRead"] += delta["rows"]
    st["rowsUnusable"] += delta.get("unusable", 0)
    st["excluded"] += delta["excluded"]
    st["recordsSent"] += delivered_records
    if rejected:
        st["rowsRejected"] += delta["rows"]
    else:
        st["rowsSent"] += delta["rows"]
    st["committed"] = (st["committed"] + [delta["groupId"]])[-MAX_COMMITTED:]
    overlap_minutes = delta.get("overlapMinutes")
    if st["watermark"] and overlap_minutes is not None:
        cutoff = _key_time(
            datetime.strptime(st["watermark"], KEY_TIME) - timedelta(minutes=overlap_minutes)
        )
        st["sent"] = {k: v for k, v in st["sent"].items() if k.split("|", 1)[0] >= cutoff}
    return True


def status(cfg: MonitoringConfig | None, state_dir: Path) -> list[dict[str, Any]] | None:
    """What `cdc-agent status` shows per feed (no keys, no URLs: just the figures)."""
    if cfg is None:
        return None
    try:
        state = MonitoringState.load(state_dir)
    except MonitoringDown as exc:
        return [{"feed": "all", "state": "unreadable", "lastError": {"message": str(exc)}}]
    out = []
    for feed in feeds_of(cfg):
        st = state.feed(feed)
        out.append(
            {
                "feed": feed.name,
                "database": feed.database,
                "state": st["state"],
                "watermark": st["watermark"],
                "overlapMinutes": feed.overlap.total_seconds() / 60,
                "rowsRead": st["rowsRead"],
                "rowsSent": st["rowsSent"],
                "rowsRejected": st["rowsRejected"],
                "recordsSent": st["recordsSent"],
                "excluded": st["excluded"],
                "rowsUnusable": st["rowsUnusable"],
                "lastReadAt": st["lastReadAt"],
                "lastError": st["lastError"],
            }
        )
    return out


def render_status(rows: list[dict[str, Any]] | None) -> list[str]:
    if rows is None:
        return []
    lines = ["Monitoring DB:"]
    for r in rows:
        if r["feed"] == "all":
            lines.append(f"  {r['state']}: {r['lastError']['message']}")
            continue
        lines.append(
            f"  {r['database']:<10} {r['feed']:<13} {r['state']}; watermark "
            f"{r['watermark'] or 'none'} (overlap {r['overlapMinutes']:g} min); "
            f"{r['rowsRead']} rows read, {r['rowsSent']} sent, {r['rowsRejected']} rejected, "
            f"{r['rowsUnusable']} unusable, {r['excluded']} records excluded; last read "
            f"{r['lastReadAt'] or 'never'}"
        )
        if r["lastError"]:
            lines.append(
                f"  {'':<10} last error {r['lastError'].get('at', '')}: {r['lastError']['message']}"
            )
    return lines
