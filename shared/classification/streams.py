"""Stream classification (CQD): Poor / Good / Unclassified, "poor due to", flags.

The rules are those of docs/reference/classification.md; every number comes from `thresholds.py`,
so this module holds only the shape of each rule (any-of, first-present, gated).
"""

from __future__ import annotations

from typing import Literal

from shared.classification.thresholds import (
    CONNECTIVITY_FAILED,
    DEFAULT_TABLE,
    LOW_PACKET_UTILIZATION,
    METRICS_MISSING,
    TEAMS2021,
    Limit,
    ProfileChoice,
    ThresholdTable,
    profile_for,
)
from shared.models.call import Stream, StreamMetrics, StreamQuality
from shared.models.trusted import build

Flag = Literal["yellow", "red"]


def _value(metrics: StreamMetrics, name: str) -> float | None:
    value = getattr(metrics, name, None)
    if value is None or isinstance(value, str):
        return None
    return float(value)


def _flags(metrics: StreamMetrics, limits: tuple[Limit, ...]) -> dict[str, Flag]:
    flags: dict[str, Flag] = {}
    for lim in limits:
        value = _value(metrics, lim.metric)
        if value is None:
            continue
        flag = lim.flag(value)
        if flag:
            flags[lim.metric] = flag
    return flags


def _any_of(
    metrics: StreamMetrics, media: str, names: tuple[str, ...], table: ThresholdTable
) -> tuple[bool, list[str]]:
    """(any metric present, metrics that fired)."""
    present = False
    fired: list[str] = []
    for name in names:
        value = _value(metrics, name)
        if value is None:
            continue
        present = True
        if table.limit(media, name).fires(value):
            fired.append(name)
    return present, fired


def _audio(metrics: StreamMetrics, profile: str, table: ThresholdTable, q: StreamQuality) -> None:
    names = table.audio_profiles[profile]
    present, fired = _any_of(metrics, "audio", names, table)
    if profile == TEAMS2021:
        util = _value(metrics, table.gate.metric)
        if not present and util is None:
            q.unclassified_reason = METRICS_MISSING
            return
        if util is None or not table.gate.fires(util):
            q.unclassified_reason = LOW_PACKET_UTILIZATION
            return
    if not present:
        q.unclassified_reason = METRICS_MISSING
        return
    q.rating = "poor" if fired else "good"
    q.poor_due_to = fired


def _video(metrics: StreamMetrics, media: str, table: ThresholdTable, q: StreamQuality) -> None:
    for name in table.video_order:
        value = _value(metrics, name)
        if value is None:
            continue
        if table.limit(media, name).fires(value):
            q.rating, q.poor_due_to = "poor", [name]
        else:
            q.rating = "good"
        return
    q.unclassified_reason = METRICS_MISSING


def _appsharing(metrics: StreamMetrics, table: ThresholdTable, q: StreamQuality) -> None:
    present, fired = _any_of(metrics, "appsharing", table.appsharing, table)
    if not present:
        q.unclassified_reason = METRICS_MISSING
        return
    q.rating = "poor" if fired else "good"
    q.poor_due_to = fired


def classify_stream(
    stream: Stream, profile: ProfileChoice = None, table: ThresholdTable | None = None
) -> StreamQuality:
    """Classify one stream. `profile` None (or unknown) -> default by the stream's source
    (`sfb2019` for SfB data, `teams2021` for Graph). Flags are computed for every metric
    present, whatever the rating, since Call Analytics shows them next to the metric."""
    table = table or DEFAULT_TABLE
    chosen = profile_for(stream.source_format, profile)
    q = build(StreamQuality, {"profile": chosen if stream.media_type == "audio" else None})
    metrics = stream.metrics
    media = stream.media_type
    q.flags = _flags(metrics, table.for_media(media))
    if media == "audio":
        # Red means "likely the main cause": only a poor criterion of the stream's own
        # profile can be that; past red on another metric (degradation under
        # teams2021) it is still outside the normal range, so yellow.
        criteria = table.audio_profiles[chosen]
        for name, flag in q.flags.items():
            if flag == "red" and name not in criteria:
                q.flags[name] = "yellow"
    if (stream.ice or "").upper() == "FAILED":
        q.unclassified_reason = CONNECTIVITY_FAILED
        return q
    if media == "audio":
        _audio(metrics, chosen, table, q)
    elif media in ("video", "vbss"):
        _video(metrics, media, table, q)
    elif media == "appsharing":
        _appsharing(metrics, table, q)
    else:  # `data` with no payload telling what it carried
        q.unclassified_reason = METRICS_MISSING
    return q


def device_flags(ratios: dict[str, float], table: ThresholdTable | None = None) -> dict[str, Flag]:
    """Flags of an endpoint's device-not-functioning ratios (red >= 0.005)."""
    table = table or DEFAULT_TABLE
    flags: dict[str, Flag] = {}
    for lim in table.for_media("endpoint"):
        value = ratios.get(lim.metric)
        if value is None:
            continue
        flag = lim.flag(float(value))
        if flag:
            flags[lim.metric] = flag
    return flags
