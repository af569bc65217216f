"""Blob storage of the batches: the raw batch in `incoming/`, quarantined records, and
the poison path. The services call these; only this module knows the SDK's calls and
exceptions (a missing or existing blob is an answer here, not an exception class the
caller must import).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import with_retries


class BlobMissing(Exception):
    """The blob does not exist (any more)."""


# The raw batch is read in ranges of this size. The SDK's own downloader fetches the
# first 32 MB in one GET (its `max_single_get_size`), i.e. the whole of any batch, and
# keeps it until the download object goes; a range at a time keeps the processor's
# memory independent of the batch's size (bench/pipeline measures it).
INCOMING_RANGE_BYTES = 256 * 1024


class RangedDownload:
    """A blob read as consecutive ranged GETs, each pinned to the etag the first one
    saw (a blob replaced mid-read fails the attempt, which the host retries, instead of
    splicing two versions). `chunks()` yields each range once and keeps no reference."""

    def __init__(self, blob: Any, first: Any, range_bytes: int) -> None:
        """`first`: the download of the first range, None for an empty blob."""
        self._blob = blob
        self._first: Any = first
        self._range = range_bytes
        self._etag = first.properties.etag if first is not None else None
        content_range = (first.properties.content_range or "") if first is not None else ""
        total = content_range.rpartition("/")[2]
        self.size = int(total) if total.isdigit() else int(getattr(first, "size", 0))

    async def chunks(self) -> AsyncIterator[bytes]:
        from azure.core import MatchConditions

        first, self._first = self._first, None
        if first is None:
            return
        data = await first.readall()
        del first
        offset = len(data)
        if data:
            yield data
        del data
        while offset < self.size:
            length = min(self._range, self.size - offset)
            start = offset

            async def fetch(start: int = start, length: int = length) -> bytes:
                part = await self._blob.download_blob(
                    offset=start,
                    length=length,
                    etag=self._etag,
                    match_condition=MatchConditions.IfNotModified,
                )
                return bytes(await part.readall())

            chunk = await with_retries(fetch, what="download batch range")
            if not chunk:  # the blob is shorter than it said: stop, the parser will tell
                return
            offset += len(chunk)
            yield chunk
            del chunk


def _ascii_header(value: str, limit: int = 1000) -> str:
    """Blob metadata travels as HTTP headers: no control characters, ASCII only."""
    safe = re.sub(r"[\x00-\x1f\x7f]+", " ", value)
    return safe.encode("ascii", "replace").decode()[:limit]


class BatchBlobs:
    """The blob side of one tenant-agnostic pipeline (the names carry the tenant)."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def _blob(self, container: str, name: str) -> Any:
        return self._clients.blobs(container).get_blob_client(name)

    async def put_incoming(
        self, name: str, data: bytes, content_hash: str, tenant_id: str
    ) -> str | None:
        """Write a new raw batch, never overwriting. None when written; else the content
        hash recorded on the blob already there (a retry, or another batch's content)."""
        from azure.core.exceptions import ResourceExistsError

        blob = self._blob(layout.INCOMING, name)
        try:
            await with_retries(
                lambda: blob.upload_blob(
                    data,
                    overwrite=False,
                    metadata={"contenthash": content_hash, "tenantid": tenant_id},
                    content_settings=None,
                ),
                what="write batch blob",
            )
        except ResourceExistsError:
            props = await blob.get_blob_properties()
            return str((props.metadata or {}).get("contenthash") or "")
        return None

    async def open_incoming(self, name: str, range_bytes: int | None = None) -> Any:
        """A streaming download of a raw batch (`.chunks()`), `range_bytes` (default
        `INCOMING_RANGE_BYTES`) at a time; `BlobMissing` if gone."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        range_bytes = range_bytes or INCOMING_RANGE_BYTES
        blob = self._blob(layout.INCOMING, name)
        try:
            first = await with_retries(
                lambda: blob.download_blob(offset=0, length=range_bytes),
                what="download batch",
            )
        except ResourceNotFoundError as exc:
            raise BlobMissing(name) from exc
        except HttpResponseError as exc:
            if exc.status_code != 416:  # a range of an empty blob: 416 InvalidRange
                raise
            first = None
        return RangedDownload(blob, first, range_bytes)

    async def incoming_exists(self, name: str) -> bool:
        return bool(await with_retries(self._blob(layout.INCOMING, name).exists, what="find batch"))

    async def incoming_content_hash(self, name: str) -> str | None:
        """The content hash ingest recorded on a raw batch ("" when the blob carries
        none); None when the blob does not exist. One properties request, no download."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._blob(layout.INCOMING, name)
        try:
            props = await with_retries(blob.get_blob_properties, what="find batch")
        except ResourceNotFoundError:
            return None
        return str((props.metadata or {}).get("contenthash") or "")

    async def read_incoming(self, name: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return bytes(await (await self._blob(layout.INCOMING, name).download_blob()).readall())
        except ResourceNotFoundError:
            return None

    async def delete_incoming(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            await self._blob(layout.INCOMING, name).delete_blob()
        except ResourceNotFoundError:
            pass

    async def quarantine(self, tenant_id: str, batch_id: str, index: int, body: bytes) -> None:
        blob = self._blob(
            layout.QUARANTINE, layout.quarantine_blob_name(tenant_id, batch_id, index)
        )
        await with_retries(lambda: blob.upload_blob(body, overwrite=True), what="write quarantine")

    async def poison(self, name: str, data: bytes, reason: str, attempts: int) -> None:
        """The raw batch, as it was, under the same name in the poison container."""
        target = self._blob(layout.POISON, name)
        metadata = {"reason": _ascii_header(reason), "attempts": str(attempts)}
        await with_retries(
            lambda: target.upload_blob(data, overwrite=True, metadata=metadata),
            what="write poison blob",
        )

    async def poison_reason(self, name: str, body: bytes) -> None:
        blob = self._blob(layout.POISON, name + ".reason.json")
        await with_retries(
            lambda: blob.upload_blob(body, overwrite=True), what="write poison reason"
        )

    @staticmethod
    def poison_path(name: str) -> str:
        return f"{layout.POISON}/{name}"
