"""Classification entry point: streams, then sessions, then the call.

The stream rules and thresholds live in `shared.classification.streams` (a table of
data); this module only walks the call.
"""

from __future__ import annotations

from shared.models.call import CallView, Session

DEVICE_RATIO_RED = 0.005
DEVICE_RATIOS = ("DeviceRenderNotFunctioningEventRatio", "DeviceCaptureNotFunctioningEventRatio")


def _classify_streams(session: Session, profile: str | None) -> None:
    try:
        from shared.classification.streams import classify_stream
    except ModuleNotFoundError:  # stream rules arrive with the QoE parser
        return
    for stream in session.streams:
        stream.quality = classify_stream(stream, profile=profile)


def rate_session(session: Session, profile: str | None = None) -> None:
    """Session rating per classification.md: poor (callSetup, audioNetwork, device),
    unavailable when no audio QoE arrived, good otherwise."""
    _classify_streams(session, profile)
    reasons: dict[str, list[str]] = {}
    if session.diagnostic_id is not None and 20 <= session.diagnostic_id <= 29:
        reasons.setdefault("callSetup", []).append(f"ms-diagnostics {session.diagnostic_id}")
    if (session.failure_stage or "").lower() == "callsetup":
        reasons.setdefault("callSetup", []).append("failureInfo.stage callSetup")
    audio = [s for s in session.streams if s.media_type == "audio"]
    for s in audio:
        if s.quality and s.quality.rating == "poor":
            reasons.setdefault("audioNetwork", []).extend(s.quality.poor_due_to or [s.id])
    for ep in (session.caller, session.callee):
        for name in DEVICE_RATIOS:
            value = ep.device_ratios.get(name)
            if value is not None and value >= DEVICE_RATIO_RED:
                reasons.setdefault("device", []).append(f"{ep.role}.{name}")
    if reasons:
        session.rating = "poor"
    elif not audio or not session.has_qoe:
        session.rating = "unavailable"
    else:
        session.rating = "good"
    session.reasons = sorted(reasons)
    session.reason_metrics = {k: sorted(set(v)) for k, v in sorted(reasons.items())}


def classify_call(view: CallView, profile: str | None = None) -> None:
    reasons: set[str] = set()
    ratings = []
    for session in view.sessions:
        rate_session(session, profile)
        ratings.append(session.rating)
        reasons.update(session.reasons)
    if "poor" in ratings:
        view.rating = "poor"
    elif "good" in ratings:
        view.rating = "good"
    elif ratings:
        view.rating = "unavailable"
    else:
        view.rating = None
    view.reasons = sorted(reasons)
