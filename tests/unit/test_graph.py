"""Graph call records (`graph-v1`): Microsoft's own example, durations, versions, failures."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import pytest

from shared.merge import build_view, union
from shared.parsing import ParseContext, RecordRejected, parse_record
from shared.parsing.graph import iso_duration_ms
from tests.golden.summary import summarise_files

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
GOLDEN = Path(__file__).parents[1] / "golden" / "graph"
EXAMPLE = GOLDEN / "ms_get_callrecord_expanded.json"


def graph(data):
    return parse_record("callRecord", "graph-v1", data, CTX)


def example() -> dict:
    return json.loads(EXAMPLE.read_text("utf-8"))


def test_microsoft_example_parses_and_classifies_as_expected():
    expected = json.loads((GOLDEN / "ms_get_callrecord_expanded.expected.json").read_text())
    assert summarise_files([EXAMPLE]) == expected
    [frag] = graph(example())
    assert (frag.key, frag.record_id, frag.version) == (
        "graph:e523d2ed-2966-4b6b-925b-754a88034cc5",
    ) * 2 + (1,)
    assert frag.organizer == "sip:abbie.wilkins@contoso.com"
    [s] = frag.sessions
    assert s.caller.uri == "sip:abbie.wilkins@contoso.com" and s.caller.os == "android"
    assert s.callee.display_name == "Owen Franklin"
    assert (s.caller.ip_address, s.caller.subnet, s.caller.link_speed_bps) == (
        "10.150.0.2",
        "10.150.0.0",
        54e6,
    )
    [stream] = s.streams
    assert stream.metrics.jitter_ms == pytest.approx(16.0)
    assert stream.metrics.degradation_avg is None  # null is missing, never 0
    # teams2021 by default: no packet utilization -> unclassified; jitter 16 > 15 yellow
    view = build_view(union({}, [frag]))
    q = view.sessions[0].streams[0].quality
    assert (q.profile, q.rating, q.unclassified_reason) == (
        "teams2021",
        "unclassified",
        "low packet utilization",
    )
    assert q.flags == {"jitter_ms": "yellow"}
    # the tenant profile overrides the source default
    assert build_view(union({}, [frag]), "sfb2019").sessions[0].streams[0].quality.rating == "good"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("PT0.016S", 16.0),
        ("PT1S", 1000.0),
        ("PT1M2.5S", 62500.0),
        ("PT1H", 3_600_000.0),
        ("P1DT1S", 86_401_000.0),
        ("PT0S", 0.0),
        (None, None),
        ("", None),
        ("P", None),
        ("PT", None),
        ("16ms", None),
        (0.016, None),
    ],
)
def test_iso_durations(text, ms):
    assert iso_duration_ms(text) == (None if ms is None else pytest.approx(ms))


def _with_stream(**fields) -> dict:
    d = example()
    d["sessions"][0]["segments"][0]["media"][0]["streams"][0].update(fields)
    return d


def test_metrics_and_poor_audio():
    d = _with_stream(
        averageRoundTripTime="PT0.6S",
        averagePacketLossRate=0.02,
        packetUtilization=1200,
        averageAudioDegradation=1.4,
        averageRatioOfConcealedSamples=0.01,
    )
    view = build_view(union({}, graph(d)))
    s = view.sessions[0]
    q = s.streams[0].quality
    assert (q.rating, q.poor_due_to) == ("poor", ["round_trip_ms"])
    assert s.rating == "poor" and s.reason_metrics == {"audioNetwork": ["round_trip_ms"]}
    assert s.streams[0].metrics.round_trip_ms == pytest.approx(600.0)


def test_failure_info_and_device_ratios():
    d = example()
    d["sessions"][0]["segments"][0]["failureInfo"] = {
        "stage": "callSetup",
        "reason": "mediaConnectivity",
    }
    d["sessions"][0]["segments"][0]["media"][0]["callerDevice"][
        "renderNotFunctioningEventRatio"
    ] = 0.005
    view = build_view(union({}, graph(d)))
    s = view.sessions[0]
    assert s.failure_stage == "callSetup" and s.failure_reason == "mediaConnectivity"
    assert s.reasons == ["callSetup", "device"]
    assert s.reason_metrics["device"] == ["caller.DeviceRenderNotFunctioningEventRatio"]


def test_identities_phone_guest_and_media_labels():
    d = example()
    sess = d["sessions"][0]
    sess["callee"] = {
        "@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
        "identity": {"phone": {"id": "+14255550123", "displayName": None}},
    }
    sess["caller"] = {"identity": {"guest": {"id": "g-1", "displayName": "Visitor"}}}
    media = sess["segments"][0]["media"]
    media.append(
        {
            "label": "applicationsharing-video",
            "streams": [{"streamDirection": "callerToCallee", "averageVideoFrameRate": 1.0}],
        }
    )
    media.append(
        {
            "label": "main-video",
            "streams": [
                {
                    "streamDirection": "calleeToCaller",
                    "postForwardErrorCorrectionPacketLossRate": 0.2,
                }
            ],
        }
    )
    [frag] = graph(d)
    s = frag.sessions[0]
    assert (s.callee.uri, s.callee.kind) == ("tel:+14255550123", "phone")
    assert (s.caller.uri, s.caller.kind, s.caller.display_name) == ("guest:g-1", "guest", "Visitor")
    assert frag.call_type == "pstn"
    types = {st.id: st.media_type for st in s.streams}
    assert types == {
        "main-audio:callerToCallee": "audio",
        "applicationsharing-video:callerToCallee": "vbss",
        "main-video:calleeToCaller": "video",
    }
    view = build_view(union({}, [frag]))
    rated = {st.id: st.quality.rating for st in view.sessions[0].streams}
    assert rated["applicationsharing-video:callerToCallee"] == "poor"  # 1 fps < 2
    assert rated["main-video:calleeToCaller"] == "poor"  # post-FEC 0.2 > 0.15


def test_higher_version_replaces_lower_in_any_order():
    v1 = example()
    v2 = copy.deepcopy(v1)
    v2["version"] = 2
    v2["sessions"][0]["segments"][0]["media"][0]["streams"][0]["averageJitter"] = "PT0.040S"
    frags = graph(v1) + graph(v2)
    for order in itertools.permutations(frags):
        view = build_view(union(union({}, [order[0]]), [order[1]]))
        assert view.sessions[0].streams[0].metrics.jitter_ms == pytest.approx(40.0)


def test_multi_segment_streams_keep_their_segment():
    d = example()
    seg = copy.deepcopy(d["sessions"][0]["segments"][0])
    seg["id"] = "seg-2"
    d["sessions"][0]["segments"].append(seg)
    [frag] = graph(d)
    assert sorted(st.id for st in frag.sessions[0].streams) == [
        "main-audio:callerToCallee@e523d2ed-2966-4b6b-925b-754a88034cc5",
        "main-audio:callerToCallee@seg-2",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "not json",
        {"version": 1},
        {"id": "x", "version": -1},
        {"id": "x", "version": "2"},
        {"id": "x", "sessions": [{}]},
    ],
)
def test_bad_records_are_rejected(bad):
    with pytest.raises(RecordRejected):
        graph(bad)


def test_json_text_is_accepted():
    assert graph(EXAMPLE.read_text())[0].record_id == "graph:e523d2ed-2966-4b6b-925b-754a88034cc5"
