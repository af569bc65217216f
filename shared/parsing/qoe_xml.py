"""`qoe` / `ms-qoe-xml`: one MS-QoE `VQReportEvent`, as a SfB client submits it.

Element paths follow [MS-QoE] section 2.2 (tree and units in docs/reference/qoe-xml.md). Matching
is on namespace + local name (`ms-rtcp-metrics`, `.v2` ... `.vN`), never on prefix text:
a child of a v2/v3 type may carry either namespace, so any namespace of the family is
accepted for every name.

Each endpoint reports its own view of the session, so a report contributes:
- the reporting endpoint's own details (network, devices, client events): the caller
  when `DialogInfo/Caller` is true, else the callee;
- for the remote side only identity (URI, user agent) and the remote client events, so
  that two reports of a session never disagree on a field;
- one stream per media line: the `InboundStream` (the stream towards the reporter, the
  receiving side that CQD classifies), with the round trip of the same media line's
  `OutboundStream` (round trip is reported on outbound streams only).
Both endpoints' reports of a session then fold into one session with both directions.

Assumptions recorded here because the spec text is terse (docs/reference/qoe-xml.md marks them
*inferred*): `FromURI`/`ToURI` are the reporter's own / the remote URI (MS-QoE: "the SIP
From header that the reporting endpoint uses"), while `DialogInfo@FromTag/@ToTag` are in
dialog orientation (the QoE server joins both reports of a dialog on them, as we join
the CDR). A `data` media line carrying `Payload/Video` is video-based screen sharing.
Mid-call `VQSessionIntervalReport`s link the call but contribute no metrics, so a
partial interval can never override the final report's figures.

Parsing is defensive: lxml without DTD loading, entity resolution or network access, and
any DOCTYPE / ENTITY declaration rejects the report outright (XXE, billion laughs,
quadratic blow-up), as does a report over `ctx.max_qoe_bytes` or an unknown
`MediaLine@Label`. A missing or unparsable metric is None, never 0.

Why it reads the tree the way it does (the hot path of every QoE report the processor
stores): after lxml's parse, what a report costs is Python's work per element, so each
media line is read in one pass (`_grab`) down only the branches `_LINE_READ` names, one
dict look-up per child keyed by its tag (`_Spec`), keeping the raw text of the nodes it
wants; the numbers, flags and strings are typed as they are read, so the fragment's
models are built without a second validation (`shared.models.trusted.build`). Measured
and slower, so not used: one lxml XSLT stylesheet for the whole report (libxslt's
`local-name()` steps, needed because any namespace of the family is accepted: three
to four times the parse itself), compiled XPath `concat()` of the fields (slower per media line
than this walk, even with exact-namespace steps), custom element classes (lxml's class
look-up makes every element proxy slower to create) and the stdlib's expat tree (its
parse alone is slower than lxml's parse plus this walk). The tree walk this replaced is
kept in tests/qoe_reference.py; tests/unit/test_qoe_fast_path.py holds the two to the
same fragments and the same rejections.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from lxml import etree

from shared.identity import content_hash, normalise_uri, session_id, uri_kind
from shared.models.call import Endpoint, Fragment, Session, Stream, StreamMetrics
from shared.models.trusted import build
from shared.parsing import ParseContext, RecordRejected, register

SOURCE = "ms-qoe-xml"
NS_BASE = "ms-rtcp-metrics"
LABELS = frozenset(
    {"main-audio", "main-video", "panoramic-video", "data"}
    | {f"main-video{i}" for i in range(1, 7)}
)
_VIDEO_LABELS = LABELS - {"main-audio", "data"}
_DECL = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_TAG_CACHE: dict[str, str | None] = {}
_TAG_CACHE_MAX = 4096
_SPEC_TAGS_MAX = 256  # per level of a `_Spec`: a level sees a few dozen tags at most
_UNSEEN: Any = object()
# The same few thousand users' URIs recur in every report: normalise each once (both
# functions are pure; bounded like the tag cache).
_normalise_uri = functools.lru_cache(maxsize=4096)(normalise_uri)
_uri_kind = functools.lru_cache(maxsize=4096)(uri_kind)
_local = threading.local()

El = Any  # an lxml element; lxml ships no usable type stubs


def _parser() -> etree.XMLParser:
    """One parser per thread: lxml parsers are not thread-safe, and building one per
    report would cost more than parsing a small report."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            recover=False,
        )
        _local.parser = parser
    return parser


def _local_name(tag: Any) -> str | None:
    """Local name of a tag in the ms-rtcp-metrics family, else None (cached: the same
    few dozen tags recur in every report)."""
    if not isinstance(tag, str):
        return None
    name = _TAG_CACHE.get(tag)
    if name is not None or tag in _TAG_CACHE:
        return name
    result: str | None = None
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        if ns == NS_BASE or ns.startswith(NS_BASE + ".v"):
            result = local
    if len(_TAG_CACHE) < _TAG_CACHE_MAX:
        _TAG_CACHE[tag] = result
    return result


def _kids(el: El | None) -> dict[str, El]:
    """First child per local name: one pass over the children, then dict look-ups."""
    out: dict[str, El] = {}
    if el is None:
        return out
    cached = _TAG_CACHE.get
    for child in el:
        tag = child.tag
        name = cached(tag, _UNSEEN)  # inlined `_local_name`: this loop is the hot path
        if name is _UNSEEN:
            name = _local_name(tag)
        if name is not None and name not in out:
            out[name] = child
    return out


def _find(el: El | None, *path: str) -> El | None:
    for step in path:
        if el is None:
            return None
        found = None
        for child in el:
            if _local_name(child.tag) == step:
                found = child
                break
        el = found
    return el


def _text(el: El | None) -> str | None:
    """An element's text, stripped; None when absent or blank (`_text_t` of its text)."""
    return None if el is None else _text_t(el.text)


def _num(el: El | None) -> float | None:
    """An element's finite number, else None (`_num_t` of its text)."""
    return None if el is None else _num_t(el.text)


def _attr(el: El, name: str) -> str | None:
    value = el.get(name)
    if value is None:
        for key, val in el.attrib.items():
            if key.endswith("}" + name):
                value = val
                break
    if value is None:
        return None
    value = value.strip()
    return value or None


_UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\Z")


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    if _UTC_Z.match(value):  # already canonical UTC: the common case, no datetime round trip
        return value
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"\.".join([_OCTET] * 4) + r"\Z")  # what `ipaddress` accepts, no more
_NETMASKS = {  # the 33 dotted netmasks -> their integer
    ".".join(str((bits >> s) & 255) for s in (24, 16, 8, 0)): bits
    for bits in ((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33))
}


def _subnet(ip: str | None, mask: str | None) -> str | None:
    """The network address, as `ipaddress.ip_network(ip/mask, strict=False)` gives it;
    a dotted IPv4 address and netmask (what SfB clients send) without building the
    objects, anything else (IPv6, a prefix length, a host mask) through `ipaddress`."""
    if not ip or not mask:
        return None
    match = _IPV4.match(ip)
    bits = _NETMASKS.get(mask)
    if match is not None and bits is not None:
        a, b, c, d = (int(o) for o in match.groups())
        net = ((a << 24) | (b << 16) | (c << 8) | d) & bits
        return f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}"
    try:
        return str(ipaddress.ip_network(f"{ip}/{mask}", strict=False).network_address)
    except ValueError:
        return None


def _ssid(raw: str | None) -> str | None:
    """v4:SSID is hex-encoded; show the name when it decodes, else keep the raw value."""
    if not raw:
        return None
    try:
        return bytes.fromhex(raw).decode("utf-8")
    except ValueError:
        return raw


def _load(data: Any, ctx: ParseContext) -> tuple[El, bytes]:
    """Size and declaration checks, then a safe parse. Returns (root, the UTF-8 bytes
    parsed: what the content hash is taken of, the same as the hash of the text since a
    lone surrogate never parses)."""
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
    return root, raw


class _Keep(str):
    """A `_grab` spec entry that keeps the element itself, for the parts read with their
    own rules (payload, client events)."""


# What `_grab` reads, as the tree of local names under one MediaLine: a string entry is
# the key its element's text is kept under, a `_Keep` keeps the element, a dict is
# walked (its "" entry, when present, also keeps that element under that key). Only the
# first child of a name is ever read, as `_kids` and `_find` read it.
_LINE_READ: dict[str, Any] = {
    "Description": {
        "NetworkConnectivityInfo": {
            "NetworkConnection": "conn",
            "NetworkConnectionDetails": "conn_details",
            "VPN": "vpn",
            "LinkSpeed": "link_speed",
            "BSSID": "bssid",
        },
        "LocalAddr": {
            "IPAddr": "ip",
            "SubnetMask": "mask",
            "Port": "port",
            "Inside": "inside",
            "MACAddr": "mac",
        },
        "CaptureDev": {"Name": "capture_device", "Driver": "capture_driver"},
        "RenderDev": {"Name": "render_device", "Driver": "render_driver"},
        "SSID": "ssid",
        "WifiRadioType": "wifi_radio_type",
        "WifiRSSI": "wifi_rssi",
        "WifiChannel": "wifi_channel",
        "Connectivity": {"Ice": "ice"},
        "Transport": "transport",
    },
    "LocalClientEvent": _Keep("local_events"),
    "RemoteClientEvent": _Keep("remote_events"),
    "InboundStream": {
        "Network": {
            "Jitter": {"InterArrival": "jitter", "InterArrivalMax": "jitter_max"},
            "PacketLoss": {"LossRate": "loss", "LossRateMax": "loss_max"},
            "Delay": {
                "RoundTrip": "in_rtt",
                "RoundTripMax": "in_rtt_max",
                "RelativeOneWay": {"Average": "one_way"},
            },
            "Utilization": {"Packets": "packets"},
            "RatioConcealedSamplesAvg": "concealed",
        },
        "Payload": _Keep("in_payload"),
        "QualityEstimates": {"Audio": {"NetworkMOS": {"DegradationAvg": "degradation"}}},
    },
    "OutboundStream": {
        "": "outbound",
        "Network": {"Delay": {"RoundTrip": "out_rtt", "RoundTripMax": "out_rtt_max"}},
        "Payload": _Keep("out_payload"),
    },
}
_DIALOG_READ: dict[str, Any] = {
    name: name
    for name in ("Caller", "FromURI", "ToURI", "ConfURI", "LocalUserAgent", "RemoteUserAgent")
}


class _Spec(dict[Any, Any]):
    """One level of a `_grab` walk, keyed by tag: what to read of a child with that tag
    (None: nothing). Filled on first sight of each tag from the local names it reads,
    so that the walk costs one look-up per child whatever namespace of the family the
    child is in."""

    def __init__(self, names: dict[str, Any]) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, tag: Any) -> Any:
        want = self.names.get(_local_name(tag))  # type: ignore[arg-type]
        if len(self) < _SPEC_TAGS_MAX:
            self[tag] = want
        return want


def _compile(read: dict[str, Any], path: str = "") -> _Spec:
    """`_LINE_READ` as `_grab` walks it: local name -> (key, None) for a text, (key,
    False) to keep an element, (key, its children's `_Spec`) to keep and walk it."""
    names: dict[str, Any] = {}
    for name, want in read.items():
        if name == "":
            continue
        if isinstance(want, _Keep):
            names[name] = (str(want), False)
        elif isinstance(want, str):
            names[name] = (want, None)
        else:
            names[name] = (want.get("") or f"{path}/{name}", _compile(want, f"{path}/{name}"))
    return _Spec(names)


_LINE_SPEC = _compile(_LINE_READ)
_DIALOG_SPEC = _compile(_DIALOG_READ)


def _grab(el: El, spec: _Spec, out: dict[str, Any]) -> None:
    """One pass over `el`'s children, down only the branches `spec` names: the raw text
    (or the element) of each wanted node into `out`. Same reading as `_kids` / `_find`
    (first child per local name of the ms-rtcp-metrics family, `el.text` unstripped),
    without building a dict of every child of every element on the way."""
    for child in el:
        want = spec[child.tag]
        if want is None:
            continue
        key, sub = want
        if key in out:  # a later child of the same name: only the first is read
            continue
        if sub is None:
            out[key] = child.text
        else:
            out[key] = child
            if sub is not False:
                _grab(child, sub, out)


def _num_t(text: str | None) -> float | None:
    """A finite number read from an element's text, else None (never 0 for a missing or
    unparsable value)."""
    if not text:
        return None
    try:
        value = float(text)  # float() itself ignores surrounding whitespace
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _text_t(text: str | None) -> str | None:
    """An element's text, stripped; None when absent or blank."""
    if text is None:
        return None
    return text.strip() or None


def _bool_t(text: str | None) -> bool | None:
    """A flag (`Caller`, `VPN`, `Inside`): true / false or 1 / 0, any case, around
    spaces; anything else is None."""
    if text is None:
        return None
    lower = text.strip().lower()
    if lower in ("true", "1"):
        return True
    if lower in ("false", "0"):
        return False
    return None


def _stream_metrics(g: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Metrics of the inbound stream (+ the media line's round trip from the outbound
    stream), and which payload the stream carried; `g` is what `_grab` read of the
    media line."""
    m: dict[str, Any] = {
        "jitter_ms": _num_t(g.get("jitter")),
        "jitter_max_ms": _num_t(g.get("jitter_max")),
        "packet_loss_rate": _num_t(g.get("loss")),
        "packet_loss_rate_max": _num_t(g.get("loss_max")),
        "round_trip_ms": _num_t(g.get("out_rtt")),
        "round_trip_max_ms": _num_t(g.get("out_rtt_max")),
        "packet_utilization": _num_t(g.get("packets")),
        "concealed_ratio_avg": _num_t(g.get("concealed")),
        "relative_one_way_s": _num_t(g.get("one_way")),
        "degradation_avg": _num_t(g.get("degradation")),
    }
    if m["round_trip_ms"] is None:
        m["round_trip_ms"] = _num_t(g.get("in_rtt"))
        m["round_trip_max_ms"] = _num_t(g.get("in_rtt_max"))
    payload = _kids(g.get("in_payload"))
    if not payload and g.get("outbound") is not None:
        payload = _kids(g.get("out_payload"))
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


def _media_type(label: str, payload_kind: str | None, metrics: dict[str, Any]) -> str:
    if payload_kind == "audio":
        return "audio"
    if payload_kind == "video":
        return "vbss" if label == "data" else "video"
    if payload_kind == "appsharing":
        return "appsharing"
    if label == "main-audio":
        return "audio"
    if label in _VIDEO_LABELS:
        return "video"
    if (
        "spoiled_tile_pct" in metrics
        or "rdp_tile_latency_ms" in metrics
        or "relative_one_way_s" in metrics
    ):
        return "appsharing"
    return "data"


def _port(text: str | None) -> int | None:
    port = _num_t(text)
    return int(port) if port is not None and port.is_integer() and 0 <= port <= 65535 else None


def _channel(text: str | None) -> int | None:
    channel = _num_t(text)
    if channel is not None and channel.is_integer() and 0 < channel < 256:
        return int(channel)
    return None


def _ssid_t(text: str | None) -> str | None:
    return _ssid(_text_t(text))


# The reporter's details a media line gives: (Endpoint field, `_grab` key, reading).
_LOCAL_FIELDS: tuple[tuple[str, str, Callable[[str | None], Any]], ...] = (
    ("vpn", "vpn", _bool_t),
    ("link_speed_bps", "link_speed", _num_t),
    ("bssid", "bssid", _text_t),
    ("ip_address", "ip", _text_t),
    ("port", "port", _port),
    ("inside", "inside", _bool_t),
    ("subnet_mask", "mask", _text_t),
    ("mac_address", "mac", _text_t),
    ("capture_device", "capture_device", _text_t),
    ("capture_driver", "capture_driver", _text_t),
    ("render_device", "render_device", _text_t),
    ("render_driver", "render_driver", _text_t),
    ("ssid", "ssid", _ssid_t),
    ("wifi_radio_type", "wifi_radio_type", _text_t),
    ("wifi_signal_strength", "wifi_rssi", _num_t),
    ("wifi_channel", "wifi_channel", _channel),
)


def _fill_local(ep: dict[str, Any], g: dict[str, Any]) -> None:
    """Network and device details of the reporting endpoint; first media line wins
    (the audio line is visited first). `g` is what `_grab` read of the media line."""
    if ep.get("connection_type") is None:
        conn = (_text_t(g.get("conn")) or "").lower()
        details = (_text_t(g.get("conn_details")) or "").lower()
        if conn in ("wired", "wifi"):
            ep["connection_type"] = conn
        elif details in ("ethernet", "wired"):
            ep["connection_type"] = "wired"
        elif details == "wifi":
            ep["connection_type"] = "wifi"
        elif conn or details:
            ep["connection_type"] = "other"
    for name, key, read in _LOCAL_FIELDS:
        if ep.get(name) is None:
            value = read(g.get(key))
            if value is not None:
                ep[name] = value
    if ep.get("subnet") is None:
        subnet = _subnet(_text_t(g.get("ip")), _text_t(g.get("mask")))
        if subnet is not None:
            ep["subnet"] = subnet


def _events(el: El | None, into: dict[str, float]) -> None:
    """Client event ratios by local name; the worst value over the media lines."""
    if el is None:
        return
    for child in el:
        name = _local_name(child.tag)
        if name is None:
            continue
        value = _num_t(child.text)
        if value is not None and value > into.get(name, -1.0):
            into[name] = value


def _parts(report: El) -> tuple[El | None, El | None, list[El]]:
    """One pass over a session report: its first DialogInfo and Endpoint, every
    MediaLine."""
    dialog = endpoint = None
    lines = []
    for el in report:
        name = _local_name(el.tag)
        if name == "MediaLine":
            lines.append(el)
        elif name == "DialogInfo":
            if dialog is None:
                dialog = el
        elif name == "Endpoint" and endpoint is None:
            endpoint = el
    return dialog, endpoint, lines


def _labelled(lines: list[El]) -> list[tuple[bool, str, El]]:
    """The media lines by label, audio first; an unknown label rejects the report."""
    if not lines:
        raise RecordRejected("QoE report has no MediaLine")
    labelled = []
    for line in lines:
        label = (line.get("Label") or "").strip()
        if label not in LABELS:
            raise RecordRejected(f"QoE report has an unknown MediaLine@Label {label[:64]!r}")
        labelled.append((label != "main-audio", label, line))
    labelled.sort(key=lambda t: (t[0], t[1]))
    return labelled


def _media_lines(
    labelled: list[tuple[bool, str, El]], local: dict[str, Any], inbound_dir: str, interval: bool
) -> tuple[list[Stream], list[str], dict[str, float], dict[str, float]]:
    """The media lines in their order (audio first): the reporter's details into `local`,
    the streams by id, the media types, and the local and remote client events."""
    local_events: dict[str, float] = {}
    remote_events: dict[str, float] = {}
    streams: dict[str, Stream] = {}
    media_types: set[str] = set()
    for _, label, line in labelled:
        g: dict[str, Any] = {}
        _grab(line, _LINE_SPEC, g)
        _fill_local(local, g)
        _events(g.get("local_events"), local_events)
        _events(g.get("remote_events"), remote_events)
        if interval:
            continue
        metrics, payload_kind = _stream_metrics(g)
        media = _media_type(label, payload_kind, metrics)
        media_types.add(media)
        sid = f"{label}:{inbound_dir}"
        if sid in streams:  # the same label twice: keep the first, as CQD would
            continue
        ice = _text_t(g.get("ice")) or None
        streams[sid] = build(
            Stream,
            {
                "id": sid,
                "label": label,
                "media_type": media,
                "direction": inbound_dir,
                "ice": ice,
                "relay": None if ice is None else ice.upper() == "RELAY",
                "transport": _text_t(g.get("transport")),
                "metrics": build(StreamMetrics, metrics),
                "source_format": SOURCE,
            },
        )
    return [streams[k] for k in sorted(streams)], sorted(media_types), local_events, remote_events


def _session_report(report: El, interval: bool, frag_id: str) -> Fragment:
    """One session report -> one fragment. The values are typed as they are read (a
    number is a finite float or None, a flag a bool, an enumeration one of its values),
    so the models are built without a second validation (`shared.models.trusted`)."""
    dialog, endpoint, lines = _parts(report)
    if dialog is None:
        raise RecordRejected("QoE report has no DialogInfo")
    call_id = _attr(dialog, "CallId")
    if not call_id:
        raise RecordRejected("QoE report DialogInfo@CallId is missing")
    from_tag, to_tag = _attr(dialog, "FromTag"), _attr(dialog, "ToTag")
    dk: dict[str, Any] = {}
    _grab(dialog, _DIALOG_SPEC, dk)
    is_caller = _bool_t(dk.get("Caller"))
    if is_caller is None:
        raise RecordRejected("QoE report DialogInfo/Caller is missing or not a boolean")
    local_role, remote_role = ("caller", "callee") if is_caller else ("callee", "caller")
    local_uri = _normalise_uri(_text_t(dk.get("FromURI")))
    remote_uri = _normalise_uri(_text_t(dk.get("ToURI")))
    conf_uri = _normalise_uri(_text_t(dk.get("ConfURI")))

    local: dict[str, Any] = {
        "role": local_role,
        "uri": local_uri,
        "user_agent": _text_t(dk.get("LocalUserAgent")),
    }
    remote: dict[str, Any] = {
        "role": remote_role,
        "uri": remote_uri,
        "user_agent": _text_t(dk.get("RemoteUserAgent")),
    }
    for ep, uri in ((local, local_uri), (remote, remote_uri)):
        if uri:
            ep["kind"] = _uri_kind(uri)
    if endpoint is not None:
        local["machine_name"] = _attr(endpoint, "Name")
        local["os"] = _attr(endpoint, "OS")
        local["cpu"] = _attr(endpoint, "CPUName")

    labelled = _labelled(lines)

    inbound_dir = "calleeToCaller" if is_caller else "callerToCallee"
    streams, media_types, local_events, remote_events = _media_lines(
        labelled, local, inbound_dir, interval
    )
    local["device_ratios"] = local_events
    remote["device_ratios"] = remote_events
    local_ep = build(Endpoint, {k: v for k, v in local.items() if v is not None})
    remote_ep = build(Endpoint, {k: v for k, v in remote.items() if v is not None})
    caller, callee = (local_ep, remote_ep) if is_caller else (remote_ep, local_ep)

    start, end = _iso(_attr(dialog, "Start")), _iso(_attr(dialog, "End"))
    session = build(
        Session,
        {
            "id": session_id(call_id, from_tag, to_tag),
            "sip_call_id": call_id.strip(),
            "from_tag": from_tag,
            "to_tag": to_tag,
            "start": start,
            "end": end,
            "media_types": media_types,
            "caller": caller,
            "callee": callee,
            "streams": streams,
            "has_qoe": not interval,
        },
    )
    if conf_uri:
        key, call_type, organizer = "conf:" + conf_uri, "conference", None
    else:
        key = "sip:" + call_id.strip()
        call_type = "pstn" if "phone" in (caller.kind, callee.kind) else "peerToPeer"
        organizer = caller.uri
    record_id = f"qoe:{call_id.strip()}:{from_tag or ''}:{to_tag or ''}:{local_role}"
    if interval:
        record_id += ":interval"
    return build(
        Fragment,
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
        },
    )


@register("qoe", "ms-qoe-xml")
def parse_qoe(data: Any, ctx: ParseContext) -> list[Fragment]:
    """Parse one QoE report into one fragment per session report it holds."""
    root, raw = _load(data, ctx)
    base_id = content_hash(raw)
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
