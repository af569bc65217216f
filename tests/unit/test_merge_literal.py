"""The fold of fragments into one call, hand-computed: which source wins a conflicting
field (docs/reference/data.md: measured QoE over signalling), what is unioned, and when a
merge adds nothing (so an unchanged call is not written)."""

from __future__ import annotations

from shared.merge import build_document, build_view, merged_document, union
from shared.models.call import Endpoint, Fragment, Session, Stream, StreamMetrics

T = "tenant-1"


def frag(fid: str, fmt: str, session: Session, **kw: object) -> Fragment:
    return Fragment(
        fragment_id=fid, record_id=fid, source_format=fmt, key="sip:c1", sessions=[session], **kw
    )  # type: ignore[arg-type]


def audio(direction: str, **metrics: float) -> Stream:
    return Stream(
        id=f"main-audio:{direction}",
        label="main-audio",
        media_type="audio",
        direction=direction,  # type: ignore[arg-type]
        metrics=StreamMetrics(**metrics),
    )


CDR = frag(
    "f-cdr",
    "sfb-cdr-json",
    Session(
        id="s1",
        start="2031-01-01T10:00:00Z",
        end="2031-01-01T10:05:00Z",
        response_code=200,
        media_types=["video", "audio"],
        caller=Endpoint(role="caller", uri="sip:alice@contoso.com", user_agent="cdr-agent"),
        callee=Endpoint(role="callee", uri="sip:bob@contoso.com"),
    ),
    call_type="peerToPeer",
    start="2031-01-01T10:00:00Z",
)
QOE = frag(
    "f-qoe",
    "ms-qoe-xml",
    Session(
        id="s1",
        end="2031-01-01T10:05:30Z",
        media_types=["audio", "data"],
        has_qoe=True,
        caller=Endpoint(role="caller", user_agent="qoe-agent", ip_address="10.0.0.5"),
        streams=[audio("callerToCallee", jitter_ms=12.0)],
    ),
)
QOE_CALLEE = frag(
    "f-qoe-2",
    "ms-qoe-xml",
    Session(
        id="s1",
        has_qoe=False,
        streams=[audio("callerToCallee", packet_loss_rate=0.02), audio("calleeToCaller")],
    ),
)


def test_qoe_wins_conflicts_and_everything_else_is_kept() -> None:
    for order in ([CDR, QOE, QOE_CALLEE], [QOE_CALLEE, QOE, CDR]):
        view = build_view(union({}, order))
        [s] = view.sessions
        assert s.caller.user_agent == "qoe-agent"  # measured QoE over signalling
        assert s.caller.uri == "sip:alice@contoso.com"  # kept where QoE has none
        assert s.caller.ip_address == "10.0.0.5"
        assert s.end == "2031-01-01T10:05:30Z" and s.start == "2031-01-01T10:00:00Z"
        assert s.response_code == 200
        assert s.media_types == ["audio", "data", "video"]  # union, sorted
        assert s.has_qoe is True  # any fragment with QoE
        assert [x.id for x in s.streams] == [
            "main-audio:calleeToCaller",
            "main-audio:callerToCallee",
        ]
        merged = s.streams[1].metrics
        assert (merged.jitter_ms, merged.packet_loss_rate) == (12.0, 0.02)
        assert view.sources == ["ms-qoe-xml", "sfb-cdr-json"]
        assert view.start == "2031-01-01T10:00:00Z" and view.end == "2031-01-01T10:05:30Z"
        assert view.duration_s == 330.0
        assert [p.uri for p in view.participants] == [
            "sip:alice@contoso.com",
            "sip:bob@contoso.com",
        ]


def test_the_fold_never_changes_the_stored_fragments() -> None:
    before = [f.model_dump() for f in (CDR, QOE, QOE_CALLEE)]
    build_view(union({}, [CDR, QOE, QOE_CALLEE]))
    assert [f.model_dump() for f in (CDR, QOE, QOE_CALLEE)] == before


def test_merged_document_is_none_when_nothing_is_new() -> None:
    first = merged_document(None, T, "sip:c1", [CDR], None)
    assert first is not None and set(first.fragments) == {"f-cdr"}
    assert merged_document(first, T, "sip:c1", [CDR], None) is None  # a duplicate
    second = merged_document(first, T, "sip:c1", [QOE, CDR], None)
    assert second is not None and set(second.fragments) == {"f-cdr", "f-qoe"}
    assert second.id == first.id and second.pk == f"{T}|{first.id}"
    assert second.view == build_document(T, "sip:c1", union({}, [CDR, QOE]), None).view
