"""The processor reads a raw batch a range at a time (shared/storage/blobs.py): against
Azurite, the ranges reassemble the blob exactly, none is larger than asked for, an empty
blob yields nothing, and a blob replaced mid-read fails the read instead of splicing."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from azure.core.exceptions import ResourceModifiedError

from shared.storage import layout
from shared.storage.blobs import BatchBlobs, BlobMissing
from shared.storage.clients import get_clients

pytestmark = pytest.mark.stack


def _name() -> str:
    return f"ranges/2026/11/21/{uuid.uuid4()}.json.gz"


async def _chunks(blobs: BatchBlobs, name: str, size: int) -> list[bytes]:
    download = await blobs.open_incoming(name, range_bytes=size)
    return [bytes(c) async for c in download.chunks()]


def test_ranges_reassemble_the_blob_and_stay_within_the_range_size(stack) -> None:
    data = os.urandom(10_000) + b"tail"

    async def go() -> None:
        blobs = BatchBlobs(get_clients())
        name = _name()
        assert await blobs.put_incoming(name, data, "h", "t") is None
        for size in (1_000, 4_096, 10_004, 1 << 20):
            chunks = await _chunks(blobs, name, size)
            assert b"".join(chunks) == data
            assert max(len(c) for c in chunks) <= size
            assert len(chunks) == -(-len(data) // size)
        await blobs.delete_incoming(name)

    asyncio.run(go())


def test_an_empty_blob_yields_nothing_and_a_missing_one_is_blob_missing(stack) -> None:
    async def go() -> None:
        blobs = BatchBlobs(get_clients())
        name = _name()
        await blobs.put_incoming(name, b"", "h", "t")
        assert await _chunks(blobs, name, 1_000) == []
        await blobs.delete_incoming(name)
        with pytest.raises(BlobMissing):
            await blobs.open_incoming(name)

    asyncio.run(go())


def test_a_blob_replaced_during_the_read_fails_it(stack) -> None:
    async def go() -> None:
        blobs = BatchBlobs(get_clients())
        name = _name()
        await blobs.put_incoming(name, b"a" * 3_000, "h", "t")
        download = await blobs.open_incoming(name, range_bytes=1_000)
        chunks = download.chunks()
        assert await chunks.__anext__() == b"a" * 1_000
        blob = get_clients().blobs(layout.INCOMING).get_blob_client(name)
        await blob.upload_blob(b"b" * 3_000, overwrite=True)
        with pytest.raises(ResourceModifiedError):
            await chunks.__anext__()
        await blobs.delete_incoming(name)

    asyncio.run(go())
