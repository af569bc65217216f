"""Storage of the tenant building file.

Storage choice: Cosmos DB, the tenant's partition of the `tenants` container, as
immutable chunk documents plus one pointer document (`id = "buildings"`).
- No new store or container: the layout (and its Bicep twin) stays as it is, and the
  file lives next to the other tenant settings it belongs to, under the same retention
  (none) and access.
- A 100,000-row file is ~10 MB of JSON: rows are stored as gzip+base64 chunks of at most
  `CHUNK_ROWS` rows (~0.3 MB each, far below the 2 MB item limit); the container indexes
  only a few paths, so the payload costs no index RUs.
- Replacing is atomic for readers: the new upload's chunks are written first under a
  new upload id, then the pointer is switched in one write, then the old chunks are
  deleted. A reader sees either the old file or the new one, never a mix, and because a
  given upload's chunks never change, the parsed index is cached per (tenant, upload id)
  and a report costs one pointer read when the file has not changed.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from typing import Any

from shared.buildings import BuildingIndex, BuildingRow
from shared.clock import utcnow
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite, create_new, replace_if_unchanged, upsert
from shared.storage.retry import read_or_none

CHUNK_ROWS = 5_000
POINTER_ID = "buildings"
# The uploads of the tenant, newest first: who uploaded which file when, with its size
# (never the rows themselves, which only the active file keeps). A bounded list in one
# item: an admin asks "what changed, and who changed it", not for every upload ever.
HISTORY_ID = "buildingHistory"
HISTORY_MAX = 50
CHUNK_TYPE = "buildingChunk"

_cache: dict[tuple[str, str], BuildingIndex] = {}


def _pack(rows: list[BuildingRow]) -> str:
    raw = json.dumps([r.as_list() for r in rows], separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=6)).decode()


def _unpack(data: str) -> list[BuildingRow]:
    return [BuildingRow(*values) for values in json.loads(gzip.decompress(base64.b64decode(data)))]


async def _read(clients: Clients, tenant_id: str, item_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.TENANTS), item_id, tenant_id, what="read building data"
    )


async def save_building_file(
    clients: Clients,
    tenant_id: str,
    rows: list[BuildingRow],
    uploaded_by: str | None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Write the chunks of a new upload, switch the pointer, delete the old chunks."""
    container = clients.container(layout.TENANTS)
    upload_id = uuid.uuid4().hex
    chunks = [rows[i : i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    sem = asyncio.Semaphore(concurrency)

    async def put(n: int, part: list[BuildingRow]) -> None:
        body = {
            "id": f"buildings|{upload_id}|{n}",
            "tenantId": tenant_id,
            "type": CHUNK_TYPE,
            "uploadId": upload_id,
            "n": n,
            "data": _pack(part),
        }
        async with sem:
            await upsert(container, body, what="write building chunk")

    await asyncio.gather(*(put(n, part) for n, part in enumerate(chunks)))
    old = await _read(clients, tenant_id, POINTER_ID)
    index = BuildingIndex(rows)
    pointer = {
        "id": POINTER_ID,
        "tenantId": tenant_id,
        "type": "buildings",
        "uploadId": upload_id,
        "chunks": len(chunks),
        **index.summary(),
        "uploadedAt": utcnow(),
        "uploadedBy": uploaded_by,
    }
    await upsert(container, pointer, what="switch building file")
    _cache[(tenant_id, upload_id)] = index
    await _remember_upload(clients, tenant_id, pointer, old)
    if old and old.get("uploadId") != upload_id:
        for n in range(int(old.get("chunks") or 0)):
            try:
                await container.delete_item(
                    f"buildings|{old['uploadId']}|{n}", partition_key=tenant_id
                )
            except cosmos_errors.CosmosHttpResponseError:
                pass  # an orphan chunk is unreachable (no pointer names it), only space
        _cache.pop((tenant_id, str(old.get("uploadId"))), None)
    return building_summary(pointer)


def _entry(pointer: dict[str, Any]) -> dict[str, Any]:
    return {
        "uploadId": pointer["uploadId"],
        "uploadedAt": pointer["uploadedAt"],
        "uploadedBy": pointer.get("uploadedBy"),
        "rows": pointer["rows"],
        "buildings": pointer["buildings"],
    }


async def _remember_upload(
    clients: Clients, tenant_id: str, pointer: dict[str, Any], old: dict[str, Any] | None
) -> None:
    """Add the upload to the history: etag-conditional, so two admins uploading at once
    both appear. A file uploaded before the history existed is added first, so the list
    still starts from what was active."""
    container = clients.container(layout.TENANTS)
    for _ in range(10):
        raw = await _read(clients, tenant_id, HISTORY_ID)
        uploads = list((raw or {}).get("uploads") or [])
        if old and not any(u["uploadId"] == old.get("uploadId") for u in uploads):
            uploads.insert(0, _entry(old))
        uploads = [_entry(pointer), *uploads][:HISTORY_MAX]
        body = {"id": HISTORY_ID, "tenantId": tenant_id, "type": "buildingHistory"}
        try:
            if raw is None:
                await create_new(container, body | {"uploads": uploads}, what="building history")
            else:
                await replace_if_unchanged(
                    container,
                    HISTORY_ID,
                    body | {"uploads": uploads},
                    raw["_etag"],
                    what="building history",
                )
            return
        except StaleWrite:
            continue


async def read_building_history(clients: Clients, tenant_id: str) -> dict[str, Any]:
    """The uploads, newest first; the first is the active file (`active` true)."""
    raw = await _read(clients, tenant_id, HISTORY_ID)
    uploads = list((raw or {}).get("uploads") or [])
    pointer = await _read(clients, tenant_id, POINTER_ID)
    if pointer and not any(u["uploadId"] == pointer["uploadId"] for u in uploads):
        uploads.insert(0, _entry(pointer))
    active = pointer["uploadId"] if pointer else None
    return {"uploads": [u | {"active": u["uploadId"] == active} for u in uploads]}


def building_summary(pointer: dict[str, Any] | None) -> dict[str, Any]:
    if not pointer:
        return {"active": False, "rows": 0, "buildings": 0, "uploadedAt": None, "uploadedBy": None}
    return {
        "active": True,
        "rows": pointer["rows"],
        "buildings": pointer["buildings"],
        "uploadedAt": pointer["uploadedAt"],
        "uploadedBy": pointer.get("uploadedBy"),
    }


async def read_building_summary(clients: Clients, tenant_id: str) -> dict[str, Any]:
    return building_summary(await _read(clients, tenant_id, POINTER_ID))


async def load_building_index(clients: Clients, tenant_id: str) -> BuildingIndex | None:
    """The tenant's active index (cached per upload id); None when no file is active."""
    pointer = await _read(clients, tenant_id, POINTER_ID)
    if not pointer:
        return None
    key = (tenant_id, pointer["uploadId"])
    cached = _cache.get(key)
    if cached is not None:
        return cached
    parts = await asyncio.gather(
        *(
            _read(clients, tenant_id, f"buildings|{pointer['uploadId']}|{n}")
            for n in range(int(pointer["chunks"]))
        )
    )
    rows: list[BuildingRow] = []
    for part in parts:
        if part is None:  # replaced while we read: the new pointer is the truth
            return await load_building_index(clients, tenant_id)
        rows += _unpack(part["data"])
    index = BuildingIndex(rows)
    for old in [k for k in _cache if k[0] == tenant_id]:
        del _cache[old]
    _cache[key] = index
    return index
