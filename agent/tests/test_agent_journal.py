"""Crash safety of the state journal: a kill between any two steps loses nothing and
duplicates nothing (each record stored once by the server, counters exact)."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_testlib import IngestStub, cdr_row, qoe_xml

from cdc_agent.agent import Agent
from cdc_agent.config import load_config
from cdc_agent.journal import AgentBusy, Journal, JournalError, StateLock, atomic_write

AGENT_DIR = Path(__file__).resolve().parents[1]
STEPS = ["bodies-written", "claimed", "answered", "recorded", "moved-one", "finished"]


class SimulatedCrash(BaseException):
    """BaseException like a kill: no `except Exception` in the agent can swallow it."""


def crash_at(step: str, occurrence: int = 1):  # type: ignore[no-untyped-def]
    seen = collections.Counter()

    def hook(name: str) -> None:
        seen[name] += 1
        if name == step and seen[name] == occurrence:
            raise SimulatedCrash(step)

    return hook


def backlog(cfg: Path, excluded_user: str = "sip:ceo@contoso.com") -> list[str]:
    """6 CDR files x 4 rows (one excluded per file) + 5 QoE files; returns the keys of
    the records that must reach the server."""
    expected = []
    for i in range(6):
        rows = [cdr_row(i * 10 + k) for k in range(3)] + [cdr_row(i * 10 + 9, caller=excluded_user)]
        (cfg.parent / "spool" / "cdr" / f"c{i}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in rows)
        )
        expected += [f"cdr:{r['callId']}" for r in rows[:3]]
    for i in range(5):
        (cfg.parent / "spool" / "qoe" / f"q{i}.xml").write_text(qoe_xml(call_id=f"q{i}@fe"))
        expected.append(f"qoe:q{i}@fe")
    return sorted(expected)


def keys(records: list[dict]) -> list[str]:
    out = []
    for r in records:
        if r["kind"] == "cdr":
            out.append(f"cdr:{r['data']['callId']}")
        else:
            out.append("qoe:" + r["data"].split('CallId="')[1].split('"')[0])
    return sorted(out)


def assert_exactly_once(stub: IngestStub, cfg: Path, expected: list[str]) -> None:
    assert keys(stub.stored_records()) == expected  # nothing lost, nothing doubled
    assert 409 not in stub.answers
    assert not [p for d in ("cdr", "qoe") for p in (cfg.parent / "spool" / d).iterdir()]
    assert len([p for p in (cfg.parent / "out" / "sent").rglob("*") if p.is_file()]) == 11
    j = json.loads((cfg.parent / "state" / "journal.json").read_text())
    assert j["pending"] is None
    assert j["counters"]["recordsSent"] == len(expected)
    assert j["counters"]["excluded"] == {"qoe": 0, "cdr": 6}
    assert j["counters"]["filesSent"] == 11
    assert not list((cfg.parent / "state" / "batches").glob("*"))


@pytest.mark.parametrize("occurrence", [1, 2])
@pytest.mark.parametrize("step", STEPS)
def test_crash_between_steps_then_resume(
    stub: IngestStub, make_config, step: str, occurrence: int
) -> None:
    # max_records 4 -> several batches per group (GROUP_BATCHES) and several groups
    cfg = make_config(batch={"max_records": 4}, exclusions={"users": ["sip:ceo@contoso.com"]})
    expected = backlog(cfg)
    with pytest.raises(SimulatedCrash):
        Agent(load_config(cfg), crash=crash_at(step, occurrence)).run_once()
    summary = Agent(load_config(cfg)).run_once()
    assert summary.error is None
    assert_exactly_once(stub, cfg, expected)
    if step == "answered":
        assert 200 in stub.answers  # the identical resend of the unrecorded batch


def test_repeated_crashes_at_every_step(stub: IngestStub, make_config) -> None:
    cfg = make_config(batch={"max_records": 3}, exclusions={"users": ["sip:ceo@contoso.com"]})
    expected = backlog(cfg)
    for step in STEPS * 2:
        try:
            Agent(load_config(cfg), crash=crash_at(step)).run_once()
        except SimulatedCrash:
            pass
    Agent(load_config(cfg)).run_once()
    assert_exactly_once(stub, cfg, expected)


def test_a_newer_file_with_the_same_name_is_not_mistaken_for_the_sent_one(
    stub: IngestStub, make_config
) -> None:
    cfg = make_config()
    spool = cfg.parent / "spool" / "cdr"
    (spool / "a.jsonl").write_text(json.dumps(cdr_row(1)))
    (spool / "b.jsonl").write_text(json.dumps(cdr_row(2)))
    with pytest.raises(SimulatedCrash):
        Agent(load_config(cfg), crash=crash_at("moved-one")).run_once()
    moved = next(n for n in ("a.jsonl", "b.jsonl") if not (spool / n).exists())
    (spool / moved).write_text(json.dumps(cdr_row(3)) + "\n" + json.dumps(cdr_row(4)))
    Agent(load_config(cfg)).run_once()
    assert keys(stub.stored_records()) == sorted(f"cdr:call-{n}@fe01" for n in (1, 2, 3, 4))
    assert not any(spool.iterdir())


def test_orphan_bodies_and_temp_files_are_cleaned(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.write_body("keep", b"1")
    j.write_body("orphan", b"2")
    j.data["pending"] = {"files": [], "batches": [{"batchId": "keep"}]}
    j.save()
    (tmp_path / "journal.json.123.tmp").write_bytes(b"half")
    assert Journal(tmp_path).cleanup_orphans() == 2
    assert [p.name for p in (tmp_path / "batches").iterdir()] == ["keep.json.gz"]


def test_atomic_write_keeps_the_old_journal_if_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = Journal(tmp_path)
    j.data["counters"]["recordsSent"] = 5
    j.save()

    def boom(src: str, dst: str) -> None:
        raise SimulatedCrash("killed before rename")

    monkeypatch.setattr(os, "replace", boom)
    j.data["counters"]["recordsSent"] = 99
    with pytest.raises(SimulatedCrash):
        j.save()
    monkeypatch.undo()
    assert Journal(tmp_path).data["counters"]["recordsSent"] == 5


def test_unreadable_journal_is_an_explicit_error(tmp_path: Path) -> None:
    atomic_write(tmp_path / "journal.json", b"{broken")
    with pytest.raises(JournalError, match=r"journal\.json is unreadable"):
        Journal(tmp_path)


def test_one_agent_per_state_dir(tmp_path: Path) -> None:
    a, b = StateLock(tmp_path), StateLock(tmp_path)
    with a.held(), pytest.raises(AgentBusy, match="another cdc-agent"):
        b.acquire()
    with b.held():
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_real_kill_mid_upload_then_restart(stub: IngestStub, make_config) -> None:
    """A real `kill -9` of `python -m cdc_agent push` while the server is still taking
    the batch (the server then stores it): the restart resends it (200), nothing lost."""
    cfg = make_config(batch={"max_records": 4}, exclusions={"users": ["sip:ceo@contoso.com"]})
    expected = backlog(cfg)
    stub.script = [("hang", 1.5)]
    env = {**os.environ, "PYTHONPATH": str(AGENT_DIR)}
    cmd = [sys.executable, "-m", "cdc_agent", "-c", str(cfg), "push", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not stub.tokens and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stub.tokens, "the agent never posted"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.8)  # the hanging request completes: the server stored the first batch
    assert len(stub.batches) == 1
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(stub, cfg, expected)
    assert stub.answers.count(200) == 1  # the killed batch, resent identically
