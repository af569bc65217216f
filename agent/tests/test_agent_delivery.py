"""Retry/backoff decisions and delivery outcomes against the loopback ingest stub."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from agent_testlib import TOKEN, IngestStub, cdr_row, qoe_xml

from cdc_agent.agent import Agent
from cdc_agent.auth import StaticToken
from cdc_agent.config import load_config
from cdc_agent.transport import Backoff, Outcome, classify, parse_retry_after

NOW = datetime(2026, 11, 21, 10, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Sat, 21 Nov 2026 10:01:00 GMT", 60.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (408, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (409, Outcome.REJECTED),
        (413, Outcome.REJECTED),
        (415, Outcome.REJECTED),
        (401, Outcome.FATAL),
        (403, Outcome.FATAL),
        (404, Outcome.FATAL),
        (307, Outcome.FATAL),
    ],
)
def test_classify(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_backoff_exponential_full_jitter_and_retry_after_floor() -> None:
    b = Backoff(base=1, cap=30, max_retry_after=100, rng=random.Random(7))
    for attempt in range(1, 10):
        ceiling = min(30, 2 ** (attempt - 1))
        delays = [b.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread, not fixed
    assert 20 <= b.delay(1, retry_after=20) <= 21.1
    assert 100 <= b.delay(1, retry_after=10_000) <= 101  # capped
    assert 0 <= b.delay(3, retry_after=0) <= 0.1


def _files(cfg_path: Path, n_cdr: int = 3, n_qoe: int = 2) -> None:
    base = cfg_path.parent / "spool"
    for i in range(n_cdr):
        (base / "cdr" / f"c{i}.jsonl").write_text(
            "\n".join(json.dumps(cdr_row(i * 10 + k)) for k in range(4)) + "\n"
        )
    for i in range(n_qoe):
        (base / "qoe" / f"q{i}.xml").write_text(qoe_xml(call_id=f"q{i}@fe"))


def _agent(cfg_path: Path, sleeps: list[float] | None = None, **kw: object) -> Agent:
    cfg = load_config(cfg_path)
    return Agent(
        cfg,
        sleep=(sleeps.append if sleeps is not None else None),
        backoff=Backoff(0.01, 0.05, 60, random.Random(1)),
        **kw,
    )  # type: ignore[arg-type]


def test_backlog_is_sent_in_batches_and_files_move_to_sent(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=5, n_qoe=3)
    summary = _agent(cfg).run_once()
    assert summary.error is None and summary.files_sent == 8
    assert summary.records_sent == 23 and summary.batches_sent == 3  # max_records 10
    assert sorted(len(p["records"]) for p in stub.posts) == [3, 10, 10]
    assert all(t == f"Bearer {TOKEN}" for t in stub.tokens)
    env = stub.posts[0]
    assert env["source"]["fqdn"] == "fe01.contoso.local" and env["schemaVersion"] == "1.0"
    sent = list((cfg.parent / "out" / "sent").rglob("*"))
    assert sum(p.is_file() for p in sent) == 8
    assert not any((cfg.parent / "spool" / "cdr").iterdir())
    assert not list((cfg.parent / "state" / "batches").iterdir())
    journal = json.loads((cfg.parent / "state" / "journal.json").read_text())
    assert journal["pending"] is None and journal["counters"]["recordsSent"] == 23
    assert journal["lastSuccessAt"] and len(journal["recent"]) == 3


def test_429_and_503_are_retried_honouring_retry_after(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    stub.script = [
        (503, {}, {"title": "busy"}),
        (429, {"Retry-After": "2"}, {"title": "slow"}),
        (408, {}, {}),
    ]
    sleeps: list[float] = []
    summary = _agent(cfg, sleeps).run_once()
    assert summary.error is None and summary.records_sent == 4
    assert stub.answers == [503, 429, 408, 202]
    assert len(sleeps) == 3 and 2 <= sleeps[1] <= 2.5 and sleeps[0] <= 0.05


def test_retry_after_http_date(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=40), usegmt=True)
    stub.script = [(503, {"Retry-After": when}, {})]
    sleeps: list[float] = []
    assert _agent(cfg, sleeps).run_once().error is None
    assert 38 <= sleeps[0] <= 42


def test_connection_errors_are_retried(stub: IngestStub, make_config, tmp_path: Path) -> None:
    from cdc_agent.transport import TransportError, urllib_send

    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    calls = {"n": 0}

    def flaky(method, url, body, headers, timeout):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] <= 2:
            raise TransportError("ConnectionRefusedError: refused")
        return urllib_send(method, url, body, headers, timeout)

    sleeps: list[float] = []
    summary = _agent(cfg, sleeps, send=flaky).run_once()
    assert summary.error is None and calls["n"] == 3 and len(sleeps) == 2


def test_retries_exhausted_keep_the_batch_for_the_next_run(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    stub.script = [(503, {}, {})] * 4  # max_attempts = 4
    first = _agent(cfg, []).run_once()
    assert first.error and first.pending and "not delivered after 4" in first.error
    assert (cfg.parent / "spool" / "cdr" / "c0.jsonl").exists()
    second = _agent(cfg, []).run_once()
    assert second.error is None and second.files_sent == 1
    assert len(stub.batches) == 1 and len(stub.stored_records()) == 4


@pytest.mark.parametrize("status", [400, 413, 422])
def test_4xx_rejects_the_batch_files_with_the_problem(
    stub: IngestStub, make_config, status: int
) -> None:
    cfg = make_config(batch={"max_records": 4})
    _files(cfg, n_cdr=2, n_qoe=0)
    problem = {
        "type": "about:blank",
        "title": "the batch envelope is invalid",
        "status": status,
        "errors": [{"field": "records[0].data", "message": "bad"}],
    }
    stub.script = [(status, {}, problem)]
    summary = _agent(cfg, []).run_once()
    assert summary.batches_rejected == 1 and summary.files_rejected == 1
    assert summary.files_sent == 1 and stub.answers == [status, 202]
    rejected = [p for p in (cfg.parent / "out" / "rejected").rglob("*") if p.is_file()]
    names = sorted(p.name for p in rejected)
    assert names == ["c0.jsonl", "c0.jsonl.problem.json"]
    note = json.loads(next(p for p in rejected if p.suffix == ".json").read_text())
    assert note["batches"][0]["httpStatus"] == status
    assert note["batches"][0]["problem"] == problem


def test_409_same_batch_id_other_content_is_a_rejection(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    stub.script = [(409, {}, {"title": "a batch with this batchId and different content"})]
    summary = _agent(cfg, []).run_once()
    assert summary.files_rejected == 1 and summary.error is None


def test_identical_resend_answered_200_counts_as_delivered(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    assert _agent(cfg).run_once().files_sent == 1
    # the operator puts the same export back: same records, same batchId, 200
    sent = next(p for p in (cfg.parent / "out" / "sent").rglob("c0.jsonl"))
    sent.rename(cfg.parent / "spool" / "cdr" / "c0.jsonl")
    assert _agent(cfg).run_once().files_sent == 1
    assert stub.answers == [202, 200] and len(stub.batches) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_or_endpoint_errors_stop_without_rejecting(
    stub: IngestStub, make_config, status: int
) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    stub.script = [(status, {}, {"title": "nope"})] * (2 if status == 401 else 1)
    summary = _agent(cfg, []).run_once()
    assert summary.error and f"HTTP {status}" in summary.error and summary.pending
    assert not (cfg.parent / "out" / "rejected").exists() or not any(
        (cfg.parent / "out" / "rejected").iterdir()
    )
    assert (cfg.parent / "spool" / "cdr" / "c0.jsonl").exists()
    assert stub.answers == ([401, 401] if status == 401 else [status])
    assert _agent(cfg, []).run_once().files_sent == 1  # fixed: resumes the same batch


def test_401_refreshes_the_token_once(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=0)
    stub.script = [(401, {}, {"title": "expired"})]

    class Counting(StaticToken):
        refreshes = 0

        def token(self, *, refresh: bool = False) -> str:
            Counting.refreshes += refresh
            return super().token(refresh=refresh)

    summary = _agent(cfg, [], tokens=Counting(TOKEN)).run_once()
    assert summary.files_sent == 1 and Counting.refreshes == 1


def test_bad_local_file_goes_to_rejected_and_others_still_go(stub: IngestStub, make_config) -> None:
    cfg = make_config()
    _files(cfg, n_cdr=1, n_qoe=1)
    (cfg.parent / "spool" / "qoe" / "evil.xml").write_text(
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    )
    summary = _agent(cfg).run_once()
    assert summary.files_sent == 2 and summary.files_rejected == 1
    note = next((cfg.parent / "out" / "rejected").rglob("evil.xml.problem.json"))
    assert "DTD" in json.loads(note.read_text())["problem"]["detail"]
    assert all("passwd" not in json.dumps(p) for p in stub.posts)


def test_exclusions_are_dropped_counted_and_pushed_once(stub: IngestStub, make_config) -> None:
    cfg = make_config(
        exclusions={"users": ["sip:ceo@contoso.com"], "domains": ["restricted.contoso.com"]}
    )
    base = cfg.parent / "spool"
    (base / "cdr" / "a.jsonl").write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                cdr_row(1),
                cdr_row(2, caller="sip:CEO@contoso.com"),
                cdr_row(3, callee="sip:x@restricted.contoso.com"),
            ]
        )
    )
    (base / "qoe" / "q.xml").write_text(qoe_xml(to_uri="sip:ceo@contoso.com"))
    (base / "qoe" / "ok.xml").write_text(qoe_xml(call_id="ok@fe"))
    summary = _agent(cfg).run_once()
    assert summary.excluded == 3 and summary.records_sent == 2
    text = json.dumps(stub.posts)
    assert "ceo@" not in text.lower() and "restricted.contoso.com" not in text
    assert stub.exclusions == [
        {"users": ["ceo@contoso.com"], "domains": ["restricted.contoso.com"]}
    ]
    journal = json.loads((cfg.parent / "state" / "journal.json").read_text())
    assert journal["counters"]["excluded"] == {"qoe": 1, "cdr": 2}
    # the on-prem copy keeps everything, including the excluded records
    assert len(list((cfg.parent / "out" / "sent").rglob("*.*"))) == 3
    _agent(cfg).run_once()
    assert len(stub.exclusions) == 1  # unchanged policy: not pushed again


def test_retention_purges_old_sent_days(stub: IngestStub, make_config) -> None:
    cfg = make_config(spool={"retention_days": 7})
    sent = cfg.parent / "out" / "sent"
    for d in ("2000-01-01", "2999-01-01", "notes"):
        (sent / d).mkdir(parents=True)
        (sent / d / "f.xml").write_text("x")
    _agent(cfg).run_once()
    assert sorted(p.name for p in sent.iterdir()) == ["2999-01-01", "notes"]
