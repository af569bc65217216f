"""A call item of any size in the `calls` container: one head item under the call's id,
and, for a call too large for one Cosmos DB item, chunk items in the same partition.

The cut is the domain's (`shared.chunking`); this module only reads and writes. A call
that fits is one item and one request, exactly as before. For a larger one:

- write: the chunks first, under ids no other writer uses (`{callId}|chunk|{tag}|{n}`,
  a fresh tag per attempt), then the head, conditionally as ever (create, or replace
  with the etag read). The head names its chunks, so a reader never sees a half-written
  call: until the head is committed the new chunks are not referenced. A writer that
  loses the race deletes its own chunks; the winner deletes the chunks of the head it
  replaced and any a crashed attempt left (older revision, not named by the head).
- read: the head, then the chunks it names (point reads). A chunk can be gone when a
  writer replaced the head in between: the head is read again.
- delete: the head, then every chunk of the partition.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.chunking import (
    Unsplittable,
    chunks_for_sessions,
    join_item,
    sessions_page,
    split_item,
)
from shared.storage import cosmos_errors
from shared.storage.items import (
    AlreadyExists,
    ItemTooLarge,
    StaleWrite,
    create_new,
    replace_if_unchanged,
    upsert,
)
from shared.storage.retry import read_or_none, with_retries

MANIFEST = "chunks"  # the head's list of its chunk items: [{"id", "view", "sessions"}]
SESSION_COUNT = "sessionCount"  # the head of a chunked call: how many sessions its view has
CHUNK_TYPE = "callChunk"
READ_TRIES = 5


@dataclass
class StoredCall:
    """A call as read: the whole body (chunks joined, manifest removed), the head's
    etag for a conditional replace, and the chunk ids the head named."""

    body: dict[str, Any]
    etag: str
    chunk_ids: list[str] = field(default_factory=list)
    session_count: int = 0


class _ChunkGone(Exception):
    pass


def _chunk_id(call_id: str, tag: str, n: int) -> str:
    return f"{call_id}|chunk|{tag}|{n}"


def _is_chunk_of(item_id: str, call_id: str) -> bool:
    return item_id.startswith(f"{call_id}|chunk|")


async def _read_chunks(container: Any, pk: str, ids: list[str]) -> list[list[Any]]:
    async def one(chunk_id: str) -> list[Any]:
        raw = await read_or_none(container, chunk_id, pk, what="read call chunk")
        if raw is None:
            raise _ChunkGone(chunk_id)
        return [tuple(p) for p in raw.get("parts") or []]

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def _read(
    container: Any, call_id: str, pk: str, sessions: tuple[int, int] | None
) -> StoredCall | None:
    """`sessions`: only the chunks the view's sessions [first, end) need (a page of the
    call detail), else the whole call."""
    for _ in range(READ_TRIES):
        head = await read_or_none(container, call_id, pk, what="read call")
        if head is None:
            return None
        manifest = head.pop(MANIFEST, None) or []
        count = int(
            head.pop(SESSION_COUNT, 0) or len((head.get("view") or {}).get("sessions") or [])
        )
        etag = str(head.get("_etag"))
        ids = [m["id"] for m in manifest]
        wanted = (
            list(range(len(manifest)))
            if sessions is None
            else chunks_for_sessions(manifest, *sessions)
        )
        try:
            chunks = await _read_chunks(container, pk, [ids[i] for i in wanted])
        except _ChunkGone:
            continue  # replaced while we read: its new head names the new chunks
        body = join_item(head, chunks, partial=sessions is not None)
        if sessions is not None:
            body = sessions_page(body, *sessions)
        return StoredCall(body, etag, ids, count)
    raise RuntimeError(f"call {call_id}: chunks kept changing while it was read")


async def read_call_item(container: Any, call_id: str, pk: str) -> StoredCall | None:
    """The whole call (every chunk): what a merge or a purge edits."""
    return await _read(container, call_id, pk, None)


async def read_call_page(
    container: Any, call_id: str, pk: str, first: int, end: int
) -> StoredCall | None:
    """The call with its view's sessions cut to [first, end): the head and only the
    chunks those sessions (and the rest of the view) are in; the fragments of a
    chunked call are not read at all."""
    return await _read(container, call_id, pk, (first, end))


# Fields that stay whole in the head however large the call: what a flush's read-many
# of the heads must see (the aggregate ledger, `call_ledger`).
HEAD_FIELDS = ("ledger",)


def _chunk_items(
    body: dict[str, Any], call_id: str, pk: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    held = {k: body[k] for k in HEAD_FIELDS if k in body}
    rest = {k: v for k, v in body.items() if k not in held}
    try:
        split = split_item(rest)
    except Unsplittable as exc:
        from shared.chunking import json_size

        raise ItemTooLarge(call_id, json_size(body)) from exc
    split.head.update(held)
    if not split.chunks:
        return split.head, []
    tag = uuid.uuid4().hex[:12]
    revision = body.get("revision")
    items = []
    for n, parts in enumerate(split.chunks):
        item = {
            "id": _chunk_id(call_id, tag, n),
            "pk": pk,
            "type": CHUNK_TYPE,
            "callId": call_id,
            "revision": revision,
            "parts": [list(p) for p in parts],
        }
        if body.get("ttl"):
            item["ttl"] = body["ttl"]  # the call's retention: its chunks go with it
        items.append(item)
    manifest = [{"id": i["id"]} | m for i, m in zip(items, split.manifest, strict=True)]
    sessions = len((body.get("view") or {}).get("sessions") or [])
    return split.head | {MANIFEST: manifest, SESSION_COUNT: sessions}, items


async def _delete(container: Any, item_id: str, pk: str) -> None:
    async def op() -> None:
        try:
            await container.delete_item(item_id, partition_key=pk)
        except cosmos_errors.CosmosResourceNotFoundError:
            pass

    await with_retries(op, what="delete call chunk")


async def _chunks_in_partition(container: Any, call_id: str, pk: str) -> list[dict[str, Any]]:
    """Every chunk item of the call's partition (a query without a filter: the `calls`
    container indexes nothing, and the partition holds this one call)."""

    async def op() -> list[dict[str, Any]]:
        return [
            item
            async for item in container.query_items(
                "SELECT c.id, c.revision FROM c", partition_key=pk
            )
        ]

    return [
        i for i in await with_retries(op, what="list call chunks") if _is_chunk_of(i["id"], call_id)
    ]


async def _tidy(container: Any, call_id: str, pk: str, keep: set[str], revision: int) -> None:
    """After a committed write: drop the chunks of older revisions the head no longer
    names (the replaced head's, and any a crashed attempt left). Chunks of a later
    revision belong to a writer still at work and are left alone."""
    old = [
        i["id"]
        for i in await _chunks_in_partition(container, call_id, pk)
        if i["id"] not in keep and int(i.get("revision") or 0) < revision
    ]
    await asyncio.gather(*(_delete(container, i, pk) for i in old))


async def write_call_item(
    container: Any, body: dict[str, Any], previous: StoredCall | None, *, what: str
) -> None:
    """Create the call (`previous` None: `AlreadyExists` if it is there) or replace the
    one `previous` read (`StaleWrite` if it changed since); chunked when it does not
    fit one item. `ItemTooLarge` only for a body no cut can store."""
    call_id, pk = str(body["id"]), str(body["pk"])
    body = {k: v for k, v in body.items() if not k.startswith("_")}  # the store's own fields
    head, chunks = _chunk_items(body, call_id, pk)
    await asyncio.gather(*(upsert(container, c, what="write call chunk") for c in chunks))
    try:
        if previous is None:
            await create_new(container, head, what=f"create {what}")
        else:
            await replace_if_unchanged(
                container, call_id, head, previous.etag, what=f"replace {what}"
            )
    except (StaleWrite, ItemTooLarge):
        await asyncio.gather(*(_delete(container, c["id"], pk) for c in chunks))
        raise
    if chunks or (previous is not None and previous.chunk_ids):
        await _tidy(
            container, call_id, pk, {c["id"] for c in chunks}, int(body.get("revision") or 0)
        )


async def delete_call_item(container: Any, call_id: str, pk: str) -> bool:
    """The head, then every chunk of the call (also those a crash left behind when the
    head is gone already). Returns whether the head was there."""

    async def op() -> bool:
        try:
            await container.delete_item(call_id, partition_key=pk)
            return True
        except cosmos_errors.CosmosResourceNotFoundError:
            return False

    found = await with_retries(op, what="delete call")
    chunks = await _chunks_in_partition(container, call_id, pk)
    await asyncio.gather(*(_delete(container, c["id"], pk) for c in chunks))
    return found


__all__ = [
    "AlreadyExists",
    "StaleWrite",
    "StoredCall",
    "delete_call_item",
    "read_call_item",
    "read_call_page",
    "write_call_item",
]
