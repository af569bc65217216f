"""Merging fragments into calls: a set union, then a pure fold in a fixed order.

Why a fold over a set rather than patching the stored view: the stored call must be
the same whatever order and batch split its records arrive in, and a duplicate must
change nothing. A union of fragments keyed by content hash is commutative and
idempotent by construction; folding them sorted by (source rank, version, hash) makes
the view a function of the set alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from shared.classification.thresholds import ProfileChoice, ThresholdTable
from shared.clock import utcnow
from shared.identity import call_id as make_call_id
from shared.identity import is_focus_uri, user_key
from shared.models.call import (
    CallDocument,
    CallView,
    Endpoint,
    Fragment,
    Participant,
    Session,
    SourceIds,
    Stream,
)
from shared.models.trusted import build, deep_copy

_M = TypeVar("_M", bound=BaseModel)

# Later ranks win field conflicts: measured QoE beats signalling, Graph is its own call.
_SOURCE_RANK = {"sfb-cdr-json": 0, "graph-v1": 1, "ms-qoe-xml": 2}


def completeness(frag: Fragment) -> tuple[int, str, int, str, int, int, int, str]:
    """Which of two fragments of one record wins: the higher `version`, then the later
    `modified` (a newer Graph record: `shared.parsing.graph.record_order`), then the
    more complete one (the call or more of its sessions have ended, a later end, more
    sessions, more streams: an export taken while a session was still running meets the
    one taken after it ended), and only then the content hash, so the choice is the same
    whatever order they arrive in. Two copies with the same version and modification
    time are the same record to Graph; the fetcher never hands the second one over."""
    sessions = frag.sessions
    return (
        frag.version,
        frag.modified or "",
        1 if frag.end else 0,
        frag.end or max((s.end or "" for s in sessions), default=""),
        sum(1 for s in sessions if s.end),
        len(sessions),
        sum(len(s.streams) for s in sessions),
        frag.fragment_id,
    )


def union(existing: dict[str, Fragment], new: Iterable[Fragment]) -> dict[str, Fragment]:
    """Add fragments; of several fragments of the same record the newest / most complete
    one stays (`completeness`)."""
    merged = dict(existing)
    for frag in new:
        merged.setdefault(frag.fragment_id, frag)
    best: dict[str, Fragment] = {}
    for frag in merged.values():
        cur = best.get(frag.record_id)
        if cur is None or completeness(frag) > completeness(cur):
            best[frag.record_id] = frag
    return {f.fragment_id: f for f in best.values()}


def _clone(model: _M) -> _M:
    """Deep copy of models that are already valid (`shared.models.trusted.deep_copy`:
    a third of a dump-and-validate round trip through pydantic-core, which was itself
    about 3x faster than `model_copy(deep=True)`): the fold must never mutate stored
    fragments."""
    return deep_copy(model)


def _order(frag: Fragment) -> tuple[int, int, str]:
    return (_SOURCE_RANK.get(frag.source_format, 9), frag.version, frag.fragment_id)


def _overlay(base: BaseModel, top: BaseModel, skip: frozenset[str] = frozenset()) -> None:
    """Copy every non-empty field of `top` onto `base` (in place). Two fields are
    combined instead: `device_ratios` (the worst of each) and `media_types` (the union).
    The other dict fields are derived (`device_flags`, `reason_metrics`, `quality`) and
    recomputed by the classifier after the fold, so whichever copy survives is rewritten."""
    for name in type(top).model_fields:
        if name in skip:
            continue
        value = getattr(top, name)
        if value is None or value == [] or value == {}:
            continue
        if name == "device_ratios":
            # Both reports of a session carry an endpoint's event ratios (its own, and
            # the other side's view of them): keep the worst of each, so a report that
            # saw nothing can never hide one that saw a failing device, whatever the
            # fold order (which follows content hashes, not arrival).
            ratios = dict(getattr(base, name) or {})
            for key, ratio in value.items():
                ratios[key] = max(ratios.get(key, ratio), ratio)
            setattr(base, name, ratios)
        elif name == "media_types":
            setattr(base, name, sorted(set(getattr(base, name)) | set(value)))
        else:
            setattr(base, name, value)


def _merge_stream(into: Stream, top: Stream) -> None:
    _overlay(into, top, skip=frozenset({"metrics"}))  # quality: recomputed after the fold
    metrics = into.metrics.model_copy()
    _overlay(metrics, top.metrics)
    into.metrics = metrics


def _merge_session(into: Session, top: Session) -> None:
    _overlay(
        into,
        top,
        skip=frozenset(
            {"caller", "callee", "streams", "has_qoe", "rating", "reasons", "reason_metrics"}
        ),
    )
    for role in ("caller", "callee"):
        ep: Endpoint = getattr(into, role).model_copy()
        _overlay(ep, getattr(top, role))
        setattr(into, role, ep)
    into.has_qoe = into.has_qoe or top.has_qoe
    streams = {s.id: s for s in into.streams}
    for s in top.streams:
        if s.id in streams:
            _merge_stream(streams[s.id], s)
        else:
            streams[s.id] = _clone(s)
    into.streams = [streams[k] for k in sorted(streams)]


def _duration(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (b - a).total_seconds())


def build_view(
    fragments: dict[str, Fragment],
    profile: ProfileChoice = None,
    table: ThresholdTable | None = None,
) -> CallView:
    """Fold the fragments into the call view and classify it."""
    view = build(CallView, {})  # models of values already valid: no validation (trusted.py)
    sessions: dict[str, Session] = {}
    starts: list[str] = []
    ends: list[str] = []
    for frag in sorted(fragments.values(), key=_order):
        if frag.call_type == "conference" or view.call_type == "conference":
            view.call_type = "conference"
        elif frag.call_type == "pstn" or view.call_type == "pstn":
            view.call_type = "pstn"
        elif frag.call_type:
            view.call_type = frag.call_type
        view.conference_uri = frag.conference_uri or view.conference_uri
        view.organizer = frag.organizer or view.organizer
        if frag.source_format not in view.sources:
            view.sources.append(frag.source_format)
        starts += [t for t in [frag.start] if t]
        ends += [t for t in [frag.end] if t]
        for sess in frag.sessions:
            if sess.id in sessions:
                _merge_session(sessions[sess.id], sess)
            else:
                sessions[sess.id] = _clone(sess)
    view.sessions = sorted(sessions.values(), key=lambda s: (s.start or "", s.id))
    for s in view.sessions:
        starts += [t for t in [s.start] if t]
        ends += [t for t in [s.end] if t]
    view.sources.sort()
    view.source_ids = sorted(
        (source_ids(f) for f in fragments.values()), key=lambda i: (i.record_id, i.version or 0)
    )
    view.start = min(starts) if starts else None
    view.end = max(ends) if ends else None
    view.duration_s = _duration(view.start, view.end)
    listed = [p for frag in sorted(fragments.values(), key=_order) for p in frag.participants]
    view.participants = _participants(view, listed)

    from shared.classification import classify_call

    classify_call(view, profile=profile, table=table)
    return view


def source_ids(frag: Fragment) -> SourceIds:
    """The ids a source record named the call by, as the source spelled them."""
    ids = build(SourceIds, {"source_format": frag.source_format, "record_id": frag.record_id})
    if frag.source_format == "graph-v1":
        ids.call_record_id = frag.record_id.removeprefix("graph:")
        ids.version = frag.version
        ids.session_ids = sorted({s.id for s in frag.sessions})
        ids.segment_ids = sorted(
            {st.segment_id for s in frag.sessions for st in s.streams if st.segment_id}
        )
        ids.stream_ids = sorted(
            {st.stream_id for s in frag.sessions for st in s.streams if st.stream_id}
        )
    else:
        sess = frag.sessions[0] if frag.sessions else None
        if sess is not None:
            ids.sip_call_id, ids.from_tag, ids.to_tag = sess.sip_call_id, sess.from_tag, sess.to_tag
        ids.report_id = frag.report_id
        if frag.record_id.startswith("cdr:"):
            ids.cdr_session = frag.record_id.removeprefix("cdr:")
    ids.conference_uri = frag.conference_uri
    return ids


def lookup_keys(view: CallView) -> list[str]:
    """Every normalised id the call can be found by (`GET /api/v1/calls?sourceId=`):
    Graph callRecord and session ids, SIP Call-IDs, conference URIs and their bare
    conference ids, QoE report ids. The product's own call id needs no index (it is the
    call's point read)."""
    found: set[str] = set()
    for ids in view.source_ids:
        found.update(
            v for v in (ids.call_record_id, ids.sip_call_id, ids.report_id, *ids.session_ids) if v
        )
        if ids.conference_uri:
            found.add(ids.conference_uri)
            conf_id = conference_id(ids.conference_uri)
            if conf_id:
                found.add(conf_id)
    if view.conference_uri:  # a call stored before `sourceIds` has this one only
        found.add(view.conference_uri)
    return sorted({k for k in (normalise_source_id(v) for v in found) if k})


def stored_lookup_keys(fragments: Iterable[Fragment], view: CallView) -> list[str]:
    """`lookup_keys` of a stored call from its fragments, not its view: a call written
    before the view kept `sourceIds` still has the fragments they come from (the Graph
    record and session ids, SIP Call-IDs, conference URIs), so its index entries can be
    built afterwards (`shared.admin.source_index`)."""
    again = view.model_copy(update={"source_ids": [source_ids(f) for f in fragments]})
    return lookup_keys(again)


def conference_id(uri: str) -> str | None:
    """`sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q1` -> `Q1`; a Teams join URL's
    meeting thread part is kept whole in the URI key."""
    marker = "conf:focus:id:"
    i = uri.lower().find(marker)
    return uri[i + len(marker) :].partition(";")[0] or None if i >= 0 else None


def normalise_source_id(raw: str | None) -> str | None:
    """Ids compare case-insensitively and without surrounding space or angle brackets
    (SIP traces show `Call-ID: <id>` in several spellings)."""
    if raw is None:
        return None
    value = raw.strip().strip("<>").strip().lower()
    return value[:512] or None


def _participants(view: CallView, listed: Iterable[Participant] = ()) -> list[Participant]:
    """The record's own list (Graph `participants_v2`: a meeting's attendees, also those
    whose sessions a record does not carry) and every session endpoint, once each."""
    seen: dict[str, Participant] = {}
    for one in listed:
        if is_focus_uri(one.uri) or one.uri == view.conference_uri:
            continue
        known = seen.get(one.uri)
        if known is None:
            seen[one.uri] = one.model_copy()
        elif one.display_name and not known.display_name:
            known.display_name = one.display_name
    for s in view.sessions:
        for ep in (s.caller, s.callee):
            if not ep.uri or is_focus_uri(ep.uri) or ep.uri == view.conference_uri:
                continue
            p = seen.get(ep.uri)
            if p is None:
                kind = ep.kind if ep.kind in ("user", "phone", "guest", "server") else "unknown"
                seen[ep.uri] = build(
                    Participant, {"uri": ep.uri, "display_name": ep.display_name, "kind": kind}
                )
            elif ep.display_name and not p.display_name:
                p.display_name = ep.display_name
    return [seen[k] for k in sorted(seen)]


# Addresses a call's history entry and summary row keep: the first participants;
# participantCount counts them all and the call detail lists everyone.
HISTORY_PARTICIPANTS = 50


def internal_users(view: CallView) -> list[str]:
    """User keys whose history lists this call."""
    keys = {user_key(p.uri) for p in view.participants if p.kind == "user"}
    return sorted(k for k in keys if k)


def call_pk(tenant_id: str, call_id: str) -> str:
    """The call's partition: one call per logical partition (`{tenantId}|{callId}`)."""
    return f"{tenant_id}|{call_id}"


def build_document(
    tenant_id: str,
    key: str,
    fragments: dict[str, Fragment],
    profile: ProfileChoice,
    table: ThresholdTable | None = None,
    revision: int = 1,
) -> CallDocument:
    """The stored call for a fragment set: the view is built and classified here, so
    what storage writes is a finished value."""
    cid = make_call_id(tenant_id, key)
    return CallDocument(
        id=cid,
        pk=call_pk(tenant_id, cid),
        tenantId=tenant_id,
        key=key,
        fragments=fragments,
        view=build_view(fragments, profile=profile, table=table),
        revision=revision,
        updatedAt=utcnow(),
    )


def merged_document(
    current: CallDocument | None,
    tenant_id: str,
    key: str,
    new: Iterable[Fragment],
    profile: ProfileChoice,
    table: ThresholdTable | None = None,
) -> CallDocument | None:
    """`current` with `new` added (a new call when `current` is None); None when the
    union adds nothing, so an unchanged call is not written at all."""
    new = list(new)
    if current is None:
        return build_document(tenant_id, key, union({}, new), profile, table)
    merged = union(current.fragments, new)
    if merged.keys() == current.fragments.keys():
        return None
    return build_document(tenant_id, key, merged, profile, table, current.revision + 1)
