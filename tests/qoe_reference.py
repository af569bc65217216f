"""The QoE parser as it was before the fast path (`shared.parsing.qoe_xml`): the reference
`tests/unit/test_qoe_fast_path.py` compares the fast path against. The steps the fast
path rewrote (the walk, metrics, endpoints, subnet, the fragment's build) are kept as
they were; the helpers it kept unchanged (element look-up, text and number reading,
timestamps, SSID, media type) are imported from it rather than copied.

It walked the lxml tree with one dict of children per element and validated each
fragment with pydantic; the fast path must give the same fragments (same values, same
fields set) and the same rejections with the same reasons. Not registered as a parser.
Keep it unchanged unless the parser's behaviour is meant to change, in which case change
both in the same commit.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from lxml import etree

from shared.identity import content_hash, normalise_uri, session_id, uri_kind
from shared.models.call import Fragment
from shared.parsing import ParseContext, RecordRejected
from shared.parsing.qoe_xml import (  # what the fast path kept unchanged
    _DECL,
    LABELS,
    SOURCE,
    El,
    _attr,
    _find,
    _iso,
    _kids,
    _local_name,
    _media_type,
    _num,
    _parser,
    _ssid,
    _text,
)


def _bool(el: El | None) -> bool | None:
    text = _text(el)
    if text is None:
        return None
    lower = text.lower()
    if lower in ("true", "1"):
        return True
    if lower in ("false", "0"):
        return False
    return None


def _subnet(ip: str | None, mask: str | None) -> str | None:
    if not ip or not mask:
        return None
    try:
        return str(ipaddress.ip_network(f"{ip}/{mask}", strict=False).network_address)
    except ValueError:
        return None


def _load(data: Any, ctx: ParseContext) -> tuple[El, str]:
    """Size and declaration checks, then a safe parse. Returns (root, text for hashing)."""
    if isinstance(data, bytes | bytearray):
        if len(data) > ctx.max_qoe_bytes:
            raise RecordRejected(
                f"QoE report is {len(data)} bytes, over the {ctx.max_qoe_bytes}-byte limit"
            )
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise RecordRejected("QoE report is not UTF-8 text") from None
        raw = bytes(data)
    elif isinstance(data, str):
        text = data
        if len(text) > ctx.max_qoe_bytes:  # every char is >= 1 byte: over the limit
            raise RecordRejected(f"QoE report is over the {ctx.max_qoe_bytes}-byte limit")
        raw = text.encode("utf-8", "surrogatepass")
        if len(raw) > ctx.max_qoe_bytes:
            raise RecordRejected(
                f"QoE report is {len(raw)} bytes, over the {ctx.max_qoe_bytes}-byte limit"
            )
    else:
        raise RecordRejected("ms-qoe-xml data must be the report's XML as a string")
    if "<!" in text and _DECL.search(text):  # the substring scan first: C speed
        raise RecordRejected("QoE report declares a DOCTYPE or ENTITY: not accepted")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise RecordRejected(f"QoE report is not well-formed XML: {str(exc)[:200]}") from None
    except ValueError as exc:  # e.g. lxml refusing odd input
        raise RecordRejected(f"QoE report could not be read: {str(exc)[:200]}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise RecordRejected("QoE report declares a DOCTYPE or ENTITY: not accepted")
    if _local_name(root.tag) != "VQReportEvent":
        raise RecordRejected("QoE report root is not ms-rtcp-metrics VQReportEvent")
    return root, text


def _stream_metrics(inbound: El | None, outbound: El | None) -> tuple[dict[str, Any], str | None]:
    """Metrics of the inbound stream (+ the media line's round trip from the outbound
    stream), and which payload the stream carried."""
    ik = _kids(inbound)
    net = _kids(ik.get("Network"))
    jitter = _kids(net.get("Jitter"))
    loss = _kids(net.get("PacketLoss"))
    delay = _kids(net.get("Delay"))
    out_delay = _kids(_find(outbound, "Network", "Delay"))
    payload = _kids(ik.get("Payload"))
    if not payload and outbound is not None:
        payload = _kids(_find(outbound, "Payload"))
    m: dict[str, Any] = {
        "jitter_ms": _num(jitter.get("InterArrival")),
        "jitter_max_ms": _num(jitter.get("InterArrivalMax")),
        "packet_loss_rate": _num(loss.get("LossRate")),
        "packet_loss_rate_max": _num(loss.get("LossRateMax")),
        "round_trip_ms": _num(out_delay.get("RoundTrip")),
        "round_trip_max_ms": _num(out_delay.get("RoundTripMax")),
        "packet_utilization": _num(_find(net.get("Utilization"), "Packets")),
        "concealed_ratio_avg": _num(net.get("RatioConcealedSamplesAvg")),
        "relative_one_way_s": _num(_find(delay.get("RelativeOneWay"), "Average")),
        "degradation_avg": _num(
            _find(ik.get("QualityEstimates"), "Audio", "NetworkMOS", "DegradationAvg")
        ),
    }
    if m["round_trip_ms"] is None:
        m["round_trip_ms"] = _num(delay.get("RoundTrip"))
        m["round_trip_max_ms"] = _num(delay.get("RoundTripMax"))
    kind: str | None = None
    if "Audio" in payload:
        kind = "audio"
        audio = _kids(payload["Audio"])
        m["codec"] = _text(audio.get("PayloadDescription"))
        m["post_fec_plr_audio"] = _num(audio.get("AudioPostFECPLR"))
    elif "Video" in payload:
        kind = "video"
        video = _kids(payload["Video"])
        m["codec"] = _text(video.get("PayloadDescription"))
        m["resolution"] = _text(video.get("Resolution"))
        m["video_frame_rate_avg"] = _num(video.get("VideoFrameRateAvg"))
        frame_loss = _num(video.get("VideoFrameLossRate"))
        m["video_frame_loss_pct"] = None if frame_loss is None else frame_loss * 100.0
        m["video_post_fec_plr"] = _num(video.get("VideoPostFECPLR"))  # not in spec: if sent
    elif "ApplicationSharing" in payload:
        kind = "appsharing"
        app = _kids(payload["ApplicationSharing"])
        spoiled = app.get("SpoiledTilePercent")
        m["spoiled_tile_pct"] = (
            _num(_find(spoiled, "Total"))
            if spoiled is not None
            else _num(app.get("SpoiledTilePercentTotal"))
        )
        latency = app.get("RDPTileProcessingLatency")
        m["rdp_tile_latency_ms"] = (
            _num(_find(latency, "Average"))
            if latency is not None
            else _num(app.get("RDPTileProcessingLatencyAverage"))
        )
        if m["relative_one_way_s"] is None:
            m["relative_one_way_s"] = _num(_find(app.get("RelativeOneWay"), "Average"))
    return {k: v for k, v in m.items() if v is not None}, kind


def _fill_local(ep: dict[str, Any], desc: dict[str, El]) -> None:
    """Network and device details of the reporting endpoint; first media line wins
    (the audio line is visited first)."""

    def put(name: str, value: Any) -> None:
        if value is not None and ep.get(name) is None:
            ep[name] = value

    nci = _kids(desc.get("NetworkConnectivityInfo"))
    conn = (_text(nci.get("NetworkConnection")) or "").lower()
    details = (_text(nci.get("NetworkConnectionDetails")) or "").lower()
    if conn in ("wired", "wifi"):
        put("connection_type", conn)
    elif details in ("ethernet", "wired"):
        put("connection_type", "wired")
    elif details == "wifi":
        put("connection_type", "wifi")
    elif conn or details:
        put("connection_type", "other")
    put("vpn", _bool(nci.get("VPN")))
    put("link_speed_bps", _num(nci.get("LinkSpeed")))
    put("bssid", _text(nci.get("BSSID")))
    local = _kids(desc.get("LocalAddr"))
    ip = _text(local.get("IPAddr"))
    mask = _text(local.get("SubnetMask"))
    put("ip_address", ip)
    port = _num(local.get("Port"))
    if port is not None and port.is_integer() and 0 <= port <= 65535:
        put("port", int(port))
    put("inside", _bool(local.get("Inside")))
    put("subnet_mask", mask)
    put("subnet", _subnet(ip, mask))
    put("mac_address", _text(local.get("MACAddr")))
    cap = _kids(desc.get("CaptureDev"))
    ren = _kids(desc.get("RenderDev"))
    put("capture_device", _text(cap.get("Name")))
    put("capture_driver", _text(cap.get("Driver")))
    put("render_device", _text(ren.get("Name")))
    put("render_driver", _text(ren.get("Driver")))
    put("ssid", _ssid(_text(desc.get("SSID"))))
    put("wifi_radio_type", _text(desc.get("WifiRadioType")))
    put("wifi_signal_strength", _num(desc.get("WifiRSSI")))
    channel = _num(desc.get("WifiChannel"))
    if channel is not None and channel.is_integer() and 0 < channel < 256:
        put("wifi_channel", int(channel))


def _events(el: El | None, into: dict[str, float]) -> None:
    """Client event ratios by local name; the worst value over the media lines."""
    if el is None:
        return
    for child in el:
        name = _local_name(child.tag)
        if name is None:
            continue
        value = _num(child)
        if value is not None and value > into.get(name, -1.0):
            into[name] = value


def _session_report(report: El, interval: bool, frag_id: str) -> Fragment:
    """One session report -> one fragment (validated pydantic models: in pydantic 2,
    `model_construct` is slower than validation for models this wide; the parts are
    plain dicts until the one validation at the end)."""
    top = _kids(report)
    dialog = top.get("DialogInfo")
    if dialog is None:
        raise RecordRejected("QoE report has no DialogInfo")
    call_id = _attr(dialog, "CallId")
    if not call_id:
        raise RecordRejected("QoE report DialogInfo@CallId is missing")
    from_tag, to_tag = _attr(dialog, "FromTag"), _attr(dialog, "ToTag")
    dk = _kids(dialog)
    is_caller = _bool(dk.get("Caller"))
    if is_caller is None:
        raise RecordRejected("QoE report DialogInfo/Caller is missing or not a boolean")
    local_role, remote_role = ("caller", "callee") if is_caller else ("callee", "caller")
    local_uri = normalise_uri(_text(dk.get("FromURI")))
    remote_uri = normalise_uri(_text(dk.get("ToURI")))
    conf_uri = normalise_uri(_text(dk.get("ConfURI")))

    local: dict[str, Any] = {
        "role": local_role,
        "uri": local_uri,
        "user_agent": _text(dk.get("LocalUserAgent")),
    }
    remote: dict[str, Any] = {
        "role": remote_role,
        "uri": remote_uri,
        "user_agent": _text(dk.get("RemoteUserAgent")),
    }
    for ep, uri in ((local, local_uri), (remote, remote_uri)):
        if uri:
            ep["kind"] = uri_kind(uri)
    endpoint = top.get("Endpoint")
    if endpoint is not None:
        local["machine_name"] = _attr(endpoint, "Name")
        local["os"] = _attr(endpoint, "OS")
        local["cpu"] = _attr(endpoint, "CPUName")

    lines = [el for el in report if _local_name(el.tag) == "MediaLine"]
    if not lines:
        raise RecordRejected("QoE report has no MediaLine")
    labelled = []
    for line in lines:
        label = (line.get("Label") or "").strip()
        if label not in LABELS:
            raise RecordRejected(f"QoE report has an unknown MediaLine@Label {label[:64]!r}")
        labelled.append((label != "main-audio", label, line))
    labelled.sort(key=lambda t: (t[0], t[1]))

    inbound_dir = "calleeToCaller" if is_caller else "callerToCallee"
    local_events: dict[str, float] = {}
    remote_events: dict[str, float] = {}
    streams: dict[str, dict[str, Any]] = {}
    media_types: set[str] = set()
    for _, label, line in labelled:
        lk = _kids(line)
        desc = _kids(lk.get("Description"))
        _fill_local(local, desc)
        _events(lk.get("LocalClientEvent"), local_events)
        _events(lk.get("RemoteClientEvent"), remote_events)
        if interval:
            continue
        metrics, payload_kind = _stream_metrics(lk.get("InboundStream"), lk.get("OutboundStream"))
        media = _media_type(label, payload_kind, metrics)
        media_types.add(media)
        sid = f"{label}:{inbound_dir}"
        if sid in streams:  # the same label twice: keep the first, as CQD would
            continue
        ice = _text(_find(desc.get("Connectivity"), "Ice")) or None
        streams[sid] = {
            "id": sid,
            "label": label,
            "media_type": media,
            "direction": inbound_dir,
            "ice": ice,
            "relay": None if ice is None else ice.upper() == "RELAY",
            "transport": _text(desc.get("Transport")),
            "metrics": metrics,
            "source_format": SOURCE,
        }
    local["device_ratios"] = local_events
    remote["device_ratios"] = remote_events
    local_ep = {k: v for k, v in local.items() if v is not None}
    remote_ep = {k: v for k, v in remote.items() if v is not None}
    caller, callee = (local_ep, remote_ep) if is_caller else (remote_ep, local_ep)

    start, end = _iso(_attr(dialog, "Start")), _iso(_attr(dialog, "End"))
    session = {
        "id": session_id(call_id, from_tag, to_tag),
        "sip_call_id": call_id.strip(),
        "from_tag": from_tag,
        "to_tag": to_tag,
        "start": start,
        "end": end,
        "media_types": sorted(media_types),
        "caller": caller,
        "callee": callee,
        "streams": [streams[k] for k in sorted(streams)],
        "has_qoe": not interval,
    }
    if conf_uri:
        key, call_type, organizer = "conf:" + conf_uri, "conference", None
    else:
        key = "sip:" + call_id.strip()
        call_type = "pstn" if "phone" in (caller.get("kind"), callee.get("kind")) else "peerToPeer"
        organizer = caller.get("uri")
    record_id = f"qoe:{call_id.strip()}:{from_tag or ''}:{to_tag or ''}:{local_role}"
    if interval:
        record_id += ":interval"
    # One validation of the whole nested fragment (pydantic-core builds every model in
    # one call), not one per endpoint, stream and metrics object.
    return Fragment.model_validate(
        {
            "fragment_id": frag_id,
            "record_id": record_id,
            "report_id": _attr(report, "SessionId"),
            "source_format": SOURCE,
            "key": key,
            "call_type": call_type,
            "conference_uri": conf_uri,
            "organizer": organizer,
            "start": start,
            "end": end,
            "sessions": [session],
        }
    )


def parse_qoe(data: Any, ctx: ParseContext) -> list[Fragment]:
    """Parse one QoE report into one fragment per session report it holds."""
    root, text = _load(data, ctx)
    base_id = content_hash(text)
    fragments: list[Fragment] = []
    for el in root:
        name = _local_name(el.tag)
        if name not in ("VQSessionReport", "VQSessionIntervalReport"):
            continue
        frag_id = base_id if not fragments else f"{base_id}-{len(fragments)}"
        fragments.append(_session_report(el, name == "VQSessionIntervalReport", frag_id))
    if not fragments:
        raise RecordRejected("QoE report holds no VQSessionReport")
    return fragments


def reference_clone(model: Any) -> Any:
    """`shared.merge._clone` before the fast path: a round trip through pydantic-core."""
    return type(model).model_validate(model.model_dump(exclude_unset=True))
