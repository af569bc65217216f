"""Every classification threshold, as one table of data (docs/reference/classification.md).

Why a table and not `if` statements in the classifier: CQD's limits, our yellow tiers
and the per-profile metric lists change independently (a tenant may want a stricter
yellow tier), and tests check every row at, just below and just above its value. The
classifier in `streams.py` only interprets this table.

Red is always the poor threshold of docs/reference/classification.md; yellow is our "outside normal
range" tier and is the only thing `build_table` lets a caller override.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

Op = Literal[">", "<", ">="]
MediaKey = Literal["audio", "video", "vbss", "appsharing", "endpoint"]

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
}

SFB2019 = "sfb2019"
TEAMS2021 = "teams2021"
PROFILES = (SFB2019, TEAMS2021)
# Default audio profile by the record format a stream came from.
DEFAULT_PROFILE_BY_SOURCE = {
    "ms-qoe-xml": SFB2019,
    "sfb-cdr-json": SFB2019,
    "graph-v1": TEAMS2021,
}
DEFAULT_PROFILE = SFB2019

# Unclassified reasons (kept apart, as CQD reports them apart).
METRICS_MISSING = "metrics missing"
CONNECTIVITY_FAILED = "connectivity failed"
LOW_PACKET_UTILIZATION = "low packet utilization"


@dataclass(frozen=True)
class Limit:
    """One metric of one media type: `op(value, red)` is poor / red; `op(value, yellow)` is
    yellow. `metric` is a `StreamMetrics` field (or an Endpoint device ratio name)."""

    media: MediaKey
    metric: str
    op: Op
    red: float
    yellow: float | None

    def fires(self, value: float) -> bool:
        return OPS[self.op](value, self.red)

    def flag(self, value: float) -> Literal["yellow", "red"] | None:
        if OPS[self.op](value, self.red):
            return "red"
        if self.yellow is not None and OPS[self.op](value, self.yellow):
            return "yellow"
        return None


# media, metric, op, red (= poor threshold of docs/reference/classification.md), yellow (ours)
DEFAULT_ROWS: tuple[Limit, ...] = (
    Limit("audio", "degradation_avg", ">", 1.0, 0.5),
    Limit("audio", "round_trip_ms", ">", 500.0, 100.0),
    Limit("audio", "packet_loss_rate", ">", 0.1, 0.01),
    Limit("audio", "jitter_ms", ">", 30.0, 15.0),
    Limit("audio", "concealed_ratio_avg", ">", 0.07, 0.035),
    Limit("video", "video_frame_loss_pct", ">", 50.0, 5.0),
    Limit("video", "video_frame_rate_avg", "<", 7.0, 12.0),
    Limit("video", "video_post_fec_plr", ">", 0.15, 0.05),
    Limit("vbss", "video_frame_loss_pct", ">", 50.0, 5.0),
    Limit("vbss", "video_frame_rate_avg", "<", 2.0, 12.0),
    Limit("vbss", "video_post_fec_plr", ">", 0.15, 0.05),
    Limit("appsharing", "spoiled_tile_pct", ">", 36.0, 11.0),
    Limit("appsharing", "rdp_tile_latency_ms", ">", 400.0, 200.0),
    Limit("appsharing", "relative_one_way_s", ">", 1.75, 1.0),
    Limit("endpoint", "DeviceRenderNotFunctioningEventRatio", ">=", 0.005, None),
    Limit("endpoint", "DeviceCaptureNotFunctioningEventRatio", ">=", 0.005, None),
)

# teams2021 gate: a stream is classified only when packet utilization > 500.
PACKET_UTILIZATION_GATE = Limit("audio", "packet_utilization", ">", 500.0, None)

# Which audio metrics make a stream poor, per profile (any of them fires -> poor).
AUDIO_PROFILE_METRICS: dict[str, tuple[str, ...]] = {
    SFB2019: (
        "degradation_avg",
        "round_trip_ms",
        "packet_loss_rate",
        "jitter_ms",
        "concealed_ratio_avg",
    ),
    TEAMS2021: ("round_trip_ms", "packet_loss_rate", "jitter_ms"),
}
# Video and VBSS: the first metric present decides.
VIDEO_ORDER: tuple[str, ...] = (
    "video_frame_loss_pct",
    "video_frame_rate_avg",
    "video_post_fec_plr",
)
# Application sharing: any of them fires -> poor.
APPSHARING_METRICS: tuple[str, ...] = (
    "spoiled_tile_pct",
    "rdp_tile_latency_ms",
    "relative_one_way_s",
)


@dataclass(frozen=True)
class ThresholdTable:
    """The rows indexed by (media, metric), plus the rule lists that read them."""

    rows: tuple[Limit, ...] = DEFAULT_ROWS
    gate: Limit = PACKET_UTILIZATION_GATE
    audio_profiles: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(AUDIO_PROFILE_METRICS)
    )
    video_order: tuple[str, ...] = VIDEO_ORDER
    appsharing: tuple[str, ...] = APPSHARING_METRICS

    def __post_init__(self) -> None:
        index = {(r.media, r.metric): r for r in self.rows}
        object.__setattr__(self, "_index", index)
        by_media: dict[str, list[Limit]] = {}
        for r in self.rows:
            by_media.setdefault(r.media, []).append(r)
        object.__setattr__(self, "_by_media", {k: tuple(v) for k, v in by_media.items()})

    def limit(self, media: str, metric: str) -> Limit:
        return self._index[(media, metric)]  # type: ignore[attr-defined]

    def for_media(self, media: str) -> tuple[Limit, ...]:
        return self._by_media.get(media, ())  # type: ignore[attr-defined]


def build_table(yellow: Mapping[str, float | None] | None = None) -> ThresholdTable:
    """The default table with yellow tiers overridden.

    Keys are `metric` (every media type having it) or `media.metric` (one row), e.g.
    `{"jitter_ms": 20, "vbss.video_frame_rate_avg": 4}`. Red tiers are the spec's poor
    thresholds and are deliberately not configurable here.
    """
    yellow = dict(yellow or {})
    known = {r.metric for r in DEFAULT_ROWS} | {f"{r.media}.{r.metric}" for r in DEFAULT_ROWS}
    unknown = sorted(set(yellow) - known)
    if unknown:
        raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
    rows = []
    for r in DEFAULT_ROWS:
        key = f"{r.media}.{r.metric}"
        if key in yellow:
            r = replace(r, yellow=yellow[key])
        elif r.metric in yellow:
            r = replace(r, yellow=yellow[r.metric])
        rows.append(r)
    return ThresholdTable(rows=tuple(rows))


DEFAULT_TABLE = build_table()


# The tenant's choice: one profile for every source, or one per source format.
ProfileChoice = str | Mapping[str, str] | None


def profile_for(source_format: str | None, profile: ProfileChoice) -> str:
    """The audio profile: the tenant's choice when valid, else the source's default."""
    if isinstance(profile, Mapping):
        profile = profile.get(source_format or "")
    if profile in AUDIO_PROFILE_METRICS:
        return str(profile)
    return DEFAULT_PROFILE_BY_SOURCE.get(source_format or "", DEFAULT_PROFILE)
