"""Session and call rules of docs/reference/classification.md with literal answers: the
reasons and the evidence recorded for each (`reasonMetrics`), the tenant's threshold
table reaching every stream and every device flag, and a call with no session at all.
"""

from __future__ import annotations

from shared.classification import classify_call, rate_session
from shared.classification.thresholds import build_table
from shared.models.call import CallView, Endpoint, Session, Stream, StreamMetrics


def audio(**metrics: float) -> Stream:
    return Stream(
        id="s:audio",
        label="main audio",
        media_type="audio",
        direction="callerToCallee",
        metrics=StreamMetrics(**metrics),
        source_format="ms-qoe-xml",
    )


def endpoint(role: str, **ratios: float) -> Endpoint:
    return Endpoint(role=role, device_ratios=ratios)  # type: ignore[arg-type]


def session(**kw: object) -> Session:
    base: dict[str, object] = {
        "id": "x",
        "has_qoe": True,
        "caller": endpoint("caller"),
        "callee": endpoint("callee"),
    }
    return Session(**(base | kw))  # type: ignore[arg-type]


def test_setup_failure_evidence_is_recorded_literally() -> None:
    s = session(diagnostic_id=24, failure_stage="CallSetup", streams=[audio(jitter_ms=3.0)])
    rate_session(s)
    assert s.rating == "poor" and s.reasons == ["callSetup"]
    assert s.reason_metrics == {"callSetup": ["failureInfo.stage callSetup", "ms-diagnostics 24"]}


def test_no_failure_stage_is_not_a_setup_failure() -> None:
    s = session(failure_stage=None, streams=[audio(jitter_ms=3.0)])
    rate_session(s)
    assert s.rating == "good" and s.reasons == [] and s.reason_metrics == {}


def test_a_red_device_ratio_names_the_endpoint_and_the_ratio() -> None:
    s = session(
        streams=[audio(jitter_ms=3.0)],
        callee=endpoint("callee", DeviceCaptureNotFunctioningEventRatio=0.005),
    )
    rate_session(s)
    assert s.rating == "poor" and s.reasons == ["device"]
    assert s.reason_metrics == {"device": ["callee.DeviceCaptureNotFunctioningEventRatio"]}
    assert s.callee.device_flags == {"DeviceCaptureNotFunctioningEventRatio": "red"}
    assert s.caller.device_flags == {}


def test_the_tenants_table_reaches_streams_and_devices() -> None:
    """A tenant's yellow tiers (docs/reference/settings.md) change the flags of every
    stream and endpoint of every session, through rate_session and classify_call alike;
    without a table the defaults apply (jitter yellow above 15 ms, devices: red only)."""
    table = build_table({"jitter_ms": 20.0, "DeviceRenderNotFunctioningEventRatio": 0.001})

    def fresh() -> Session:
        return session(
            streams=[audio(jitter_ms=18.0)],
            caller=endpoint("caller", DeviceRenderNotFunctioningEventRatio=0.002),
        )

    default, custom = fresh(), fresh()
    rate_session(default)
    rate_session(custom, table=table)
    assert default.streams[0].quality is not None and custom.streams[0].quality is not None
    assert default.streams[0].quality.flags == {"jitter_ms": "yellow"}
    assert custom.streams[0].quality.flags == {}
    assert default.caller.device_flags == {}
    assert custom.caller.device_flags == {"DeviceRenderNotFunctioningEventRatio": "yellow"}
    assert default.rating == custom.rating == "good"  # yellow never makes a session poor

    view = CallView(sessions=[fresh()])
    classify_call(view, table=table)
    quality = view.sessions[0].streams[0].quality
    assert quality is not None and quality.flags == {}
    assert view.sessions[0].caller.device_flags == {
        "DeviceRenderNotFunctioningEventRatio": "yellow"
    }


def test_a_call_without_sessions_has_no_rating() -> None:
    view = CallView()
    classify_call(view)
    assert view.rating is None and view.reasons == []


def test_the_call_takes_the_union_of_its_sessions_reasons() -> None:
    poor_audio = session(id="a", streams=[audio(jitter_ms=45.0)])
    setup = session(id="b", diagnostic_id=20, has_qoe=False)
    good = session(id="c", streams=[audio(jitter_ms=3.0)])
    view = CallView(sessions=[poor_audio, setup, good])
    classify_call(view)
    assert view.rating == "poor" and view.reasons == ["audioNetwork", "callSetup"]
    view = CallView(sessions=[session(id="d", has_qoe=False), good.model_copy(deep=True)])
    classify_call(view)
    assert view.rating == "good" and view.reasons == []
    view = CallView(sessions=[session(id="e", has_qoe=False)])
    classify_call(view)
    assert view.rating == "unavailable"
