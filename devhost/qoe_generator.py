"""Realistic MS-QoE reports and matching `sfb-cdr-json` CDRs, for the demo and benchmarks.

Why a generator: no complete real report is public (qoe-xml.md), and the demo, the
property tests and the benchmark all need many calls that look like what a SfB pool
forwards: both endpoints' reports of every session, audio plus sometimes video, VBSS or
application sharing, wired and wifi clients inside and outside the network, some poor
(jitter, loss, round trip), some device failures, some dropped calls with no QoE, some
failed call setups. Everything is deterministic for a given `random.Random`.

Entry points:
- `generate_call(rng, tenant_id, users, when)` -> the records of one call
  (`{"kind": "qoe", "format": "ms-qoe-xml", "data": xml}` / `{"kind": "cdr", ...}`);
- `build_report(...)` -> one report's XML from explicit values (golden files use it).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

NS = (
    'xmlns="ms-rtcp-metrics" xmlns:v2="ms-rtcp-metrics.v2" '
    'xmlns:v3="ms-rtcp-metrics.v3" xmlns:v4="ms-rtcp-metrics.v4"'
)
SFB_UA = "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)"
LYNC_UA = "UCCAPI/15.0.4971.1000 OC/15.0.4971.1000 (Microsoft Lync)"
MCU_UA = "RTCC/7.0.0.0 AVMCU/7.0.2046.0"
MEDIATION_UA = "RTCC/7.0.0.0 MediationServer/7.0.2046.0"
POOL = "fe01.contoso.local"


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _f(value: float) -> str:
    return format(value, ".6g")


@dataclass
class Net:
    """The reporting endpoint's network, as its Description reports it."""

    ip: str = "10.10.1.20"
    mask: str = "255.255.255.0"
    inside: bool = True
    connection: str = "wired"  # wired | wifi
    vpn: bool = False
    link_speed: float = 1_000_000_000.0
    mac: str = "00-15-5D-01-02-03"
    bssid: str | None = None
    ssid: str | None = None
    remote_ip: str = "10.10.2.30"
    port: int = 50020
    ice: str = "DIRECT"
    transport: str = "UDP"
    capture: str = "Microphone (Jabra EVOLVE 40)"
    render: str = "Speakers (Jabra EVOLVE 40)"


@dataclass
class Line:
    """One media line. `payload` is audio | video | vbss | appsharing; `inbound` holds
    StreamMetrics-style names of what this endpoint received, `rtt` the round trip."""

    label: str = "main-audio"
    payload: str = "audio"
    inbound: dict[str, float] = field(default_factory=dict)
    outbound: dict[str, float] = field(default_factory=dict)
    rtt: float | None = 40.0
    local_events: dict[str, float] = field(default_factory=dict)
    remote_events: dict[str, float] = field(default_factory=dict)
    codec: str = "SILKWide"


def _opt(tag: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, float):
        value = _f(value)
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _network(m: dict[str, float], rtt: float | None) -> str:
    jitter = _opt("InterArrival", m.get("jitter_ms")) + _opt(
        "InterArrivalMax", m.get("jitter_max_ms")
    )
    loss = _opt("LossRate", m.get("packet_loss_rate")) + _opt(
        "LossRateMax", m.get("packet_loss_rate_max")
    )
    delay = _opt("RoundTrip", rtt) + _opt("RoundTripMax", None if rtt is None else rtt * 1.6)
    if m.get("relative_one_way_s") is not None:
        delay += (
            f"<v3:RelativeOneWay><v3:Average>{_f(m['relative_one_way_s'])}"
            f"</v3:Average><v3:Max>{_f(m['relative_one_way_s'] * 2)}</v3:Max>"
            f"</v3:RelativeOneWay>"
        )
    out = "<Network>"
    if jitter:
        out += f"<Jitter>{jitter}</Jitter>"
    if loss:
        out += f"<PacketLoss>{loss}</PacketLoss>"
    out += (
        "<BurstGapLoss><BurstDensity>0</BurstDensity><BurstDuration>0</BurstDuration>"
        "<GapDensity>0.0012</GapDensity><GapDuration>9860</GapDuration></BurstGapLoss>"
    )
    if delay:
        out += f"<Delay>{delay}</Delay>"
    if m.get("packet_utilization") is not None:
        out += (
            f"<Utilization><Packets>{int(m['packet_utilization'])}</Packets>"
            f"<BandwidthEst>5242880</BandwidthEst></Utilization>"
        )
    if m.get("concealed_ratio_avg") is not None:
        out += (
            f"<v2:RatioConcealedSamplesAvg>{_f(m['concealed_ratio_avg'])}"
            "</v2:RatioConcealedSamplesAvg><v2:RatioStretchedSamplesAvg>0.0102"
            "</v2:RatioStretchedSamplesAvg><v2:RatioCompressedSamplesAvg>0.0048"
            "</v2:RatioCompressedSamplesAvg>"
        )
    return out + "</Network>"


def _payload(line: Line, m: dict[str, float], inbound: bool) -> str:
    if line.payload == "audio":
        inner = (
            f"<PayloadType>103</PayloadType><PayloadDescription>{line.codec}"
            "</PayloadDescription><SampleRate>16000</SampleRate>"
            "<Signal><SignalLevel>-25</SignalLevel><NoiseLevel>-68</NoiseLevel>"
            "<EchoReturn>-11</EchoReturn></Signal><v2:AudioFECUsed>false</v2:AudioFECUsed>"
        )
        if m.get("post_fec_plr_audio") is not None:
            inner += f"<v3:AudioPostFECPLR>{_f(m['post_fec_plr_audio'])}</v3:AudioPostFECPLR>"
        return f"<Payload><Audio>{inner}</Audio></Payload>"
    if line.payload in ("video", "vbss"):
        resolution = "1920x1080" if line.payload == "vbss" else "1280x720"
        inner = (
            f"<PayloadType>122</PayloadType><PayloadDescription>{line.codec}"
            f"</PayloadDescription><Resolution>{resolution}"
            "</Resolution><VideoBitRateAvg>1245000</VideoBitRateAvg>"
            "<VideoBitRateMax>2100000</VideoBitRateMax>"
        )
        inner += _opt("VideoFrameRateAvg", m.get("video_frame_rate_avg"))
        if inbound and m.get("video_frame_loss_pct") is not None:
            inner += _opt("VideoFrameLossRate", m["video_frame_loss_pct"] / 100.0)
        if not inbound:
            inner += "<VideoPacketLossRate>0.0021</VideoPacketLossRate>"
        return f"<Payload><Video>{inner}</Video></Payload>"
    inner = ""
    if m.get("spoiled_tile_pct") is not None:
        inner += (
            f"<v3:SpoiledTilePercent><v3:Total>{_f(m['spoiled_tile_pct'])}</v3:Total>"
            "</v3:SpoiledTilePercent>"
        )
    if m.get("rdp_tile_latency_ms") is not None:
        inner += (
            f"<v3:RDPTileProcessingLatency><v3:Average>{_f(m['rdp_tile_latency_ms'])}"
            "</v3:Average></v3:RDPTileProcessingLatency>"
        )
    return (
        f"<Payload><v3:ApplicationSharing><v3:CaptureType>DesktopShare</v3:CaptureType>"
        f"{inner}</v3:ApplicationSharing></Payload>"
    )


def _stream(tag: str, line: Line, m: dict[str, float], rtt: float | None) -> str:
    quality = ""
    if tag == "InboundStream" and m.get("degradation_avg") is not None:
        d = m["degradation_avg"]
        quality = (
            f"<QualityEstimates><Audio><RecvListenMOS>{_f(4.1 - d)}</RecvListenMOS>"
            f"<NetworkMOS><OverallAvg>{_f(4.3 - d)}</OverallAvg>"
            f"<OverallMin>{_f(max(1.0, 3.9 - d))}</OverallMin>"
            f"<DegradationAvg>{_f(d)}</DegradationAvg>"
            f"<DegradationMax>{_f(d * 2)}</DegradationMax>"
            "<DegradationJitterAvg>0.21</DegradationJitterAvg>"
            "<DegradationPacketLossAvg>0.68</DegradationPacketLossAvg>"
            "</NetworkMOS></Audio></QualityEstimates>"
        )
    return f"<{tag}>{_network(m, rtt)}{_payload(line, m, tag == 'InboundStream')}{quality}</{tag}>"


def _events(tag: str, events: dict[str, float]) -> str:
    if not events:
        return ""
    inner = "".join(f"<v2:{k}>{_f(v)}</v2:{k}>" for k, v in events.items())
    return f"<v2:{tag}>{inner}</v2:{tag}>"


def _media_line(line: Line, net: Net) -> str:
    conn = net.connection
    nci = (
        f"<NetworkConnectivityInfo><NetworkConnection>{conn}</NetworkConnection>"
        f"<VPN>{'true' if net.vpn else 'false'}</VPN><LinkSpeed>{_f(net.link_speed)}"
        "</LinkSpeed>"
        + (f"<v2:BSSID>{net.bssid}</v2:BSSID>" if net.bssid else "")
        + "<v2:Separator/><v3:NetworkConnectionDetails>"
        + ("WiFi" if conn == "wifi" else "Ethernet")
        + "</v3:NetworkConnectionDetails></NetworkConnectivityInfo>"
    )
    wifi = ""
    if conn == "wifi" and net.ssid:
        wifi = (
            f"<v4:SSID>{net.ssid.encode().hex()}</v4:SSID><v4:WifiRadioType>802.11ac"
            "</v4:WifiRadioType><v4:WifiRSSI>-61</v4:WifiRSSI><v4:WifiChannel>44"
            "</v4:WifiChannel>"
        )
    desc = (
        f"<Description><Connectivity><Ice>{net.ice}</Ice><IceWarningFlags>0</IceWarningFlags>"
        f"</Connectivity><Security>SRTP</Security><Offerer>true</Offerer>"
        f"<Transport>{net.transport}</Transport>{nci}"
        f"<LocalAddr><IPAddr>{net.ip}</IPAddr><Port>{net.port}</Port>"
        f"<Inside>{'true' if net.inside else 'false'}</Inside>"
        f"<SubnetMask>{net.mask}</SubnetMask><v2:MACAddr>{net.mac}</v2:MACAddr></LocalAddr>"
        f"<RemoteAddr><IPAddr>{net.remote_ip}</IPAddr><Port>{net.port + 2}</Port></RemoteAddr>"
        f"<CaptureDev><Name>{escape(net.capture)}</Name><Driver>Jabra (10.0.19041.1)</Driver>"
        f"</CaptureDev><RenderDev><Name>{escape(net.render)}</Name>"
        f"<Driver>Jabra (10.0.19041.1)</Driver></RenderDev>{wifi}</Description>"
    )
    return (
        f'<MediaLine Label="{line.label}">{desc}'
        f"{_stream('InboundStream', line, line.inbound, None)}"
        f"{_stream('OutboundStream', line, line.outbound, line.rtt)}"
        f"{_events('LocalClientEvent', line.local_events)}"
        f"{_events('RemoteClientEvent', line.remote_events)}</MediaLine>"
    )


def build_report(
    *,
    call_id: str,
    from_tag: str,
    to_tag: str,
    caller: bool,
    from_uri: str,
    to_uri: str,
    start: datetime,
    end: datetime,
    lines: list[Line],
    net: Net,
    local_ua: str = SFB_UA,
    remote_ua: str = SFB_UA,
    conf_uri: str | None = None,
    machine: str = "CONTOSO-PC01",
    interval: bool = False,
) -> str:
    """One VQReportEvent as the reporting endpoint would send it."""
    report = "VQSessionIntervalReport" if interval else "VQSessionReport"
    dialog = (
        f'<DialogInfo CallId="{escape(call_id)}" FromTag="{from_tag}" ToTag="{to_tag}" '
        f'Start="{_iso(start)}" End="{_iso(end)}">'
        f"<FromURI>{escape(from_uri)}</FromURI><ToURI>{escape(to_uri)}</ToURI>"
        f"<Caller>{'true' if caller else 'false'}</Caller>"
        f"<LocalContactURI>{escape(from_uri)};opaque=user:epid:x{from_tag};gruu</LocalContactURI>"
        f"<RemoteContactURI>{escape(to_uri)};opaque=user:epid:y{to_tag};gruu</RemoteContactURI>"
        f"<LocalUserAgent>{escape(local_ua)}</LocalUserAgent>"
        f"<RemoteUserAgent>{escape(remote_ua)}</RemoteUserAgent>"
        + (f"<ConfURI>{escape(conf_uri)}</ConfURI>" if conf_uri else "")
        + "</DialogInfo>"
    )
    body = "".join(_media_line(line, net) for line in lines)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<VQReportEvent {NS}>'
        f'<{report} SessionId="{escape(call_id)};from-tag={from_tag};to-tag={to_tag}">'
        f'<Endpoint Name="{machine}" v2:OS="Windows 10" '
        f'v2:CPUName="Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz" v2:CPUNumberOfCores="8" '
        f'v2:VirtualizationFlag="0"/>{dialog}{body}</{report}></VQReportEvent>'
    )


# --- random calls --------------------------------------------------------------------


def _audio_metrics(
    rng: random.Random, duration_s: float, poor: bool, outside: bool
) -> tuple[dict[str, float], float]:
    rtt = rng.uniform(80, 220) if outside else rng.uniform(8, 70)
    m = {
        "jitter_ms": float(rng.randint(1, 12)),
        "jitter_max_ms": float(rng.randint(15, 40)),
        "packet_loss_rate": round(rng.uniform(0, 0.008), 4),
        "packet_loss_rate_max": round(rng.uniform(0.01, 0.05), 4),
        "packet_utilization": float(int(duration_s * 50)),
        "concealed_ratio_avg": round(rng.uniform(0.001, 0.02), 4),
        "degradation_avg": round(rng.uniform(0.05, 0.4), 2),
    }
    if poor:
        which = rng.choice(["jitter", "loss", "rtt", "degradation"])
        if which == "jitter":
            m["jitter_ms"] = float(rng.randint(35, 90))
            m["degradation_avg"] = round(rng.uniform(0.6, 1.6), 2)
        elif which == "loss":
            m["packet_loss_rate"] = round(rng.uniform(0.11, 0.3), 4)
            m["concealed_ratio_avg"] = round(rng.uniform(0.08, 0.2), 4)
        elif which == "rtt":
            rtt = rng.uniform(550, 1100)
        else:
            m["degradation_avg"] = round(rng.uniform(1.1, 2.4), 2)
    return m, round(rtt, 1)


def _video_metrics(rng: random.Random, poor: bool, vbss: bool) -> dict[str, float]:
    rate = rng.uniform(3, 12) if vbss else rng.uniform(14, 30)
    loss = rng.uniform(0, 3)
    if poor:
        loss = rng.uniform(51, 80)
    return {
        "video_frame_rate_avg": round(rate, 2),
        "video_frame_loss_pct": round(loss, 2),
        "jitter_ms": float(rng.randint(2, 15)),
        "packet_loss_rate": round(rng.uniform(0, 0.01), 4),
        "packet_utilization": float(rng.randint(5000, 90000)),
    }


def _appsharing_metrics(rng: random.Random, poor: bool) -> dict[str, float]:
    return {
        "spoiled_tile_pct": round(rng.uniform(40, 70) if poor else rng.uniform(0, 9), 2),
        "rdp_tile_latency_ms": round(rng.uniform(20, 180), 1),
        "relative_one_way_s": round(rng.uniform(0.05, 0.8), 3),
        "jitter_ms": float(rng.randint(1, 10)),
    }


def _net(rng: random.Random, outside: bool, n: int) -> Net:
    wifi = rng.random() < 0.4
    if outside:
        ip = f"192.168.{rng.randint(0, 5)}.{rng.randint(2, 250)}"
        mask = "255.255.255.0"
    else:
        ip = f"10.{rng.randint(10, 14)}.{rng.randint(1, 40)}.{rng.randint(2, 250)}"
        mask = rng.choice(["255.255.255.0", "255.255.254.0", "255.255.252.0"])
    mac = "-".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
    return Net(
        ip=ip,
        mask=mask,
        inside=not outside,
        connection="wifi" if wifi else "wired",
        vpn=outside and rng.random() < 0.3,
        link_speed=float(rng.choice([54e6, 300e6, 866.7e6]) if wifi else 1e9),
        mac=mac,
        bssid=("-".join(f"{rng.randint(0, 255):02x}" for _ in range(6)) if wifi else None),
        ssid=rng.choice(["CONTOSO-CORP", "CONTOSO-GUEST", "HomeNet"]) if wifi else None,
        remote_ip=f"10.{rng.randint(10, 14)}.{rng.randint(1, 40)}.{rng.randint(2, 250)}",
        port=50000 + 20 * n + rng.randint(0, 19) * 2,
        ice="RELAY" if outside else "DIRECT",
        transport="UDP" if rng.random() < 0.92 else "TCP",
        capture=rng.choice(
            [
                "Microphone (Jabra EVOLVE 40)",
                "Headset Microphone (Plantronics)",
                "Microphone Array (Realtek(R) Audio)",
            ]
        ),
        render=rng.choice(
            [
                "Speakers (Jabra EVOLVE 40)",
                "Headset Earphone (Plantronics)",
                "Speakers (Realtek(R) Audio)",
            ]
        ),
    )


def _cdr(
    *,
    seq: int,
    call_id: str,
    from_tag: str,
    to_tag: str | None,
    caller: str,
    callee: str,
    invite: datetime,
    duration_s: float,
    response: int,
    diagnostic: int | None,
    media: list[str],
    conf: str | None,
    caller_ua: str,
    callee_ua: str,
) -> dict[str, Any]:
    answered = invite + timedelta(seconds=2)
    return {
        "sessionIdTime": _iso(invite),
        "sessionIdSeq": seq,
        "callId": call_id,
        "fromTag": from_tag,
        "toTag": to_tag,
        "correlationId": None,
        "user1Uri": caller,
        "user2Uri": callee,
        "user1DisplayName": caller.split(":", 1)[1].split("@")[0].replace(".", " ").title(),
        "user2DisplayName": None,
        "inviteTime": _iso(invite),
        "responseTime": _iso(answered),
        "endTime": _iso(answered + timedelta(seconds=duration_s)) if response == 200 else None,
        "responseCode": response,
        "diagnosticId": diagnostic,
        "mediaTypes": media,
        "isConference": conf is not None,
        "conferenceUri": conf,
        "user1UserAgent": caller_ua,
        "user2UserAgent": callee_ua,
    }


def _lines(
    rng: random.Random,
    duration_s: float,
    poor: bool,
    outside: bool,
    device_fail: bool,
    extra: str | None,
) -> tuple[list[Line], list[str]]:
    audio, rtt = _audio_metrics(rng, duration_s, poor, outside)
    events = {
        "NetworkSendQualityEventRatio": 0.0,
        "NetworkReceiveQualityEventRatio": 0.0,
        "CPUInsufficientEventRatio": 0.0,
        "DeviceRenderNotFunctioningEventRatio": 0.0,
        "DeviceCaptureNotFunctioningEventRatio": 0.0,
        "DeviceGlitchesEventRatio": 0.0,
        "DeviceHalfDuplexAECEventRatio": 0.0,
        "DeviceEchoEventRatio": 0.0,
    }
    if poor:
        events["NetworkReceiveQualityEventRatio"] = round(rng.uniform(0.05, 0.4), 3)
    if device_fail:
        events[
            rng.choice(
                ["DeviceRenderNotFunctioningEventRatio", "DeviceCaptureNotFunctioningEventRatio"]
            )
        ] = round(rng.uniform(0.01, 0.9), 3)
    out_audio, _ = _audio_metrics(rng, duration_s, False, outside)
    lines = [
        Line(
            "main-audio",
            "audio",
            audio,
            out_audio,
            rtt,
            events,
            {k: 0.0 for k in events},
            rng.choice(["SILKWide", "SIREN", "G722", "RTAudio"]),
        )
    ]
    media = ["audio"]
    if extra == "video":
        lines.append(
            Line(
                "main-video",
                "video",
                _video_metrics(rng, poor, False),
                _video_metrics(rng, False, False),
                rtt,
                codec="H264",
            )
        )
        media.append("video")
    elif extra == "vbss":
        lines.append(
            Line(
                "data",
                "vbss",
                _video_metrics(rng, poor, True),
                _video_metrics(rng, False, True),
                rtt,
                codec="H264",
            )
        )
        media.append("data")
    elif extra == "appsharing":
        lines.append(
            Line(
                "data",
                "appsharing",
                _appsharing_metrics(rng, poor),
                {"jitter_ms": 3.0},
                rtt,
                codec="RDP",
            )
        )
        media.append("data")
    return lines, media


def _session(
    rng: random.Random,
    seq: int,
    caller: str,
    callee: str,
    start: datetime,
    duration_s: float,
    *,
    conf: str | None,
    caller_ua: str,
    callee_ua: str,
    qoe_sides: tuple[bool, bool],
    response: int = 200,
    diagnostic: int | None = None,
) -> list[dict[str, Any]]:
    call_id = f"{rng.getrandbits(64):016x}{rng.getrandbits(32):08x}"
    from_tag, to_tag = f"{rng.getrandbits(32):08x}", f"{rng.getrandbits(32):08x}"
    extra = rng.choices([None, "video", "vbss", "appsharing"], [60, 20, 10, 10])[0]
    outside = [rng.random() < 0.25, rng.random() < 0.25]
    poor = [rng.random() < 0.12, rng.random() < 0.12]
    device = [rng.random() < 0.04, rng.random() < 0.04]
    media = ["audio"] + ([] if extra is None else ["video" if extra == "video" else "data"])
    records: list[dict[str, Any]] = [
        {
            "kind": "cdr",
            "format": "sfb-cdr-json",
            "data": _cdr(
                seq=seq,
                call_id=call_id,
                from_tag=from_tag,
                to_tag=to_tag if response == 200 else None,
                caller=caller,
                callee=callee,
                invite=start,
                duration_s=duration_s,
                response=response,
                diagnostic=diagnostic,
                media=media,
                conf=conf,
                caller_ua=caller_ua,
                callee_ua=callee_ua,
            ),
        }
    ]
    if response != 200:
        return records
    t0, t1 = start + timedelta(seconds=2), start + timedelta(seconds=2 + duration_s)
    for side, is_caller in enumerate((True, False)):
        if not qoe_sides[side]:
            continue
        lines, _ = _lines(rng, duration_s, poor[side], outside[side], device[side], extra)
        me, other = (caller, callee) if is_caller else (callee, caller)
        ua, rua = (caller_ua, callee_ua) if is_caller else (callee_ua, caller_ua)
        xml = build_report(
            call_id=call_id,
            from_tag=from_tag,
            to_tag=to_tag,
            caller=is_caller,
            from_uri=me,
            to_uri=other,
            start=t0,
            end=t1,
            lines=lines,
            net=_net(rng, outside[side], side),
            local_ua=ua,
            remote_ua=rua,
            conf_uri=conf,
            machine=f"CONTOSO-{rng.randint(100, 999)}",
        )
        records.append({"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
    return records


def generate_call(
    rng: random.Random,
    tenant_id: str,
    users: list[str],
    when: datetime,
    *,
    scenario: str | None = None,
) -> list[dict[str, Any]]:
    """The records (CDRs + QoE reports) of one random call, in a shuffled arrival order.

    `scenario` forces one of p2p | conference | pstn | setupFailure | dropped;
    `tenant_id` is accepted for symmetry with the demo (records do not carry it).
    """
    del tenant_id
    if len(users) < 2:
        raise ValueError("need at least two users")
    scenario = (
        scenario
        or rng.choices(
            ["p2p", "conference", "pstn", "setupFailure", "dropped"], [50, 20, 15, 8, 7]
        )[0]
    )
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    duration = float(rng.randint(30, 3600))
    records: list[dict[str, Any]] = []
    if scenario in ("p2p", "setupFailure", "dropped"):
        a, b = rng.sample(users, 2)
        kw: dict[str, Any] = {
            "conf": None,
            "caller_ua": SFB_UA,
            "callee_ua": rng.choice([SFB_UA, LYNC_UA]),
        }
        if scenario == "p2p":
            sides = rng.choices([(True, True), (True, False), (False, True)], [85, 8, 7])[0]
            records = _session(
                rng, rng.randint(0, 999), a, b, when, duration, qoe_sides=sides, **kw
            )
        elif scenario == "dropped":
            records = _session(
                rng, rng.randint(0, 999), a, b, when, duration, qoe_sides=(False, False), **kw
            )
        else:
            records = _session(
                rng,
                rng.randint(0, 999),
                a,
                b,
                when,
                duration,
                qoe_sides=(False, False),
                response=rng.choice([480, 487, 500]),
                diagnostic=rng.randint(20, 29),
                **kw,
            )
    elif scenario == "pstn":
        a = rng.choice(users)
        number = f"tel:+1425{rng.randint(1000000, 9999999)}"
        caller, callee = (a, number) if rng.random() < 0.6 else (number, a)
        records = _session(
            rng,
            rng.randint(0, 999),
            caller,
            callee,
            when,
            duration,
            conf=None,
            caller_ua=SFB_UA if caller == a else MEDIATION_UA,
            callee_ua=SFB_UA if callee == a else MEDIATION_UA,
            qoe_sides=(True, True),
        )
    else:
        organizer = rng.choice(users)
        conf_id = uuid.UUID(int=rng.getrandbits(128)).hex[:8].upper()
        focus = f"{organizer};gruu;opaque=app:conf:focus:id:{conf_id}"
        mcu = f"{organizer};gruu;opaque=app:conf:audio-video:id:{conf_id}"
        members = rng.sample(users, min(len(users), rng.randint(2, 6)))
        for i, member in enumerate(members):
            join = when + timedelta(seconds=rng.randint(0, 120))
            records += _session(
                rng,
                rng.randint(0, 999),
                member,
                mcu,
                join,
                duration - i * 5,
                conf=focus,
                caller_ua=SFB_UA,
                callee_ua=MCU_UA,
                qoe_sides=(True, rng.random() < 0.9),
            )
    rng.shuffle(records)
    return records


def demo_users(n: int = 12, domain: str = "contoso.com") -> list[str]:
    names = [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "grace",
        "heidi",
        "ivan",
        "judy",
        "mallory",
        "niaj",
        "olivia",
        "peggy",
        "rupert",
        "sybil",
        "trent",
        "victor",
        "walter",
        "yves",
    ]
    return [f"sip:{names[i % len(names)]}{'' if i < len(names) else i}@{domain}" for i in range(n)]


if __name__ == "__main__":
    import json

    recs = generate_call(random.Random(1), "tenant", demo_users(), datetime.now(timezone.utc))
    print(json.dumps(recs, indent=2)[:4000])
