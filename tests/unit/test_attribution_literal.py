"""Hand-computed aggregate figures for every attribution rule of
docs/reference/aggregates.md, asserted literally against both the product
(`shared.aggregates.contribution`) and the independent oracle (`tests.oracle`), so a
changed limit (short call, setup-failure range) fails here, and so does a wrong oracle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.aggregates.contribution import contribution
from shared.aggregates.layout import FACETS, Facet
from shared.models.call import CallView, Endpoint, Session, Stream, StreamQuality
from tests.oracle.aggregates import (
    Figures,
    call_figures,
    facet_figures,
    project_stored,
    totals,
)

DAY = "2031-03-04"
CALLER_NET = (DAY, "10.1.2.0", "24")
CALLEE_NET = (DAY, "10.9.0.0", "16")


def product(view: CallView) -> Figures:
    return project_stored(contribution(view))


def oracle(view: CallView) -> Figures:
    return call_figures({"view": view.model_dump(mode="json", exclude_none=True)})


IMPLS: list[Callable[[CallView], Figures]] = [product, oracle]
impl = pytest.mark.parametrize("figures", IMPLS, ids=["product", "oracle"])


def ep(role: str, **kw: Any) -> Endpoint:
    defaults: dict[str, Any] = (
        {"uri": "sip:alice@contoso.com", "ip_address": "10.1.2.3", "kind": "user"}
        if role == "caller"
        else {"uri": "sip:bob@contoso.com", "ip_address": "10.9.8.7", "kind": "user"}
    )
    if role == "callee":
        defaults["subnet_mask"] = "255.255.0.0"
    defaults.update(kw)
    return Endpoint(role=role, **defaults)  # type: ignore[arg-type]


def stream(direction: str, rating: str = "good", media: str = "audio", **kw: Any) -> Stream:
    label = "main-audio" if media == "audio" else f"main-{media}"
    return Stream(
        id=f"{label}:{direction}",
        label=label,
        media_type=media,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        quality=StreamQuality(rating=rating, **kw),  # type: ignore[arg-type]
    )


def one_session(
    seconds: float = 300,
    start: str = f"{DAY}T10:00:00Z",
    caller: Endpoint | None = None,
    callee: Endpoint | None = None,
    streams: list[Stream] | None = None,
    end: str | None = None,
    **kw: Any,
) -> CallView:
    from datetime import datetime, timedelta

    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = end or (begin + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    session = Session(
        id="s1",
        start=start,
        end=finish,
        caller=caller or ep("caller"),
        callee=callee or ep("callee"),
        streams=streams
        if streams is not None
        else [stream("callerToCallee"), stream("calleeToCaller")],
        **kw,
    )
    return CallView(start=start, sessions=[session])


def session_count(figures: Figures, measure: str, key: tuple[str, str, str] = CALLER_NET) -> int:
    return sum(n for e, n in figures.get(key, {}).items() if e.endswith(f"#{measure}"))


@impl
@pytest.mark.parametrize(("seconds", "short"), [(1, 1), (59, 1), (59.9, 1), (60, 0), (61, 0)])
def test_short_call_is_under_sixty_seconds(figures: Any, seconds: float, short: int) -> None:
    view = one_session(seconds=int(seconds))
    if seconds == 59.9:
        view.sessions[0].end = f"{DAY}T10:00:59.900000+00:00"
    got = figures(view)
    assert session_count(got, "shortCalls") == short
    assert session_count(got, "sessions") == 1


@impl
@pytest.mark.parametrize(("code", "failed"), [(19, 0), (20, 1), (25, 1), (29, 1), (30, 0)])
def test_setup_failure_is_diagnostic_20_to_29(figures: Any, code: int, failed: int) -> None:
    got = figures(one_session(seconds=10, diagnostic_id=code))
    assert session_count(got, "callSetupFailures") == failed
    # a failed setup is not also a short call
    assert session_count(got, "shortCalls") == 1 - failed


@impl
@pytest.mark.parametrize(("stage", "failed"), [("callSetup", 1), ("midcall", 0), (None, 0)])
def test_setup_failure_from_graph_stage(figures: Any, stage: str | None, failed: int) -> None:
    got = figures(one_session(failure_stage=stage))
    assert session_count(got, "callSetupFailures") == failed


@impl
def test_ice_failed_stream_is_a_setup_failure(figures: Any) -> None:
    streams = [stream("callerToCallee"), stream("calleeToCaller")]
    streams[1].ice = "FAILED"
    assert session_count(figures(one_session(streams=streams)), "callSetupFailures") == 1


@impl
def test_dropped_session_marks_each_of_its_streams(figures: Any) -> None:
    got = figures(one_session(failure_stage="midcall"))
    # one stream received by each side: one dropped stream on each network
    assert session_count(got, "droppedStreams", CALLER_NET) == 1
    assert session_count(got, "droppedStreams", CALLEE_NET) == 1
    assert session_count(figures(one_session()), "droppedStreams") == 0


@impl
def test_stream_counts_on_the_receiver_network_literally(figures: Any) -> None:
    streams = [
        stream("callerToCallee", "poor", poor_due_to=["jitter", "jitter", "roundTrip"]),
        stream("calleeToCaller", "good"),
    ]
    got = figures(one_session(streams=streams))
    assert got == {
        CALLER_NET: {
            "audio|unknown|na|0#streams": 1,
            "audio|unknown|na|0#good": 1,
            "audio|unknown|na|0#cdrStreams": 1,
            "audio|unknown|na|0#sessions": 1,
        },
        CALLEE_NET: {
            "audio|unknown|na|0#streams": 1,
            "audio|unknown|na|0#poor": 1,
            "audio|unknown|na|0#cdrStreams": 1,
            "audio|unknown|na|0#poorDueTo.jitter": 1,
            "audio|unknown|na|0#poorDueTo.roundTrip": 1,
            "@bob@contoso.com": 1,
        },
    }


@impl
def test_conference_server_side_counts_on_the_client(figures: Any) -> None:
    mcu = ep("callee", uri="sip:org@contoso.com;gruu;opaque=app:conf:audio-video:X", kind="server")
    got = figures(one_session(callee=mcu))
    # both streams and the session on the caller's network; nothing on the MCU's
    assert set(got) == {CALLER_NET}
    assert session_count(got, "streams") == 2 and session_count(got, "sessions") == 1


@impl
def test_session_counts_on_the_callee_when_the_caller_is_a_server(figures: Any) -> None:
    server = ep("caller", uri="sip:org@contoso.com;gruu;opaque=app:conf:x", kind="server")
    got = figures(one_session(caller=server))
    assert session_count(got, "sessions", CALLEE_NET) == 1


@impl
@pytest.mark.parametrize(("inside", "part"), [(True, "in"), (False, "out"), (None, "na")])
def test_inside_outside_is_the_client_flag(figures: Any, inside: bool | None, part: str) -> None:
    got = figures(one_session(caller=ep("caller", inside=inside)))
    assert got[CALLER_NET][f"audio|unknown|{part}|0#sessions"] == 1


@impl
def test_wifi_when_either_endpoint_is_on_wifi(figures: Any) -> None:
    caller = ep("caller", connection_type="wifi")
    callee = ep("callee", connection_type="wired")
    got = figures(one_session(caller=caller, callee=callee))
    # CQD's pair `Wired : wifi` folded into one value: Wi-Fi on both networks
    assert got[CALLER_NET]["audio|wifi|na|0#streams"] == 1
    assert got[CALLEE_NET]["audio|wifi|na|0#streams"] == 1
    assert got[CALLER_NET]["audio|wifi|na|0#sessions"] == 1
    wired = figures(one_session(caller=ep("caller", connection_type="wired"), callee=callee))
    assert wired[CALLER_NET]["audio|wired|na|0#streams"] == 1


@impl
def test_vpn_when_either_endpoint_is_on_vpn(figures: Any) -> None:
    got = figures(one_session(callee=ep("callee", vpn=True)))
    assert got[CALLER_NET]["audio|unknown|na|1#streams"] == 1
    assert got[CALLER_NET]["audio|unknown|na|1#sessions"] == 1
    assert got[CALLEE_NET]["audio|unknown|na|1#streams"] == 1


@impl
@pytest.mark.parametrize(("vpn", "part"), [(True, "1"), (False, "0"), (None, "0")])
def test_vpn_flag(figures: Any, vpn: bool | None, part: str) -> None:
    got = figures(one_session(caller=ep("caller", vpn=vpn)))
    assert got[CALLER_NET][f"audio|unknown|na|{part}#sessions"] == 1


@impl
def test_subnet_from_ip_and_mask_never_the_host(figures: Any) -> None:
    caller = ep("caller", ip_address="192.168.77.201", subnet_mask="/20")
    callee = ep("callee", ip_address=None, subnet="172.16.5.0", subnet_mask=None)
    got = figures(one_session(caller=caller, callee=callee))
    assert set(got) == {(DAY, "192.168.64.0", "20"), (DAY, "172.16.5.0", "")}


@impl
def test_which_day_is_the_utc_date_the_stream_ended(figures: Any) -> None:
    got = figures(one_session(start="2031-03-04T23:59:30Z", seconds=120))
    assert {k[0] for k in got} == {"2031-03-05"}
    # the end in another zone is taken in UTC
    late = one_session(start="2031-03-04T20:00:00Z", end="2031-03-04T22:30:00-02:00")
    assert {k[0] for k in figures(late)} == {"2031-03-05"}


@impl
def test_session_media_is_audio_when_it_has_audio(figures: Any) -> None:
    streams = [stream("callerToCallee", media="video"), stream("calleeToCaller")]
    got = figures(one_session(streams=streams))
    assert got[CALLER_NET]["audio|unknown|na|0#sessions"] == 1
    video_only = figures(one_session(streams=[stream("callerToCallee", media="video")]))
    assert video_only[CALLER_NET]["video|unknown|na|0#sessions"] == 1


@impl
def test_poor_calls_and_unclassified_streams(figures: Any) -> None:
    view = one_session(streams=[stream("callerToCallee", "unclassified")])
    view.sessions[0].rating = "poor"
    got = figures(view)
    assert session_count(got, "poorCalls") == 1
    assert session_count(got, "unclassified", CALLEE_NET) == 1
    assert session_count(got, "poor", CALLEE_NET) == 0


@impl
def test_session_without_an_end_is_not_short(figures: Any) -> None:
    view = one_session(seconds=10)
    view.sessions[0].end = None
    got = figures(view)
    assert session_count(got, "shortCalls") == 0 and session_count(got, "sessions") == 1


@impl
def test_a_focus_uri_is_a_server_whatever_its_kind(figures: Any) -> None:
    focus = ep("callee", uri="sip:org@contoso.com;gruu;opaque=app:conf:focus:id:1", kind="user")
    assert set(figures(one_session(callee=focus))) == {CALLER_NET}
    server = ep("callee", uri="sip:pool01@contoso.com", kind="server")
    assert set(figures(one_session(callee=server))) == {CALLER_NET}


@impl
def test_session_without_streams_or_media_types_counts_as_audio(figures: Any) -> None:
    got = figures(one_session(streams=[]))
    assert got == {CALLER_NET: {"audio|unknown|na|0#sessions": 1}}


@impl
def test_day_falls_back_to_invite_then_call_start(figures: Any) -> None:
    view = one_session()
    view.sessions[0].start = view.sessions[0].end = None
    view.start = "2031-05-06T08:00:00Z"
    assert {k[0] for k in figures(view)} == {"2031-05-06"}
    view.sessions[0].invite_time = "2031-05-07T08:00:00Z"
    assert {k[0] for k in figures(view)} == {"2031-05-07"}
    view.start = None
    view.sessions[0].invite_time = None
    assert figures(view) == {}  # no time at all: counted nowhere


@impl
def test_stream_without_quality_is_unclassified(figures: Any) -> None:
    bare = stream("callerToCallee")
    bare.quality = None
    got = figures(one_session(streams=[bare]))
    assert got[CALLEE_NET] == {
        "audio|unknown|na|0#streams": 1,
        "audio|unknown|na|0#unclassified": 1,
        "audio|unknown|na|0#cdrStreams": 1,
    }


@impl
def test_poor_stream_on_a_server_counts_no_user(figures: Any) -> None:
    a = ep("caller", uri="sip:med01@contoso.com", kind="server")
    b = ep("callee", uri="sip:med02@contoso.com", kind="server")
    got = figures(one_session(caller=a, callee=b, streams=[stream("callerToCallee", "poor")]))
    assert not any(e.startswith("@") for entries in got.values() for e in entries)
    assert session_count(got, "poor", CALLEE_NET) == 1  # both servers: the receiver


@impl
def test_ipv6_without_mask_is_its_64(figures: Any) -> None:
    caller = ep("caller", ip_address="2001:db8:1:2:aaaa::5")
    got = figures(one_session(caller=caller))
    assert (DAY, "2001:db8:1:2::", "64") in got


@impl
@pytest.mark.parametrize("code", [19, 30, 50, 56])
def test_other_diagnostics_are_neither_drops_nor_setup_failures(figures: Any, code: int) -> None:
    got = figures(one_session(diagnostic_id=code))
    assert totals(got, "droppedStreams") == totals(got, "setupFailedStreams") == 0
    assert session_count(got, "callSetupFailures") == 0
    assert totals(got, "cdrStreams") == 2


@impl
@pytest.mark.parametrize(("code", "dropped"), [(50, 0), (51, 2), (53, 2), (55, 2), (56, 0)])
def test_sfb_drop_is_diagnostic_51_to_55(figures: Any, code: int, dropped: int) -> None:
    got = figures(one_session(diagnostic_id=code))
    assert totals(got, "droppedStreams") == dropped
    assert totals(got, "setupFailedStreams") == session_count(got, "callSetupFailures") == 0


@impl
@pytest.mark.parametrize("kw", [{"diagnostic_id": 25}, {"failure_stage": "callSetup"}])
def test_setup_failure_marks_every_stream_and_none_is_dropped(
    figures: Any, kw: dict[str, Any]
) -> None:
    got = figures(one_session(**kw))
    assert totals(got, "cdrStreams") == totals(got, "setupFailedStreams") == 2
    assert totals(got, "droppedStreams") == 0


@impl
def test_ice_failed_marks_only_its_own_stream(figures: Any) -> None:
    streams = [stream("callerToCallee"), stream("calleeToCaller")]
    streams[0].ice = "FAILED"
    got = figures(one_session(streams=streams, failure_stage="midcall"))
    assert session_count(got, "setupFailedStreams", CALLEE_NET) == 1
    assert session_count(got, "setupFailedStreams", CALLER_NET) == 0
    # the other stream was set up, then dropped; a failed stream is never also dropped
    assert session_count(got, "droppedStreams", CALLER_NET) == 1
    assert session_count(got, "droppedStreams", CALLEE_NET) == 0


@impl
def test_session_known_from_its_cdr_alone_is_two_streams_per_media_type(figures: Any) -> None:
    view = one_session(streams=[], diagnostic_id=25, media_types=["audio", "video"])
    got = figures(view)
    assert got[CALLER_NET] == {
        "audio|unknown|na|0#cdrStreams": 2,
        "audio|unknown|na|0#setupFailedStreams": 2,
        "video|unknown|na|0#cdrStreams": 2,
        "video|unknown|na|0#setupFailedStreams": 2,
        "audio|unknown|na|0#sessions": 1,
        "audio|unknown|na|0#callSetupFailures": 1,
    }
    assert totals(got, "streams") == 0  # no QoE: nothing for quality


@impl
def test_on_prem_session_without_call_detail_has_no_cdr_streams(figures: Any) -> None:
    view = one_session()
    for s in view.sessions[0].streams:
        s.source_format = "ms-qoe-xml"
    got = figures(view)
    assert totals(got, "streams") == 2 and totals(got, "cdrStreams") == 0
    view.sessions[0].invite_time = f"{DAY}T10:00:00Z"  # SIP call detail arrived
    assert totals(figures(view), "cdrStreams") == 2


@impl
def test_rate_my_call_counts_once_per_rating_on_the_session_cell(figures: Any) -> None:
    caller = ep("caller", feedback_rating="poor", feedback_tokens=["Echo", "NoSound"])
    server = ep("callee", uri="sip:org@contoso.com;gruu;opaque=app:conf:x", kind="server")
    server.feedback_rating = "good"  # a server's rating is never counted
    got = figures(one_session(caller=caller, callee=server))
    cell = "audio|unknown|na|0"
    assert got[CALLER_NET][f"{cell}#rating.poor"] == 1
    assert got[CALLER_NET][f"{cell}#feedbackToken.Echo"] == 1
    assert got[CALLER_NET][f"{cell}#feedbackToken.NoSound"] == 1
    assert totals(got, "rating.good") == 0


def test_document_keys_and_entries_split_literally() -> None:
    from shared.aggregates.contribution import (
        call_contribution,
        doc_key,
        split_doc_key,
        split_entries,
    )
    from shared.models.call import CallDocument

    assert split_doc_key("2031-03-04|10.1.2.0|24") == ("2031-03-04", "10.1.2.0", 24)
    assert split_doc_key("2031-03-04|unknown|") == ("2031-03-04", "unknown", None)
    assert doc_key("2031-03-04", "unknown", None) == "2031-03-04|unknown|"
    cells, users = split_entries(
        {"audio|wifi|in|0#streams": 2, "audio|wifi|in|0#poor": 1, "@bob@contoso.com": 1}
    )
    assert cells == {"audio|wifi|in|0": {"streams": 2, "poor": 1}}
    assert users == {"bob@contoso.com": 1}
    assert call_contribution(None) == {}
    doc = CallDocument(id="c", pk="t|c", tenantId="t", key="k", view=one_session())
    assert call_contribution(doc) == contribution(doc.view) != {}


def _facet_views() -> list[CallView]:
    """Calls that spread over every facet part: Wi-Fi and VPN on either side, TCP and
    relay, a Skype for Business user agent, a rating, a poor stream, an end hour."""
    wifi = ep("callee", connection_type="wifi", wifi_channel=36, vpn=True)
    sfb = ep("caller", user_agent="UCCAPI/16.0.7766.5281 OC/16.0.7766.2047 (Skype)")
    poor = stream("callerToCallee", "poor", poor_due_to=["jitter"])
    tcp = stream("calleeToCaller", transport="TCP", relay=True)
    return [
        one_session(caller=sfb, callee=wifi, streams=[poor, tcp]),
        one_session(
            start=f"{DAY}T23:59:30Z",
            seconds=45,
            caller=ep("caller", feedback_rating="bad", feedback_tokens=["Echo"]),
            diagnostic_id=52,
        ),
        one_session(streams=[], media_types=["audio", "video"], diagnostic_id=25),
    ]


@pytest.mark.parametrize("facet", [f for f in FACETS if f.name], ids=lambda f: f.name)
def test_each_facet_document_regroups_the_day_documents_counts(facet: Facet) -> None:
    """A facet document holds the day document's counts under its own parts, checked
    against the oracle's full cells regrouped by docs/reference/cqd-dimensions.md."""
    for view in _facet_views():
        got = contribution(view)
        mine = {tuple(k.split("|")[:3]): v for k, v in got.items() if k.endswith(f"|{facet.name}")}
        full = call_figures(
            {"view": view.model_dump(mode="json", exclude_none=True)}, lambda _s: None
        )
        assert mine == facet_figures(full, facet.parts) != {}
        for key, entries in mine.items():  # every measure totals the same in each
            day_doc = project_stored(got)[key]
            for measure in ("streams", "poor", "sessions", "cdrStreams", "droppedStreams"):
                assert totals({key: entries}, measure) == totals({key: day_doc}, measure)
