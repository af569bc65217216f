"""What a merged call is found by and what it says about itself, hand-computed from
docs/reference/api.md ("Source ids and lookup") and docs/reference/data.md: the ids each
source named the call by, the normalised lookup keys, the participants list, the call
type when sources disagree, and the call's span and duration."""

from __future__ import annotations

import pytest

from shared.classification.thresholds import build_table
from shared.clock import utcnow
from shared.identity import call_id as make_call_id
from shared.merge import (
    build_document,
    build_view,
    completeness,
    conference_id,
    internal_users,
    lookup_keys,
    merged_document,
    normalise_source_id,
    source_ids,
    union,
)
from shared.models.call import Endpoint, Fragment, PstnDetail, Session, Stream, StreamMetrics

CONF = "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q1X2"


def ep(role: str, uri: str | None = None, **kw: object) -> Endpoint:
    return Endpoint(role=role, uri=uri, **kw)  # type: ignore[arg-type]


def stream(sid: str, **kw: object) -> Stream:
    return Stream(id=sid, label="audio", media_type="audio", direction="callerToCallee", **kw)  # type: ignore[arg-type]


def frag(
    fid: str, fmt: str, *sessions: Session, record: str | None = None, **kw: object
) -> Fragment:
    return Fragment(
        fragment_id=fid,
        record_id=record or fid,
        source_format=fmt,
        key="k",
        sessions=list(sessions),
        **kw,  # type: ignore[arg-type]
    )


GRAPH = frag(
    "h-graph",
    "graph-v1",
    Session(
        id="sess-B",
        caller=ep("caller"),
        callee=ep("callee"),
        streams=[
            stream("a1", segment_id="seg-2", stream_id="st-9"),
            stream("a2", segment_id="seg-1"),
        ],
    ),
    Session(
        id="sess-A",
        caller=ep("caller"),
        callee=ep("callee"),
        streams=[stream("a3", stream_id="st-1")],
    ),
    record="graph:2f1a-CallRecord",
    version=3,
)
QOE = frag(
    "h-qoe",
    "ms-qoe-xml",
    Session(
        id="dlg",
        sip_call_id="<Call-ID-77@host>",
        from_tag="ft",
        to_tag="tt",
        caller=ep("caller"),
        callee=ep("callee"),
    ),
    record="qoe:dlg",
    report_id="Report-1",
    conference_uri=CONF,
)
CDR = frag(
    "h-cdr",
    "sfb-cdr-json",
    Session(id="dlg", sip_call_id="call-id-77@host", caller=ep("caller"), callee=ep("callee")),
    record="cdr:2031-01-01T10:00:00Z:7",
)


def test_graph_ids_are_the_record_its_sessions_segments_and_streams() -> None:
    ids = source_ids(GRAPH)
    assert ids.source_format == "graph-v1" and ids.record_id == "graph:2f1a-CallRecord"
    assert ids.call_record_id == "2f1a-CallRecord" and ids.version == 3
    assert ids.session_ids == ["sess-A", "sess-B"]
    assert ids.segment_ids == ["seg-1", "seg-2"]
    assert ids.stream_ids == ["st-1", "st-9"]
    assert ids.sip_call_id is None and ids.report_id is None and ids.cdr_session is None


def test_qoe_ids_are_the_dialog_the_report_and_the_conference() -> None:
    ids = source_ids(QOE)
    assert (ids.sip_call_id, ids.from_tag, ids.to_tag) == ("<Call-ID-77@host>", "ft", "tt")
    assert ids.report_id == "Report-1" and ids.conference_uri == CONF
    assert ids.cdr_session is None and ids.call_record_id is None and ids.version is None
    assert ids.session_ids == [] and ids.stream_ids == []


def test_cdr_ids_are_the_dialog_and_the_cdr_session() -> None:
    ids = source_ids(CDR)
    assert ids.sip_call_id == "call-id-77@host" and ids.cdr_session == "2031-01-01T10:00:00Z:7"
    assert ids.report_id is None and ids.conference_uri is None


def test_a_record_without_a_session_still_names_itself() -> None:
    ids = source_ids(frag("h-empty", "ms-qoe-xml", record="qoe:x", report_id="R"))
    assert ids.record_id == "qoe:x" and ids.report_id == "R" and ids.sip_call_id is None


def test_lookup_keys_are_every_id_normalised_once() -> None:
    view = build_view(union({}, [GRAPH, QOE, CDR]))
    assert [i.source_format for i in view.source_ids] == ["sfb-cdr-json", "graph-v1", "ms-qoe-xml"]
    assert lookup_keys(view) == sorted(
        {
            "2f1a-callrecord",
            "sess-a",
            "sess-b",
            "call-id-77@host",  # the QoE's `<Call-ID-77@host>` and the CDR's spelling: one key
            "report-1",
            CONF.lower(),
            "q1x2",  # the bare conference id
        }
    )


def test_every_conference_uri_of_the_call_is_a_lookup_key() -> None:
    """Two records naming the meeting differently (a Teams and an SfB spelling): the
    call is found by either, not only by the one its view shows."""
    other = QOE.model_copy(
        update={"fragment_id": "h-qoe-2", "record_id": "qoe:2", "conference_uri": "sip:x@y;gruu"}
    )
    view = build_view(union({}, [QOE, other]))
    keys = lookup_keys(view)
    assert CONF.lower() in keys and "sip:x@y;gruu" in keys and "q1x2" in keys


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (CONF, "Q1X2"),
        ("sip:org@contoso.com;gruu;opaque=app:CONF:FOCUS:ID:AbC;x=1", "AbC"),
        ("sip:org@contoso.com;gruu;opaque=app:conf:focus:id:", None),
        ("sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q9;a=1;b=2", "Q9"),
        ("conf:focus:id:Z7", "Z7"),  # the marker at the very start
        ("sip:o@c.com;opaque=app:conf:focus:id:A1;x=conf:focus:id:B2", "A1"),  # the first
        ("https://teams.microsoft.com/l/meetup-join/19:meeting_x", None),
    ],
)
def test_conference_id(uri: str, expected: str | None) -> None:
    assert conference_id(uri) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  <Call-ID-77@Host>  ", "call-id-77@host"),
        ("< spaced >", "spaced"),
        ("<X-1X>", "x-1x"),  # only brackets and space are stripped
        ("<>", None),
        ("   ", None),
        (None, None),
        ("x" * 600, "x" * 512),
    ],
)
def test_normalise_source_id(raw: str | None, expected: str | None) -> None:
    assert normalise_source_id(raw) == expected


def test_participants_are_the_parties_once_without_the_focus() -> None:
    frags = [
        frag(
            "p1",
            "sfb-cdr-json",
            Session(
                id="s1",
                caller=ep("caller", "sip:bob@contoso.com", kind="user"),
                callee=ep("callee", CONF, kind="server"),
            ),
            Session(
                id="s2",
                caller=ep("caller", "sip:bob@contoso.com", kind="user", display_name="Bob"),
                callee=ep("callee", "tel:+15551234567", kind="phone"),
            ),
            Session(
                id="s3",
                caller=ep("caller", "sip:guest@fabrikam.com", kind="guest"),
                callee=ep("callee", "sip:odd@contoso.com", kind="unknown"),
            ),
            Session(id="s4", caller=ep("caller"), callee=ep("callee", "sip:pool@contoso.com")),
            conference_uri="sip:pool@contoso.com",
            call_type="conference",
        )
    ]
    view = build_view(union({}, frags))
    got = [(p.uri, p.display_name, p.kind) for p in view.participants]
    assert got == [
        ("sip:bob@contoso.com", "Bob", "user"),  # the name from the session that had it
        ("sip:guest@fabrikam.com", None, "guest"),
        ("sip:odd@contoso.com", None, "unknown"),
        ("tel:+15551234567", None, "phone"),
    ]
    assert internal_users(view) == ["bob@contoso.com"]


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["peerToPeer", "conference"], "conference"),
        (["conference", "peerToPeer"], "conference"),
        (["peerToPeer", "pstn"], "pstn"),
        (["pstn", "peerToPeer"], "pstn"),
        (["pstn", "conference"], "conference"),
        ([None, "peerToPeer"], "peerToPeer"),
        ([None, None], "peerToPeer"),
    ],
)
def test_call_type_when_sources_disagree(types: list[str | None], expected: str) -> None:
    frags = [
        frag(f"t{i}", fmt, call_type=t)
        for i, (t, fmt) in enumerate(zip(types, ["sfb-cdr-json", "ms-qoe-xml"], strict=True))
    ]
    assert build_view(union({}, frags)).call_type == expected


def test_span_and_duration_cover_every_fragment_and_session() -> None:
    frags = [
        frag(
            "d1",
            "sfb-cdr-json",
            Session(
                id="s1",
                start="2031-01-01T10:00:10Z",
                end="2031-01-01T10:01:00Z",
                caller=ep("caller"),
                callee=ep("callee"),
            ),
            start="2031-01-01T10:00:20Z",
        ),
        frag(
            "d2",
            "ms-qoe-xml",
            Session(
                id="s2",
                start="2031-01-01T10:00:30Z",
                end="2031-01-01T10:02:05Z",
                caller=ep("caller"),
                callee=ep("callee"),
            ),
            end="2031-01-01T10:01:30Z",
        ),
    ]
    view = build_view(union({}, frags))
    assert view.start == "2031-01-01T10:00:10Z" and view.end == "2031-01-01T10:02:05Z"
    assert view.duration_s == 115.0
    assert [s.id for s in view.sessions] == ["s1", "s2"]  # by start


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2031-01-01T10:00:00Z", "2031-01-01T09:59:00Z", 0.0),  # clocks disagree: not negative
        ("2031-01-01T10:00:00+02:00", "2031-01-01T08:00:30Z", 30.0),
        ("not a time", "2031-01-01T10:00:00Z", None),
        (None, "2031-01-01T10:00:00Z", None),
    ],
)
def test_duration_edges(start: str | None, end: str | None, expected: float | None) -> None:
    view = build_view(union({}, [frag("x", "sfb-cdr-json", start=start, end=end)]))
    assert view.duration_s == expected


# ------------------------------------------------------------ which export of a record wins


def test_completeness_orders_version_then_ended_then_sizes() -> None:
    running = Session(
        id="s1", start="2031-01-01T10:00:00Z", caller=ep("caller"), callee=ep("callee")
    )
    ended = running.model_copy(update={"end": "2031-01-01T10:05:00Z", "streams": [stream("a")]})
    two = Session(id="s2", end="2031-01-01T10:03:00Z", caller=ep("caller"), callee=ep("callee"))
    assert completeness(frag("h1", "sfb-cdr-json", running)) == (0, "", 0, "", 0, 1, 0, "h1")
    assert completeness(frag("h2", "graph-v1", ended, two, version=2)) == (
        2,
        "",  # no Graph lastModifiedDateTime
        0,
        "2031-01-01T10:05:00Z",  # no call end: the latest session end
        2,
        2,
        1,
        "h2",
    )
    whole = frag("h3", "graph-v1", ended, end="2031-01-01T10:06:00Z", version=2)
    assert completeness(whole) == (2, "", 1, "2031-01-01T10:06:00Z", 1, 1, 1, "h3")
    assert completeness(frag("h4", "graph-v1")) == (0, "", 0, "", 0, 0, 0, "h4")
    modified = frag("h5", "graph-v1", version=2, modified="2031-01-01T11:00:00Z")
    assert completeness(modified)[:2] == (2, "2031-01-01T11:00:00Z")


def test_a_later_fragment_fills_what_the_first_left_empty() -> None:
    """The fold copies every non-empty field of the later source: a PSTN row the CDR
    lacked, while empty lists (no feedback tokens) never erase what is there."""
    cdr = frag(
        "c",
        "sfb-cdr-json",
        Session(
            id="s1",
            caller=ep("caller", "sip:bob@contoso.com", feedback_tokens=["NoSound"]),
            callee=ep("callee", "tel:+15551234567"),
        ),
    )
    row = PstnDetail(log_type="directRouting", trunk_fqdn="sbc.contoso.com", final_sip_code=200)
    qoe = frag(
        "q",
        "ms-qoe-xml",
        Session(id="s1", caller=ep("caller", ip_address="10.0.0.9"), callee=ep("callee"), pstn=row),
    )
    [s] = build_view(union({}, [qoe, cdr])).sessions
    assert s.pstn == row
    assert s.caller.feedback_tokens == ["NoSound"] and s.caller.ip_address == "10.0.0.9"
    assert s.caller.uri == "sip:bob@contoso.com"


# ------------------------------------------------------------------ the stored document

QOE_STREAM = frag(
    "h-q",
    "ms-qoe-xml",
    Session(
        id="s1",
        has_qoe=True,
        caller=ep("caller"),
        callee=ep("callee"),
        streams=[
            stream(
                "main-audio:callerToCallee",
                metrics=StreamMetrics(
                    degradation_avg=1.6, jitter_ms=18.0, packet_utilization=15000.0
                ),
            )
        ],
    ),
)


def test_build_document_names_the_call_and_classifies_with_the_tenants_rules() -> None:
    before = utcnow()
    doc = build_document("t1", "sip:k", {QOE_STREAM.fragment_id: QOE_STREAM}, None)
    assert doc.id == make_call_id("t1", "sip:k") and doc.pk == f"t1|{doc.id}"
    assert doc.tenantId == "t1" and doc.key == "sip:k" and doc.revision == 1
    assert doc.updatedAt is not None and doc.updatedAt >= before
    assert doc.view.rating == "poor"  # sfb2019, the QoE source's default: degradation > 1.0
    teams = build_document("t1", "sip:k", {QOE_STREAM.fragment_id: QOE_STREAM}, "teams2021")
    assert teams.view.rating == "good"  # teams2021 does not rate degradation
    table = build_table({"jitter_ms": 20.0})
    quiet = build_document("t1", "sip:k", {QOE_STREAM.fragment_id: QOE_STREAM}, None, table)
    quality = quiet.view.sessions[0].streams[0].quality
    assert quality is not None and "jitter_ms" not in quality.flags
    assert build_document("t1", "sip:k", {}, None, revision=7).revision == 7


def test_merged_document_passes_the_tenants_rules_on() -> None:
    fresh = merged_document(None, "t1", "sip:k", [QOE_STREAM], "teams2021")
    assert fresh is not None and fresh.view.rating == "good" and fresh.revision == 1
    table = build_table({"jitter_ms": 20.0})
    quiet = merged_document(None, "t1", "sip:k", [QOE_STREAM], None, table)
    assert quiet is not None
    quality = quiet.view.sessions[0].streams[0].quality
    assert quality is not None and "jitter_ms" not in quality.flags
    later = merged_document(quiet, "t1", "sip:k", [CDR], "teams2021", table)
    assert later is not None and later.revision == 2 and later.view.rating == "good"
    [kept] = [s for s in later.view.sessions if s.id == "s1"]
    assert kept.streams[0].quality is not None
    assert "jitter_ms" not in kept.streams[0].quality.flags  # the table, again
    assert merged_document(later, "t1", "sip:k", [CDR, QOE_STREAM], None) is None
