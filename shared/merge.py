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
    Stream,
)

_M = TypeVar("_M", bound=BaseModel)

# Later ranks win field conflicts: measured QoE beats signalling, Graph is its own call.
_SOURCE_RANK = {"sfb-cdr-json": 0, "graph-v1": 1, "ms-qoe-xml": 2}


def union(existing: dict[str, Fragment], new: Iterable[Fragment]) -> dict[str, Fragment]:
    """Add fragments; a higher `version` of the same record replaces lower ones."""
    merged = dict(existing)
    for frag in new:
        merged.setdefault(frag.fragment_id, frag)
    # Keep only the highest version per record (ties: highest hash), whatever arrived first.
    best: dict[str, Fragment] = {}
    for frag in merged.values():
        cur = best.get(frag.record_id)
        if cur is None or (frag.version, frag.fragment_id) > (cur.version, cur.fragment_id):
            best[frag.record_id] = frag
    return {f.fragment_id: f for f in best.values()}


def _clone(model: _M) -> _M:
    """Deep copy through pydantic-core (about 3x faster than `model_copy(deep=True)`,
    which goes through `copy.deepcopy`): the fold must never mutate stored fragments."""
    return type(model).model_validate(model.model_dump(exclude_unset=True))


def _order(frag: Fragment) -> tuple[int, int, str]:
    return (_SOURCE_RANK.get(frag.source_format, 9), frag.version, frag.fragment_id)


def _overlay(base: BaseModel, top: BaseModel, skip: frozenset[str] = frozenset()) -> None:
    """Copy every non-empty field of `top` onto `base` (in place)."""
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
        elif isinstance(value, dict):
            merged = dict(getattr(base, name) or {})
            merged.update(value)
            setattr(base, name, merged)
        elif name == "media_types":
            setattr(base, name, sorted(set(getattr(base, name)) | set(value)))
        else:
            setattr(base, name, value)


def _merge_stream(into: Stream, top: Stream) -> None:
    _overlay(into, top, skip=frozenset({"metrics", "quality"}))
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
    view = CallView()
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
    view.start = min(starts) if starts else None
    view.end = max(ends) if ends else None
    view.duration_s = _duration(view.start, view.end)
    view.participants = _participants(view)

    from shared.classification import classify_call

    classify_call(view, profile=profile, table=table)
    return view


def _participants(view: CallView) -> list[Participant]:
    seen: dict[str, Participant] = {}
    for s in view.sessions:
        for ep in (s.caller, s.callee):
            if not ep.uri or is_focus_uri(ep.uri) or ep.uri == view.conference_uri:
                continue
            p = seen.get(ep.uri)
            if p is None:
                kind = ep.kind if ep.kind in ("user", "phone", "guest", "server") else "unknown"
                seen[ep.uri] = Participant(uri=ep.uri, display_name=ep.display_name, kind=kind)
            elif ep.display_name and not p.display_name:
                p.display_name = ep.display_name
    return [seen[k] for k in sorted(seen)]


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
    return build_document(tenant_id, key, merged, profile, table)
