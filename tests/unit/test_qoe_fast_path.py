"""The QoE fast path gives exactly what the tree walk it replaced gave.

`tests/qoe_reference.py` is the parser as it was (a dict of children per element, one
pydantic validation per fragment) and `reference_clone` the fold's old copy (dump and
validate). For every input here, generated reports, the golden files, hand-made edge
cases and random mutations, the fast path must reject with the same reason or give
fragments and a classified view that serialise to the same JSON (so 1 and 1.0 differ)
with the same fields set on every model.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from devhost.qoe_generator import demo_users, generate_call
from shared import merge
from shared.merge import build_view, union
from shared.models.call import Session
from shared.models.trusted import build, deep_copy
from shared.parsing import ParseContext, RecordRejected, parse_record
from tests import qoe_reference
from tests.fuzzing import fuzz_examples

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
GOLDEN = Path(__file__).parents[1] / "golden" / "qoe"


def _reference(data: Any) -> list[Any]:
    """`parse_record` around the reference parser (the same wrapping of a parser bug)."""
    try:
        return qoe_reference.parse_qoe(data, CTX)
    except RecordRejected:
        raise
    except Exception as exc:
        raise RecordRejected(
            f"qoe/ms-qoe-xml could not be parsed: {type(exc).__name__}: {exc}"
        ) from exc


def _fields_set(model: BaseModel) -> Any:
    """The fields set of a model and of every model inside it."""
    inner: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            inner[name] = _fields_set(value)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            inner[name] = [_fields_set(v) for v in value]
    return sorted(model.model_fields_set), inner


def _outcome(parse: Any, data: Any, clone: Any) -> Any:
    try:
        frags = parse(data)
    except RecordRejected as exc:
        return ("rejected", exc.reason)
    view = _view(frags, clone)
    return (
        [f.model_dump_json() for f in frags],
        [_fields_set(f) for f in frags],
        view.model_dump_json(),
    )


def _view(frags: list[Any], clone: Any) -> Any:
    saved = merge._clone
    merge._clone = clone
    try:
        return build_view(union({}, frags))
    finally:
        merge._clone = saved


def assert_same(data: Any) -> None:
    fast = _outcome(lambda d: parse_record("qoe", "ms-qoe-xml", d, CTX), data, merge._clone)
    before = _outcome(_reference, data, qoe_reference.reference_clone)
    assert fast == before


def _generated(n_calls: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    users = demo_users(30)
    when = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
    calls = []
    for _ in range(n_calls):
        calls.append(generate_call(rng, "t", users, when))
        when += timedelta(minutes=7)
    return calls


_CALLS = _generated(150, 11)
_BASE = next(r["data"] for call in _CALLS for r in call if r["kind"] == "qoe")


def test_generated_reports_are_parsed_the_same():
    reports = [r["data"] for call in _CALLS for r in call if r["kind"] == "qoe"]
    assert len(reports) > 200
    for xml in reports:
        assert_same(xml)
        assert_same(xml.encode("utf-8"))


def test_whole_calls_fold_the_same():
    """Every record of a call (CDRs too) folded together: the fold's copies are the
    only change for non-QoE fragments."""
    for call in _CALLS[:60]:
        fast, before = [], []
        for rec in call:
            try:
                fast += parse_record(rec["kind"], rec["format"], rec["data"], CTX)
                if rec["kind"] == "qoe":
                    before += _reference(rec["data"])
                else:
                    before += parse_record(rec["kind"], rec["format"], rec["data"], CTX)
            except RecordRejected:
                continue
        a = _view(fast, merge._clone)
        b = _view(before, qoe_reference.reference_clone)
        assert a.model_dump_json() == b.model_dump_json()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.xml")), ids=lambda p: p.name)
def test_golden_reports_are_parsed_the_same(path):
    assert_same(path.read_text("utf-8"))


def _sub(old: str, new: str, count: int = 1) -> Any:
    def edit(xml: str) -> str:
        assert old in xml, old
        return xml.replace(old, new, count)

    return edit


_IN = "<InboundStream><Network><Jitter><InterArrival>"
EDGES: dict[str, Any] = {
    "no DialogInfo": lambda x: x.replace("<DialogInfo ", "<DialogInf0 ").replace(
        "</DialogInfo>", "</DialogInf0>"
    ),
    "no CallId": _sub(' CallId="', ' CallIdX="'),
    "namespaced CallId": _sub(' CallId="', ' v2:CallId="'),
    "empty CallId": lambda x: x.replace(' CallId="', ' CallId=" " x="', 1),
    "Caller not a boolean": lambda x: x.replace("<Caller>true<", "<Caller>yes<").replace(
        "<Caller>false<", "<Caller>yes<"
    ),
    "Caller as 1": lambda x: x.replace("<Caller>true<", "<Caller> 1 <").replace(
        "<Caller>false<", "<Caller> 1 <"
    ),
    "no MediaLine": lambda x: x.replace("<MediaLine ", "<MediaLin ").replace(
        "</MediaLine>", "</MediaLin>"
    ),
    "unknown label": _sub('Label="main-audio"', 'Label="main-hologram"'),
    "label with spaces": _sub('Label="main-audio"', 'Label=" main-audio "'),
    "long unknown label": _sub('Label="main-audio"', 'Label="' + "x" * 300 + '"'),
    "non-numeric jitter": _sub(_IN, _IN + "abc"),
    "NaN jitter": lambda x: x.replace(_IN, _IN + "NaN<x/>", 1),
    "jitter with underscore and spaces": _sub(_IN, _IN + " 1_0"),
    "infinite loss": lambda x: x.replace("<LossRate>", "<LossRate>1e999", 1),
    "empty metric": lambda x: x.replace("<LossRate>", "<LossRate><![CDATA[ ]]>", 1),
    "metric in CDATA": lambda x: x.replace("<InterArrival>", "<InterArrival><![CDATA[9]]>", 1),
    "comment inside a value": lambda x: x.replace("<InterArrival>", "<InterArrival>1<!-- c -->", 1),
    "PI inside a value": lambda x: x.replace("<InterArrival>", "<InterArrival>1<?pi x?>", 1),
    "child inside a value": lambda x: x.replace("<InterArrival>", "<InterArrival>4<b>5</b>", 1),
    "foreign namespace first": lambda x: x.replace(
        "<Description>", '<Description><Transport xmlns="urn:other">TCP</Transport>', 1
    ),
    "no-namespace element first": lambda x: x.replace(
        "<Description>", '<Description><Transport xmlns="">TCP</Transport>', 1
    ),
    "later family version": lambda x: x.replace(
        "<Description>", '<Description><Transport xmlns="ms-rtcp-metrics.v9">TLS</Transport>', 1
    ),
    "lookalike namespace": lambda x: x.replace(
        "<Description>", '<Description><Transport xmlns="ms-rtcp-metricsX">TLS</Transport>', 1
    ),
    "duplicate Description": lambda x: x.replace(
        "<Description>",
        "<Description><LocalAddr><IPAddr>192.168.7.9</IPAddr><SubnetMask>24</SubnetMask>"
        "</LocalAddr></Description><Description>",
        1,
    ),
    "duplicate media line": lambda x: x.replace(
        "</VQSessionReport>",
        x[x.index("<MediaLine ") : x.index("</MediaLine>") + 12] + "</VQSessionReport>",
    ),
    "IPv6 address": lambda x: x.replace("<IPAddr>", "<IPAddr>fe80::1%", 1),
    "prefix-length mask": lambda x: x.replace("<SubnetMask>", "<SubnetMask>22<x/>", 1),
    "host mask": lambda x: x.replace("<SubnetMask>", "<SubnetMask>0.0.3.255<x/>", 1),
    "leading zero address": lambda x: x.replace("<IPAddr>", "<IPAddr>010.1.2.3<x/>", 1),
    "port out of range": lambda x: x.replace("<Port>", "<Port>65536<x/>", 1),
    "fractional port": lambda x: x.replace("<Port>", "<Port>12.5<x/>", 1),
    "odd connection": lambda x: x.replace(
        "<NetworkConnectivityInfo>",
        "<NetworkConnectivityInfo><NetworkConnection>Cellular</NetworkConnection>",
        1,
    ),
    "ssid not hex": lambda x: x.replace(
        "<Description>", "<Description><SSID>Guest WiFi</SSID><WifiChannel>6.0</WifiChannel>", 1
    ),
    "ssid bad utf-8": lambda x: x.replace("<Description>", "<Description><SSID>ff</SSID>", 1),
    "empty inbound payload": lambda x: x.replace(
        "<InboundStream><Network>", "<InboundStream><Payload/><Network>", 1
    ),
    "unknown inbound payload": lambda x: x.replace(
        "<InboundStream><Network>", "<InboundStream><Payload><Foo/></Payload><Network>", 1
    ),
    "no inbound stream": lambda x: x.replace("<InboundStream>", "<InboundStreamX>", 1).replace(
        "</InboundStream>", "</InboundStreamX>", 1
    ),
    "no outbound stream": lambda x: x.replace("<OutboundStream>", "<OutboundStreamX>", 1).replace(
        "</OutboundStream>", "</OutboundStreamX>", 1
    ),
    "interval report": lambda x: x.replace("VQSessionReport", "VQSessionIntervalReport"),
    "two session reports": lambda x: x.replace(
        "</VQReportEvent>",
        x[x.index("<VQSessionReport") : x.index("</VQSessionReport>") + 18].replace(
            'CallId="', 'CallId="second-'
        )
        + "</VQReportEvent>",
    ),
    "no session report": lambda x: x.replace("VQSessionReport", "VQSomethingElse"),
    "wrong root": lambda x: x.replace("VQReportEvent", "VQReportEvents"),
    "doctype": lambda x: x.replace("<VQReportEvent", "<!DOCTYPE a []><VQReportEvent", 1),
    "not well-formed": lambda x: x[: len(x) // 2],
    "latin-1 declared": lambda x: x.replace('encoding="utf-8"', 'encoding="iso-8859-1"'),
    "non-ascii values": lambda x: x.replace("<Name>", "<Name>Mikrofon für Zoë ", 1),
    "char reference": lambda x: x.replace("<Name>", "<Name>&#xE000;&#233;&amp;", 1),
    "odd start time": lambda x: x.replace('Start="', 'Start="2026-11-20T09:00:02+02:00" X="', 1),
    "unparsable end time": lambda x: x.replace('End="', 'End="yesterday" X="', 1),
    "conference URI": lambda x: x.replace(
        "</Caller>",
        "</Caller><ConfURI>sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q1</ConfURI>",
        1,
    ),
    "phone number in sip": lambda x: x.replace(
        "<ToURI>sip:", "<ToURI>sip:+14255550123@contoso.com;user=phone;x=", 1
    ),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_cases_are_handled_the_same(name):
    for base in (_BASE, (GOLDEN / "audio_p2p_caller.xml").read_text("utf-8")):
        try:
            xml = EDGES[name](base)
        except AssertionError:
            continue  # this base has nothing to edit for the case
        assert_same(xml)


def test_boundary_rejections_are_the_same():
    for data in (None, 12, {"xml": _BASE}, b"\xff\xfe<x/>", "x" * (CTX.max_qoe_bytes + 1)):
        assert_same(data)
    assert_same(_BASE.replace("</VQReportEvent>", "é" * (CTX.max_qoe_bytes // 2)))


@settings(
    max_examples=fuzz_examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_mutated_reports_are_handled_the_same(data):
    xml = _BASE
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(xml)))
        j = min(len(xml), i + data.draw(st.integers(0, 120)))
        op = data.draw(st.sampled_from(["delete", "insert", "dup"]))
        if op == "delete":
            xml = xml[:i] + xml[j:]
        elif op == "dup":
            xml = xml[:j] + xml[i:j] + xml[j:]
        else:
            piece = data.draw(
                st.sampled_from(
                    ["<x>", "</x>", "1e3", "NaN", " ", "<v9:Jitter xmlns:v9='ms-rtcp-metrics.v9'/>"]
                )
            )
            xml = xml[:i] + piece + xml[i:]
    assert_same(xml)


def test_deep_copy_is_independent_and_equal():
    [frag] = parse_record("qoe", "ms-qoe-xml", _BASE, CTX)
    session = frag.sessions[0]
    copy = deep_copy(session)
    ref = qoe_reference.reference_clone(session)
    assert copy.model_dump_json() == ref.model_dump_json()
    assert _fields_set(copy) == _fields_set(ref)
    copy.caller.device_ratios["x"] = 1.0
    copy.streams[0].metrics.jitter_ms = -1.0
    copy.media_types.append("data")
    assert "x" not in session.caller.device_ratios
    assert session.streams[0].metrics.jitter_ms != -1.0
    assert "data" not in session.media_types or session.media_types.count("data") == 1


def test_build_is_model_validate_for_typed_values():
    values = {"id": "s", "media_types": ["audio"], "has_qoe": True}
    built, validated = build(Session, dict(values)), Session.model_validate(values)
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    assert built.caller is not build(Session, dict(values)).caller  # fresh defaults
    with pytest.raises(TypeError):
        build(Session, {"media_types": []})  # id is required
    with pytest.raises(TypeError):
        build(Session, {"id": "s", "not_a_field": 1})
