"""Reference recount of the quality aggregates, written from docs/reference/aggregates.md.

Why a second implementation: an aggregate assertion that compares the stored counts with
`shared.aggregates.contribution` compares the code with itself, so a wrong rule (a
short-call limit of 120 s, a setup-failure range of 21-29) passes. This module reads the
stored call documents as plain JSON (what Cosmos DB returns) and applies the documented
rules directly; it imports nothing from `shared/`.

Output shape: {(day, subnet, prefix): {entry: count}} where an entry is
`{media}|{connection}|{inside}|{vpn}#{measure}` or `@{user}`. The server signature that
the product adds as a fifth cell part is a topology concern (tested elsewhere); use
`project_stored` to fold stored cells down to the four parts compared here.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
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


def cell_of(media: str, endpoint: Mapping[str, Any], server: str | None = None) -> str:
    flag = endpoint.get("inside")
    inside = "na" if flag is None else ("in" if flag else "out")
    vpn = "1" if endpoint.get("vpn") else "0"
    cell = f"{media}|{endpoint.get('connection_type') or 'unknown'}|{inside}|{vpn}"
    return cell if server is None else f"{cell}|{server}"


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


def _session_media(session: Mapping[str, Any]) -> str:
    kinds = [s.get("media_type") for s in session.get("streams") or []]
    kinds += list(session.get("media_types") or [])
    if "audio" in kinds:
        return "audio"
    return str(kinds[0]) if kinds else "audio"


def _setup_failed(session: Mapping[str, Any]) -> bool:
    code = session.get("diagnostic_id")
    if isinstance(code, int) and code in SETUP_FAILURE_CODES:
        return True
    if str(session.get("failure_stage") or "").lower() == "callsetup":
        return True
    return any(str(s.get("ice") or "").upper() == "FAILED" for s in session.get("streams") or [])


def call_figures(document: Mapping[str, Any], server_of: ServerOf | None = None) -> Figures:
    """What one stored call document (JSON) adds to the aggregates; with `server_of`,
    cells carry the session's server signature as a fifth part (as stored)."""
    out: dict[Key, Counter[str]] = {}
    view = document.get("view", document)

    def add(day: str, endpoint: Mapping[str, Any], entry: str) -> None:
        subnet, prefix = network_of(endpoint)
        out.setdefault((day, subnet, prefix), Counter())[entry] += 1

    for session in view.get("sessions") or []:
        day = (
            utc_day(session.get("start"))
            or utc_day(session.get("invite_time"))
            or utc_day(view.get("start"))
        )
        if day is None:
            continue
        dropped = str(session.get("failure_stage") or "").lower() == "midcall"
        server = server_of(session) if server_of else None
        for stream in session.get("streams") or []:
            side = _stream_side(session, stream)
            cell = cell_of(str(stream.get("media_type")), side, server)
            quality = stream.get("quality")
            rating = (quality or {}).get("rating") or "unclassified"
            add(day, side, f"{cell}#streams")
            add(day, side, f"{cell}#{rating}")
            if dropped:
                add(day, side, f"{cell}#droppedStreams")
            if rating == "poor":
                for metric in sorted(set((quality or {}).get("poor_due_to") or [])):
                    add(day, side, f"{cell}#poorDueTo.{metric}")
                user = user_of(side)
                if user:
                    add(day, side, f"@{user}")
        side = _session_side(session)
        cell = cell_of(_session_media(session), side, server)
        add(day, side, f"{cell}#sessions")
        failed = _setup_failed(session)
        if failed:
            add(day, side, f"{cell}#callSetupFailures")
        if session.get("rating") == "poor":
            add(day, side, f"{cell}#poorCalls")
        if session.get("start") and session.get("end") and not failed:
            length = seconds_between(session["start"], session["end"])
            if length is not None and length < SHORT_CALL_LIMIT_S:
                add(day, side, f"{cell}#shortCalls")
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
    dropped; 5: kept)."""
    out: dict[Key, Counter[str]] = {}
    for doc_key, entries in flat.items():
        day, subnet, prefix = doc_key.split("|")
        target = out.setdefault((day, subnet, prefix), Counter())
        for entry, n in entries.items():
            if entry.startswith("@"):
                target[entry] += n
                continue
            cell, measure = entry.split("#", 1)
            target["|".join(cell.split("|")[:parts]) + "#" + measure] += n
    return {k: {e: n for e, n in v.items() if n} for k, v in out.items() if any(v.values())}


def totals(figures: Figures, measure: str) -> int:
    """One measure summed over every day, subnet and cell."""
    return sum(
        n for entries in figures.values() for e, n in entries.items() if e.endswith(f"#{measure}")
    )
