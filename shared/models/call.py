"""The call document: call -> sessions -> endpoints and streams, whatever the source.

Parsers turn each record into a `Fragment`: a partial call holding only what that
record knows. The stored call keeps every fragment it was built from (keyed by the
fragment's content hash) and its view is a pure fold of those fragments in a fixed
order. So merging is a set union: the same in any arrival order or batch split, and a
duplicate record is the same key, changing nothing.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, field_serializer
from pydantic.alias_generators import to_camel

MediaType = Literal["audio", "video", "vbss", "appsharing", "data"]
Rating = Literal["good", "poor", "unclassified"]
SessionRating = Literal["good", "poor", "unavailable"]


class _Model(BaseModel):
    """The one naming rule: snake_case in Python and in stored documents, camelCase in
    every API body (dumped `by_alias=True`) and in the OpenAPI document, which is
    generated from these models with `by_alias=True` too (docs/reference/api.md)."""

    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, extra="ignore"
    )


def metric_name(name: str) -> str:
    """A metric's name on the wire: `jitter_ms` -> `jitterMs`, the key of that metric in
    a response's `metrics`. Names that are not Python field names (a stream id, a QoE
    device event) are left as they are."""
    return to_camel(name) if _FIELD_NAME.match(name) else name


_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def camel_keys(value: dict[str, Any], info: SerializationInfo) -> dict[str, Any]:
    """A map keyed by metric field names (`flags`) names them as the body does: the
    key of a flag is the key of its metric in the same response."""
    return {metric_name(k): v for k, v in value.items()} if info.by_alias else value


class StreamMetrics(_Model):
    """Normalised metrics (ms, fractions, percent as documented); None = not reported."""

    jitter_ms: float | None = None
    jitter_max_ms: float | None = None
    packet_loss_rate: float | None = None
    packet_loss_rate_max: float | None = None
    round_trip_ms: float | None = None
    round_trip_max_ms: float | None = None
    degradation_avg: float | None = None
    concealed_ratio_avg: float | None = None
    packet_utilization: float | None = None
    post_fec_plr_audio: float | None = None
    video_frame_loss_pct: float | None = None
    video_frame_rate_avg: float | None = None
    video_post_fec_plr: float | None = None
    spoiled_tile_pct: float | None = None
    rdp_tile_latency_ms: float | None = None
    relative_one_way_s: float | None = None
    codec: str | None = None
    resolution: str | None = None


class StreamQuality(_Model):
    """Classification result, filled in by the classifier after the fold."""

    rating: Rating = "unclassified"
    poor_due_to: list[str] = Field(default_factory=list)
    unclassified_reason: str | None = None
    flags: dict[str, Literal["yellow", "red"]] = Field(default_factory=dict)
    profile: str | None = None

    @field_serializer("flags")
    def _flags(self, value: dict[str, Any], info: SerializationInfo) -> dict[str, Any]:
        return camel_keys(value, info)

    @field_serializer("poor_due_to")
    def _due(self, value: list[str], info: SerializationInfo) -> list[str]:
        return [metric_name(v) for v in value] if info.by_alias else value


class Stream(_Model):
    """One direction of one media line, seen from the receiving endpoint."""

    id: str  # f"{label}:{direction}", stable within a session
    label: str  # main-audio, main-video, data, applicationsharing-video, ...
    media_type: MediaType
    direction: Literal["callerToCallee", "calleeToCaller"]
    ice: str | None = None  # FAILED | DIRECT | RELAY | HTTP-PROXY
    transport: str | None = None
    relay: bool | None = None  # media went through a relay (QoE Ice RELAY, Graph relayIPAddress)
    # Added for classification: the record format the stream came from picks the default
    # audio profile (sfb2019 for SfB sources, teams2021 for graph-v1).
    source_format: str | None = None
    segment_id: str | None = None  # Graph segment the stream belongs to
    stream_id: str | None = None  # Graph mediaStream.streamId, as the source named it
    metrics: StreamMetrics = Field(default_factory=StreamMetrics)
    quality: StreamQuality | None = None


class Endpoint(_Model):
    """A party of a session. `role` is caller or callee; network fields are its own view."""

    role: Literal["caller", "callee"]
    uri: str | None = None  # sip:... or tel:+...
    display_name: str | None = None
    kind: Literal["user", "phone", "guest", "server", "unknown"] | None = None
    user_agent: str | None = None
    machine_name: str | None = None
    os: str | None = None
    cpu: str | None = None
    ip_address: str | None = None
    port: int | None = None
    subnet: str | None = None
    subnet_mask: str | None = None
    mac_address: str | None = None
    connection_type: Literal["wired", "wifi", "other"] | None = None
    vpn: bool | None = None
    inside: bool | None = None
    bssid: str | None = None
    ssid: str | None = None
    dns_suffix: str | None = None
    link_speed_bps: float | None = None
    wifi_radio_type: str | None = None
    wifi_signal_strength: float | None = None
    wifi_channel: int | None = None
    wifi_band: str | None = None  # Graph wifiBand, e.g. frequency50GHz
    product_family: str | None = None  # Graph userAgent.productFamily (teams, skypeForBusiness)
    platform: str | None = None  # Graph userAgent.platform (windows, android, web, ipPhone, ...)
    # Rate My Call (Graph feedback): the rating and the tokens set; the verbatim text is
    # EUII and is never kept.
    feedback_rating: str | None = None
    feedback_tokens: list[str] = Field(default_factory=list)
    capture_device: str | None = None
    capture_driver: str | None = None
    render_device: str | None = None
    render_driver: str | None = None
    device_ratios: dict[str, float] = Field(default_factory=dict)
    # Added: yellow/red flags of the device ratios, filled in by the classifier.
    device_flags: dict[str, Literal["yellow", "red"]] = Field(default_factory=dict)


class PstnDetail(_Model):
    """A PSTN or Direct Routing log row's own facts (Graph `pstnCallLogRow` /
    `directRoutingLogRow`); numbers are not here, they are the endpoints' `tel:` URIs."""

    log_type: Literal["pstn", "directRouting"]
    call_type: str | None = None
    trunk_fqdn: str | None = None
    final_sip_code: int | None = None
    final_sip_phrase: str | None = None
    call_end_sub_reason: int | None = None
    media_bypass: bool | None = None
    duration_s: float | None = None
    successful: bool | None = None


class Session(_Model):
    """One media connection between two endpoints (a SIP dialog, or a Graph session)."""

    id: str  # stable: SIP Call-ID + tags, or the Graph session id
    sip_call_id: str | None = None
    from_tag: str | None = None
    to_tag: str | None = None
    start: str | None = None  # ISO-8601 UTC
    end: str | None = None
    invite_time: str | None = None
    response_time: str | None = None
    response_code: int | None = None
    diagnostic_id: int | None = None
    failure_stage: str | None = None  # Graph failureInfo.stage
    failure_reason: str | None = None
    media_types: list[str] = Field(default_factory=list)
    caller: Endpoint = Field(default_factory=lambda: Endpoint(role="caller"))
    callee: Endpoint = Field(default_factory=lambda: Endpoint(role="callee"))
    streams: list[Stream] = Field(default_factory=list)
    has_qoe: bool = False
    rating: SessionRating | None = None
    reasons: list[str] = Field(default_factory=list)
    reason_metrics: dict[str, list[str]] = Field(default_factory=dict)
    pstn: PstnDetail | None = None  # PSTN / Direct Routing log rows only

    @field_serializer("reason_metrics")
    def _reasons(self, value: dict[str, list[str]], info: SerializationInfo) -> Any:
        if not info.by_alias:
            return value
        return {k: [metric_name(m) for m in v] for k, v in value.items()}


class Participant(_Model):
    uri: str
    display_name: str | None = None
    kind: Literal["user", "phone", "guest", "server", "unknown"] = "unknown"


class Fragment(_Model):
    """What one record contributes to one call.

    `key` identifies the call across sources (`conf:<uri>`, `sip:<call-id>`,
    `graph:<id>`). `version` and then `modified` (Graph's lastModifiedDateTime) let a
    newer Graph call record replace an older one of the same `record_id`; for SfB
    records they stay 0 and None. `participants` are the ones the record lists itself
    (Graph `participants_v2`), beside the parties of its sessions.
    """

    fragment_id: str  # content hash of the record: a duplicate is the same key
    record_id: str  # identity of the source record (a Graph id, a CDR session id, ...)
    source_format: str
    key: str
    version: int = 0
    # Graph lastModifiedDateTime, normalised (shared.parsing.graph.modified_key) so that
    # two of them compare as text; None for sources without one.
    modified: str | None = None
    report_id: str | None = None  # QoE VQSessionReport@SessionId: the report's own id
    call_type: Literal["peerToPeer", "conference", "pstn"] | None = None
    conference_uri: str | None = None
    organizer: str | None = None
    start: str | None = None
    end: str | None = None
    sessions: list[Session] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)


class SourceIds(_Model):
    """The identifiers one source record gave the call, as the source spelled them: what
    a helpdesk engineer has from a client log, Microsoft Graph, Call Analytics or a SIP
    trace. One entry per fragment; `GET /api/v1/calls?sourceId=` finds the call by any."""

    source_format: str
    record_id: str
    call_record_id: str | None = None  # Graph callRecord id
    version: int | None = None  # Graph callRecord version
    session_ids: list[str] = Field(default_factory=list)  # Graph session ids
    segment_ids: list[str] = Field(default_factory=list)
    stream_ids: list[str] = Field(default_factory=list)  # Graph streamId
    sip_call_id: str | None = None  # the SIP dialog: Call-ID with From/To tags
    from_tag: str | None = None
    to_tag: str | None = None
    conference_uri: str | None = None
    report_id: str | None = None  # QoE VQSessionReport@SessionId
    cdr_session: str | None = None  # CDR sessionIdTime:sessionIdSeq


class CallView(_Model):
    """The derived, classified call: what the API returns (before role projection)."""

    call_type: Literal["peerToPeer", "conference", "pstn"] = "peerToPeer"
    conference_uri: str | None = None
    organizer: str | None = None
    start: str | None = None
    end: str | None = None
    duration_s: float | None = None
    participants: list[Participant] = Field(default_factory=list)
    sessions: list[Session] = Field(default_factory=list)
    rating: SessionRating | None = None
    reasons: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    source_ids: list[SourceIds] = Field(default_factory=list)


class CallDocument(_Model):
    """Stored in the `calls` container; `pk` = `{tenantId}|{id}` (one call per partition)."""

    id: str
    pk: str
    tenantId: str
    key: str
    fragments: dict[str, Fragment] = Field(default_factory=dict)
    view: CallView = Field(default_factory=CallView)
    # Counts the call's committed writes (each one etag-conditional): a history entry
    # carries the revision it was built from, and an older one never replaces a newer.
    revision: int = 0
    updatedAt: str | None = None
    ttl: int | None = None

    def to_cosmos(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
