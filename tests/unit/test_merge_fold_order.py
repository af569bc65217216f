"""The parts of the fold a reader of one call checks by eye, hand-computed: which source
wins a conflict whatever the content hashes (docs/reference/data.md: measured QoE over
Graph over signalling), the participants list (the record's own list and every session
party, once each, without the meeting's focus), the organizer, the call's span and the
order of its sessions (the order call detail pages over)."""

from __future__ import annotations

from shared.merge import build_view, union
from shared.models.call import Endpoint, Fragment, Participant, Session

CONF = "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:M1"
JOIN = "https://teams.microsoft.com/l/meetup-join/19:meeting_m1"


def ep(role: str, uri: str | None = None, **kw: object) -> Endpoint:
    return Endpoint(role=role, uri=uri, **kw)  # type: ignore[arg-type]


def sess(
    sid: str, caller: Endpoint | None = None, callee: Endpoint | None = None, **kw: object
) -> Session:
    return Session(
        id=sid,
        caller=caller or ep("caller"),
        callee=callee or ep("callee"),
        **kw,  # type: ignore[arg-type]
    )


def frag(fid: str, fmt: str, *sessions: Session, **kw: object) -> Fragment:
    return Fragment(
        fragment_id=fid, record_id=fid, source_format=fmt, key="k", sessions=list(sessions), **kw
    )  # type: ignore[arg-type]


def parties(*frags: Fragment) -> list[tuple[str, str | None, str]]:
    view = build_view(union({}, frags))
    return [(p.uri, p.display_name, p.kind) for p in view.participants]


# ------------------------------------------------------------- which source wins a field


def test_source_rank_decides_conflicts_not_the_content_hash() -> None:
    """Fragment ids are content hashes, so they sort in any order: here the signalling
    record's id sorts last, and still the measured values win."""
    cdr = frag("zz-cdr", "sfb-cdr-json", sess("s1", ep("caller", user_agent="from-cdr")))
    graph = frag("mm-graph", "graph-v1", sess("s1", ep("caller", user_agent="from-graph")))
    qoe = frag("aa-qoe", "ms-qoe-xml", sess("s1", ep("caller", user_agent="from-qoe")))
    assert build_view(union({}, [cdr, graph])).sessions[0].caller.user_agent == "from-graph"
    assert build_view(union({}, [cdr, qoe])).sessions[0].caller.user_agent == "from-qoe"
    assert build_view(union({}, [graph, qoe, cdr])).sessions[0].caller.user_agent == "from-qoe"


def test_a_format_the_table_does_not_know_still_folds() -> None:
    """A source format without a rank folds after the known ones instead of failing the
    call (the rank is compared with the known ranks' integers)."""
    known = frag("aa", "sfb-cdr-json", sess("s1", ep("caller", "sip:ann@contoso.com")))
    other = frag("bb", "other-v0", sess("s1", ep("caller", os="Windows 11")))
    view = build_view(union({}, [known, other]))
    assert view.sources == ["other-v0", "sfb-cdr-json"]
    [s] = view.sessions
    assert s.caller.uri == "sip:ann@contoso.com" and s.caller.os == "Windows 11"


# --------------------------------------------------------------------- the participants


def test_the_records_own_list_without_the_focus_or_the_meeting() -> None:
    """A Graph `participants_v2` list may name the meeting itself (its focus URI, its
    join URL): neither is a participant; everyone after them still is."""
    listed = [
        Participant(uri="sip:other-focus@contoso.com;gruu;opaque=app:conf:focus:id:X"),
        Participant(uri=JOIN),
        Participant(uri="sip:ann@contoso.com", display_name="Ann Lee", kind="user"),
        Participant(uri="tel:+15550001111", kind="phone"),
    ]
    meeting = frag(
        "g", "graph-v1", conference_uri=JOIN, call_type="conference", participants=listed
    )
    assert parties(meeting) == [
        ("sip:ann@contoso.com", "Ann Lee", "user"),
        ("tel:+15550001111", None, "phone"),
    ]


def test_a_name_listed_twice_keeps_the_first_and_fills_a_missing_one() -> None:
    listed = [
        Participant(uri="sip:ann@contoso.com", display_name="Ann Lee", kind="user"),
        Participant(uri="sip:ann@contoso.com", kind="user"),  # the same attendee, no name
        Participant(uri="sip:bo@contoso.com", kind="user"),
        Participant(uri="sip:bo@contoso.com", display_name="Bo Ek", kind="user"),
        Participant(uri="sip:cy@contoso.com", display_name="Cy First", kind="user"),
        Participant(uri="sip:cy@contoso.com", display_name="Cy Second", kind="user"),
    ]
    assert parties(frag("g", "graph-v1", participants=listed)) == [
        ("sip:ann@contoso.com", "Ann Lee", "user"),
        ("sip:bo@contoso.com", "Bo Ek", "user"),
        ("sip:cy@contoso.com", "Cy First", "user"),
    ]


def test_a_session_party_already_listed_keeps_what_the_list_said() -> None:
    """The list names Ann as a user with her name; a session endpoint of hers that
    carries no name (or another spelling of it) and no kind changes neither."""
    listed = [
        Participant(uri="sip:ann@contoso.com", display_name="Ann Lee", kind="user"),
        Participant(uri="sip:bo@contoso.com", kind="user"),
    ]
    g = frag(
        "g",
        "graph-v1",
        sess("s1", ep("caller", "sip:ann@contoso.com"), ep("callee", "sip:bo@contoso.com")),
        sess(
            "s2",
            ep("caller", "sip:ann@contoso.com", display_name="A. Lee"),
            ep("callee", "sip:bo@contoso.com", display_name="Bo Ek"),
        ),
        participants=listed,
    )
    assert parties(g) == [
        ("sip:ann@contoso.com", "Ann Lee", "user"),
        ("sip:bo@contoso.com", "Bo Ek", "user"),  # the name the list lacked
    ]


def test_every_session_party_counts_after_an_endpoint_without_one() -> None:
    """A session whose caller has no URI (or is the focus) still lists its callee; a
    server endpoint (an IVR, a conferencing bot) is listed as a server."""
    g = frag(
        "c",
        "sfb-cdr-json",
        sess("s1", ep("caller"), ep("callee", "sip:ann@contoso.com", kind="user")),
        sess("s2", ep("caller", CONF, kind="server"), ep("callee", "sip:bo@contoso.com")),
        sess("s3", ep("caller", "sip:ivr@contoso.com", kind="server"), ep("callee")),
    )
    assert parties(g) == [
        ("sip:ann@contoso.com", None, "user"),
        ("sip:bo@contoso.com", None, "unknown"),
        ("sip:ivr@contoso.com", None, "server"),
    ]


# -------------------------------------------------------- organizer, span, session order


def test_the_organizer_named_by_one_source_is_kept() -> None:
    cdr = frag("c", "sfb-cdr-json", organizer="sip:org@contoso.com", call_type="conference")
    qoe = frag("q", "ms-qoe-xml", call_type="conference")  # names none: ranks later
    assert build_view(union({}, [cdr, qoe])).organizer == "sip:org@contoso.com"
    assert build_view(union({}, [qoe])).organizer is None


def test_the_span_takes_a_record_start_and_end_outside_its_sessions() -> None:
    """The CDR's call started 10 s before its first session and ended after its last
    (setup and teardown); the QoE record, folded after it, carries no times of its own.
    The span is 09:59:50 to 10:06:00, 370 s; the first session by start ends last."""
    cdr = frag(
        "c",
        "sfb-cdr-json",
        sess("s1", start="2031-01-01T10:00:00Z", end="2031-01-01T10:05:00Z"),
        sess("s2", start="2031-01-01T10:01:00Z", end="2031-01-01T10:02:00Z"),
        start="2031-01-01T09:59:50Z",
        end="2031-01-01T10:06:00Z",
    )
    qoe = frag("q", "ms-qoe-xml", sess("s1"))
    view = build_view(union({}, [cdr, qoe]))
    assert (view.start, view.end, view.duration_s) == (
        "2031-01-01T09:59:50Z",
        "2031-01-01T10:06:00Z",
        370.0,
    )
    sessions_only = frag(
        "c2",
        "sfb-cdr-json",
        sess("s1", start="2031-01-01T10:00:00Z", end="2031-01-01T10:05:00Z"),
        sess("s2", start="2031-01-01T10:01:00Z", end="2031-01-01T10:02:00Z"),
    )
    view = build_view(union({}, [sessions_only]))
    assert (view.start, view.end) == ("2031-01-01T10:00:00Z", "2031-01-01T10:05:00Z")


def test_sessions_are_in_start_order_and_those_without_a_start_come_first() -> None:
    """Call detail pages over sessions by position (docs/reference/api.md), so the order
    must be total and the same on every read: by start, an unknown start before any
    known one, then by id."""
    g = frag(
        "g",
        "graph-v1",
        sess("a-late", start="2031-01-01T10:05:00Z"),
        sess("b-early", start="2031-01-01T10:00:00Z"),
        sess("z-unknown"),
        sess("y-unknown"),
    )
    view = build_view(union({}, [g]))
    assert [s.id for s in view.sessions] == ["y-unknown", "z-unknown", "b-early", "a-late"]
