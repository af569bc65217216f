"""`callRecord` / `graph-v1`: a Microsoft Graph call record with `sessions($expand=segments)`.

Why one fragment per record with `record_id = graph:<id>` and `version = record.version`:
Graph re-publishes a call record as it learns more; `merge.union` keeps only the highest
version per record_id, so a newer record replaces an older one in any arrival order.

Ordering: a record's place is (`version`, `lastModifiedDateTime`), compared as
`record_order` says; the fragment carries both, and the merge keeps the greatest.

Mapping (docs/reference/classification.md, "Graph call record fields"): each Graph session is one
Session; its segments' media streams become Streams (`{label}:{streamDirection}`,
suffixed with the segment id when a session has several segments, since each segment
is its own media path). ISO-8601 durations become milliseconds; a null field is a
missing metric. Both the older (`identity`, `organizer`) and newer
(`associatedIdentity`, `organizer_v2`) identity shapes are read. Participants: Graph's
`participants_v2` (every page, appended by the fetcher) where the record has it, else
the deprecated `participants` (at most 130 identities); the session endpoints are
added to them in the merge.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from shared.identity import content_hash
from shared.models.call import Endpoint, Fragment, Participant, Session, Stream, StreamMetrics
from shared.parsing import ParseContext, RecordRejected, register

SOURCE = "graph-v1"
MAX_RECORD_BYTES = 20 * 1024 * 1024
_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_DEVICE_RATIOS = {
    "captureNotFunctioningEventRatio": "DeviceCaptureNotFunctioningEventRatio",
    "renderNotFunctioningEventRatio": "DeviceRenderNotFunctioningEventRatio",
}


def iso_duration_ms(value: Any) -> float | None:
    """`PT0.016S` -> 16.0; None for null or anything not an ISO-8601 duration."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value.strip())
    if not match or value.strip() in ("P", "PT", "-P"):
        return None
    parts = match.groupdict()
    seconds = (
        float(parts["w"] or 0) * 604800
        + float(parts["d"] or 0) * 86400
        + float(parts["h"] or 0) * 3600
        + float(parts["m"] or 0) * 60
        + float(parts["s"] or 0)
    )
    if parts["sign"]:
        seconds = -seconds
    return seconds * 1000.0


_MODIFIED = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)


def modified_key(value: Any) -> str:
    """`lastModifiedDateTime` as text that sorts as time: UTC, 7 fractional digits
    (Graph's 100 ns precision; `datetime` keeps only 6, which would make two distinct
    modifications compare equal). '' for null or anything not a timestamp, so a record
    without one is older than any record with one."""
    if not isinstance(value, str):
        return ""
    match = _MODIFIED.match(value.strip())
    if not match:
        return ""
    try:
        base = datetime.fromisoformat(match["base"] + (match["tz"] or "Z").replace("Z", "+00:00"))
    except ValueError:
        return ""
    frac = (match["frac"] or "")[:7].ljust(7, "0")
    return base.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac}Z"


def record_order(record: Any) -> tuple[int, str]:
    """Where a copy of a call record stands among the copies of the same id:
    (`version`, `lastModifiedDateTime`). Graph's version increases monotonically as it
    learns more; a copy with the same version and a later modification time is newer
    too. A greater key replaces the call; an equal or smaller one changes nothing."""
    data = record if isinstance(record, dict) else {}
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        version = 0
    return version, modified_key(data.get("lastModifiedDateTime"))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _identity(identity_set: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(uri, display name, kind) from a Graph identitySet."""
    for key, kind in (
        ("user", "user"),
        ("phone", "phone"),
        ("guest", "guest"),
        ("acsUser", "guest"),
        ("spoolUser", "guest"),
        ("encrypted", "guest"),
        ("onPremises", "user"),
        ("applicationInstance", "server"),
        ("application", "server"),
        ("device", "unknown"),
    ):
        ident = _obj(identity_set.get(key))
        if not ident:
            continue
        ident_id, name = _str(ident.get("id")), _str(ident.get("displayName"))
        upn = _str(ident.get("userPrincipalName"))
        if kind == "phone":
            number = ident_id or ""
            return (f"tel:{number}" if number else None), name, "phone"
        if upn and "@" in upn:
            return f"sip:{upn.lower()}", name, kind
        return (f"{key.lower()}:{ident_id}" if ident_id else None), name, kind
    return None, None, None


def _endpoint(role: str, raw: Any) -> Endpoint:
    raw = _obj(raw)
    kind: str | None
    if "associatedIdentity" in raw:  # newer shape: communicationsIdentity (a user)
        ident = _obj(raw.get("associatedIdentity"))
        upn = _str(ident.get("userPrincipalName"))
        ident_id = _str(ident.get("id"))
        uri: str | None = (
            f"sip:{upn.lower()}"
            if upn and "@" in upn
            else (f"user:{ident_id}" if ident_id else None)
        )
        name, kind = _str(ident.get("displayName")), "user"
    else:
        uri, name, kind = _identity(_obj(raw.get("identity")))
    odata = str(raw.get("@odata.type") or "")
    if odata.endswith("serviceEndpoint") and kind is None:
        kind = "server"
    agent = _obj(raw.get("userAgent"))
    feedback = _obj(raw.get("feedback"))
    rating = _str(feedback.get("rating"))
    tokens = sorted(
        k
        for k, v in _obj(feedback.get("tokens")).items()
        if v is True and isinstance(k, str) and k.isidentifier() and len(k) <= 64
    )
    return Endpoint(
        role=role,  # type: ignore[arg-type]
        uri=uri,
        display_name=name,
        kind=kind,  # type: ignore[arg-type]
        user_agent=_str(agent.get("headerValue")),
        machine_name=_str(raw.get("name")),
        os=_str(agent.get("platform")),
        platform=_str(agent.get("platform")),
        product_family=_str(agent.get("productFamily")),
        feedback_rating=rating if rating and rating.isalpha() and len(rating) <= 20 else None,
        feedback_tokens=tokens,
    )


def _media_type(label: str) -> str:
    lower = label.lower()
    if lower.startswith("applicationsharing"):
        return "vbss" if "video" in lower else "appsharing"
    if "audio" in lower:
        return "audio"
    if "video" in lower:
        return "video"
    return "data"


def _metrics(raw: dict[str, Any], media: str) -> StreamMetrics:
    post_fec = _num(raw.get("postForwardErrorCorrectionPacketLossRate"))
    m: dict[str, Any] = {
        "jitter_ms": iso_duration_ms(raw.get("averageJitter")),
        "jitter_max_ms": iso_duration_ms(raw.get("maxJitter")),
        "packet_loss_rate": _num(raw.get("averagePacketLossRate")),
        "packet_loss_rate_max": _num(raw.get("maxPacketLossRate")),
        "round_trip_ms": iso_duration_ms(raw.get("averageRoundTripTime")),
        "round_trip_max_ms": iso_duration_ms(raw.get("maxRoundTripTime")),
        "degradation_avg": _num(raw.get("averageAudioDegradation")),
        "concealed_ratio_avg": _num(raw.get("averageRatioOfConcealedSamples")),
        "packet_utilization": _num(raw.get("packetUtilization")),
        "video_frame_loss_pct": _num(raw.get("averageVideoFrameLossPercentage")),
        "video_frame_rate_avg": _num(raw.get("averageVideoFrameRate")),
        "codec": _str(raw.get("audioCodec") if media == "audio" else raw.get("videoCodec")),
    }
    if media == "audio":
        m["post_fec_plr_audio"] = post_fec
    else:
        m["video_post_fec_plr"] = post_fec
    return StreamMetrics(**{k: v for k, v in m.items() if v is not None})


def _network_device(ep: Endpoint, network: Any, device: Any) -> None:
    """Fill an endpoint from a media's callerNetwork/callerDevice (first media wins)."""
    net, dev = _obj(network), _obj(device)

    def put(name: str, value: Any) -> None:
        if value is not None and getattr(ep, name) is None:
            setattr(ep, name, value)

    put("ip_address", _str(net.get("ipAddress")))
    put("subnet", _str(net.get("subnet")))
    port = net.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 65535:
        put("port", port)
    put("mac_address", _str(net.get("macAddress")))
    put("link_speed_bps", _num(net.get("linkSpeed")))
    put("bssid", _str(net.get("basicServiceSetIdentifier")))
    put("dns_suffix", _str(net.get("dnsSuffix")))
    put("wifi_radio_type", _str(net.get("wifiRadioType")))
    put("wifi_signal_strength", _num(net.get("wifiSignalStrength")))
    channel = net.get("wifiChannel")
    if isinstance(channel, int) and not isinstance(channel, bool) and 0 < channel < 256:
        put("wifi_channel", channel)
    put("wifi_band", _str(net.get("wifiBand")))
    conn = _str(net.get("connectionType"))
    if conn:
        put("connection_type", conn if conn in ("wired", "wifi") else "other")
    put("capture_device", _str(dev.get("captureDeviceName")))
    put("capture_driver", _str(dev.get("captureDeviceDriver")))
    put("render_device", _str(dev.get("renderDeviceName")))
    put("render_driver", _str(dev.get("renderDeviceDriver")))
    for graph_name, qoe_name in _DEVICE_RATIOS.items():
        value = _num(dev.get(graph_name))
        if value is not None and value > ep.device_ratios.get(qoe_name, -1.0):
            ep.device_ratios = {**ep.device_ratios, qoe_name: value}


def _failure(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    info = _obj(raw.get("failureInfo"))
    return _str(info.get("stage")), _str(info.get("reason"))


def _session(raw: dict[str, Any]) -> Session:
    sid = _str(raw.get("id"))
    if not sid:
        raise RecordRejected("graph-v1 session without an id")
    caller, callee = _endpoint("caller", raw.get("caller")), _endpoint("callee", raw.get("callee"))
    stage, reason = _failure(raw)
    segments = [_obj(s) for s in _list(raw.get("segments"))]
    multi = len(segments) > 1
    streams: dict[str, Stream] = {}
    media_types: set[str] = {m for m in _list(raw.get("modalities")) if isinstance(m, str)}
    for seg in segments:
        seg_stage, seg_reason = _failure(seg)
        if seg_stage and not stage:
            stage, reason = seg_stage, seg_reason
        elif seg_stage and seg_stage.lower() == "callsetup":
            stage, reason = seg_stage, seg_reason or reason
        seg_id = _str(seg.get("id"))
        for media in _list(seg.get("media")):
            media = _obj(media)
            label = _str(media.get("label")) or "unknown"
            mtype = _media_type(label)
            _network_device(caller, media.get("callerNetwork"), media.get("callerDevice"))
            _network_device(callee, media.get("calleeNetwork"), media.get("calleeDevice"))
            net = _obj(media.get("callerNetwork")) or _obj(media.get("calleeNetwork"))
            protocol = (_str(net.get("protocol")) or "").upper() or None
            relay = any(
                _str(_obj(media.get(side)).get("relayIPAddress"))
                for side in ("callerNetwork", "calleeNetwork")
            )
            for raw_stream in _list(media.get("streams")):
                raw_stream = _obj(raw_stream)
                direction = raw_stream.get("streamDirection")
                if direction not in ("callerToCallee", "calleeToCaller"):
                    continue
                stream_id = f"{label}:{direction}" + (f"@{seg_id}" if multi and seg_id else "")
                if stream_id in streams:
                    continue
                streams[stream_id] = Stream(
                    id=stream_id,
                    label=label,
                    media_type=mtype,  # type: ignore[arg-type]
                    direction=direction,
                    metrics=_metrics(raw_stream, mtype),
                    transport=protocol if protocol in ("UDP", "TCP") else None,
                    relay=relay if net else None,
                    source_format=SOURCE,
                    segment_id=seg_id,
                    stream_id=_str(raw_stream.get("streamId")),
                )
    has_audio_metrics = any(
        s.media_type == "audio" and s.metrics.model_dump(exclude_none=True)
        for s in streams.values()
    )
    return Session(
        id=sid,
        start=_str(raw.get("startDateTime")),
        end=_str(raw.get("endDateTime")),
        failure_stage=stage,
        failure_reason=reason,
        media_types=sorted(media_types),
        caller=caller,
        callee=callee,
        streams=[streams[k] for k in sorted(streams)],
        has_qoe=has_audio_metrics,
    )


def _upns(data: dict[str, Any]) -> dict[str, str]:
    """User id -> sip:<upn> from the sessions' endpoints."""
    found: dict[str, str] = {}
    for sess in _list(data.get("sessions")):
        for role in ("caller", "callee"):
            ep = _obj(_obj(sess).get(role))
            ident = _obj(ep.get("associatedIdentity")) or _obj(_obj(ep.get("identity")).get("user"))
            ident_id, upn = _str(ident.get("id")), _str(ident.get("userPrincipalName"))
            if ident_id and upn and "@" in upn:
                found.setdefault(ident_id, f"sip:{upn.lower()}")
    return found


def _listed_participants(data: dict[str, Any], upns: dict[str, str]) -> list[Participant]:
    """The record's own participant list: `participants_v2` (entities with an `identity`
    communicationsIdentitySet) where present, else the deprecated `participants`
    (identitySets). A user listed without a UPN takes it from a session endpoint with
    the same id, so the participant and that endpoint are one person."""
    v2 = data.get("participants_v2")
    if isinstance(v2, list) and v2:
        sets = [_obj(_obj(p).get("identity")) for p in v2]
    else:
        sets = [_obj(p) for p in _list(data.get("participants"))]
    found: dict[str, Participant] = {}
    for ident in sets:
        uri, name, kind = _identity(ident)
        if not uri:
            continue
        user_id = _str(_obj(ident.get("user")).get("id"))
        if kind == "user" and user_id and not uri.startswith("sip:"):
            uri = upns.get(user_id, uri)
        if uri not in found:
            found[uri] = Participant(uri=uri, display_name=name, kind=kind or "unknown")  # type: ignore[arg-type]
        elif name and not found[uri].display_name:
            found[uri].display_name = name
    return [found[k] for k in sorted(found)]


@register("callRecord", "graph-v1")
def parse_graph(data: Any, ctx: ParseContext) -> list[Fragment]:
    """One fragment per call record; the key and record id are `graph:<id>`."""
    del ctx
    if isinstance(data, str | bytes):
        if len(data) > MAX_RECORD_BYTES:
            raise RecordRejected("graph-v1 record is over the size limit")
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise RecordRejected(f"graph-v1 record is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordRejected("graph-v1 record must be a JSON object (a callRecord)")
    record_id = _str(data.get("id"))
    if not record_id:
        raise RecordRejected("graph-v1 callRecord has no id")
    version = data.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise RecordRejected("graph-v1 callRecord version must be a non-negative integer")
    sessions = [_session(_obj(s)) for s in _list(data.get("sessions"))]
    organizer = _obj(data.get("organizer_v2"))
    org_set = _obj(organizer.get("identity")) if organizer else _obj(data.get("organizer"))
    org_uri, _, _ = _identity(org_set)
    org_id = _str(_obj(org_set.get("user")).get("id"))
    upns = _upns(data)
    if org_id and org_uri and not org_uri.startswith("sip:"):
        # organizer_v2 carries no UPN: use the session endpoint with the same user id.
        org_uri = upns.get(org_id, org_uri)
    kinds = {ep.kind for s in sessions for ep in (s.caller, s.callee)}
    rtype = data.get("type")
    if rtype == "groupCall":
        call_type = "conference"
    elif "phone" in kinds:
        call_type = "pstn"
    else:
        call_type = "peerToPeer"
    return [
        Fragment(
            fragment_id=content_hash(data),
            record_id=f"graph:{record_id}",
            source_format=SOURCE,
            key=f"graph:{record_id}",
            version=version,
            modified=record_order(data)[1] or None,
            call_type=call_type,  # type: ignore[arg-type]
            conference_uri=_str(data.get("joinWebUrl")) if call_type == "conference" else None,
            organizer=org_uri,
            start=_str(data.get("startDateTime")),
            end=_str(data.get("endDateTime")),
            sessions=sessions,
            participants=_listed_participants(data, upns),
        )
    ]
