"""MS-QoE XML parser: fields, joins, rejections, attacks, golden files, mutation fuzz."""

from __future__ import annotations

import json
import random
import socket
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.qoe_generator import Line, Net, build_report, demo_users, generate_call
from shared.identity import session_id
from shared.merge import build_view, union
from shared.parsing import ParseContext, RecordRejected, parse_record
from shared.parsing.qoe_xml import parse_qoe
from tests.fuzzing import fuzz_examples
from tests.golden.make_golden import CALLS
from tests.golden.summary import summarise_files

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
GOLDEN = Path(__file__).parents[1] / "golden" / "qoe"


def qoe(xml):
    return parse_record("qoe", "ms-qoe-xml", xml, CTX)


def gold(name: str) -> str:
    return (GOLDEN / name).read_text("utf-8")


def test_caller_report_fields():
    [frag] = qoe(gold("audio_p2p_caller.xml"))
    assert frag.key == "sip:9c1f0c7a4e2b44d1@fe01.contoso.local"
    assert frag.record_id == "qoe:9c1f0c7a4e2b44d1@fe01.contoso.local:a1b2c3d4:e5f6a7b8:caller"
    assert frag.call_type == "peerToPeer" and frag.source_format == "ms-qoe-xml"
    [s] = frag.sessions
    assert s.id == session_id("9c1f0c7a4e2b44d1@fe01.contoso.local", "a1b2c3d4", "e5f6a7b8")
    assert s.has_qoe and s.start == "2026-11-20T09:00:02Z" and s.end == "2026-11-20T09:12:40Z"
    c = s.caller
    assert (c.uri, c.ip_address, c.port, c.subnet_mask, c.subnet) == (
        "sip:alice@contoso.com",
        "10.12.4.57",
        50020,
        "255.255.252.0",
        "10.12.4.0",
    )
    assert (c.connection_type, c.vpn, c.inside, c.mac_address, c.link_speed_bps) == (
        "wired",
        False,
        True,
        "00-15-5D-4A-10-22",
        1e9,
    )
    assert c.machine_name == "CONTOSO-PC17" and c.os == "Windows 10"
    assert c.capture_device == "Microphone (Jabra EVOLVE 40)"
    assert c.device_ratios["DeviceRenderNotFunctioningEventRatio"] == 0.0
    assert s.callee.uri == "sip:bob@contoso.com" and s.callee.ip_address is None
    [stream] = s.streams
    assert (stream.id, stream.media_type, stream.direction) == (
        "main-audio:calleeToCaller",
        "audio",
        "calleeToCaller",
    )
    m = stream.metrics
    assert (
        m.jitter_ms,
        m.packet_loss_rate,
        m.degradation_avg,
        m.concealed_ratio_avg,
        m.packet_utilization,
        m.round_trip_ms,
        m.codec,
    ) == (6.0, 0.004, 0.22, 0.011, 37900.0, 48.5, "SILKWide")
    assert m.video_frame_rate_avg is None and m.post_fec_plr_audio is None


def test_wifi_fields_and_callee_direction():
    [frag] = qoe(gold("audio_p2p_callee.xml"))
    [s] = frag.sessions
    b = s.callee
    assert (b.connection_type, b.bssid, b.ssid, b.wifi_radio_type, b.wifi_signal_strength) == (
        "wifi",
        "f4-cf-e2-0a-11-b0",
        "CONTOSO-CORP",
        "802.11ac",
        -61.0,
    )
    assert b.device_ratios["DeviceRenderNotFunctioningEventRatio"] == 0.02
    assert [x.id for x in s.streams] == ["main-audio:callerToCallee"]
    assert frag.record_id.endswith(":callee")


def test_both_reports_and_cdr_join_in_one_session():
    files = [GOLDEN / f for f in CALLS["audio_p2p"]]
    summary = summarise_files(files)
    assert len(summary["sessions"]) == 1 and len(summary["keys"]) == 1
    [s] = summary["sessions"]
    assert {x["id"] for x in s["streams"]} == {
        "main-audio:callerToCallee",
        "main-audio:calleeToCaller",
    }
    assert s["caller"]["ip_address"] == "10.12.4.57" and s["callee"]["ip_address"] == "10.13.22.140"


@pytest.mark.parametrize("call", sorted(CALLS))
def test_golden_calls(call):
    expected = json.loads((GOLDEN / f"{call}.expected.json").read_text("utf-8"))
    assert summarise_files([GOLDEN / f for f in CALLS[call]]) == expected


def test_golden_highlights():
    """The expected files say what classification.md says (not just what the code did)."""

    def load(n):
        return json.loads((GOLDEN / f"{n}.expected.json").read_text("utf-8"))

    audio = load("audio_p2p")
    assert audio["rating"] == "poor" and audio["reasons"] == ["audioNetwork", "device"]
    video = load("video_p2p")["sessions"][0]["streams"]
    assert [(s["media_type"], s["rating"]) for s in video] == [("audio", "good"), ("video", "poor")]
    conf = load("conference")
    assert conf["call_type"] == "conference" and len(conf["keys"]) == 1
    kinds = {s["media_type"]: s for sess in conf["sessions"] for s in sess["streams"]}
    assert kinds["vbss"]["poor_due_to"] == ["video_frame_rate_avg"]  # 1.5 fps < 2
    assert kinds["appsharing"]["poor_due_to"] == ["spoiled_tile_pct"]
    assert kinds["appsharing"]["flags"]["relative_one_way_s"] == "yellow"
    pstn = load("pstn")
    assert pstn["call_type"] == "pstn" and pstn["reasons"] == ["audioNetwork"]
    assert load("setup_failure")["reasons"] == ["callSetup"]
    assert load("dropped_no_qoe")["rating"] == "unavailable"


def test_namespaces_are_matched_not_prefixes():
    xml = gold("audio_p2p_caller.xml")
    renamed = (
        xml.replace('xmlns:v2="ms-rtcp-metrics.v2"', 'xmlns:q2="ms-rtcp-metrics.v2"')
        .replace("<v2:", "<q2:")
        .replace("</v2:", "</q2:")
        .replace(" v2:", " q2:")
    )
    assert qoe(renamed)[0].sessions == qoe(xml)[0].sessions
    # a foreign namespace with the same local names is ignored
    foreign = xml.replace('xmlns:v3="ms-rtcp-metrics.v3"', 'xmlns:v3="urn:other"')
    assert qoe(foreign)[0].sessions[0].caller.ip_address == "10.12.4.57"
    # a default-namespace document of another vocabulary is rejected
    with pytest.raises(RecordRejected, match="VQReportEvent"):
        qoe(xml.replace('xmlns="ms-rtcp-metrics"', 'xmlns="urn:x"'))


def test_unknown_elements_ignored_and_missing_metrics_none():
    xml = (
        gold("audio_p2p_caller.xml")
        .replace("<Jitter>", "<Surprise><Deep>1</Deep></Surprise><Jitter>", 1)
        .replace("<LossRate>0.004</LossRate>", "<LossRate>n/a</LossRate>")
    )
    [frag] = qoe(xml)
    m = frag.sessions[0].streams[0].metrics
    assert m.jitter_ms == 6.0 and m.packet_loss_rate is None


def test_unknown_label_is_rejected():
    xml = gold("audio_p2p_caller.xml").replace('Label="main-audio"', 'Label="main-hologram"')
    with pytest.raises(RecordRejected, match="unknown MediaLine@Label"):
        qoe(xml)


def test_missing_dialog_fields_are_rejected():
    xml = gold("audio_p2p_caller.xml")
    for broken in (xml.replace('CallId="', 'X="'), xml.replace("<Caller>true</Caller>", "")):
        with pytest.raises(RecordRejected):
            qoe(broken)


def test_ice_failure_and_vbss_label():
    line = Line("main-audio", "audio", {"jitter_ms": 50.0}, {}, 10.0)
    net = Net(ice="FAILED")
    xml = build_report(
        call_id="c@x",
        from_tag="f",
        to_tag="t",
        caller=True,
        from_uri="sip:a@x.com",
        to_uri="sip:b@x.com",
        start=datetime(2026, 1, 1),
        end=datetime(2026, 1, 1, 0, 5),
        lines=[line],
        net=net,
    )
    view = build_view(union({}, qoe(xml)))
    q = view.sessions[0].streams[0].quality
    assert (q.rating, q.unclassified_reason) == ("unclassified", "connectivity failed")


def test_interval_report_links_but_adds_no_metrics():
    xml = gold("audio_p2p_caller.xml").replace("VQSessionReport", "VQSessionIntervalReport")
    [frag] = qoe(xml)
    assert frag.record_id.endswith(":interval") and not frag.sessions[0].streams
    assert not frag.sessions[0].has_qoe


def test_size_limit():
    xml = gold("audio_p2p_caller.xml")
    pad = CTX.max_qoe_bytes + 1 - len(xml.encode())
    big = xml.replace("</VQReportEvent>", "<!--" + "x" * (pad - 7) + "--></VQReportEvent>")
    assert len(big.encode()) == CTX.max_qoe_bytes + 1
    with pytest.raises(RecordRejected, match="limit"):
        qoe(big)
    with pytest.raises(RecordRejected, match="limit"):
        qoe(big.encode())
    fits = xml.replace("</VQReportEvent>", "<!--" + "x" * (pad - 8) + "--></VQReportEvent>")
    assert len(qoe(fits)) == 1


XXE_FILE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<VQReportEvent xmlns="ms-rtcp-metrics">&x;</VQReportEvent>'
)
XXE_NET = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://203.0.113.1/x">]>'
    '<VQReportEvent xmlns="ms-rtcp-metrics">&x;</VQReportEvent>'
)
XXE_PARAM = (
    '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://203.0.113.1/p.dtd"> %p;]>'
    '<VQReportEvent xmlns="ms-rtcp-metrics"/>'
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";" if i > 1 else "&lol;") * 10}">'
        for i in range(1, 10)
    )
    + ']><VQReportEvent xmlns="ms-rtcp-metrics">&lol9;</VQReportEvent>'
)
QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + "A" * 50_000 + '">]>'
    '<VQReportEvent xmlns="ms-rtcp-metrics">' + "&a;" * 5_000 + "</VQReportEvent>"
)
EXTERNAL_DTD = (
    '<!DOCTYPE VQReportEvent SYSTEM "http://203.0.113.1/qoe.dtd">'
    '<VQReportEvent xmlns="ms-rtcp-metrics"/>'
)


@pytest.mark.parametrize(
    "attack",
    [
        XXE_FILE,
        XXE_NET,
        XXE_PARAM,
        LAUGHS,
        QUADRATIC,
        EXTERNAL_DTD,
        XXE_FILE.replace("DOCTYPE", "doctype"),
    ],
    ids=[
        "xxe-file",
        "xxe-network",
        "xxe-param",
        "billion-laughs",
        "quadratic",
        "external-dtd",
        "lowercase",
    ],
)
def test_attacks_are_rejected_quickly_without_network(attack, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for data in (attack, attack.encode("utf-8")):
        t = time.perf_counter()
        with pytest.raises(RecordRejected):
            parse_qoe(data, CTX)
        assert time.perf_counter() - t < 0.5


def test_utf16_doctype_cannot_sneak_past_the_text_check():
    data = XXE_FILE.replace('<?xml version="1.0"?>', "").encode("utf-16")
    with pytest.raises(RecordRejected):
        parse_qoe(data, CTX)


def test_generated_calls_parse_and_join():
    rng = random.Random(11)
    for _ in range(30):
        records = generate_call(rng, "t", demo_users(), datetime(2026, 11, 20, 9))
        frags = [f for r in records for f in parse_record(r["kind"], r["format"], r["data"], CTX)]
        assert len({f.key for f in frags}) == 1
        cdr_sessions = {
            s.id for f in frags if f.source_format == "sfb-cdr-json" for s in f.sessions
        }
        qoe_sessions = {s.id for f in frags if f.source_format == "ms-qoe-xml" for s in f.sessions}
        assert qoe_sessions <= cdr_sessions


_BASE = None


def _base() -> str:
    global _BASE
    if _BASE is None:
        _BASE = gold("vbss_conference.xml")
    return _BASE


@settings(
    max_examples=fuzz_examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_mutated_xml_never_raises_anything_but_rejected(data):
    xml = _base()
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate", "dup"]))
        i = data.draw(st.integers(0, len(xml)))
        j = min(len(xml), i + data.draw(st.integers(0, 200)))
        if op == "delete":
            xml = xml[:i] + xml[j:]
        elif op == "insert":
            xml = (
                xml[:i]
                + data.draw(
                    st.sampled_from(
                        [
                            "<",
                            ">",
                            "&",
                            "&amp;",
                            "<x>",
                            "</MediaLine>",
                            '<MediaLine Label="q">',
                            "\x00",
                            "\ud800",
                            "<!DOCTYPE a>",
                            "NaN",
                            "-1e999",
                            "]]>",
                            '"',
                            "é",
                        ]
                    )
                )
                + xml[i:]
            )
        elif op == "replace":
            xml = xml[:i] + data.draw(st.text(max_size=20)) + xml[j:]
        elif op == "truncate":
            xml = xml[:i]
        else:
            xml = xml[:i] + xml[i:j] + xml[i:]
    try:
        frags = parse_qoe(xml, CTX)
    except RecordRejected as exc:
        assert exc.reason
        return
    build_view(union({}, frags))  # what parses must also fold and classify
