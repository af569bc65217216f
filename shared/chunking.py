"""Cutting a stored item too large for one Cosmos DB item into a head and chunks: the
pure rule, no I/O (the storage side is `shared/storage/call_chunks.py`).

Why: Cosmos DB refuses an item over 2 MB. A meeting of a few hundred participants is
more than that (its fragments and its view each list every session), and a single
Microsoft Graph callRecord of 1,000 sessions is one fragment of about 2 MB on its own.
So a call of any size is cut at its JSON structure, not by byte ranges: the head keeps
everything that fits (ids, call-level fields, the participants), and whatever does not
(the fragments, the view's sessions, if need be the sessions inside one fragment) is
moved out as *pieces*, each `[path, key, value]`: "at `path`, set `key` to `value`".
A list or dict too large for one piece is cut the same way one level down, so no piece
is larger than the budget unless a single scalar is (a string of 2 MB: no record the
ingest limits let through holds one; the storage adapter refuses it as too large).

Pieces are packed, in order, into chunks of at most `BUDGET` bytes; joining applies
them in the same order, so a parent is always set before its children. Each chunk's
manifest entry records which of the view's sessions it holds (`sessions`: [first,
end)) and whether it holds any other part of the view (`view`), so a page of the call
detail reads the head and only the chunks that page needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ITEM_LIMIT = 2 * 1024 * 1024  # Cosmos DB's per-item limit, bytes of JSON
# What one item of ours may hold: a quarter below the limit leaves room for the system
# properties, the chunk's own fields, the manifest and any difference in how the
# service measures the JSON.
BUDGET = 1_500_000
NESTED_ROOM = 8  # a dict inside a cut item keeps at most budget / 8 of its own
SESSIONS = ("view", "sessions")

Path = list[str | int]
Piece = tuple[Path, str | int, Any]


class Unsplittable(ValueError):
    """A single value is larger than one item can hold (nothing to cut it at)."""


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON: how the item limit is measured."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@dataclass(frozen=True)
class Split:
    """`head`: the item stored under the call's own id, without its manifest;
    `chunks`: the pieces of each chunk item, in order; `manifest`: per chunk, what of
    the view it holds (see the module docstring)."""

    head: dict[str, Any]
    chunks: list[list[Piece]]
    manifest: list[dict[str, Any]]


def split_item(body: dict[str, Any], budget: int = BUDGET) -> Split:
    """`body` as a head of at most `budget` bytes and chunks of at most `budget` bytes
    each. A body that fits is its own head, with no chunks (the common case: one item,
    one request, as before)."""
    size = json_size(body)
    if size <= budget:
        return Split(dict(body), [], [])
    pieces: list[_Sized | None] = []
    head = _cut_dict(body, size, [], budget, pieces, budget)
    if json_size(head) > budget:
        raise Unsplittable("the item's own fields are larger than one item")
    chunks = _pack([p for p in pieces if p is not None], budget)
    return Split(head, chunks, [_holds(chunk) for chunk in chunks])


# A piece with the size of its value, measured once: serialising a call of several MB
# is the whole cost of a split, so no subtree is measured twice on the same level.
_Sized = tuple[Piece, int]


def _container(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)


def _cut(value: Any, size: int, path: Path, budget: int, pieces: list[_Sized | None]) -> Any:
    if isinstance(value, dict):
        return _cut_dict(value, size, path, budget, pieces, budget // NESTED_ROOM)
    return _cut_list(value, path, budget, pieces)


def _cut_list(items: list[Any], path: Path, budget: int, pieces: list[_Sized | None]) -> list[Any]:
    """Every element moves out (the skeleton is `[]`); one too large is cut in turn,
    its skeleton set before its own pieces."""
    for i, item in enumerate(items):
        n = json_size(item)
        if n <= budget or not _container(item):
            pieces.append(((path, i, item), n))
            continue
        slot = len(pieces)
        pieces.append(None)
        skeleton = _cut(item, n, [*path, i], budget, pieces)
        pieces[slot] = ((path, i, skeleton), json_size(skeleton))
    return []


def _cut_dict(
    node: dict[str, Any],
    size: int,
    path: Path,
    budget: int,
    pieces: list[_Sized | None],
    room: int,
) -> dict[str, Any]:
    """The largest members move out until the rest is at most `room`: a member that
    fits one piece moves whole; a larger one is cut and its skeleton stays here if it
    can, else moves too. The root may fill an item; a dict inside it keeps an eighth
    of one, so the head stays small (the view's call-level fields and participants)
    and a page of the call detail does not read the fragments."""
    skeleton = dict(node)
    sizes = {k: json_size(v) for k, v in node.items() if _container(v)}
    total = size  # kept up to date as members move (exact but for a comma)
    cut: list[tuple[str, int]] = []  # members cut in place: (key, slot of its piece)
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        if total <= room:
            break
        if sizes[key] <= budget:
            pieces.append(((path, key, skeleton.pop(key)), sizes[key]))
            total -= json_size(key) + sizes[key] + 2
            continue
        slot = len(pieces)
        pieces.append(None)
        skeleton[key] = _cut(node[key], sizes[key], [*path, key], budget, pieces)
        smaller = json_size(skeleton[key])
        total -= sizes[key] - smaller
        sizes[key] = smaller
        cut.append((key, slot))
    for key, slot in cut:  # still too large with the skeletons of what was cut: move them
        if total <= room:
            break
        pieces[slot] = ((path, key, skeleton.pop(key)), sizes[key])
        total -= json_size(key) + sizes[key] + 2
    return skeleton


def _pack(pieces: list[_Sized], budget: int) -> list[list[Piece]]:
    chunks: list[list[Piece]] = [[]]
    size = 0
    for piece, value_size in pieces:
        n = value_size + json_size([piece[0], piece[1]]) + 1
        if n > budget:
            raise Unsplittable(f"a value at {'.'.join(map(str, piece[0]))} is larger than an item")
        if chunks[-1] and size + n > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += n + 1
    return chunks


def _holds(chunk: list[Piece]) -> dict[str, Any]:
    """Which of the view's sessions a chunk holds ([first, end) of their positions) and
    whether it holds any other part of the view (the skeleton the sessions hang on,
    participants that did not fit the head)."""
    first, end, view = None, None, False
    for path, key, value in chunk:
        full = [*path, key]
        if tuple(full[:2]) == SESSIONS and len(full) >= 3 and isinstance(full[2], int):
            lo, hi = full[2], full[2] + 1
        elif tuple(full[:2]) == SESSIONS and len(full) == 2 and value:
            lo, hi = 0, len(value)  # the whole list moved as one piece
            view = True
        elif full[:1] == ["view"]:
            view = True
            continue
        else:
            continue
        first = lo if first is None else min(first, lo)
        end = hi if end is None else max(end, hi)
    out: dict[str, Any] = {"view": view}
    if first is not None:
        out["sessions"] = [first, end]
    return out


def join_item(
    head: dict[str, Any], chunks: list[list[Piece]], *, partial: bool = False
) -> dict[str, Any]:
    """The body `split_item` was given, from its head and chunks in order (built in
    `head` itself, which is returned). `partial`:
    only some chunks were read (a page of the call detail): pieces whose parent is in a
    chunk not read are skipped, and lists may have holes (None) where those were."""
    body = head  # joined in place: the adapter hands over a head it just read
    for chunk in chunks:
        for path, key, value in chunk:
            try:
                target: Any = body
                for step in path:
                    target = target[step]
                if isinstance(target, list):
                    if not isinstance(key, int):
                        raise TypeError(key)
                    target.extend([None] * (key + 1 - len(target)))
                    target[key] = value
                else:
                    target[key] = value
            except (KeyError, IndexError, TypeError):
                if not partial:
                    raise ValueError(f"chunk piece at {path!r} has no parent") from None
    return body


def chunks_for_sessions(manifest: list[dict[str, Any]], first: int, end: int) -> list[int]:
    """Positions (in `manifest`) of the chunks a view with sessions [first, end) needs:
    those holding any of them, and those holding other parts of the view."""
    out = []
    for i, entry in enumerate(manifest):
        span = entry.get("sessions")
        if entry.get("view") or (span and span[0] < end and first < span[1]):
            out.append(i)
    return out


def sessions_page(body: dict[str, Any], first: int, end: int) -> dict[str, Any]:
    """`body` (a joined call, whole or partial) with its view's sessions cut to
    positions [first, end), and without its fragments: a page is of the view (and a
    partial join may hold only some of the fragments, or pieces of one)."""
    view = dict(body.get("view") or {})
    sessions = view.get("sessions") or []
    view["sessions"] = [s for s in sessions[first:end] if s is not None]
    return body | {"view": view, "fragments": {}}
