"""What one call contributes to the quality aggregates: a pure function of the call.

The aggregates are the sum, over the stored calls, of `contribution(call)`. Keeping
this a pure function of the stored document is what makes the counts exact under
re-processing: the store (`store.py`) only ever applies `contribution(new) -
contribution(what the aggregates last reflected)`, and a brute-force recount is simply
the same function summed over every call.

Shape: {doc key: {entry: count}}. A doc key is `{day}|{subnet}|{prefix}` (one aggregate
document per UTC day and subnet). Entries are `{cell}#{measure}` counters, where a cell is
`{mediaType}|{connectionType}|{inside}|{vpn}`, and `@{user}` counters of poor streams
per user (the poor-users drill-down; EUII, shown to engineer/admin only).

Attribution choices (documented because CQD's are not fully public):
- A stream counts on the network of the endpoint that *received* it (its metrics were
  measured there), unless that endpoint is a server (conference MCU, edge) and the other
  is not: then on the client's side, so meetings count against user networks.
- Session-level measures (sessions, poor calls, short calls, call setup failures) count
  once per session, on the client endpoint (the caller when both are clients), under the
  session's audio media type when it has audio.
- Inside/outside is stored as the endpoint's own QoE `Inside` flag (`in`/`out`/`na`); the
  building file, resolved at report time, overrides it for covered subnets.
- Subnet: the endpoint's network address (IP & mask), never its full IP; with an IP but
  no mask or subnet, the /24 containing the IP.
- Server (topology): a session with a server endpoint (mediation, MCU, edge)
  adds that server's *signature* (`{role}:{fqdn}`, `shared.topology.server_signature`, a
  pure function of the endpoint) as a fifth cell part: `{media}|{conn}|{inside}|{vpn}|
  {signature}`. Reports resolve it to site and pool with the tenant's current topology
  at read time, as they do subnets with the building file, so this function stays pure
  (exact, recountable without the topology) and a topology change re-labels past days.
  Sessions without a server keep the four-part cell, so older documents read the same.
"""

from __future__ import annotations

import ipaddress
import sys
from collections import Counter
from datetime import datetime

from shared.aggregates.dimensions import (
    SFB_SERVER,
    dimension_values,
    either_wifi,
    product,
    stream_end,
)
from shared.aggregates.layout import FACETS, MAIN, doc_key, facet_cell
from shared.aggregates.layout import split_doc_key as split_doc_key  # re-exported
from shared.identity import is_focus_uri, user_key
from shared.models.call import CallDocument, CallView, Endpoint, Session, Stream
from shared.topology import server_signature

Contribution = dict[str, dict[str, int]]

SHORT_CALL_S = 60.0
UNKNOWN_SUBNET = "unknown"
# Graph failureInfo.stage "midcall" is a dropped stream. Skype for Business marks a mid-call
# media failure with the client's ms-diagnostics code on the session; we read 51-55 as
# "call terminated on a mid-call media failure" (internal/remote/federated variants, as
# 20-29 are for setup). Microsoft's current pages do not list these codes: see
# docs/reference/cqd-dimensions.md, "Reliability", for what is and is not confirmed.
DROPPED_DIAGNOSTICS: frozenset[int] = frozenset({51, 52, 53, 54, 55})

STREAM_MEASURES = (
    "streams",
    "good",
    "poor",
    "unclassified",
    "cdrStreams",
    "setupFailedStreams",
    "droppedStreams",
)
SESSION_MEASURES = ("sessions", "poorCalls", "shortCalls", "callSetupFailures")
MEASURES = STREAM_MEASURES + SESSION_MEASURES
POOR_DUE_PREFIX = "poorDueTo."
RATING_PREFIX = "rating."
TOKEN_PREFIX = "feedbackToken."


def _prefix_of(mask: str | None) -> int | None:
    if not mask:
        return None
    mask = mask.strip().lstrip("/")
    if mask.isdigit():
        return int(mask)
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        return None


def subnet_of(ep: Endpoint) -> tuple[str, int | None]:
    """(network address, prefix length or None) of an endpoint; never a host address."""
    base = ep.subnet or ep.ip_address
    if not base:
        return UNKNOWN_SUBNET, None
    try:
        address = ipaddress.ip_address(base.strip())
    except ValueError:
        return UNKNOWN_SUBNET, None
    prefix = _prefix_of(ep.subnet_mask)
    if prefix is None and ep.subnet:
        return str(address), None  # Graph: a subnet address without its length
    if prefix is None:
        prefix = 24 if address.version == 4 else 64
    try:
        net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    except ValueError:
        return UNKNOWN_SUBNET, None
    return str(net.network_address), net.prefixlen


def _is_server(ep: Endpoint) -> bool:
    return ep.kind == "server" or is_focus_uri(ep.uri)


def stream_endpoint(session: Session, stream: Stream) -> Endpoint:
    receiver, sender = (
        (session.callee, session.caller)
        if stream.direction == "callerToCallee"
        else (session.caller, session.callee)
    )
    if _is_server(receiver) and not _is_server(sender):
        return sender
    return receiver


def session_endpoint(session: Session) -> Endpoint:
    if _is_server(session.caller) and not _is_server(session.callee):
        return session.callee
    return session.caller


def _duration(session: Session) -> float | None:
    if not session.start or not session.end:
        return None
    try:
        a = datetime.fromisoformat(session.start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(session.end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def cell_key(
    media: str,
    ep: Endpoint,
    server: str | None = None,
    extra: str | None = None,
    conn: str | None = None,
    vpn: bool | None = None,
) -> str:
    """`{media}|{conn}|{inside}|{vpn}`, then the server signature if any, then the
    `name=value` dimension parts (shared.aggregates.dimensions). `conn` and `vpn` are the
    stream's (either endpoint on Wi-Fi / VPN), defaulting to the endpoint's own."""
    inside = "na" if ep.inside is None else ("in" if ep.inside else "out")
    connection = conn or ep.connection_type or "unknown"
    on_vpn = ep.vpn if vpn is None else vpn
    base = f"{media}|{connection}|{inside}|{1 if on_vpn else 0}"
    if server is not None:
        base = f"{base}|{server}"
    return base if extra is None else f"{base}|{extra}"


def split_cell(cell: str) -> tuple[list[str], str | None, dict[str, str]]:
    """A cell key -> (its four base parts, the server signature or None, the dimensions)."""
    parts = cell.split("|")
    base, rest = parts[:4], parts[4:]
    server: str | None = None
    dims: dict[str, str] = {}
    for part in rest:
        if "=" in part:
            name, value = part.split("=", 1)
            dims[name] = value
        else:
            server = part
    return base, server, dims


def session_server(session: Session) -> str | None:
    """The signature of the session's server endpoint (callee first: a user
    calls the MCU or a phone number through the mediation server), None if neither is."""
    return server_signature(session.callee) or server_signature(session.caller)


def _setup_failed(session: Session) -> bool:
    """The whole session failed to set up (ms-diagnostics 20-29, Graph callSetup)."""
    if session.diagnostic_id is not None and 20 <= session.diagnostic_id <= 29:
        return True
    return (session.failure_stage or "").lower() == "callsetup"


def _stream_setup_failed(session: Session, stream: Stream | None) -> bool:
    if _setup_failed(session):
        return True
    return stream is not None and (stream.ice or "").upper() == "FAILED"


def _dropped(session: Session) -> bool:
    if (session.failure_stage or "").lower() == "midcall":
        return True
    return session.diagnostic_id is not None and session.diagnostic_id in DROPPED_DIAGNOSTICS


def _has_cdr(session: Session, prod: str) -> bool:
    """CQD's "CDR available": the call record of the session is there. Graph call
    records are; on-prem, a session with no SIP call detail (invite, response,
    diagnostic) is QoE only."""
    if prod != SFB_SERVER:
        return True
    return (
        session.invite_time is not None
        or session.response_code is not None
        or session.diagnostic_id is not None
    )


_CDR_MEDIA = {
    "audio": "audio",
    "video": "video",
    "vbss": "vbss",
    "videobasedscreensharing": "vbss",
    "appsharing": "appsharing",
    "applicationsharing": "appsharing",
    "screensharing": "appsharing",
    "data": "data",
}


def _cdr_only_streams(session: Session) -> list[str]:
    """Media types of a session known from its call record alone (no stream reported,
    typical of a failed setup): each stands for two streams, one per direction."""
    if session.streams:
        return []
    return sorted({_CDR_MEDIA[m.lower()] for m in session.media_types if m.lower() in _CDR_MEDIA})


def _session_media(session: Session) -> str:
    types = [s.media_type for s in session.streams] + list(session.media_types)
    if "audio" in types:
        return "audio"
    return types[0] if types else "audio"


def _session_stream(session: Session) -> Stream | None:
    audio = [s for s in session.streams if s.media_type == "audio"]
    candidates = audio or session.streams
    return candidates[0] if candidates else None


def _other(session: Session, ep: Endpoint) -> Endpoint:
    return session.caller if ep is session.callee else session.callee


Cells = tuple[tuple[str, str], ...]  # (facet name, cell key) of one count, every facet


class _Sink:
    """Collects one call's counters; `cells` builds a count's cell key in every facet
    (shared.aggregates.layout) with the session's context."""

    def __init__(self, view: CallView) -> None:
        self.view = view
        self.out: dict[str, Counter[str]] = {}

    def add(self, day: str, ep: Endpoint, cells: Cells, measure: str, n: int = 1) -> None:
        # Keys interned: a commit group holds the contributions of up to 400 calls until
        # it applies them (shared/storage/call_ledger.py), ~20,000 entries over ~1,000
        # distinct keys; one string per key instead of one per entry is ~2 MB less.
        subnet, prefix = subnet_of(ep)
        for facet, cell in cells:
            key = sys.intern(doc_key(day, subnet, prefix, facet))
            self.out.setdefault(key, Counter())[sys.intern(f"{cell}#{measure}")] += n

    def add_user(self, day: str, ep: Endpoint, user: str) -> None:
        """A poor stream of `user`: the day document's drill-down only."""
        subnet, prefix = subnet_of(ep)
        key = sys.intern(doc_key(day, subnet, prefix))
        self.out.setdefault(key, Counter())[sys.intern(f"@{user}")] += 1

    def cells(
        self, media: str, ep: Endpoint, stream: Stream | None, session: Session, hour: int
    ) -> Cells:
        other = _other(session, ep)
        wifi = either_wifi(ep, other)
        on_vpn = bool(ep.vpn or other.vpn)
        conn = "wifi" if wifi else (ep.connection_type or "unknown")
        server = session_server(session)  # site/pool, resolved at read time
        values = dimension_values(product(session, self.view), ep, stream, wifi, hour)
        values.update(m=media, c=conn, v="1" if on_vpn else "0")
        main = cell_key(media, ep, server, None, conn, on_vpn)
        return ((MAIN, main), *((f.name, facet_cell(f, values)) for f in FACETS[1:]))


def _stream_counts(sink: _Sink, session: Session, day: str, hour: int, cdr: bool) -> None:
    dropped = _dropped(session)
    for stream in session.streams:
        ep = stream_endpoint(session, stream)
        cells = sink.cells(stream.media_type, ep, stream, session, hour)
        rating = stream.quality.rating if stream.quality else "unclassified"
        sink.add(day, ep, cells, "streams")
        sink.add(day, ep, cells, rating)
        if cdr:
            sink.add(day, ep, cells, "cdrStreams")
            if _stream_setup_failed(session, stream):
                sink.add(day, ep, cells, "setupFailedStreams")
            elif dropped:
                sink.add(day, ep, cells, "droppedStreams")
        if rating == "poor" and stream.quality is not None:
            for metric in sorted(set(stream.quality.poor_due_to)):
                sink.add(day, ep, cells, f"{POOR_DUE_PREFIX}{metric}")
            user = user_key(ep.uri) if not _is_server(ep) else None
            if user:
                sink.add_user(day, ep, user)
    if not cdr:
        return
    ep = session_endpoint(session)
    for media in _cdr_only_streams(session):
        cells = sink.cells(media, ep, None, session, hour)
        sink.add(day, ep, cells, "cdrStreams", 2)
        if _setup_failed(session):
            sink.add(day, ep, cells, "setupFailedStreams", 2)
        elif dropped:
            sink.add(day, ep, cells, "droppedStreams", 2)


def _session_counts(sink: _Sink, session: Session, day: str, hour: int) -> None:
    ep = session_endpoint(session)
    cells = sink.cells(_session_media(session), ep, _session_stream(session), session, hour)
    sink.add(day, ep, cells, "sessions")
    failed = _setup_failed(session) or any(
        (s.ice or "").upper() == "FAILED" for s in session.streams
    )
    if failed:
        sink.add(day, ep, cells, "callSetupFailures")
    if session.rating == "poor":
        sink.add(day, ep, cells, "poorCalls")
    duration = _duration(session)
    if not failed and duration is not None and duration < SHORT_CALL_S:
        sink.add(day, ep, cells, "shortCalls")
    for rater in (session.caller, session.callee):
        if rater.feedback_rating and not _is_server(rater):
            sink.add(day, ep, cells, f"{RATING_PREFIX}{rater.feedback_rating}")
            for token in rater.feedback_tokens:
                sink.add(day, ep, cells, f"{TOKEN_PREFIX}{token}")


def contribution(view: CallView, fallback_day: str | None = None) -> Contribution:
    """Counts this call adds to the aggregates (see the module docstring)."""
    sink = _Sink(view)
    for session in view.sessions:
        ended = stream_end(session, view)
        if ended is None and fallback_day is None:
            continue  # no time at all: nothing to put it on (and no report could find it)
        day = ended.strftime("%Y-%m-%d") if ended else str(fallback_day)
        hour = ended.hour if ended else 0
        cdr = _has_cdr(session, product(session, view))
        _stream_counts(sink, session, day, hour, cdr)
        _session_counts(sink, session, day, hour)
    return {k: dict(v) for k, v in sink.out.items() if v}


def call_contribution(doc: CallDocument | None) -> Contribution:
    if doc is None:
        return {}
    return contribution(doc.view)


def add_into(total: Contribution, part: Contribution, sign: int = 1) -> Contribution:
    """total += sign * part (in place), dropping zero entries and empty docs."""
    for key, entries in part.items():
        target = total.setdefault(key, {})
        for entry, n in entries.items():
            value = target.get(entry, 0) + sign * n
            if value:
                target[entry] = value
            else:
                target.pop(entry, None)
        if not target:
            del total[key]
    return total


def difference(new: Contribution, old: Contribution) -> Contribution:
    """new - old: what to apply to move the aggregates from `old` to `new`."""
    return add_into(add_into({}, new), old, -1)


def split_entries(entries: dict[str, int]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Flat entries -> ({cell: {measure: n}}, {user: n}) as stored in a document."""
    cells: dict[str, dict[str, int]] = {}
    users: dict[str, int] = {}
    for entry, n in entries.items():
        if entry.startswith("@"):
            users[entry[1:]] = n
        else:
            cell, measure = entry.split("#", 1)
            cells.setdefault(cell, {})[measure] = n
    return cells, users
