"""The `monitoring-db` source against SQLite databases built from the documented
QoEMetrics / LcsCDR schema (SQL Server cannot run here), plus every query compiled for
the SQL Server dialect.

Covered: the round trip (a call read from the databases gets the same ratings, flags
and CQD dimensions as the same call sent as XML, through the service's own parser,
merge and classifier), incremental reads across restarts with rows arriving late in
the overlap window, a crash at every step, exclusions, a database that is down, the page
size limit, the configuration, and `status`.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import IngestStub
from monitoring_testlib import MonitoringDb, as_stored
from sqlalchemy.dialects import mssql, sqlite

from cdc_agent.agent import Agent
from cdc_agent.batching import record_json
from cdc_agent.config import ConfigError, load_config
from cdc_agent.exclusions import ExclusionPolicy
from cdc_agent.monitoring import cdr as cdr_q
from cdc_agent.monitoring import qoe as qoe_q
from cdc_agent.monitoring.config import MonitoringConfig
from cdc_agent.monitoring.source import MonitoringDown, MonitoringSource, MonitoringState

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devhost.qoe_generator import demo_users, generate_call  # noqa: E402

# What the documented schema does not hold (see qoe.py / cdr.py and the README): no
# MediaLine column has the Wi-Fi SSID, radio type, signal strength or channel.
ENDPOINT_GAPS = {"display_name", "ssid", "wifi_radio_type", "wifi_signal_strength", "wifi_channel"}
STREAM_GAPS = {"transport"}  # one transport per media line in MediaLine


def gen_calls(
    n: int, seed: int, users: list[str] | None = None, start: datetime | None = None
) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    t0 = start or datetime.now(timezone.utc) - timedelta(hours=1)
    return [
        generate_call(rng, "t", users or demo_users(), t0 - timedelta(minutes=7 * i))
        for i in range(n)
    ]


def read_all(
    db: MonitoringDb, state_dir: Path, page_size: int = 50, policy: ExclusionPolicy | None = None
) -> list[dict[str, Any]]:
    cfg = MonitoringConfig(
        qoe_url=db.url("qoe"), cdr_url=db.url("cdr"), page_size=page_size, backfill_days=30
    )
    src = MonitoringSource(cfg, policy or ExclusionPolicy(), state_dir)
    state = MonitoringState.load(state_dir)
    out = [r for feed in src.feeds for p in src.pages(feed, state) for r in p.records]
    src.close()
    return out


# --- the round trip ------------------------------------------------------------------


def views(records: list[dict[str, Any]]) -> dict[str, Any]:
    from shared.merge import build_view, union
    from shared.parsing import ParseContext, parse_record

    ctx = ParseContext("t")
    frags: dict[str, dict[str, Any]] = {}
    for r in records:
        for f in parse_record(r["kind"], r["format"], r["data"], ctx):
            frags[f.key] = union(frags.get(f.key, {}), [f])
    return {k: build_view(v) for k, v in frags.items()}


def _endpoint_differences(key: str, value: dict[str, Any], other: dict[str, Any]) -> list[str]:
    out = []
    for f, v in value.items():
        w = other[f]
        if f == "device_ratios":  # zeros from a report that saw nothing
            v = {k: x for k, x in v.items() if x}
            w = {k: x for k, x in w.items() if x}
        if f not in ENDPOINT_GAPS and v != w:
            out.append(f"{key}.{f}: {v!r} != {w!r}")
    return out


def _stream_differences(value: list[Any], other: list[Any], *, metrics: bool) -> list[str]:
    if len(value) != len(other):
        return ["streams differ"]
    out = []
    for xa, xb in zip(value, other, strict=True):
        for f, v in xa.items():
            if f in STREAM_GAPS or (f == "metrics" and not metrics):
                continue
            if f == "quality" and not metrics:
                v = {**v, "flags": None}
                xb = {**xb, "quality": {**xb["quality"], "flags": None}}
            if v != xb[f]:
                out.append(f"stream {xa['id']}.{f}: {v!r} != {xb[f]!r}")
    return out


def _two_transports(view: Any) -> bool:
    """Whether a media line of this call has streams on two transports (the two
    endpoints' reports differ): `MediaLine.Transport` keeps one (README)."""
    for session in view.sessions:
        seen: dict[str, set[str]] = {}
        for st in session.streams:
            seen.setdefault(st.label, set()).add(st.transport)
        if any(len(t) > 1 for t in seen.values()):
            return True
    return False


def _cells(cells: dict[str, Any], *, transport: bool) -> dict[str, Any]:
    """The CQD cells less what the databases cannot keep. A Wi-Fi endpoint's band
    (`wb=2.4GHz|5GHz|6GHz|unknown`) reads as `unknown`: it comes from the Wi-Fi channel
    or radio type, neither of which the databases keep, so the rebuilt report's band is
    always `unknown`; the `na` of a stream without a Wi-Fi endpoint still has to match.
    With `transport` False (a media line on two transports) the `tr` cell is left out."""
    out: dict[str, Any] = {}
    for doc, cell in cells.items():
        moved: Counter[str] = Counter()
        for k, v in cell.items():
            k = re.sub(r"\|wb=(?!na\b)[^|#]+", "|wb=unknown", k)
            if not transport:
                k = re.sub(r"\|tr=[^|#]+", "|tr=*", k)
            moved[k] += v
        out[doc] = dict(moved)
    return out


def differences(a: Any, b: Any, *, metrics: bool) -> list[str]:
    """What differs between two call views in ratings, flags, dimensions and the call
    detail fields (the documented gaps aside)."""
    from shared.aggregates.contribution import contribution

    out = []
    transport = not _two_transports(a)
    ca, cb = (
        _cells(contribution(a), transport=transport),
        _cells(contribution(b), transport=transport),
    )
    if ca != cb:
        out.append(f"dimensions: {ca} != {cb}")
    da, db_ = a.model_dump(), b.model_dump()
    for key in ("rating", "reasons", "call_type", "conference_uri", "organizer", "start", "end"):
        if da[key] != db_[key]:
            out.append(f"{key}: {da[key]!r} != {db_[key]!r}")
    if len(da["sessions"]) != len(db_["sessions"]):
        return [*out, "sessions differ"]
    for sa, sb in zip(da["sessions"], db_["sessions"], strict=True):
        for key, value in sa.items():
            if key in ("caller", "callee"):
                out += _endpoint_differences(key, value, sb[key])
            elif key == "streams":
                out += _stream_differences(value, sb[key], metrics=metrics)
            elif value != sb[key]:
                out.append(f"session.{key}: {value!r} != {sb[key]!r}")
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_round_trip_same_ratings_flags_and_dimensions(tmp_path: Path, seed: int) -> None:
    """Every call of the generator (p2p, conferences, PSTN, failed setups, dropped),
    loaded into the databases and read back by the agent, classifies exactly like the
    same call sent as XML, at the precision the databases keep."""
    calls = as_stored(gen_calls(70, seed))
    db = MonitoringDb(tmp_path / "db")
    for c in calls:
        db.add_records(c)
    from_db = read_all(db, tmp_path / "state", page_size=17)
    sent = [r for c in calls for r in c]
    assert Counter(r["kind"] for r in from_db) == Counter(r["kind"] for r in sent)
    a, b = views(sent), views(from_db)
    assert set(a) == set(b) and len(a) == len(calls)
    problems = {k: d for k in a if (d := differences(a[k], b[k], metrics=True))}
    assert problems == {}
    assert any(v.rating == "poor" for v in a.values())  # the comparison has teeth
    assert {s.rating for v in a.values() for s in v.sessions} >= {"good", "poor"}


def test_round_trip_raw_values_same_ratings_and_dimensions(tmp_path: Path) -> None:
    """With the generator's raw values (more decimals than the columns keep), ratings,
    reasons and CQD dimensions still match; only metric values and yellow flags may
    move by the column's precision."""
    raw = gen_calls(50, 21)
    consistent = as_stored(raw)  # for the one-mask-per-subnet plan only
    for r_raw, r_ok in zip(raw, consistent, strict=True):
        for x, y in zip(r_raw, r_ok, strict=True):
            if x["kind"] == "qoe":  # keep raw metrics, take the consistent masks
                import re

                masks = re.findall(r"<SubnetMask>[^<]*</SubnetMask>", y["data"])
                parts = re.split(r"<SubnetMask>[^<]*</SubnetMask>", x["data"])
                x["data"] = "".join(
                    p + (masks[i] if i < len(masks) else "") for i, p in enumerate(parts)
                )
    db = MonitoringDb(tmp_path / "db")
    for c in raw:
        db.add_records(c)
    a, b = views([r for c in raw for r in c]), views(read_all(db, tmp_path / "state"))
    assert {k: d for k in a if (d := differences(a[k], b[k], metrics=False))} == {}


def test_report_rebuilt_from_rows_reads_like_the_original(tmp_path: Path) -> None:
    """One call, field by field: what the service parses from the rebuilt report."""
    calls = as_stored(gen_calls(6, 3))
    db = MonitoringDb(tmp_path / "db")
    db.add_records(calls[0])
    got = read_all(db, tmp_path / "state")
    assert sorted(r["kind"] for r in got) == sorted(r["kind"] for r in calls[0])
    xml = next(r["data"] for r in got if r["kind"] == "qoe")
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\n<VQReportEvent ')
    from cdc_agent.exclusions import parse_qoe

    parse_qoe(xml.encode())  # the agent's own safe parser accepts it


def test_subnet_mask_from_network_configuration_or_longest_prefix() -> None:
    masks = qoe_q.subnet_masks(
        [
            {"SubnetIP": int.from_bytes(bytes([10, 1, 4, 0]), "big"), "SubnetMask": 22},
            {"SubnetIP": -1062731776, "SubnetMask": 24},
        ]
    )  # 192.168.0.0
    assert masks == {"10.1.4.0": 22, "192.168.0.0": 24}
    assert qoe_q.subnet_mask("10.1.5.9", "10.1.4.0", masks) == "255.255.252.0"
    assert qoe_q.subnet_mask("10.2.5.9", "10.2.4.0", {}) == "255.255.254.0"  # longest
    assert qoe_q.subnet_mask("10.2.5.9", None, {}) is None
    assert qoe_q.parse_dialog_id("abc;from-tag=1;to-tag=2") == ("abc", "1", "2")
    assert qoe_q.parse_dialog_id("abc;1;2") == ("abc", "1", "2")
    assert qoe_q.parse_dialog_id("abc;1;") == ("abc", "1", None)


# --- queries -------------------------------------------------------------------------


def test_every_query_compiles_for_sql_server_and_sqlite() -> None:
    since = datetime(2026, 11, 1)
    statements = qoe_q.all_statements(since, (since, 2)) + cdr_q.all_statements(since, (since, 2))
    assert len(statements) == 10
    for stmt in statements:
        text = str(stmt.compile(dialect=mssql.dialect()))
        assert text.startswith("SELECT") and "INSERT" not in text and "UPDATE" not in text
        str(stmt.compile(dialect=sqlite.dialect()))
    page = str(qoe_q.session_page(since, (since, 2), 500).compile(dialect=mssql.dialect()))
    assert "SELECT TOP" in page and "FROM [Session]" in page and "[User]" in page
    assert "ORDER BY [Session].[ConferenceDateTime], [Session].[SessionSeq]" in page
    cdr_page = str(
        cdr_q.p2p_page(since, None, 5).compile(
            dialect=mssql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    assert "SELECT TOP 5" in cdr_page and "[SessionDetails]" in cdr_page


# --- configuration --------------------------------------------------------------------


def test_config_builds_sql_server_urls_and_keeps_the_password_out(
    make_config: Any, monkeypatch: Any
) -> None:
    path = make_config(
        monitoring_db={"server": "monsql01.contoso.local", "instance": "MON", "auth": "windows"}
    )
    cfg = load_config(path).monitoring
    assert cfg is not None
    assert cfg.qoe_url == "mssql+pymssql://monsql01.contoso.local\\MON/QoEMetrics"
    assert cfg.cdr_url == "mssql+pymssql://monsql01.contoso.local\\MON/LcsCDR"
    src = MonitoringSource(cfg, ExclusionPolicy(), path.parent)
    engine = src.engine(cfg.qoe_url)  # no connection yet: pymssql imported lazily
    assert engine.dialect.name == "mssql" and engine.dialect.driver == "pymssql"
    assert "password" not in str(engine.url) and engine.url.username is None
    # integrated security: pymssql gets no user and no password at all
    assert engine.dialect.create_connect_args(engine.url)[1] == {
        "host": "monsql01.contoso.local\\MON",
        "database": "QoEMetrics",
    }

    with pytest.raises(ConfigError, match="password"):
        load_config(make_config(monitoring_db={"server": "x", "password": "p"}))
    with pytest.raises(ConfigError, match="password_env"):
        load_config(make_config(monitoring_db={"server": "x", "auth": "sql", "user": "cdc"}))
    with pytest.raises(ConfigError, match="must not contain a password"):
        load_config(make_config(monitoring_db={"qoe_url": "mssql+pymssql://u:p@h/QoEMetrics"}))
    with pytest.raises(ConfigError, match="auth"):
        load_config(make_config(monitoring_db={"server": "x", "auth": "kerberos"}))

    sql = load_config(
        make_config(
            monitoring_db={
                "server": "monsql01",
                "port": 1433,
                "auth": "sql",
                "user": "cdc_reader",
                "password_env": "CDC_TEST_SQL_PASSWORD",
            }
        )
    ).monitoring
    assert sql is not None and sql.qoe_url == "mssql+pymssql://monsql01:1433/QoEMetrics"
    src = MonitoringSource(sql, ExclusionPolicy(), path.parent)
    monkeypatch.delenv("CDC_TEST_SQL_PASSWORD", raising=False)
    with pytest.raises(MonitoringDown, match="CDC_TEST_SQL_PASSWORD"):
        src.engine(sql.qoe_url)
    monkeypatch.setenv("CDC_TEST_SQL_PASSWORD", "s3cret!")
    assert "s3cret" not in repr(src.engine(sql.qoe_url).url)


def test_a_damaged_monitoring_state_stops_the_feed_with_a_clear_error(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(2, 121):
        db.add_records(c)
    cfg = agent_config(make_config, db)
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "monitoring.json").write_text("{not json")
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error and "monitoring.json is unreadable" in summary.error
    assert stub.posts == []


# --- pushing through the agent ------------------------------------------------------


def agent_config(make_config: Any, db: MonitoringDb, **extra: Any) -> Path:
    monitoring = {
        "qoe_url": db.url("qoe"),
        "cdr_url": db.url("cdr"),
        "page_size": 50,
        "backfill_days": 30,
        "max_attempts": 2,
        "retry_seconds": 0.01,
        **extra.pop("monitoring", {}),
    }
    return make_config(monitoring_db=monitoring, batch={"max_records": 40}, **extra)


def posted(stub: IngestStub) -> Counter[str]:
    """Every record of every distinct batch the stub stored, by content."""
    return Counter(record_json(r) for r in stub.stored_records())


def expected(db: MonitoringDb, tmp: Path) -> Counter[str]:
    """What a fresh reader finds in the databases now (a new state directory)."""
    fresh = tmp / f"fresh-{random.random()}"
    out = Counter(record_json(r) for r in read_all(db, fresh))
    shutil.rmtree(fresh, ignore_errors=True)
    return out


def test_incremental_across_restarts_with_late_rows(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    db = MonitoringDb(tmp_path / "db")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    calls = gen_calls(24, 31)
    held: list[dict[str, Any]] = []
    for i, c in enumerate(calls):
        last_qoe = [id(x) for x in c if x["kind"] == "qoe"][-1:]
        for r in c:  # every 4th call: its last QoE report and its CDR come later
            if i % 4 == 0 and (r["kind"] == "cdr" or [id(r)] == last_qoe):
                held.append(r)
            elif r["kind"] == "cdr":
                db.add_cdr(r["data"])
            else:  # ConferenceDateTime: when the QoE agent got the session's first report
                db.add_qoe(r["data"], received=now - timedelta(minutes=40, seconds=-i))
    cfg = agent_config(make_config, db)
    first = Agent(load_config(cfg)).run_once()
    assert first.error is None and first.records_sent > 0
    after_first = posted(stub)
    assert after_first == expected(db, tmp_path)
    state = json.loads((tmp_path / "state" / "monitoring.json").read_text())
    assert state["feeds"]["qoe"]["watermark"] and state["feeds"]["cdr"]["watermark"]

    # Late rows: a CDR row is written when its session ends, with its (old) start time as
    # key; a QoE report completes a session row keyed by when its first report came
    # (or creates one keyed now). Both land behind the watermark, inside the overlap.
    for r in held:
        if r["kind"] == "cdr":
            db.add_cdr(r["data"])
        else:
            db.add_qoe(r["data"], received=now - timedelta(minutes=10))
    for c in gen_calls(5, 32, start=datetime.now(timezone.utc) - timedelta(minutes=30)):
        for r in c:
            if r["kind"] == "cdr":
                db.add_cdr(r["data"])
            else:
                db.add_qoe(r["data"], received=now - timedelta(minutes=5))
    second = Agent(load_config(cfg)).run_once()  # a restart: a new process state
    assert second.error is None
    total = posted(stub)
    want = expected(db, tmp_path)
    assert total == want  # nothing missed, nothing twice (stored counts are all 1)
    assert set(total.values()) == {1}
    assert second.records_sent == sum(want.values()) - sum(after_first.values())
    # the late callee reports arrived as new records of sessions already sent
    assert sum(1 for r in held if r["kind"] == "qoe") > 0

    posts = len(stub.posts)
    third = Agent(load_config(cfg)).run_once()
    assert third.error is None and third.records_sent == 0 and len(stub.posts) == posts
    state = json.loads((tmp_path / "state" / "monitoring.json").read_text())
    assert state["feeds"]["qoe"]["watermark"].startswith(
        (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    )


def test_a_row_later_than_the_overlap_window_is_not_read(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    """The overlap is the promise: a report completing a session keyed more than
    `qoe_overlap_minutes` before the watermark is not read again (raise the overlap if
    the server inserts that late)."""
    db = MonitoringDb(tmp_path / "db")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    call = next(c for c in gen_calls(10, 33) if sum(r["kind"] == "qoe" for r in c) == 2)
    first, second = [r for r in call if r["kind"] == "qoe"]
    db.add_qoe(first["data"], received=now - timedelta(minutes=90))
    for c in gen_calls(2, 34):
        for r in c:
            if r["kind"] == "qoe":
                db.add_qoe(r["data"], received=now - timedelta(minutes=5))
    cfg = agent_config(make_config, db, monitoring={"qoe_overlap_minutes": 60})
    assert Agent(load_config(cfg)).run_once().error is None
    before = posted(stub)
    db.add_qoe(second["data"])  # completes the 90-minute-old session
    assert Agent(load_config(cfg)).run_once().records_sent == 0
    assert posted(stub) == before != expected(db, tmp_path)


@pytest.mark.parametrize(
    "point",
    ["bodies-written", "claimed", "answered", "recorded", "monitoring-committed", "finished"],
)
def test_crash_at_any_step_loses_nothing_and_doubles_nothing(
    make_config: Any, stub: IngestStub, tmp_path: Path, point: str
) -> None:
    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(12, 41):
        db.add_records(c)
    cfg = agent_config(make_config, db, monitoring={"page_size": 5})

    class Crash(Exception):
        pass

    hits = {"n": 0}

    def crash(name: str) -> None:
        if name == point:
            hits["n"] += 1
            if hits["n"] == 2:  # the second page's group
                raise Crash(name)

    with pytest.raises(Crash):
        Agent(load_config(cfg), crash=crash).run_once()
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None
    got = posted(stub)
    assert got == expected(db, tmp_path) and set(got.values()) == {1}
    ids: dict[str, set[str]] = {}
    for env in stub.posts:  # a record is only ever posted under one batch id
        for r in env["records"]:
            ids.setdefault(record_json(r), set()).add(env["batchId"])
    assert all(len(v) == 1 for v in ids.values())


def test_excluded_users_and_domains_never_leave(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    users = [f"sip:{n}@contoso.com" for n in ("alice", "bob", "carol", "dave")] + [
        "sip:zed@secret.contoso.com",
        "sip:yan@lab.secret.contoso.com",
    ]
    db = MonitoringDb(tmp_path / "db")
    calls = gen_calls(30, 51, users=users)
    for c in calls:
        db.add_records(c)
    cfg = agent_config(
        make_config,
        db,
        exclusions={"users": ["alice@contoso.com"], "domains": ["secret.contoso.com"]},
    )
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None and summary.excluded > 0
    sent = json.dumps([r for env in stub.posts for r in env["records"]]).lower()
    assert "alice@contoso.com" not in sent and "secret.contoso.com" not in sent
    assert "bob@contoso.com" in sent
    policy = ExclusionPolicy.of(["alice@contoso.com"], ["secret.contoso.com"])
    kept = read_all(db, tmp_path / "check", policy=policy)
    assert posted(stub) == Counter(record_json(r) for r in kept)
    everything = read_all(db, tmp_path / "check-all")
    assert summary.excluded == len(everything) - len(kept)
    state = json.loads((tmp_path / "state" / "monitoring.json").read_text())
    assert sum(f["excluded"] for f in state["feeds"].values()) == summary.excluded
    # a second pass neither sends nor counts them again
    again = Agent(load_config(cfg)).run_once()
    assert again.excluded == 0 and again.records_sent == 0


def test_database_down_is_retried_and_status_says_so(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    from cdc_agent.cli import run

    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(6, 61):
        db.add_records(c)
    shutil.move(str(db.qoe_path), str(tmp_path / "QoEMetrics.offline"))  # server down
    cfg = agent_config(make_config, db, monitoring={"max_attempts": 3})
    sleeps: list[float] = []
    summary = Agent(load_config(cfg), sleep=sleeps.append).run_once()
    assert summary.error and "QoEMetrics cannot be read after 3 attempt(s)" in summary.error
    assert len(sleeps) == 2 and sleeps[1] == 2 * sleeps[0]  # backoff between attempts
    assert summary.records_sent > 0  # LcsCDR was up: its records still went out
    assert run(["-c", str(cfg), "status", "--offline", "--json"]) == 0
    info = load_status(cfg)
    qoe = next(f for f in info["monitoring"] if f["feed"] == "qoe")
    assert qoe["state"] == "down" and "cannot be read" in qoe["lastError"]["message"]
    assert run(["-c", str(cfg), "push", "--no-progress"]) == 1

    shutil.move(str(tmp_path / "QoEMetrics.offline"), str(db.qoe_path))  # back up
    assert run(["-c", str(cfg), "push", "--no-progress"]) == 0
    qoe = next(f for f in load_status(cfg)["monitoring"] if f["feed"] == "qoe")
    assert qoe["state"] == "ok" and qoe["rowsRead"] > 0 and qoe["rowsSent"] == qoe["rowsRead"]
    assert posted(stub) == expected(db, tmp_path)


def load_status(cfg: Path) -> dict[str, Any]:
    from cdc_agent.status import collect

    return collect(Agent(load_config(cfg)), remote=False)


def test_status_shows_watermarks_rows_read_and_sent(
    make_config: Any, stub: IngestStub, tmp_path: Path, capsys: Any
) -> None:
    from cdc_agent.cli import run

    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(8, 71):
        db.add_records(c)
    cfg = agent_config(make_config, db)
    assert run(["-c", str(cfg), "push", "--no-progress"]) == 0
    capsys.readouterr()
    assert run(["-c", str(cfg), "status", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "Monitoring DB:" in text and "QoEMetrics" in text and "LcsCDR" in text
    info = load_status(cfg)
    by_feed = {f["feed"]: f for f in info["monitoring"]}
    assert set(by_feed) == {"qoe", "cdr", "cdrConference"}
    assert by_feed["qoe"]["rowsRead"] > 0 and by_feed["cdr"]["rowsRead"] > 0
    for f in by_feed.values():
        assert f["state"] == "ok" and f["rowsRead"] == f["rowsSent"]
        assert (f["watermark"] is None) == (f["rowsRead"] == 0)
        assert f"watermark {f['watermark'] or 'none'}" in text
    assert sum(f["recordsSent"] for f in by_feed.values()) == sum(posted(stub).values())


def test_page_size_bounds_every_read(make_config: Any, stub: IngestStub, tmp_path: Path) -> None:
    db = MonitoringDb(tmp_path / "db")
    calls = gen_calls(20, 81)
    for c in calls:
        db.add_records(c)
    cfg = agent_config(make_config, db, monitoring={"page_size": 4})
    agent = Agent(load_config(cfg))
    groups: list[int] = []

    def watch(name: str) -> None:
        if name == "claimed":
            assert agent.journal is not None
            groups.append(agent.journal.data["pending"]["monitoring"]["rows"])

    agent.crash = watch
    seen: list[int] = []
    real = MonitoringSource._items

    def items(self: MonitoringSource, *args: Any) -> Any:
        out = real(self, *args)
        seen.append(out[1])
        return out

    MonitoringSource._items = items  # type: ignore[method-assign,assignment]
    try:
        assert agent.run_once().error is None
    finally:
        MonitoringSource._items = real  # type: ignore[method-assign]
    assert seen and max(seen) <= 4 and max(groups) <= 4
    rows = sum(1 for c in calls for r in c if r["kind"] == "cdr")
    assert len(groups) >= rows // 4
    assert posted(stub) == expected(db, tmp_path)


def test_a_rejected_batch_keeps_its_records_on_premises(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(4, 91):
        db.add_records(c)
    cfg = agent_config(make_config, db)
    stub.script = [(400, {}, {"title": "bad batch", "status": 400})]
    summary = Agent(load_config(cfg)).run_once()
    assert summary.batches_rejected == 1
    kept = list((tmp_path / "out" / "rejected").rglob("*.json.gz"))
    assert len(kept) == 1 and Path(f"{kept[0]}.problem.json").exists()
    state = json.loads((tmp_path / "state" / "monitoring.json").read_text())
    assert sum(f["rowsRejected"] for f in state["feeds"].values()) > 0


def test_readme_lists_exactly_the_columns_the_queries_read() -> None:
    """The permission advice in the README is only right if its table is."""
    from sqlalchemy.sql import visitors

    from cdc_agent.monitoring import schema

    readme = (REPO / "agent" / "README.md").read_text(encoding="utf-8")
    since = datetime(2026, 11, 1)
    for stmts, md in (
        (qoe_q.all_statements(since, (since, 1)), schema.qoe_metadata),
        (cdr_q.all_statements(since, (since, 1)), schema.cdr_metadata),
    ):
        used: dict[str, set[str]] = {}
        for stmt in stmts:
            for el in visitors.iterate(stmt):
                table: Any = getattr(el, "table", None)
                base: Any = getattr(table, "element", table)
                name = str(getattr(base, "name", ""))
                if table is not None and name in md.tables:
                    used.setdefault(name, set()).add(getattr(el, "name", ""))
        for table_name, columns in used.items():
            row = next(
                (line for line in readme.splitlines() if line.startswith(f"| `{table_name}` |")),
                None,
            )
            assert row is not None, table_name
            listed = row.split("|")[2]
            if table_name == "MediaLine":  # Caller/Callee columns written once
                listed += ", " + ", ".join(
                    f"{side}{c}"
                    for side in ("Caller", "Callee")
                    for c in (
                        "IPAddr",
                        "Port",
                        "Subnet",
                        "Inside",
                        "MacAddress",
                        "CaptureDev",
                        "RenderDev",
                        "CaptureDevDriver",
                        "RenderDevDriver",
                        "NetworkConnectionType",
                        "Bssid",
                        "VPN",
                        "LinkSpeed",
                        "ConnectivityICE",
                    )
                )
            names = {
                n.strip()
                for n in listed.replace("and for `Caller` and `Callee` each:", ",").split(",")
            }
            assert columns <= names, (table_name, columns - names)


def test_dry_run_counts_what_the_databases_would_add_and_changes_nothing(
    make_config: Any, stub: IngestStub, tmp_path: Path, capsys: Any
) -> None:
    from cdc_agent.cli import run

    db = MonitoringDb(tmp_path / "db")
    calls = gen_calls(5, 101)
    for c in calls:
        db.add_records(c)
    cfg = agent_config(make_config, db)
    assert run(["-c", str(cfg), "push", "--dry-run"]) == 0
    out = capsys.readouterr().out
    n_qoe = sum(r["kind"] == "qoe" for c in calls for r in c)
    assert "QoEMetrics qoe: " in out and f"{n_qoe} record(s) to send" in out
    assert stub.posts == [] and not (tmp_path / "state" / "monitoring.json").exists()


def test_a_row_that_makes_no_record_is_counted_once_not_dropped_silently(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    from sqlalchemy import insert

    from cdc_agent.monitoring import schema

    db = MonitoringDb(tmp_path / "db")
    for c in gen_calls(3, 111):
        db.add_records(c)
    with db.cdr.begin() as conn:  # a session whose Dialogs row (its Call-ID) is missing
        conn.execute(
            insert(schema.cdr_session_details).values(
                SessionIdTime=datetime.now(timezone.utc).replace(tzinfo=None),
                SessionIdSeq=1,
                InviteTime=datetime.now(timezone.utc).replace(tzinfo=None),
            )
        )
    cfg = agent_config(make_config, db)
    assert Agent(load_config(cfg)).run_once().error is None
    assert Agent(load_config(cfg)).run_once().records_sent == 0
    cdr = next(f for f in load_status(cfg)["monitoring"] if f["feed"] == "cdr")
    assert cdr["rowsUnusable"] == 1


def test_a_row_stamped_in_the_future_does_not_hide_later_rows(
    make_config: Any, stub: IngestStub, tmp_path: Path
) -> None:
    db = MonitoringDb(tmp_path / "db")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    calls = [c for c in gen_calls(12, 131) if any(r["kind"] == "qoe" for r in c)]
    first = next(r for r in calls[0] if r["kind"] == "qoe")
    db.add_qoe(first["data"], received=now + timedelta(hours=3))  # a skewed clock
    cfg = agent_config(make_config, db)
    assert Agent(load_config(cfg)).run_once().error is None
    later = next(r for r in calls[1] if r["kind"] == "qoe")
    db.add_qoe(later["data"], received=now - timedelta(minutes=1))
    assert Agent(load_config(cfg)).run_once().records_sent == 1
    assert posted(stub) == expected(db, tmp_path)
