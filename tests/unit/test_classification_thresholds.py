"""Every threshold just below, exactly at and just above its value, per profile and media.

Parametrised twice: from the table (so every row is exercised) and from literal numbers
copied from docs/reference/classification.md (so a wrong table entry fails).
"""

from __future__ import annotations

import pytest

from shared.classification import rate_session
from shared.classification.streams import classify_stream, device_flags
from shared.classification.thresholds import (
    AUDIO_PROFILE_METRICS,
    DEFAULT_ROWS,
    DEFAULT_TABLE,
    build_table,
)
from shared.models.call import Endpoint, Session, Stream, StreamMetrics

EPS = 1e-6

# (media, metric, op, red, yellow) literally from docs/reference/classification.md
SPEC = [
    ("audio", "degradation_avg", ">", 1.0, 0.5),
    ("audio", "round_trip_ms", ">", 500, 100),
    ("audio", "packet_loss_rate", ">", 0.1, 0.01),
    ("audio", "jitter_ms", ">", 30, 15),
    ("audio", "concealed_ratio_avg", ">", 0.07, 0.035),
    ("video", "video_frame_loss_pct", ">", 50, 5),
    ("video", "video_frame_rate_avg", "<", 7, 12),
    ("video", "video_post_fec_plr", ">", 0.15, 0.05),
    ("vbss", "video_frame_loss_pct", ">", 50, 5),
    ("vbss", "video_frame_rate_avg", "<", 2, 12),
    ("vbss", "video_post_fec_plr", ">", 0.15, 0.05),
    ("appsharing", "spoiled_tile_pct", ">", 36, 11),
    ("appsharing", "rdp_tile_latency_ms", ">", 400, 200),
    ("appsharing", "relative_one_way_s", ">", 1.75, 1.0),
]
TABLE_ROWS = [
    (r.media, r.metric, r.op, r.red, r.yellow) for r in DEFAULT_ROWS if r.media != "endpoint"
]
PROFILES = ["sfb2019", "teams2021"]


def _stream(media: str, **metrics: float) -> Stream:
    return Stream(
        id=f"x:{media}",
        label="x",
        media_type=media,
        direction="callerToCallee",
        metrics=StreamMetrics(**metrics),
        source_format="ms-qoe-xml",
    )


def _cases(rows):
    """(row, profile) pairs: audio rows under each profile that uses the metric."""
    out = []
    for row in rows:
        media, metric = row[0], row[1]
        if media == "audio":
            for profile in PROFILES:
                if metric in AUDIO_PROFILE_METRICS[profile]:
                    out.append(pytest.param(row, profile, id=f"{profile}-{metric}"))
        else:
            out.append(pytest.param(row, None, id=f"{media}-{metric}"))
    return out


def _poor_expected(op: str, value: float, red: float) -> bool:
    return value > red if op == ">" else value < red


def _extra(media: str, profile: str | None) -> dict[str, float]:
    return {"packet_utilization": 501.0} if media == "audio" and profile == "teams2021" else {}


def test_table_matches_the_spec_literally():
    assert sorted(TABLE_ROWS) == sorted((m, k, o, float(r), float(y)) for m, k, o, r, y in SPEC)
    ends = {(r.metric, r.op, r.red, r.yellow) for r in DEFAULT_ROWS if r.media == "endpoint"}
    assert ends == {
        ("DeviceRenderNotFunctioningEventRatio", ">=", 0.005, None),
        ("DeviceCaptureNotFunctioningEventRatio", ">=", 0.005, None),
    }
    assert AUDIO_PROFILE_METRICS["sfb2019"] == (
        "degradation_avg",
        "round_trip_ms",
        "packet_loss_rate",
        "jitter_ms",
        "concealed_ratio_avg",
    )
    assert set(AUDIO_PROFILE_METRICS["teams2021"]) == {
        "round_trip_ms",
        "packet_loss_rate",
        "jitter_ms",
    }
    assert DEFAULT_TABLE.gate.metric == "packet_utilization" and DEFAULT_TABLE.gate.red == 500


@pytest.mark.parametrize("source", ["spec", "table"])
@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS], ids=["below", "at", "above"])
@pytest.mark.parametrize(("row", "profile"), _cases(SPEC))
def test_poor_threshold(row, profile, delta, source):
    media, metric, op, red, _ = row
    if source == "table":
        red = DEFAULT_TABLE.limit(media, metric).red
    value = red + delta
    q = classify_stream(_stream(media, **{metric: value}, **_extra(media, profile)), profile)
    poor = _poor_expected(op, value, float(row[3]))  # judged against the spec number
    assert q.rating == ("poor" if poor else "good"), (metric, value, q)
    assert q.poor_due_to == ([metric] if poor else [])
    if poor:
        assert q.flags.get(metric) == "red"
    else:
        assert q.flags.get(metric) != "red"


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS], ids=["below", "at", "above"])
@pytest.mark.parametrize(("row", "profile"), _cases(SPEC))
def test_yellow_flag(row, profile, delta):
    media, metric, op, _red, yellow = row
    value = yellow + delta
    q = classify_stream(_stream(media, **{metric: value}, **_extra(media, profile)), profile)
    fires = value > yellow if op == ">" else value < yellow
    assert q.flags.get(metric) == ("yellow" if fires else None), (metric, value, q.flags)


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS], ids=["below", "at", "above"])
@pytest.mark.parametrize(
    "name", ["DeviceRenderNotFunctioningEventRatio", "DeviceCaptureNotFunctioningEventRatio"]
)
def test_device_ratio_is_inclusive(name, delta):
    value = 0.005 + delta
    red = value >= 0.005
    assert device_flags({name: value}) == ({name: "red"} if red else {})
    s = Session(
        id="s",
        has_qoe=True,
        caller=Endpoint(role="caller", device_ratios={name: value}),
        streams=[_stream("audio", jitter_ms=1.0)],
    )
    rate_session(s)
    assert (s.rating, s.reasons) == (("poor", ["device"]) if red else ("good", []))
    if red:
        assert s.reason_metrics == {"device": [f"caller.{name}"]}


@pytest.mark.parametrize("delta", [-1.0, 0.0, 1.0], ids=["below", "at", "above"])
def test_teams_packet_utilization_gate(delta):
    q = classify_stream(
        _stream("audio", jitter_ms=40.0, packet_utilization=500 + delta), "teams2021"
    )
    if delta > 0:
        assert (q.rating, q.poor_due_to) == ("poor", ["jitter_ms"])
    else:
        assert (q.rating, q.unclassified_reason) == ("unclassified", "low packet utilization")


def test_teams_ignores_degradation_and_sfb_uses_it():
    s = _stream("audio", degradation_avg=2.0, jitter_ms=5.0, packet_utilization=900.0)
    assert classify_stream(s, "teams2021").rating == "good"
    assert classify_stream(s, "sfb2019").poor_due_to == ["degradation_avg"]


def test_default_profile_follows_the_source_and_tenant_overrides():
    s = _stream("audio", jitter_ms=5.0)  # no packet utilization
    assert classify_stream(s).profile == "sfb2019" and classify_stream(s).rating == "good"
    g = s.model_copy(update={"source_format": "graph-v1"})
    assert classify_stream(g).profile == "teams2021"
    assert classify_stream(g).unclassified_reason == "low packet utilization"
    assert classify_stream(g, "sfb2019").rating == "good"


@pytest.mark.parametrize("media", ["audio", "video", "vbss", "appsharing", "data"])
def test_unclassified_reasons(media):
    assert classify_stream(_stream(media)).unclassified_reason == "metrics missing"
    failed = _stream(media, jitter_ms=50.0, video_frame_loss_pct=80.0, spoiled_tile_pct=90.0)
    failed.ice = "FAILED"
    q = classify_stream(failed)
    assert (q.rating, q.unclassified_reason) == ("unclassified", "connectivity failed")


def test_video_first_present_metric_decides():
    # frame loss present and fine: good, even though the frame rate would be poor
    assert (
        classify_stream(_stream("video", video_frame_loss_pct=1.0, video_frame_rate_avg=1.0)).rating
        == "good"
    )
    q = classify_stream(_stream("video", video_frame_rate_avg=6.0, video_post_fec_plr=0.0))
    assert (q.rating, q.poor_due_to) == ("poor", ["video_frame_rate_avg"])
    assert classify_stream(_stream("vbss", video_frame_rate_avg=6.0)).rating == "good"
    assert classify_stream(_stream("video", video_post_fec_plr=0.2)).rating == "poor"


def test_several_conditions_are_all_kept():
    q = classify_stream(_stream("audio", jitter_ms=31.0, packet_loss_rate=0.2, round_trip_ms=100.0))
    assert q.poor_due_to == ["packet_loss_rate", "jitter_ms"]
    assert q.flags == {"packet_loss_rate": "red", "jitter_ms": "red"}


def test_yellow_tiers_are_configurable_and_red_is_not():
    table = build_table({"jitter_ms": 20.0, "vbss.video_frame_rate_avg": 4.0})
    q = classify_stream(_stream("audio", jitter_ms=18.0), table=table)
    assert q.flags == {} and classify_stream(_stream("audio", jitter_ms=18.0)).flags == {
        "jitter_ms": "yellow"
    }
    assert table.limit("vbss", "video_frame_rate_avg").yellow == 4.0
    assert table.limit("video", "video_frame_rate_avg").yellow == 12.0
    assert table.limit("audio", "jitter_ms").red == 30.0
    with pytest.raises(ValueError):
        build_table({"nonsense": 1.0})


def test_session_rules():
    poor = _stream("audio", jitter_ms=45.0)
    s = Session(id="a", has_qoe=True, streams=[poor], diagnostic_id=25)
    rate_session(s)
    assert s.rating == "poor" and s.reasons == ["audioNetwork", "callSetup"]
    assert s.reason_metrics["audioNetwork"] == ["jitter_ms"]
    for diag, expected in [(19, "unavailable"), (20, "poor"), (29, "poor"), (30, "unavailable")]:
        s = Session(id="b", diagnostic_id=diag)
        rate_session(s)
        assert s.rating == expected, diag
    s = Session(id="c", failure_stage="callSetup")
    rate_session(s)
    assert s.reasons == ["callSetup"]
    s = Session(id="d", has_qoe=True, streams=[_stream("video", video_frame_rate_avg=20.0)])
    rate_session(s)
    assert s.rating == "unavailable"  # no audio QoE


@pytest.mark.parametrize(("profile", "flag"), [("sfb2019", "red"), ("teams2021", "yellow")])
def test_red_flag_follows_the_streams_profile(profile, flag):
    """Degradation is a poor criterion under sfb2019 only: past its red threshold it is
    red there, and only yellow (outside the normal range, not the cause) under
    teams2021, where the same stream is rated good."""
    extra = {"packet_utilization": 15000.0} if profile == "teams2021" else {}
    q = classify_stream(_stream("audio", degradation_avg=1.6, jitter_ms=3.0, **extra), profile)
    assert q.flags == {"degradation_avg": flag}
    assert q.rating == ("poor" if profile == "sfb2019" else "good")
