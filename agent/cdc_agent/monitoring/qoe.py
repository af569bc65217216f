"""QoEMetrics rows -> MS-QoE `VQReportEvent` reports, so the service needs no new parser.

The QoE server stores what both endpoints of a session reported in one set of rows:
one `Session` row per SIP dialog, one `MediaLine` row per media line with the caller's
and the callee's network and device columns side by side, and one stream row per
direction (`SenderIsCallerPAI`). `MediaLine.Caller` / `.Callee` say whose report arrived.
The agent turns that back into one report per endpoint that reported, built from that
endpoint's point of view, which is what the service's `ms-qoe-xml` parser reads:

- the endpoint's own identity, user agent, machine (Endpoint table), network and
  devices (its `Caller...`/`Callee...` MediaLine columns) and its client events
  (`AudioClientEvent` row with `FromCaller` = its role);
- the remote endpoint's URI and user agent (the Session row names both);
- per media line, an `InboundStream` from the stream the endpoint received (the row
  whose sender is the other endpoint: jitter, loss, MOS degradation, codec, frame
  rate...), and an `OutboundStream` with the round trip of the stream it sent (round trip
  is measured by the sender).

What the documented schema does not hold, and the rebuilt report therefore lacks: the
contact URIs, the remote endpoint's client events as seen by the reporter, the Wi-Fi
SSID / radio type / signal strength, and a second transport per media line. Values come
back with the precision of their column (e.g. `RatioConcealedSamplesAvg` decimal(5,2)).
Encodings the schema pages describe only as a tinyint are mapped as in `ICE_CODES`,
`LABELS`, `TRANSPORTS`; `AudioClientEvent` ratios are "percentage of session".
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.sql.expression import ColumnElement

from cdc_agent.monitoring import schema as s

LABELS = {0: "main-audio", 1: "main-video", 2: "panoramic-video", 3: "data"}
ICE_CODES = {0: "DIRECT", 1: "RELAY", 2: "HTTP-PROXY", 3: "FAILED"}  # MS-QoE iceStatusType
TRANSPORTS = {0: "UDP", 1: "TCP"}
NS = (
    'xmlns="ms-rtcp-metrics" xmlns:v2="ms-rtcp-metrics.v2" '
    'xmlns:v3="ms-rtcp-metrics.v3" xmlns:v4="ms-rtcp-metrics.v4"'
)
SIDES = ("Caller", "Callee")

Row = Mapping[str, Any]


# --- queries -------------------------------------------------------------------------


def _after(
    time_col: ColumnElement[Any], seq_col: ColumnElement[Any], after: tuple[datetime, int] | None
) -> ColumnElement[bool] | None:
    """Keyset paging: strictly after (time, seq), portable to every dialect."""
    if after is None:
        return None
    t, q = after
    return or_(time_col > t, and_(time_col == t, seq_col > q))


def session_page(
    since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> Select[Any]:
    """One page of sessions, oldest first, with the supporting tables resolved."""
    ses = s.qoe_session
    caller_uri, callee_uri = s.qoe_user.alias("caller_uri"), s.qoe_user.alias("callee_uri")
    caller_pai, callee_pai = s.qoe_user.alias("caller_pai"), s.qoe_user.alias("callee_pai")
    caller_ep, callee_ep = s.qoe_endpoint.alias("caller_ep"), s.qoe_endpoint.alias("callee_ep")
    caller_ua = s.qoe_user_agent.alias("caller_ua")
    callee_ua = s.qoe_user_agent.alias("callee_ua")
    dlg, conf = s.qoe_dialog, s.qoe_conference
    j = (
        ses.outerjoin(
            dlg,
            and_(
                dlg.c.ConferenceDateTime == ses.c.ConferenceDateTime,
                dlg.c.SessionSeq == ses.c.SessionSeq,
            ),
        )
        .outerjoin(conf, conf.c.ConferenceKey == ses.c.ConferenceKey)
        .outerjoin(caller_uri, caller_uri.c.UserKey == ses.c.CallerURI)
        .outerjoin(callee_uri, callee_uri.c.UserKey == ses.c.CalleeUri)
        .outerjoin(caller_pai, caller_pai.c.UserKey == ses.c.CallerPAI)
        .outerjoin(callee_pai, callee_pai.c.UserKey == ses.c.CalleePAI)
        .outerjoin(caller_ep, caller_ep.c.EndpointKey == ses.c.CallerEndpoint)
        .outerjoin(callee_ep, callee_ep.c.EndpointKey == ses.c.CalleeEndpoint)
        .outerjoin(caller_ua, caller_ua.c.UserAgentKey == ses.c.CallerUserAgent)
        .outerjoin(callee_ua, callee_ua.c.UserAgentKey == ses.c.CalleeUserAgent)
    )
    cols = [
        ses.c.ConferenceDateTime,
        ses.c.SessionSeq,
        ses.c.StartTime,
        ses.c.EndTime,
        ses.c.MediationServerBypassFlag,
        dlg.c.DialogID,
        conf.c.ConfURI,
        caller_uri.c.URI.label("CallerURI"),
        callee_uri.c.URI.label("CalleeURI"),
        caller_pai.c.URI.label("CallerPAI"),
        callee_pai.c.URI.label("CalleePAI"),
        caller_ua.c.UserAgent.label("CallerUserAgent"),
        callee_ua.c.UserAgent.label("CalleeUserAgent"),
    ]
    for side, ep in (("Caller", caller_ep), ("Callee", callee_ep)):
        cols += [
            ep.c.Name.label(f"{side}EndpointName"),
            ep.c.OS.label(f"{side}OS"),
            ep.c.CPUName.label(f"{side}CPUName"),
            ep.c.CPUNumberOfCores.label(f"{side}CPUNumberOfCores"),
            ep.c.VirtualizationFlag.label(f"{side}VirtualizationFlag"),
        ]
    stmt = select(*cols).select_from(j)
    where = [
        c
        for c in (
            ses.c.ConferenceDateTime >= since if since is not None else None,
            _after(ses.c.ConferenceDateTime, ses.c.SessionSeq, after),
        )
        if c is not None
    ]
    if where:
        stmt = stmt.where(*where)
    return stmt.order_by(ses.c.ConferenceDateTime, ses.c.SessionSeq).limit(limit)


def _in_range(table: Any, t0: datetime, t1: datetime) -> ColumnElement[bool]:
    return and_(table.c.ConferenceDateTime >= t0, table.c.ConferenceDateTime <= t1)


def media_lines(t0: datetime, t1: datetime) -> Select[Any]:
    """The media lines of the sessions between t0 and t1 (filtered to a page's keys by
    the caller: a tuple IN is not portable to SQL Server)."""
    ml = s.qoe_media_line
    j: Any = ml
    cols: list[Any] = [
        ml.c.ConferenceDateTime,
        ml.c.SessionSeq,
        ml.c.MediaLineLabel,
        ml.c.Transport,
        ml.c.Caller,
        ml.c.Callee,
        ml.c.MidCallReport,
    ]
    for side in SIDES:
        ip = s.qoe_ip_address.alias(f"{side.lower()}_ip")
        subnet = s.qoe_ip_address.alias(f"{side.lower()}_subnet")
        mac = s.qoe_mac_address.alias(f"{side.lower()}_mac")
        bssid = s.qoe_mac_address.alias(f"{side.lower()}_bssid")
        cap = s.qoe_device.alias(f"{side.lower()}_cap")
        ren = s.qoe_device.alias(f"{side.lower()}_ren")
        cap_drv = s.qoe_device_driver.alias(f"{side.lower()}_cap_drv")
        ren_drv = s.qoe_device_driver.alias(f"{side.lower()}_ren_drv")
        conn = s.qoe_network_connection_detail.alias(f"{side.lower()}_conn")
        c = ml.c
        j = (
            j.outerjoin(ip, ip.c.IPAddressKey == c[f"{side}IPAddr"])
            .outerjoin(subnet, subnet.c.IPAddressKey == c[f"{side}Subnet"])
            .outerjoin(mac, mac.c.MacAddressKey == c[f"{side}MacAddress"])
            .outerjoin(bssid, bssid.c.MacAddressKey == c[f"{side}Bssid"])
            .outerjoin(cap, cap.c.DeviceKey == c[f"{side}CaptureDev"])
            .outerjoin(ren, ren.c.DeviceKey == c[f"{side}RenderDev"])
            .outerjoin(cap_drv, cap_drv.c.DeviceDriverKey == c[f"{side}CaptureDevDriver"])
            .outerjoin(ren_drv, ren_drv.c.DeviceDriverKey == c[f"{side}RenderDevDriver"])
            .outerjoin(conn, conn.c.NetworkConnectionDetailKey == c[f"{side}NetworkConnectionType"])
        )
        cols += [
            ip.c.IPAddress.label(f"{side}IP"),
            subnet.c.IPAddress.label(f"{side}Subnet"),
            c[f"{side}Port"],
            c[f"{side}Inside"],
            c[f"{side}VPN"],
            c[f"{side}LinkSpeed"],
            c[f"{side}ConnectivityICE"],
            mac.c.MacAddress.label(f"{side}Mac"),
            bssid.c.MacAddress.label(f"{side}BSSID"),
            cap.c.DeviceName.label(f"{side}Capture"),
            ren.c.DeviceName.label(f"{side}Render"),
            cap_drv.c.DeviceDriver.label(f"{side}CaptureDriver"),
            ren_drv.c.DeviceDriver.label(f"{side}RenderDriver"),
            conn.c.NetworkConnectionDetail.label(f"{side}Connection"),
        ]
    return select(*cols).select_from(j).where(_in_range(ml, t0, t1))


_STREAM_KEY = ("ConferenceDateTime", "SessionSeq", "MediaLineLabel", "StreamID")
_DIRECTION = ("Inbound", "Outbound", "SenderIsCallerPAI")
_NETWORK = (
    "JitterInterArrival",
    "JitterInterArrivalMax",
    "PacketLossRate",
    "PacketLossRateMax",
    "RoundTrip",
    "RoundTripMax",
    "PacketUtilization",
    "RelativeOneWayAverage",
)
AUDIO_COLUMNS = (
    *_STREAM_KEY,
    *_NETWORK,
    *_DIRECTION,
    "DegradationAvg",
    "RatioConcealedSamplesAvg",
    "AudioPostFECPLR",
    "AudioPayloadDescription",
)
VIDEO_COLUMNS = (
    *_STREAM_KEY,
    *_NETWORK,
    *_DIRECTION,
    "VideoPayloadDescription",
    "VideoResolution",
    "InboundVideoFrameRateAvg",
    "VideoFrameLossRate",
    "VideoPostFECPLR",
)
SHARING_COLUMNS = (
    *_STREAM_KEY,
    *_NETWORK,
    *_DIRECTION,
    "SpoiledTilePercentTotal",
    "RDPTileProcessingLatencyAverage",
)
EVENT_COLUMNS = (
    "ConferenceDateTime",
    "SessionSeq",
    "MediaLineLabel",
    "FromCaller",
    *s.AUDIO_CLIENT_EVENT_RATIOS,
)


def _columns(table: Any, names: Iterable[str]) -> list[Any]:
    return [table.c[n] for n in names]


def audio_streams(t0: datetime, t1: datetime) -> Select[Any]:
    a, pd = s.qoe_audio_stream, s.qoe_payload_description
    return (
        select(*_columns(a, AUDIO_COLUMNS), pd.c.PayloadDescription.label("Codec"))
        .select_from(a.outerjoin(pd, pd.c.PayloadDescriptionKey == a.c.AudioPayloadDescription))
        .where(_in_range(a, t0, t1))
    )


def video_streams(t0: datetime, t1: datetime) -> Select[Any]:
    v, pd = s.qoe_video_stream, s.qoe_payload_description
    return (
        select(*_columns(v, VIDEO_COLUMNS), pd.c.PayloadDescription.label("Codec"))
        .select_from(v.outerjoin(pd, pd.c.PayloadDescriptionKey == v.c.VideoPayloadDescription))
        .where(_in_range(v, t0, t1))
    )


def app_sharing_streams(t0: datetime, t1: datetime) -> Select[Any]:
    a = s.qoe_app_sharing_stream
    return select(*_columns(a, SHARING_COLUMNS)).where(_in_range(a, t0, t1))


def client_events(t0: datetime, t1: datetime) -> Select[Any]:
    e = s.qoe_audio_client_event
    return select(*_columns(e, EVENT_COLUMNS)).where(_in_range(e, t0, t1))


def subnets() -> Select[Any]:
    """The network configuration's subnets (small: one row per configured subnet)."""
    return select(s.qoe_subnet.c.SubnetIP, s.qoe_subnet.c.SubnetMask)


def all_statements(since: datetime, after: tuple[datetime, int]) -> list[Select[Any]]:
    """Every statement this module runs (the dialect compilation test compiles each)."""
    return [
        session_page(since, after, 10),
        media_lines(since, since),
        audio_streams(since, since),
        video_streams(since, since),
        app_sharing_streams(since, since),
        client_events(since, since),
        subnets(),
    ]


# --- rows -> reports -----------------------------------------------------------------


@dataclass
class SessionRows:
    """One Session row and its children, as read."""

    session: Row
    lines: dict[int, Row] = field(default_factory=dict)
    # (label, sender is caller) -> stream row, per kind
    audio: dict[tuple[int, bool], Row] = field(default_factory=dict)
    video: dict[tuple[int, bool], Row] = field(default_factory=dict)
    sharing: dict[tuple[int, bool], Row] = field(default_factory=dict)
    events: dict[tuple[int, bool], Row] = field(default_factory=dict)

    @property
    def key(self) -> tuple[datetime, int]:
        return self.session["ConferenceDateTime"], int(self.session["SessionSeq"])


def group_children(
    sessions: Sequence[Row],
    lines: Iterable[Row],
    audio: Iterable[Row],
    video: Iterable[Row],
    sharing: Iterable[Row],
    events: Iterable[Row],
) -> list[SessionRows]:
    by_key = {(r["ConferenceDateTime"], int(r["SessionSeq"])): SessionRows(r) for r in sessions}

    def owner(r: Row) -> SessionRows | None:
        return by_key.get((r["ConferenceDateTime"], int(r["SessionSeq"])))

    for r in lines:
        o = owner(r)
        if o is not None:
            o.lines[int(r["MediaLineLabel"])] = r
    for rows, attr in ((audio, "audio"), (video, "video"), (sharing, "sharing")):
        for r in rows:
            o = owner(r)
            if o is not None:
                k = (int(r["MediaLineLabel"]), bool(r["SenderIsCallerPAI"]))
                getattr(o, attr).setdefault(k, r)
    for r in events:
        o = owner(r)
        if o is not None:
            o.events[(int(r["MediaLineLabel"]), bool(r["FromCaller"]))] = r
    return list(by_key.values())


def _fmt(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return format(value, ".10g")
    return str(value)


def _el(tag: str, value: Any) -> str:
    text = _fmt(value)
    return "" if text is None else f"<{tag}>{escape(text)}</{tag}>"


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # the Monitoring databases store UTC
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_dialog_id(dialog_id: str | None) -> tuple[str | None, str | None, str | None]:
    """`Call-ID;from-tag=F;to-tag=T` (also `Call-ID;F;T`, the LcsCDR form) -> parts."""
    if not dialog_id:
        return None, None, None
    parts = [p.strip() for p in dialog_id.split(";")]
    call_id = parts[0] or None
    tags: dict[str, str] = {}
    bare: list[str] = []
    for p in parts[1:]:
        name, eq, value = p.partition("=")
        if eq and name.lower() in ("from-tag", "to-tag"):
            tags[name.lower()] = value
        elif p:
            bare.append(p)
    from_tag = tags.get("from-tag") or (bare[0] if bare else None)
    to_tag = tags.get("to-tag") or (bare[1] if len(bare) > 1 else None)
    return call_id, from_tag or None, to_tag or None


def ipv4_of_int(value: int) -> str:
    """The Subnet table's integer form of an IPv4 address (SQL int: maybe negative)."""
    return str(ipaddress.IPv4Address(int(value) & 0xFFFFFFFF))


def subnet_masks(rows: Iterable[Row]) -> dict[str, int]:
    """Subnet address -> prefix length, from the network configuration's Subnet rows.
    SubnetMask is read as a prefix length (0-32) or, if larger, as a 32-bit mask."""
    out: dict[str, int] = {}
    for r in rows:
        ip, mask = r["SubnetIP"], r["SubnetMask"]
        if ip is None or mask is None:
            continue
        mask = int(mask)
        prefix = mask if 0 <= mask <= 32 else bin(mask & 0xFFFFFFFF).count("1")
        out[ipv4_of_int(ip)] = prefix
    return out


def subnet_mask(ip: str | None, subnet: str | None, masks: Mapping[str, int]) -> str | None:
    """The dotted mask of an endpoint's subnet: from the network configuration when the
    subnet is defined there, else the longest mask that maps the IP to that subnet."""
    if not ip or not subnet:
        return None
    try:
        addr = ipaddress.ip_address(ip)
        net_addr = ipaddress.ip_address(subnet)
    except ValueError:
        return None
    if addr.version != 4 or net_addr.version != 4:
        return None
    prefix = masks.get(subnet)
    if prefix is None:
        for p in range(32, -1, -1):
            if ipaddress.ip_network(f"{ip}/{p}", strict=False).network_address == net_addr:
                prefix = p
                break
    if prefix is None:
        return None
    return str(ipaddress.ip_network(f"0.0.0.0/{prefix}").netmask)


def _network(row: Row | None, rtt_row: Row | None) -> str:
    out = ""
    if row is not None:
        jitter = _el("InterArrival", row.get("JitterInterArrival")) + _el(
            "InterArrivalMax", row.get("JitterInterArrivalMax")
        )
        if jitter:
            out += f"<Jitter>{jitter}</Jitter>"
        loss = _el("LossRate", row.get("PacketLossRate")) + _el(
            "LossRateMax", row.get("PacketLossRateMax")
        )
        if loss:
            out += f"<PacketLoss>{loss}</PacketLoss>"
    delay = ""
    if rtt_row is not None:
        delay += _el("RoundTrip", rtt_row.get("RoundTrip")) + _el(
            "RoundTripMax", rtt_row.get("RoundTripMax")
        )
    if row is not None and row.get("RelativeOneWayAverage") is not None:
        delay += (
            f"<v3:RelativeOneWay>{_el('v3:Average', row['RelativeOneWayAverage'])}"
            "</v3:RelativeOneWay>"
        )
    if delay:
        out += f"<Delay>{delay}</Delay>"
    if row is not None:
        if row.get("PacketUtilization") is not None:
            out += f"<Utilization>{_el('Packets', row['PacketUtilization'])}</Utilization>"
        out += _el("v2:RatioConcealedSamplesAvg", row.get("RatioConcealedSamplesAvg"))
    return f"<Network>{out}</Network>" if out else ""


def _payload(kind: str, row: Row | None, inbound: bool) -> str:
    """The payload of a stream. An outbound stream carries only its type (the parser's
    fallback for the media type): its codec and rates are the receiver's word, which the
    other endpoint's report brings, so this report stays the same when that one lands."""
    if row is None:
        return ""
    if not inbound:
        tag = {"audio": "Audio", "video": "Video"}.get(kind, "v3:ApplicationSharing")
        return f"<Payload><{tag}/></Payload>"
    if kind == "audio":
        inner = _el("PayloadDescription", row.get("Codec"))
        inner += _el("v3:AudioPostFECPLR", row.get("AudioPostFECPLR"))
        return f"<Payload><Audio>{inner}</Audio></Payload>"
    if kind == "video":
        inner = _el("PayloadDescription", row.get("Codec")) + _el(
            "Resolution", (row.get("VideoResolution") or "").strip() or None
        )
        inner += _el("VideoFrameRateAvg", row.get("InboundVideoFrameRateAvg"))
        inner += _el("VideoFrameLossRate", row.get("VideoFrameLossRate"))
        inner += _el("v3:VideoPostFECPLR", row.get("VideoPostFECPLR"))
        return f"<Payload><Video>{inner}</Video></Payload>"
    inner = ""
    if row.get("SpoiledTilePercentTotal") is not None:
        inner += (
            f"<v3:SpoiledTilePercent>{_el('v3:Total', row['SpoiledTilePercentTotal'])}"
            "</v3:SpoiledTilePercent>"
        )
    if row.get("RDPTileProcessingLatencyAverage") is not None:
        inner += (
            "<v3:RDPTileProcessingLatency>"
            f"{_el('v3:Average', row['RDPTileProcessingLatencyAverage'])}"
            "</v3:RDPTileProcessingLatency>"
        )
    return f"<Payload><v3:ApplicationSharing>{inner}</v3:ApplicationSharing></Payload>"


def _quality(kind: str, row: Row | None) -> str:
    if kind != "audio" or row is None or row.get("DegradationAvg") is None:
        return ""
    return (
        f"<QualityEstimates><Audio><NetworkMOS>{_el('DegradationAvg', row['DegradationAvg'])}"
        "</NetworkMOS></Audio></QualityEstimates>"
    )


def _streams(rows: SessionRows, label: int, me_caller: bool) -> tuple[str, Row | None]:
    """(InboundStream + OutboundStream XML, the inbound row) of one media line."""
    for kind, table in (("audio", rows.audio), ("video", rows.video), ("appsharing", rows.sharing)):
        received = table.get((label, not me_caller))
        sent = table.get((label, me_caller))
        if received is None and sent is None:
            continue
        inbound = received if received is not None and received.get("Inbound") else None
        xml = ""
        if inbound is not None:
            xml += (
                f"<InboundStream>{_network(inbound, None)}{_payload(kind, inbound, True)}"
                f"{_quality(kind, inbound)}</InboundStream>"
            )
        if sent is not None:
            xml += (
                f"<OutboundStream>{_network(None, sent)}{_payload(kind, sent, False)}"
                "</OutboundStream>"
            )
        return xml, inbound
    return "", None


def _description(line: Row, side: str, masks: Mapping[str, int]) -> str:
    ice = (
        ICE_CODES.get(line[f"{side}ConnectivityICE"])
        if line.get(f"{side}ConnectivityICE") is not None
        else None
    )
    out = ""
    if ice:
        out += f"<Connectivity><Ice>{ice}</Ice></Connectivity>"
    transport = TRANSPORTS.get(line["Transport"]) if line.get("Transport") is not None else None
    out += _el("Transport", transport)
    nci = (
        _el("VPN", line.get(f"{side}VPN"))
        + _el("LinkSpeed", line.get(f"{side}LinkSpeed"))
        + _el("v2:BSSID", line.get(f"{side}BSSID"))
        + _el("v3:NetworkConnectionDetails", line.get(f"{side}Connection"))
    )
    if nci:
        out += f"<NetworkConnectivityInfo>{nci}</NetworkConnectivityInfo>"
    ip, subnet = line.get(f"{side}IP"), line.get(f"{side}Subnet")
    addr = (
        _el("IPAddr", ip)
        + _el("Port", line.get(f"{side}Port"))
        + _el("Inside", line.get(f"{side}Inside"))
        + _el("SubnetMask", subnet_mask(ip, subnet, masks))
        + _el("v2:MACAddr", line.get(f"{side}Mac"))
    )
    if addr:
        out += f"<LocalAddr>{addr}</LocalAddr>"
    for tag, dev, drv in (
        ("CaptureDev", "Capture", "CaptureDriver"),
        ("RenderDev", "Render", "RenderDriver"),
    ):
        inner = _el("Name", line.get(f"{side}{dev}")) + _el("Driver", line.get(f"{side}{drv}"))
        if inner:
            out += f"<{tag}>{inner}</{tag}>"
    return f"<Description>{out}</Description>"


def _client_events(row: Row | None) -> str:
    if row is None:
        return ""
    inner = ""
    for name in s.AUDIO_CLIENT_EVENT_RATIOS:
        value = row.get(name)
        if value is not None:
            inner += _el(f"v2:{name}", round(float(value) / 100.0, 6))
    return f"<v2:LocalClientEvent>{inner}</v2:LocalClientEvent>" if inner else ""


def reporters(rows: SessionRows) -> list[bool]:
    """Which endpoints' reports the rows hold: [True] caller, [False] callee, or both."""
    out = []
    for is_caller, col in ((True, "Caller"), (False, "Callee")):
        if any(line.get(col) for line in rows.lines.values()):
            out.append(is_caller)
    return out


def build_report(rows: SessionRows, me_caller: bool, masks: Mapping[str, int]) -> str | None:
    """The VQReportEvent of one endpoint; None if the rows cannot make one (no Call-ID
    or no media line with a known label)."""
    ses = rows.session
    call_id, from_tag, to_tag = parse_dialog_id(ses.get("DialogID"))
    if not call_id:
        return None
    me, other = ("Caller", "Callee") if me_caller else ("Callee", "Caller")
    conf = ses.get("ConfURI")
    is_conf = bool(conf) and conf != ses.get("DialogID")
    interval = any(line.get("MidCallReport") for line in rows.lines.values())
    attrs = f"CallId={quoteattr(call_id)}"
    if from_tag:
        attrs += f" FromTag={quoteattr(from_tag)}"
    if to_tag:
        attrs += f" ToTag={quoteattr(to_tag)}"
    for name, value in (("Start", _iso(ses.get("StartTime"))), ("End", _iso(ses.get("EndTime")))):
        if value:
            attrs += f" {name}={quoteattr(value)}"
    dialog = (
        _el("FromURI", ses.get(f"{me}URI"))
        + _el("ToURI", ses.get(f"{other}URI"))
        + _el("Caller", me_caller)
        + _el("LocalUserAgent", ses.get(f"{me}UserAgent"))
        + _el("RemoteUserAgent", ses.get(f"{other}UserAgent"))
        + _el("LocalPAI", ses.get(f"{me}PAI"))
        + _el("RemotePAI", ses.get(f"{other}PAI"))
        + (_el("ConfURI", conf) if is_conf else "")
        + _el("v2:MediationServerBypassFlag", ses.get("MediationServerBypassFlag"))
    )
    endpoint = ""
    if ses.get(f"{me}EndpointName"):
        endpoint = f"<Endpoint Name={quoteattr(ses[f'{me}EndpointName'])}"
        for attr, col in (
            ("v2:OS", "OS"),
            ("v2:CPUName", "CPUName"),
            ("v2:CPUNumberOfCores", "CPUNumberOfCores"),
            ("v2:VirtualizationFlag", "VirtualizationFlag"),
        ):
            text = _fmt(ses.get(f"{me}{col}"))
            if text is not None:
                endpoint += f" {attr}={quoteattr(text)}"
        endpoint += "/>"
    body = ""
    for label in sorted(rows.lines):
        label_name = LABELS.get(label)
        if label_name is None:
            continue  # a label the MS-QoE report cannot carry
        line = rows.lines[label]
        streams, _ = _streams(rows, label, me_caller)
        body += (
            f"<MediaLine Label={quoteattr(label_name)}>{_description(line, me, masks)}"
            f"{streams}{_client_events(rows.events.get((label, me_caller)))}</MediaLine>"
        )
    if not body:
        return None
    report = "VQSessionIntervalReport" if interval else "VQSessionReport"
    session_id = (
        call_id
        + (f";from-tag={from_tag}" if from_tag else "")
        + (f";to-tag={to_tag}" if to_tag else "")
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<VQReportEvent {NS}>'
        f"<{report} SessionId={quoteattr(session_id)}>{endpoint}"
        f"<DialogInfo {attrs}>{dialog}</DialogInfo>{body}</{report}></VQReportEvent>"
    )


def session_reports(rows: SessionRows, masks: Mapping[str, int]) -> list[tuple[str, str]]:
    """(suffix, XML) of each report a session's rows hold: `caller` / `callee`."""
    out = []
    for me_caller in reporters(rows):
        xml = build_report(rows, me_caller, masks)
        if xml is not None:
            out.append(("caller" if me_caller else "callee", xml))
    return out
