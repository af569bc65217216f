"""Command line: config errors name the key and the file, dry-run changes nothing,
status shows queue / last success / server-side batch status; logs are plain text."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from agent_testlib import IngestStub, cdr_row, qoe_xml, write_config

from cdc_agent.auth import CommandToken
from cdc_agent.cli import run
from cdc_agent.config import ConfigError, load_config


@pytest.mark.parametrize(
    "sections, key, message",
    [
        ({"server": {"tenant_id": "contoso"}}, "[server] tenant_id", "GUID"),
        ({"server": {"endpoint": "http://cdc.example.net"}}, "[server] endpoint", "https"),
        ({"server": {"endpont": "x"}}, "[server] endpont", "unknown key"),
        ({"auth": {"mode": "password"}}, "[auth] mode", "must be one of"),
        (
            {"auth": {"mode": "secret", "client_id": "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"}},
            "[auth] secret_env",
            "is required",
        ),
        ({"auth": {"secret": "hunter2"}}, "[auth] secret", "never store"),
        ({"batch": {"max_records": 20000}}, "[batch] max_records", "between 1 and 10000"),
        ({"batch": {"max_mb": "8"}}, "[batch] max_mb", "must be a number"),
        ({"spool": {"sent_dir": "spool/qoe/sent"}}, "[spool] sent_dir", "inside it"),
        ({"exclusions": {"users": "ceo@contoso.com"}}, "[exclusions] users", "list of strings"),
        ({"bogus": {"a": 1}}, "[bogus]", "unknown section"),
    ],
)
def test_config_errors_name_file_and_key(
    tmp_path: Path, sections: dict, key: str, message: str
) -> None:
    cfg = write_config(tmp_path, "http://127.0.0.1:1", **sections)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.key == key and str(cfg) in str(info.value)
    assert message in str(info.value)


def test_cli_config_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["-c", str(tmp_path / "missing.toml"), "push"]) == 2
    assert "missing.toml: (file): not found" in capsys.readouterr().err


def test_example_config_is_valid() -> None:
    cfg = load_config(Path(__file__).resolve().parents[1] / "agent.example.toml")
    assert cfg.auth.mode == "certificate" and cfg.batch.max_records == 1000


def test_dry_run_changes_nothing(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config(exclusions={"users": ["sip:ceo@contoso.com"]})
    spool = cfg.parent / "spool"
    (spool / "cdr" / "a.jsonl").write_text(
        "\n".join(json.dumps(r) for r in [cdr_row(1), cdr_row(2, caller="sip:ceo@contoso.com")])
    )
    (spool / "qoe" / "q.xml").write_text(qoe_xml())
    assert run(["-c", str(cfg), "push", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 record(s) to send, 1 excluded" in out and re.search(r"batch [0-9a-f-]{36}", out)
    assert stub.posts == [] and stub.exclusions == []
    assert (spool / "cdr" / "a.jsonl").exists()
    assert not (cfg.parent / "state" / "journal.json").exists()


def test_push_status_and_log_file(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config()
    (cfg.parent / "spool" / "cdr" / "a.jsonl").write_text(json.dumps(cdr_row(1)))
    assert run(["-c", str(cfg), "push"]) == 0
    (cfg.parent / "spool" / "qoe" / "waiting.xml").write_text(qoe_xml())
    capsys.readouterr()
    assert run(["-c", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert "1 file(s) waiting (1 QoE, 0 CDR)" in out
    assert "server: completed, stored 1" in out and "Last error      none" in out
    assert run(["-c", str(cfg), "status", "--json", "--offline"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counters"]["recordsSent"] == 1 and "server" not in info["recent"][0]
    log = (cfg.parent / "state" / "logs" / "cdc-agent.log").read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d INFO    batch ", log, re.M)


def test_dev_token_command() -> None:
    cmd = (sys.executable, "-c", "print('noise'); print('tok-123')")
    assert CommandToken(cmd, None).token() == "tok-123"
