"""`cdc-agent preview`: on the demo data (QoE reports and CDRs from
devhost/qoe_generator.py), the preview is exactly the batch the next push posts: same
batchId, same records, excluded users absent; and it sends nothing, pushes no policy,
moves no file and leaves the journal byte for byte as it was. A batch left pending by a
failed run is previewed from its stored bytes, the way the push resends it."""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import IngestStub

from cdc_agent.cli import run

REPO = Path(__file__).resolve().parents[2]
EXCLUDED = "sip:carol@contoso.com"  # one of devhost.qoe_generator.demo_users()


def demo_spool(spool: Path, calls: int = 6, seed: int = 24) -> list[dict[str, Any]]:
    """Demo calls into the spool: each QoE report in its own .xml file, the CDRs of
    each call in one .jsonl file. Returns every record written."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import devhost.qoe_generator as gen

    rng = random.Random(seed)
    users = gen.demo_users(5)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
    written: list[dict[str, Any]] = []
    for i in range(calls):
        records = gen.generate_call(
            rng,
            "t",
            users,
            start + timedelta(minutes=11 * i),
            scenario=("p2p", "conference", "pstn")[i % 3],
        )
        cdrs = [r["data"] for r in records if r["kind"] == "cdr"]
        if cdrs:
            (spool / "cdr" / f"call{i}.jsonl").write_text(
                "\n".join(json.dumps(c) for c in cdrs) + "\n", encoding="utf-8"
            )
        for j, r in enumerate(r for r in records if r["kind"] == "qoe"):
            (spool / "qoe" / f"call{i}-{j}.xml").write_text(r["data"], encoding="utf-8")
        written += records
    return written


def names(record: dict[str, Any], address: str) -> bool:
    return address.lower() in json.dumps(record).lower()


def preview_json(cfg: Path, capsys: pytest.CaptureFixture) -> dict[str, Any]:
    capsys.readouterr()
    assert run(["-c", str(cfg), "preview", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "agent.toml"
    }


def test_preview_is_the_next_batch_after_exclusions(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config(exclusions={"users": [EXCLUDED]})
    written = demo_spool(cfg.parent / "spool")
    assert any(names(r, EXCLUDED) for r in written)  # the demo data does name them
    before = snapshot(cfg.parent)

    shown = preview_json(cfg, capsys)
    env = shown["envelope"]
    assert shown["origin"] == "spool" and len(env["records"]) == 10  # [batch] max_records
    assert not any(names(r, EXCLUDED) for r in env["records"])
    assert sum(f["excluded"] for f in shown["files"]) >= 1
    assert shown["batchesAfter"] >= 1
    # nothing sent, no policy pushed, no file moved, no journal written
    assert stub.posts == [] and stub.exclusions == [] and stub.tokens == []
    assert snapshot(cfg.parent) == before

    assert run(["-c", str(cfg), "push"]) == 0
    first = stub.posts[0]
    assert first["batchId"] == env["batchId"]
    assert first["records"] == env["records"] and first["source"] == env["source"]
    assert first["tenantId"] == env["tenantId"]
    assert not any(names(r, EXCLUDED) for p in stub.posts for r in p["records"])


def test_preview_text_lists_every_record(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config(exclusions={"users": [EXCLUDED]})
    demo_spool(cfg.parent / "spool")
    env = preview_json(cfg, capsys)["envelope"]
    assert run(["-c", str(cfg), "preview"]) == 0
    out = capsys.readouterr().out
    assert f"batch {env['batchId']} (built from the spool now)" in out
    assert "10 record(s)" in out and "1 user(s), 0 domain(s)" in out
    for i, r in enumerate(env["records"]):
        assert f"  [{i}] {r['kind']}" in out
    assert "carol" not in out.split("exclusion policy", 1)[1]
    assert not (cfg.parent / "state" / "logs").exists()  # console only, never the log


def test_preview_of_a_pending_batch_uses_its_stored_bytes(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config()
    demo_spool(cfg.parent / "spool", calls=3)
    stub.script = [(503, {}, {})] * 4  # every attempt of this run fails: the batch stays
    assert run(["-c", str(cfg), "push"]) == 1
    journal = json.loads((cfg.parent / "state" / "journal.json").read_text())
    pending = [b for b in journal["pending"]["batches"] if b["state"] == "pending"]
    before = snapshot(cfg.parent)

    shown = preview_json(cfg, capsys)
    assert shown["origin"] == "pending" and shown["envelope"]["batchId"] == pending[0]["batchId"]
    assert shown["nowExcluded"] == [] and snapshot(cfg.parent) == before

    # the policy now excludes a user of that batch: the preview says the stored batch
    # still names them (the agent resends stored bytes unchanged)
    flagged_cfg = cfg.read_text().replace("users = []", f'users = ["{EXCLUDED}"]')
    cfg.write_text(flagged_cfg)
    flagged = preview_json(cfg, capsys)
    expect = [i for i, r in enumerate(flagged["envelope"]["records"]) if names(r, EXCLUDED)]
    assert expect and flagged["nowExcluded"] == expect

    out_file = cfg.parent / "preview.json"
    assert run(["-c", str(cfg), "preview", "--out", str(out_file)]) == 0
    assert json.loads(out_file.read_text())["envelope"] == flagged["envelope"]

    assert run(["-c", str(cfg), "push"]) == 0
    assert stub.posts[0] == shown["envelope"]  # the very bytes, sentAt included


def test_preview_with_nothing_to_send(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config(exclusions={"domains": ["contoso.com"]})
    demo_spool(cfg.parent / "spool", calls=1)
    shown = preview_json(cfg, capsys)
    assert shown["origin"] == "none" and shown["envelope"] is None
    assert shown["files"] and all(f["records"] == 0 for f in shown["files"])
    assert run(["-c", str(cfg), "preview"]) == 0
    assert "nothing to send" in capsys.readouterr().out


def test_a_pending_batch_whose_bytes_are_gone_is_rebuilt_from_its_files(
    stub: IngestStub, make_config, capsys: pytest.CaptureFixture
) -> None:
    cfg = make_config()
    demo_spool(cfg.parent / "spool", calls=3)
    stub.script = [(503, {}, {})] * 4
    assert run(["-c", str(cfg), "push"]) == 1
    state = cfg.parent / "state"
    pending = json.loads((state / "journal.json").read_text())["pending"]["batches"][0]
    (state / "batches" / f"{pending['batchId']}.json.gz").unlink()
    shown = preview_json(cfg, capsys)
    # the push drops the claim and reads the same files again: the same first batch
    assert shown["origin"] == "spool" and shown["envelope"]["batchId"] == pending["batchId"]
    assert run(["-c", str(cfg), "push"]) == 0
    assert stub.posts[0]["batchId"] == pending["batchId"]
    assert stub.posts[0]["records"] == shown["envelope"]["records"]
