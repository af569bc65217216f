"""Reference recount of the quality aggregates, written from docs/reference/aggregates.md
and docs/reference/cqd-dimensions.md (day and hour of the stream's end, reliability per
stream, Wi-Fi / VPN when either endpoint is, the CQD dimensions, Rate My Call).

Why a second implementation: an aggregate assertion that compares the stored counts with
`shared.aggregates.contribution` compares the code with itself, so a wrong rule (a
short-call limit of 120 s, a setup-failure range of 21-29) passes. This module reads the
stored call documents as plain JSON (what Cosmos DB returns) and applies the documented
rules directly; it imports nothing from `shared/`.

Output shape: {(day, subnet, prefix): {entry: count}} where an entry is
`{media}|{connection}|{inside}|{vpn}#{measure}` or `@{user}`. With `server_of` (report
tests) a cell also carries the server signature and the `name=value` dimensions, as
stored; use `project_stored` to fold stored cells down to the four parts otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

Key = tuple[str, str, str]  # (day, subnet, prefix as text: "" when unknown)
Figures = dict[Key, dict[str, int]]
# The session's server signature, for report tests that resolve site and pool; the
# oracle itself does not decide what a server is (that is the topology's rule).
ServerOf = Callable[[Mapping[str, Any]], str | None]

SHORT_CALL_LIMIT_S = 60  # a session shorter than one minute is a short call
SETUP_FAILURE_CODES = range(20, 30)  # ms-diagnostics 20..29 inclusive


def utc_day(value: Any) -> str | None:
    """The UTC calendar date of an ISO-8601 time, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date().isoformat()


def seconds_between(start: Any, end: Any) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def is_conference_focus(uri: Any) -> bool:
    text = str(uri or "").lower()
    return "opaque=app:conf" in text or ";gruu" in text


def is_server(endpoint: Mapping[str, Any]) -> bool:
    return endpoint.get("kind") == "server" or is_conference_focus(endpoint.get("uri"))


def user_of(endpoint: Mapping[str, Any]) -> str | None:
    """A SIP user's address (lower case, no scheme, no parameters); None for phones,
    conference focus URIs and servers."""
    if is_server(endpoint):
        return None
    uri = str(endpoint.get("uri") or "").strip().strip("<>")
    if not uri.lower().startswith("sip:"):
        return None
    address = uri[4:].split(";", 1)[0].lower()
    if "@" not in address or "/" in address:
        return None
    return address


def network_of(endpoint: Mapping[str, Any]) -> tuple[str, str]:
    """(network address, prefix) of the endpoint: subnet or IP masked by its mask; an IP
    with no mask is taken as its /24 (IPv6: /64); a subnet with no mask keeps no prefix."""
    base = endpoint.get("subnet") or endpoint.get("ip_address")
    if not base:
        return "unknown", ""
    try:
        address = ipaddress.ip_address(str(base).strip())
    except ValueError:
        return "unknown", ""
    mask = str(endpoint.get("subnet_mask") or "").strip().lstrip("/")
    prefix: int | None = None
    if mask.isdigit():
        prefix = int(mask)
    elif mask:
        try:
            prefix = ipaddress.ip_network(f"0.0.0.0/{mask}").prefixlen
        except ValueError:
            prefix = None
    if prefix is None:
        if endpoint.get("subnet"):
            return str(address), ""
        prefix = 24 if address.version == 4 else 64
    try:
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    except ValueError:
        return "unknown", ""
    return str(network.network_address), str(network.prefixlen)


WIFI = "wifi"
SFB_FORMATS = frozenset({"ms-qoe-xml", "sfb-cdr-json"})
DROPPED_CODES = range(51, 56)  # ms-diagnostics 51..55: mid-call media failure (SfB)
CDR_MEDIA = {
    "audio": "audio",
    "video": "video",
    "vbss": "vbss",
    "videobasedscreensharing": "vbss",
    "appsharing": "appsharing",
    "applicationsharing": "appsharing",
    "screensharing": "appsharing",
    "data": "data",
}
PLATFORMS = {
    "windows": "desktop",
    "macos": "desktop",
    "ios": "mobile",
    "android": "mobile",
    "web": "web",
    "ipphone": "ipPhone",
    "roomsystem": "room",
    "surfacehub": "room",
}
DOTTED = re.compile(r"(\d+\.\d+(?:\.\d+){0,2})")
OC_DOTTED = re.compile(r"\bOC/(\d+\.\d+(?:\.\d+){0,2})")


def parse_utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def ended_at(session: Mapping[str, Any], view: Mapping[str, Any]) -> datetime | None:
    """CQD's Date and Hour: the stream's end (its session's end), else the session's
    start, its invite time, the call's end, the call's start (UTC)."""
    for value in (
        session.get("end"),
        session.get("start"),
        session.get("invite_time"),
        view.get("end"),
        view.get("start"),
    ):
        moment = parse_utc(value)
        if moment is not None:
            return moment
    return None


def product_of(session: Mapping[str, Any], view: Mapping[str, Any]) -> str:
    """teams / sfbOnline / sfbServer: on-prem data is SfB Server; Graph records are Teams
    unless every client's productFamily is skypeForBusiness or lync."""
    formats = {s.get("source_format") for s in session.get("streams") or []} - {None, ""}
    if not formats:
        formats = set(view.get("sources") or [])
    if formats & SFB_FORMATS and "graph-v1" not in formats:
        return "sfbServer"
    families = {
        str(session.get(role, {}).get("product_family") or "").lower()
        for role in ("caller", "callee")
    } - {"", "unknown", "unknownfuturevalue"}
    if families and families <= {"skypeforbusiness", "lync"}:
        return "sfbOnline"
    if not formats and not families and session.get("diagnostic_id") is not None:
        return "sfbServer"  # ms-diagnostics only exist on premises
    return "teams"


def client_type_of(endpoint: Mapping[str, Any]) -> str:
    if endpoint.get("kind") == "server":
        return "server"
    if endpoint.get("platform"):
        return PLATFORMS.get(str(endpoint["platform"]).lower(), "other")
    ua = str(endpoint.get("user_agent") or "").lower()
    if not ua:
        return "unknown"
    rules = (
        ("server", ("mediationserver", "av-mcu", "conferencing")),
        ("web", ("lwa", "webapp")),
        ("mobile", ("mobile", "iphone", "android", "ipad")),
        ("ipPhone", ("ocphone", "polycom", "yealink", "audiocodes")),
        ("room", ("lync room", "skype room", "teams room")),
        ("desktop", ("uccapi", "oc/", "teams")),
    )
    for kind, needles in rules:
        if any(n in ua for n in needles):
            return kind
    return "other"


def client_version_of(endpoint: Mapping[str, Any]) -> str:
    ua = str(endpoint.get("user_agent") or "")
    found = OC_DOTTED.search(ua) or DOTTED.search(ua)
    return found.group(1)[:32] if found else "unknown"


def band_of(endpoint: Mapping[str, Any] | None) -> str:
    if endpoint is None:
        return "na"
    band = str(endpoint.get("wifi_band") or "").lower()
    for needle, value in (("24", "2.4GHz"), ("50", "5GHz"), ("60", "6GHz")):
        if needle in band:
            return value
    channel = endpoint.get("wifi_channel")
    if isinstance(channel, int):
        if 1 <= channel <= 14:
            return "2.4GHz"
        if 32 <= channel <= 177:
            return "5GHz"
    radio = str(endpoint.get("wifi_radio_type") or "").lower().replace(" ", "")
    if radio.endswith(("11b", "11g")):
        return "2.4GHz"
    if radio.endswith(("11a", "11ac")):
        return "5GHz"
    return "unknown"


def dimensions_of(
    prod: str,
    endpoint: Mapping[str, Any],
    stream: Mapping[str, Any] | None,
    wifi: Mapping[str, Any] | None,
    hour: int,
) -> str:
    """The `name=value` cell parts of docs/reference/cqd-dimensions.md."""
    stream = stream or {}
    tr = str(stream.get("transport") or "").lower()
    relayed = stream.get("relay")
    return "|".join(
        (
            f"p={prod}",
            f"ct={client_type_of(endpoint)}",
            f"cv={client_version_of(endpoint)}",
            f"tr={tr if tr in ('udp', 'tcp') else 'unknown'}",
            f"rl={'na' if relayed is None else ('1' if relayed else '0')}",
            f"wb={band_of(wifi)}",
            f"h={hour:02d}",
        )
    )


def cell_of(
    media: str,
    endpoint: Mapping[str, Any],
    server: str | None = None,
    other: Mapping[str, Any] | None = None,
    dims: str | None = None,
) -> str:
    """`{media}|{conn}|{inside}|{vpn}`: Wi-Fi / VPN when either endpoint is; inside is
    the counted endpoint's own flag, stored but decided at report time by the building
    file (uncovered or no file: Outside)."""
    other = other or {}
    flag = endpoint.get("inside")
    inside = "na" if flag is None else ("in" if flag else "out")
    either_wifi = WIFI in (endpoint.get("connection_type"), other.get("connection_type"))
    conn = WIFI if either_wifi else (endpoint.get("connection_type") or "unknown")
    vpn = "1" if endpoint.get("vpn") or other.get("vpn") else "0"
    cell = f"{media}|{conn}|{inside}|{vpn}"
    if server is not None:
        cell = f"{cell}|{server}"
    return cell if dims is None else f"{cell}|{dims}"


def _stream_side(session: Mapping[str, Any], stream: Mapping[str, Any]) -> Mapping[str, Any]:
    caller, callee = session.get("caller") or {}, session.get("callee") or {}
    if stream.get("direction") == "callerToCallee":
        receiver, sender = callee, caller
    else:
        receiver, sender = caller, callee
    return sender if is_server(receiver) and not is_server(sender) else receiver


def _session_side(session: Mapping[str, Any]) -> Mapping[str, Any]:
    caller, callee = session.get("caller") or {}, session.get("callee") or {}
    return callee if is_server(caller) and not is_server(callee) else caller


def _other_side(session: Mapping[str, Any], side: Mapping[str, Any]) -> Mapping[str, Any]:
    caller, callee = session.get("caller") or {}, session.get("callee") or {}
    return callee if side is caller else caller


def _session_media(session: Mapping[str, Any]) -> str:
    kinds = [s.get("media_type") for s in session.get("streams") or []]
    kinds += list(session.get("media_types") or [])
    if "audio" in kinds:
        return "audio"
    return str(kinds[0]) if kinds else "audio"


def _session_setup_failed(session: Mapping[str, Any]) -> bool:
    code = session.get("diagnostic_id")
    if isinstance(code, int) and code in SETUP_FAILURE_CODES:
        return True
    return str(session.get("failure_stage") or "").lower() == "callsetup"


def _stream_setup_failed(session: Mapping[str, Any], stream: Mapping[str, Any]) -> bool:
    return _session_setup_failed(session) or str(stream.get("ice") or "").upper() == "FAILED"


def _setup_failed(session: Mapping[str, Any]) -> bool:
    return _session_setup_failed(session) or any(
        str(s.get("ice") or "").upper() == "FAILED" for s in session.get("streams") or []
    )


def _dropped(session: Mapping[str, Any]) -> bool:
    if str(session.get("failure_stage") or "").lower() == "midcall":
        return True
    code = session.get("diagnostic_id")
    return isinstance(code, int) and code in DROPPED_CODES


def _has_cdr(session: Mapping[str, Any], prod: str) -> bool:
    """Graph streams always have call detail; on-prem ones when the session has SIP call
    detail (an invite, a response or an ms-diagnostics code)."""
    if prod != "sfbServer":
        return True
    return any(
        session.get(k) is not None for k in ("invite_time", "response_code", "diagnostic_id")
    )


Add = Callable[..., None]


@dataclass
class _Session:
    """One session with what its cells need: product, end hour, server signature."""

    session: Mapping[str, Any]
    product: str
    hour: int
    server: str | None
    dimensions: bool

    def cell(self, media: str, side: Mapping[str, Any], stream: Mapping[str, Any] | None) -> str:
        other = _other_side(self.session, side)
        wifi = side if side.get("connection_type") == WIFI else None
        if wifi is None and other.get("connection_type") == WIFI:
            wifi = other
        dims = (
            dimensions_of(self.product, side, stream, wifi, self.hour) if self.dimensions else None
        )
        return cell_of(media, side, self.server, other, dims)


def _stream_figures(add: Add, day: str, ctx: _Session) -> None:
    session = ctx.session
    cdr, dropped = _has_cdr(session, ctx.product), _dropped(session)
    streams = session.get("streams") or []
    for stream in streams:
        side = _stream_side(session, stream)
        c = ctx.cell(str(stream.get("media_type")), side, stream)
        quality = stream.get("quality") or {}
        rating = quality.get("rating") or "unclassified"
        add(day, side, f"{c}#streams")
        add(day, side, f"{c}#{rating}")
        if cdr:
            add(day, side, f"{c}#cdrStreams")
            if _stream_setup_failed(session, stream):
                add(day, side, f"{c}#setupFailedStreams")
            elif dropped:
                add(day, side, f"{c}#droppedStreams")
        if rating == "poor":
            for metric in sorted(set(quality.get("poor_due_to") or [])):
                add(day, side, f"{c}#poorDueTo.{metric}")
            user = user_of(side)
            if user:
                add(day, side, f"@{user}")
    if cdr and not streams:
        # known from its CDR alone: two streams (one per direction) per media type
        side = _session_side(session)
        kinds = {CDR_MEDIA.get(str(m).lower()) for m in session.get("media_types") or []}
        for media in sorted(k for k in kinds if k):
            c = ctx.cell(media, side, None)
            add(day, side, f"{c}#cdrStreams", 2)
            if _session_setup_failed(session):
                add(day, side, f"{c}#setupFailedStreams", 2)
            elif dropped:
                add(day, side, f"{c}#droppedStreams", 2)


def _session_figures(add: Add, day: str, ctx: _Session) -> None:
    session = ctx.session
    streams = session.get("streams") or []
    side = _session_side(session)
    audio = [s for s in streams if s.get("media_type") == "audio"] or streams
    c = ctx.cell(_session_media(session), side, audio[0] if audio else None)
    add(day, side, f"{c}#sessions")
    failed = _setup_failed(session)
    if failed:
        add(day, side, f"{c}#callSetupFailures")
    if session.get("rating") == "poor":
        add(day, side, f"{c}#poorCalls")
    if session.get("start") and session.get("end") and not failed:
        length = seconds_between(session["start"], session["end"])
        if length is not None and length < SHORT_CALL_LIMIT_S:
            add(day, side, f"{c}#shortCalls")
    for role in ("caller", "callee"):
        rater = session.get(role) or {}
        if rater.get("feedback_rating") and not is_server(rater):
            add(day, side, f"{c}#rating.{rater['feedback_rating']}")
            for token in rater.get("feedback_tokens") or []:
                add(day, side, f"{c}#feedbackToken.{token}")


def call_figures(document: Mapping[str, Any], server_of: ServerOf | None = None) -> Figures:
    """What one stored call document (JSON) adds to the aggregates; with `server_of`,
    cells carry the session's server signature and the CQD dimensions (as stored)."""
    out: dict[Key, Counter[str]] = {}
    view = document.get("view", document)

    def add(day: str, endpoint: Mapping[str, Any], entry: str, n: int = 1) -> None:
        subnet, prefix = network_of(endpoint)
        out.setdefault((day, subnet, prefix), Counter())[entry] += n

    for session in view.get("sessions") or []:
        ended = ended_at(session, view)
        if ended is None:
            continue  # no time at all: counted nowhere
        server = server_of(session) if server_of else None
        ctx = _Session(
            session, product_of(session, view), ended.hour, server, server_of is not None
        )
        day = ended.date().isoformat()
        _stream_figures(add, day, ctx)
        _session_figures(add, day, ctx)
    return {k: dict(v) for k, v in out.items()}


def expected_aggregates(
    documents: Iterable[Mapping[str, Any]], server_of: ServerOf | None = None
) -> Figures:
    """The sum of `call_figures` over stored call documents."""
    total: dict[Key, Counter[str]] = {}
    for document in documents:
        for key, entries in call_figures(document, server_of).items():
            total.setdefault(key, Counter()).update(entries)
    return {k: {e: n for e, n in v.items() if n} for k, v in total.items() if any(v.values())}


def project_stored(flat: Mapping[str, Mapping[str, int]], parts: int = 4) -> Figures:
    """Stored aggregates as {"day|subnet|prefix": {"cell#measure" | "@user": n}} in the
    oracle's shape: tuple keys, cells cut to `parts` parts (4: the server signature
    dropped; 5: kept). Only the day documents: facet documents are left out."""
    out: dict[Key, Counter[str]] = {}
    for doc_key, entries in flat.items():
        if doc_key.count("|") > 2:
            continue  # a facet document: the same counts regrouped (see `facet_figures`)
        day, subnet, prefix = doc_key.split("|")
        target = out.setdefault((day, subnet, prefix), Counter())
        for entry, n in entries.items():
            if entry.startswith("@"):
                target[entry] += n
                continue
            cell, measure = entry.split("#", 1)
            target["|".join(cell.split("|")[:parts]) + "#" + measure] += n
    return {k: {e: n for e, n in v.items() if n} for k, v in out.items() if any(v.values())}


def facet_figures(figures: Figures, parts: tuple[str, ...]) -> Figures:
    """The oracle's full cells (with `server_of`: every dimension) regrouped to a facet
    document's cells `m=..|c=..|...`, written from docs/reference/cqd-dimensions.md's
    layout: the same counts under the named parts only (m media, c connection, v VPN,
    then the dimension parts as stored). Users stay in the day document."""
    out: dict[Key, Counter[str]] = {}
    for key, entries in figures.items():
        target = out.setdefault(key, Counter())
        for entry, n in entries.items():
            if entry.startswith("@"):
                continue
            cell, measure = entry.split("#", 1)
            pieces = cell.split("|")
            values = {"m": pieces[0], "c": pieces[1], "v": pieces[3]}
            values.update(p.split("=", 1) for p in pieces[4:] if "=" in p)
            target["|".join(f"{p}={values[p]}" for p in parts) + "#" + measure] += n
    return {k: dict(v) for k, v in out.items() if v}


def totals(figures: Figures, measure: str) -> int:
    """One measure summed over every day, subnet and cell."""
    return sum(
        n for entries in figures.values() for e, n in entries.items() if e.endswith(f"#{measure}")
    )
