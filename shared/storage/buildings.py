"""Storage of the tenant building file.

Storage choice: Cosmos DB, the tenant's partition of the `tenants` container, as
immutable chunk documents plus one pointer document (`id = "buildings"`).
- No new store or container: the layout (and its Bicep twin) stays as it is, and the
  file lives next to the other tenant settings it belongs to, under the same retention
  (none) and access.
- A 100,000-row file is ~10 MB of JSON: rows are stored as gzip+base64 chunks of at most
  `CHUNK_ROWS` rows (~0.3 MB each, far below the 2 MB item limit); the container indexes
  only a few paths, so the payload costs no index RUs.
- Replacing is atomic for readers: the new upload's chunks and its history entry
  (`buildings|upload|{uploadId}`) are written first under a new upload id, then the
  pointer (the timeline of which upload labels which days, shared.building_timeline)
  is switched in one write. A reader sees either the old timeline or the new one,
  never a mix, and because a given upload's chunks never change, the parsed index is
  cached per (tenant, upload id) and a report costs one pointer read when nothing
  changed.
- History: the newest `KEPT_UPLOADS` uploads (and any the timeline still uses) keep
  their chunks, so an admin can list them and roll back to one; older ones are deleted.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.building_timeline import Segment, upload_for, validity, with_upload
from shared.buildings import BuildingIndex, BuildingRow
from shared.clock import utcnow
from shared.errors import Conflict, NotFound
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.items import upsert
from shared.storage.retry import read_or_none

CHUNK_ROWS = 5_000
POINTER_ID = "buildings"
CHUNK_TYPE = "buildingChunk"
UPLOAD_TYPE = "buildingUpload"
UPLOAD_PREFIX = "buildings|upload|"
KEPT_UPLOADS = 10  # uploads kept for rollback beyond those the timeline uses

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


def _pointer_timeline(pointer: Mapping[str, Any] | None) -> list[Segment]:
    if not pointer:
        return []
    if not pointer.get("timeline"):  # written before uploads had a validity
        return [Segment(str(pointer["uploadId"]), None, int(pointer.get("chunks") or 0))]
    return [Segment.from_doc(s) for s in pointer["timeline"]]


async def save_building_file(
    clients: Clients,
    tenant_id: str,
    rows: list[BuildingRow],
    uploaded_by: str | None,
    params: Mapping[str, str | None] | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Write the chunks of a new upload and its history entry, then switch the pointer
    to the timeline with it (shared.building_timeline: `validFrom` / `relabelHistory`
    in `params`), then drop uploads beyond the kept history."""
    container = clients.container(layout.TENANTS)
    old = await _read(clients, tenant_id, POINTER_ID)
    timeline = _pointer_timeline(old)
    valid_from = validity(params or {}, bool(timeline), date.fromisoformat(utcnow()[:10]))
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
    index = BuildingIndex(rows)
    segment = Segment(upload_id, valid_from, len(chunks))
    entry = {
        "uploadId": upload_id,
        "chunks": len(chunks),
        **index.summary(),
        "validFrom": valid_from,
        # milliseconds: two uploads within a second still list in the order they came
        "uploadedAt": utcnow("milliseconds"),
        "uploadedBy": uploaded_by,
        "timeline": [s.as_doc() for s in with_upload(timeline, segment)],
    }
    await upsert(
        container,
        {"id": f"{UPLOAD_PREFIX}{upload_id}", "tenantId": tenant_id, "type": UPLOAD_TYPE, **entry},
        what="write building upload",
    )
    pointer = {"id": POINTER_ID, "tenantId": tenant_id, "type": "buildings", **entry}
    await upsert(container, pointer, what="switch building file")
    _cache[(tenant_id, upload_id)] = index
    await _prune(clients, tenant_id, pointer)
    return building_summary(pointer)


async def list_uploads(clients: Clients, tenant_id: str) -> list[dict[str, Any]]:
    """The kept uploads, newest first (their history entries, chunks not read)."""
    container = clients.container(layout.TENANTS)
    query = "SELECT * FROM c WHERE c.tenantId = @t AND c.type = @type"
    params = [{"name": "@t", "value": tenant_id}, {"name": "@type", "value": UPLOAD_TYPE}]
    found = [
        d async for d in container.query_items(query, parameters=params, partition_key=tenant_id)
    ]
    return sorted(found, key=_upload_order, reverse=True)


def _upload_order(entry: Mapping[str, Any]) -> tuple[datetime, str]:
    """When it was uploaded, as a time (entries written with whole seconds and with
    milliseconds compare correctly), then its id."""
    stamp = str(entry.get("uploadedAt") or "1970-01-01T00:00:00Z")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")), str(entry["id"])


async def _prune(clients: Clients, tenant_id: str, pointer: Mapping[str, Any]) -> None:
    """Keep the newest `KEPT_UPLOADS` uploads and every upload the timeline uses; delete
    the others' chunks and history entries (a failed delete only costs space: nothing
    points at them)."""
    container = clients.container(layout.TENANTS)
    in_use = {s.upload_id for s in _pointer_timeline(pointer)}
    for old in (await list_uploads(clients, tenant_id))[KEPT_UPLOADS:]:
        if old["uploadId"] in in_use:
            continue
        ids = [f"buildings|{old['uploadId']}|{n}" for n in range(int(old.get("chunks") or 0))]
        for item_id in [*ids, str(old["id"])]:
            try:
                await container.delete_item(item_id, partition_key=tenant_id)
            except cosmos_errors.CosmosHttpResponseError:
                pass
        _cache.pop((tenant_id, str(old["uploadId"])), None)


async def roll_back(clients: Clients, tenant_id: str, upload_id: str) -> dict[str, Any]:
    """Make the timeline again what the upload `upload_id` made it (its file from its
    validity start, the files before it on the days before)."""
    entry = await _read(clients, tenant_id, f"{UPLOAD_PREFIX}{upload_id}")
    if entry is None:
        raise NotFound(f"no kept building file upload {upload_id!r}")
    for segment in _pointer_timeline(entry):
        if await _read(clients, tenant_id, f"{UPLOAD_PREFIX}{segment.upload_id}") is None:
            raise Conflict(
                f"upload {upload_id!r} labelled some days with upload "
                f"{segment.upload_id!r}, which is no longer kept"
            )
    fields = {k: v for k, v in entry.items() if not k.startswith("_") and k not in _OWN}
    pointer = {"id": POINTER_ID, "tenantId": tenant_id, "type": "buildings", **fields}
    pointer["rolledBackAt"] = utcnow()
    await upsert(clients.container(layout.TENANTS), pointer, what="roll back building file")
    return building_summary(pointer)


_OWN = frozenset(("id", "tenantId", "type"))


def building_summary(pointer: Mapping[str, Any] | None) -> dict[str, Any]:
    if not pointer:
        return {
            "active": False,
            "rows": 0,
            "buildings": 0,
            "uploadedAt": None,
            "uploadedBy": None,
            "uploadId": None,
            "validFrom": None,
            "timeline": [],
        }
    return {
        "active": True,
        "rows": pointer["rows"],
        "buildings": pointer["buildings"],
        "uploadedAt": pointer["uploadedAt"],
        "uploadedBy": pointer.get("uploadedBy"),
        "uploadId": pointer["uploadId"],
        "validFrom": pointer.get("validFrom"),
        "timeline": [
            {"uploadId": s.upload_id, "validFrom": s.valid_from} for s in _pointer_timeline(pointer)
        ],
    }


def upload_summary(entry: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """One kept upload as the history lists it; `inUse` when the timeline uses it."""
    used = {s.upload_id for s in _pointer_timeline(current)}
    return {
        "uploadId": entry["uploadId"],
        "rows": entry["rows"],
        "buildings": entry["buildings"],
        "validFrom": entry.get("validFrom"),
        "uploadedAt": entry["uploadedAt"],
        "uploadedBy": entry.get("uploadedBy"),
        "current": bool(current and current.get("uploadId") == entry["uploadId"]),
        "active": bool(current and current.get("uploadId") == entry["uploadId"]),
        "inUse": entry["uploadId"] in used,
    }


async def building_history(clients: Clients, tenant_id: str) -> dict[str, Any]:
    current, uploads = await asyncio.gather(
        _read(clients, tenant_id, POINTER_ID), list_uploads(clients, tenant_id)
    )
    return {
        "current": building_summary(current),
        "uploads": [upload_summary(u, current) for u in uploads],
    }


read_building_history = building_history  # the name the history route used first


async def read_building_summary(clients: Clients, tenant_id: str) -> dict[str, Any]:
    return building_summary(await _read(clients, tenant_id, POINTER_ID))


async def _load_upload(clients: Clients, tenant_id: str, segment: Segment) -> BuildingIndex | None:
    """One upload's index (cached per upload id: a given upload's chunks never change);
    None when a chunk is gone (pruned while we read)."""
    key = (tenant_id, segment.upload_id)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    parts = await asyncio.gather(
        *(
            _read(clients, tenant_id, f"buildings|{segment.upload_id}|{n}")
            for n in range(segment.chunks)
        )
    )
    rows: list[BuildingRow] = []
    for part in parts:
        if part is None:
            return None
        rows += _unpack(part["data"])
    index = BuildingIndex(rows)
    _cache[key] = index
    return index


async def load_building_timeline(
    clients: Clients, tenant_id: str, _retry: bool = True
) -> BuildingTimeline | None:
    """Every file the tenant's timeline uses, with the day each starts; None when no
    file is active."""
    pointer = await _read(clients, tenant_id, POINTER_ID)
    timeline = _pointer_timeline(pointer)
    if not timeline:
        return None
    indexes = await asyncio.gather(*(_load_upload(clients, tenant_id, s) for s in timeline))
    if any(i is None for i in indexes) and _retry:  # replaced while we read: the new
        return await load_building_timeline(clients, tenant_id, _retry=False)  # pointer rules
    used = {s.upload_id for s in timeline}
    for old in [k for k in _cache if k[0] == tenant_id and k[1] not in used]:
        del _cache[old]
    return BuildingTimeline(
        timeline, {s.upload_id: i for s, i in zip(timeline, indexes, strict=True) if i}
    )


async def load_building_index(clients: Clients, tenant_id: str) -> BuildingIndex | None:
    """The file of today (the timeline's last segment): what call detail and the alerts
    place an endpoint with; None when no file is active."""
    timeline = await load_building_timeline(clients, tenant_id)
    return timeline.current if timeline else None


@dataclass
class BuildingTimeline:
    """The files of a tenant's timeline, by upload id, and which one labels a day."""

    segments: list[Segment]
    indexes: dict[str, BuildingIndex]

    @property
    def current(self) -> BuildingIndex | None:
        """The file that labels today (UTC)."""
        return self.index_for(utcnow()[:10])

    def index_for(self, day: str) -> BuildingIndex | None:
        upload = upload_for(self.segments, day)
        return self.indexes.get(upload) if upload else None
