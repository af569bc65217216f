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
- Server (issue 10, topology): a session with a server endpoint (mediation, MCU, edge)
  adds that server's *signature* (`{role}:{fqdn}`, `shared.topology.server_signature`, a
  pure function of the endpoint) as a fifth cell part: `{media}|{conn}|{inside}|{vpn}|
  {signature}`. Reports resolve it to site and pool with the tenant's current topology
  at read time, as they do subnets with the building file, so this function stays pure
  (exact, recountable without the topology) and a topology change re-labels past days.
  Sessions without a server keep the four-part cell, so older documents read the same.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import datetime

from shared.identity import is_focus_uri, user_key
from shared.models.call import CallDocument, CallView, Endpoint, Session, Stream
from shared.topology import server_signature

Contribution = dict[str, dict[str, int]]

SHORT_CALL_S = 60.0
UNKNOWN_SUBNET = "unknown"
# (ours) Graph failureInfo.stage "midcall" is a dropped call; SfB gives no such element in
# the QoE tree we parse, so its drops count only when a diagnostic id is listed here.
DROPPED_DIAGNOSTICS: frozenset[int] = frozenset()

STREAM_MEASURES = ("streams", "good", "poor", "unclassified", "droppedStreams")
SESSION_MEASURES = ("sessions", "poorCalls", "shortCalls", "callSetupFailures")
MEASURES = STREAM_MEASURES + SESSION_MEASURES
POOR_DUE_PREFIX = "poorDueTo."


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


def _day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d")
    except ValueError:
        return None


def _duration(session: Session) -> float | None:
    if not session.start or not session.end:
        return None
    try:
        a = datetime.fromisoformat(session.start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(session.end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (b - a).total_seconds()


def doc_key(day: str, subnet: str, prefix: int | None) -> str:
    return f"{day}|{subnet}|{'' if prefix is None else prefix}"


def split_doc_key(key: str) -> tuple[str, str, int | None]:
    day, subnet, prefix = key.split("|")
    return day, subnet, int(prefix) if prefix else None


def cell_key(media: str, ep: Endpoint, server: str | None = None) -> str:
    inside = "na" if ep.inside is None else ("in" if ep.inside else "out")
    base = f"{media}|{ep.connection_type or 'unknown'}|{inside}|{1 if ep.vpn else 0}"
    # (issue 10) the session's server signature as a fifth part, only when there is one.
    return base if server is None else f"{base}|{server}"


def session_server(session: Session) -> str | None:
    """(issue 10) The signature of the session's server endpoint (callee first: a user
    calls the MCU or a phone number through the mediation server), None if neither is."""
    return server_signature(session.callee) or server_signature(session.caller)


def _setup_failed(session: Session) -> bool:
    if session.diagnostic_id is not None and 20 <= session.diagnostic_id <= 29:
        return True
    if (session.failure_stage or "").lower() == "callsetup":
        return True
    return any((s.ice or "").upper() == "FAILED" for s in session.streams)


def _dropped(session: Session) -> bool:
    if (session.failure_stage or "").lower() == "midcall":
        return True
    return session.diagnostic_id is not None and session.diagnostic_id in DROPPED_DIAGNOSTICS


def _session_media(session: Session) -> str:
    types = [s.media_type for s in session.streams] + list(session.media_types)
    if "audio" in types:
        return "audio"
    return types[0] if types else "audio"


def contribution(view: CallView, fallback_day: str | None = None) -> Contribution:
    """Counts this call adds to the aggregates (see the module docstring)."""
    out: dict[str, Counter[str]] = {}

    def add(day: str, ep: Endpoint, entry: str, n: int = 1) -> None:
        subnet, prefix = subnet_of(ep)
        out.setdefault(doc_key(day, subnet, prefix), Counter())[entry] += n

    call_day = _day(view.start) or fallback_day
    for session in view.sessions:
        day = _day(session.start) or _day(session.invite_time) or call_day
        if day is None:
            continue  # no time at all: nothing to put it on (and no report could find it)
        dropped = _dropped(session)
        server = session_server(session)  # (issue 10) site/pool, resolved at read time
        for stream in session.streams:
            ep = stream_endpoint(session, stream)
            cell = cell_key(stream.media_type, ep, server)
            rating = stream.quality.rating if stream.quality else "unclassified"
            add(day, ep, f"{cell}#streams")
            add(day, ep, f"{cell}#{rating}")
            if dropped:
                add(day, ep, f"{cell}#droppedStreams")
            if rating == "poor" and stream.quality is not None:
                for metric in sorted(set(stream.quality.poor_due_to)):
                    add(day, ep, f"{cell}#{POOR_DUE_PREFIX}{metric}")
                user = user_key(ep.uri) if not _is_server(ep) else None
                if user:
                    add(day, ep, f"@{user}")
        ep = session_endpoint(session)
        cell = cell_key(_session_media(session), ep, server)
        add(day, ep, f"{cell}#sessions")
        failed = _setup_failed(session)
        if failed:
            add(day, ep, f"{cell}#callSetupFailures")
        if session.rating == "poor":
            add(day, ep, f"{cell}#poorCalls")
        duration = _duration(session)
        if not failed and duration is not None and duration < SHORT_CALL_S:
            add(day, ep, f"{cell}#shortCalls")
    return {k: dict(v) for k, v in out.items() if v}


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
