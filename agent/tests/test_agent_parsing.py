"""CSV / JSON lines / JSON array CDR parsing, QoE files, and which files are complete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from agent_testlib import cdr_row, qoe_xml

from cdc_agent.exclusions import ExclusionPolicy
from cdc_agent.sources import BadFile, Scanner, SpoolFile, is_temp_name, read_file

NONE = ExclusionPolicy()


def spool(path: Path, kind: str) -> SpoolFile:
    st = path.stat()
    return SpoolFile(path, kind, st.st_size, st.st_mtime_ns)


CSV_HEADER = (
    "sessionIdTime,sessionIdSeq,callId,fromTag,toTag,user1Uri,user2Uri,inviteTime,"
    "responseTime,endTime,responseCode,diagnosticId,mediaTypes,isConference,"
    "conferenceUri\n"
)


def test_csv_values_become_the_json_types(tmp_path: Path) -> None:
    f = tmp_path / "cdr.csv"
    f.write_text(
        "\ufeff"
        + CSV_HEADER
        + "2026-11-21T10:00:00Z,7,c1@fe,f1,t1,sip:alice@contoso.com,sip:bob@contoso.com,"
        "2026-11-21T10:00:00Z,,2026-11-21T10:05:00Z,200,,audio;video,TRUE,\n"
        + "2026-11-21T10:00:00Z,8,c2@fe,f2,,sip:carol@contoso.com,tel:+14255550100,"
        "2026-11-21T10:00:00Z,,,487,24,audio|video| data,0,sip:carol@contoso.com;gruu\n"
        + ",,,,,,,,,,,,,,\n",
        encoding="utf-8",
    )
    parsed = read_file(spool(f, "cdr"), NONE)
    rows = [r["data"] for r in parsed.records]
    assert [r["kind"] for r in parsed.records] == ["cdr", "cdr"]
    assert {r["format"] for r in parsed.records} == {"sfb-cdr-json"}
    a, b = rows
    assert a["sessionIdSeq"] == 7 and a["responseCode"] == 200 and a["diagnosticId"] is None
    assert a["isConference"] is True and a["mediaTypes"] == ["audio", "video"]
    assert a["responseTime"] is None and a["sessionIdTime"] == "2026-11-21T10:00:00Z"
    assert b["diagnosticId"] == 24 and b["isConference"] is False
    assert b["mediaTypes"] == ["audio", "video", "data"] and b["toTag"] is None
    assert isinstance(b["sessionIdSeq"], int)


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("x", "sessionIdSeq must be an integer"),
    ],
)
def test_csv_bad_integer_names_line_and_field(tmp_path: Path, bad: str, fragment: str) -> None:
    f = tmp_path / "cdr.csv"
    f.write_text(CSV_HEADER + f"2026-11-21T10:00:00Z,{bad},c1,,,sip:a@b.c,,t,,,,,,,\n")
    with pytest.raises(BadFile, match=r"cdr.csv line 2: " + fragment):
        read_file(spool(f, "cdr"), NONE)


def test_csv_bad_bool_and_missing_header(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_text(CSV_HEADER + "t,1,c1,,,sip:a@b.c,,t,,,,,,maybe,\n")
    with pytest.raises(BadFile, match="isConference must be true/false"):
        read_file(spool(f, "cdr"), NONE)
    g = tmp_path / "c.csv"
    g.write_text("a,b\n1,2\n")
    with pytest.raises(BadFile, match="header must name"):
        read_file(spool(g, "cdr"), NONE)


def test_jsonl_and_json_array(tmp_path: Path) -> None:
    rows = [cdr_row(i) for i in range(3)]
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert [r["data"] for r in read_file(spool(f, "cdr"), NONE).records] == rows
    g = tmp_path / "b.json"
    g.write_text(json.dumps(rows))
    assert [r["data"] for r in read_file(spool(g, "cdr"), NONE).records] == rows


def test_jsonl_bad_line_is_named(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(cdr_row(1)) + "\n{not json\n")
    with pytest.raises(BadFile, match=r"a\.jsonl line 2: malformed JSON"):
        read_file(spool(f, "cdr"), NONE)
    g = tmp_path / "b.jsonl"
    g.write_text("[1]\n")
    with pytest.raises(BadFile, match="must be a JSON object"):
        read_file(spool(g, "cdr"), NONE)


def test_qoe_file_is_one_record_with_the_xml_text(tmp_path: Path) -> None:
    xml = qoe_xml()
    f = tmp_path / "r.xml"
    f.write_text(xml, encoding="utf-8")
    parsed = read_file(spool(f, "qoe"), NONE)
    assert parsed.records == [{"kind": "qoe", "format": "ms-qoe-xml", "data": xml}]
    assert len(parsed.sha256) == 64


def test_qoe_in_utf16_is_sent_as_text_without_the_lying_declaration(tmp_path: Path) -> None:
    xml = qoe_xml(from_uri="sip:zoë@contoso.com")
    f = tmp_path / "r.xml"
    f.write_bytes(('<?xml version="1.0" encoding="utf-16"?>' + xml).encode("utf-16"))
    (record,) = read_file(spool(f, "qoe"), NONE).records
    assert record["data"] == xml


@pytest.mark.parametrize(
    "content, reason",
    [
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<VQReportEvent xmlns="ms-rtcp-metrics">&x;</VQReportEvent>',
            "DTD",
        ),
        ("<VQReportEvent xmlns='ms-rtcp-metrics'><unclosed></VQReportEvent>", "well-formed"),
        ("<VQReportEvent xmlns='other'/>", "expected {ms-rtcp-metrics}VQReportEvent"),
        ("not xml at all", "well-formed"),
    ],
)
def test_unsafe_or_foreign_qoe_is_rejected(tmp_path: Path, content: str, reason: str) -> None:
    f = tmp_path / "r.xml"
    f.write_text(content)
    with pytest.raises(BadFile, match=reason):
        read_file(spool(f, "qoe"), NONE)


def test_oversized_qoe_rejected(tmp_path: Path) -> None:
    f = tmp_path / "big.xml"
    f.write_text(qoe_xml().replace("<Endpoint", "<!--" + "x" * 310_000 + "--><Endpoint"))
    with pytest.raises(BadFile, match="300 KB"):
        read_file(spool(f, "qoe"), NONE)


@pytest.mark.parametrize(
    "name, temp",
    [
        ("a.xml", False),
        ("a.xml.tmp", True),
        ("~a.xml", True),
        (".a.xml", True),
        ("a.csv.part", True),
        ("export.jsonl.partial", True),
        ("A.XML", False),
    ],
)
def test_temp_names(name: str, temp: bool) -> None:
    assert is_temp_name(name) is temp


def test_scanner_takes_a_file_only_once_it_stopped_changing(tmp_path: Path) -> None:
    qoe = tmp_path / "qoe"
    qoe.mkdir()
    now = [1_000_000.0]
    scanner = Scanner({"qoe": qoe, "cdr": None}, settle_seconds=5, clock=lambda: now[0])
    old = qoe / "old.xml"
    old.write_text("x")
    os.utime(old, (now[0] - 60, now[0] - 60))
    fresh = qoe / "fresh.xml"
    fresh.write_text("x")
    os.utime(fresh, (now[0] - 1, now[0] - 1))
    (qoe / "temp.xml.tmp").write_text("x")
    (qoe / "notes.txt").write_text("x")
    assert [f.path.name for f in scanner.ready()] == ["old.xml"]
    now[0] += 3
    fresh.write_text("xy")  # still growing
    os.utime(fresh, (now[0], now[0]))
    assert [f.path.name for f in scanner.ready()] == ["old.xml"]
    now[0] += 6  # unchanged for 6 s now
    assert [f.path.name for f in scanner.ready()] == ["old.xml", "fresh.xml"]
    assert [f.path.name for f in scanner.ready(skip={old})] == ["fresh.xml"]


def test_file_changing_while_read_is_left_for_later(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(cdr_row(1)) + "\n")
    sf = spool(f, "cdr")
    with f.open("a") as fh:
        fh.write(json.dumps(cdr_row(2)) + "\n")
    with pytest.raises(OSError, match="changed while being read"):
        read_file(sf, NONE)
