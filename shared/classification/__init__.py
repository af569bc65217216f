"""Classification entry point: streams, then sessions, then the call.

The stream rules live in `shared.classification.streams` and every number in
`shared.classification.thresholds` (one table of data); this module only walks the call
and applies the session / call rules of docs/reference/classification.md.
"""

from __future__ import annotations

from shared.classification.streams import classify_stream, device_flags
from shared.classification.thresholds import DEFAULT_TABLE, ProfileChoice, ThresholdTable
from shared.models.call import CallView, Session

DEVICE_RATIOS = tuple(lim.metric for lim in DEFAULT_TABLE.for_media("endpoint"))
DEVICE_RATIO_RED = DEFAULT_TABLE.limit("endpoint", DEVICE_RATIOS[0]).red  # 0.005, >=


def _is_setup_failure(session: Session) -> list[str]:
    found = []
    if session.diagnostic_id is not None and 20 <= session.diagnostic_id <= 29:
        found.append(f"ms-diagnostics {session.diagnostic_id}")
    if str(session.failure_stage).lower() == "callsetup":  # None is "none": not setup
        found.append("failureInfo.stage callSetup")
    return found


def rate_session(
    session: Session, profile: ProfileChoice = None, table: ThresholdTable | None = None
) -> None:
    """Session rating per docs/reference/classification.md: poor (callSetup, audioNetwork, device),
    unavailable when no QoE arrived for its audio, good otherwise."""
    table = table or DEFAULT_TABLE
    for stream in session.streams:
        stream.quality = classify_stream(stream, profile=profile, table=table)
    reasons: dict[str, list[str]] = {}
    setup = _is_setup_failure(session)
    if setup:
        reasons["callSetup"] = setup
    audio = [s for s in session.streams if s.media_type == "audio"]
    for s in audio:
        if s.quality and s.quality.rating == "poor":
            reasons.setdefault("audioNetwork", []).extend(s.quality.poor_due_to or [s.id])
    for ep in (session.caller, session.callee):
        ep.device_flags = device_flags(ep.device_ratios, table)
        for name, flag in ep.device_flags.items():
            if flag == "red":
                reasons.setdefault("device", []).append(f"{ep.role}.{name}")
    if reasons:
        session.rating = "poor"
    elif not audio or not session.has_qoe:
        session.rating = "unavailable"
    else:
        session.rating = "good"
    session.reasons = sorted(reasons)
    session.reason_metrics = {k: sorted(set(v)) for k, v in sorted(reasons.items())}


def classify_call(
    view: CallView, profile: ProfileChoice = None, table: ThresholdTable | None = None
) -> None:
    """A call is poor if any session is poor (union of reasons), good if any is good,
    unavailable otherwise; None when it has no session."""
    reasons: set[str] = set()
    ratings = []
    for session in view.sessions:
        rate_session(session, profile, table)
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
