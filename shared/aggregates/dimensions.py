"""The CQD dimensions a stream or session is counted under (pure functions of the call).

Why here and not at report time: these values come from the call document (user agent,
transport, Wi-Fi details, end time), which a report never reads; the aggregates hold
them as parts of the cell keys of the per-day facet documents
(shared.aggregates.layout), so a report still reads one document per day and subnet.
Every value is a short token without `|`, `#` or `=` (the cell key separators) and
none is EUII: a client version or a Wi-Fi band names no person.

The rules (and their Microsoft sources) are in docs/reference/cqd-dimensions.md.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from shared.models.call import CallView, Endpoint, Session, Stream

TEAMS, SFB_ONLINE, SFB_SERVER = "teams", "sfbOnline", "sfbServer"
PRODUCTS = (TEAMS, SFB_ONLINE, SFB_SERVER)
CLIENT_TYPES = ("desktop", "mobile", "web", "ipPhone", "room", "server", "other", "unknown")
TRANSPORTS = ("udp", "tcp", "unknown")
WIFI_BANDS = ("2.4GHz", "5GHz", "6GHz", "unknown", "na")
SFB_FORMATS = ("ms-qoe-xml", "sfb-cdr-json")
# Graph userAgent.platform -> client type.
_PLATFORM_TYPES = {
    "windows": "desktop",
    "macos": "desktop",
    "ios": "mobile",
    "android": "mobile",
    "web": "web",
    "ipphone": "ipPhone",
    "roomsystem": "room",
    "surfacehub": "room",
}
_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+){0,2})")
_OC_VERSION = re.compile(r"\bOC/(\d+\.\d+(?:\.\d+){0,2})")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def stream_end(session: Session, view: CallView) -> datetime | None:
    """When the session's streams ended (UTC): CQD's Date is the day a stream ended. A
    session without an end falls back to its start, then to the call's end and start."""
    for value in (session.end, session.start, session.invite_time, view.end, view.start):
        moment = parse_time(value)
        if moment is not None:
            return moment
    return None


def product(session: Session, view: CallView) -> str:
    """Teams, Skype for Business Online or Skype for Business Server. On-prem data
    (QoE reports, CDR) is Server; Graph call records are Teams unless the client's user
    agent says Skype for Business or Lync (Online calls in the same records)."""
    formats = {s.source_format for s in session.streams if s.source_format}
    if not formats:
        formats = set(view.sources)
    if formats and formats <= set(SFB_FORMATS):
        return SFB_SERVER
    if formats & set(SFB_FORMATS) and "graph-v1" not in formats:
        return SFB_SERVER
    families = {(ep.product_family or "").lower() for ep in (session.caller, session.callee)} - {
        "",
        "unknown",
        "unknownfuturevalue",
    }
    if families and families <= {"skypeforbusiness", "lync"}:
        return SFB_ONLINE
    if not formats and not families:
        return SFB_SERVER if session.diagnostic_id is not None else TEAMS
    return TEAMS


def client_type(ep: Endpoint) -> str:
    """desktop / mobile / web / ipPhone / room / server / other / unknown: Graph's
    platform when present, else the Skype for Business user agent's known prefixes."""
    if ep.kind == "server":
        return "server"
    if ep.platform:
        return _PLATFORM_TYPES.get(ep.platform.lower(), "other")
    ua = (ep.user_agent or "").lower()
    if not ua:
        return "unknown"
    if "mediationserver" in ua or "av-mcu" in ua or "conferencing" in ua:
        return "server"
    if "lwa" in ua or "webapp" in ua:
        return "web"
    if "mobile" in ua or "iphone" in ua or "android" in ua or "ipad" in ua:
        return "mobile"
    if "ocphone" in ua or "polycom" in ua or "yealink" in ua or "audiocodes" in ua:
        return "ipPhone"
    if "lync room" in ua or "skype room" in ua or "teams room" in ua:
        return "room"
    if "uccapi" in ua or "oc/" in ua or "teams" in ua:
        return "desktop"
    return "other"


def ua_category(ep: Endpoint, prod: str) -> str:
    """CQD's user-agent category, coarsened: the product plus the client type
    (`teams-desktop`, `sfbServer-ipPhone`, ...)."""
    return f"{prod}-{client_type(ep)}"


def client_version(ep: Endpoint) -> str:
    """The application's version parsed from the user agent, as CQD's Client App Version:
    the `OC/` (Skype for Business client) version when present, else the first dotted
    version (`UCCAPI/16.0.7766.5281 OC/16.0.7766.2047` -> `16.0.7766.2047`)."""
    ua = ep.user_agent or ""
    match = _OC_VERSION.search(ua) or _VERSION.search(ua)
    return _UNSAFE.sub("", match.group(1))[:32] if match else "unknown"


def transport(stream: Stream | None) -> str:
    value = ((stream.transport if stream else None) or "").lower()
    return value if value in ("udp", "tcp") else "unknown"


def relay(stream: Stream | None) -> str:
    if stream is None or stream.relay is None:
        return "na"
    return "1" if stream.relay else "0"


def wifi_band(ep: Endpoint) -> str:
    """2.4GHz / 5GHz / 6GHz from Graph's wifiBand, else the Wi-Fi channel (1-14 is
    2.4 GHz, 32-177 is 5 GHz), else the radio type (802.11b/g: 2.4, a/ac: 5); `na` for an
    endpoint not on Wi-Fi."""
    if ep.connection_type != "wifi":
        return "na"
    band = (ep.wifi_band or "").lower()
    if "24" in band:
        return "2.4GHz"
    if "50" in band:
        return "5GHz"
    if "60" in band:
        return "6GHz"
    if ep.wifi_channel is not None:
        if 1 <= ep.wifi_channel <= 14:
            return "2.4GHz"
        if 32 <= ep.wifi_channel <= 177:
            return "5GHz"
    radio = (ep.wifi_radio_type or "").lower().replace(" ", "")
    if radio.endswith(("11b", "11g")):
        return "2.4GHz"
    if radio.endswith(("11a", "11ac")):
        return "5GHz"
    return "unknown"


def either_wifi(a: Endpoint, b: Endpoint) -> Endpoint | None:
    """The endpoint on Wi-Fi, `a` first: CQD counts a stream as Wi-Fi when either of
    its two endpoints is on Wi-Fi."""
    if a.connection_type == "wifi":
        return a
    if b.connection_type == "wifi":
        return b
    return None


def dimension_values(
    prod: str, ep: Endpoint, stream: Stream | None, wifi: Endpoint | None, hour: int
) -> dict[str, str]:
    """The CQD dimension parts of a count, by part name (`p`, `ct`, `cv`, `tr`, `rl`,
    `wb`, `h`); shared.aggregates.layout decides which document holds which."""
    return {
        "p": prod,
        "ct": client_type(ep),
        "cv": client_version(ep),
        "tr": transport(stream),
        "rl": relay(stream),
        "wb": wifi_band(wifi) if wifi is not None else "na",
        "h": f"{hour:02d}",
    }
