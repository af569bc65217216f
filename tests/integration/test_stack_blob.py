"""Azurite behaviours the ingest path relies on: the layout's containers exist, and a
conditional create (`overwrite=False`, If-None-Match: *) refuses a second write, which
is what makes a re-posted batch detectable instead of silently replaced."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import BlobServiceClient

from devhost.stack import Stack
from shared.storage import layout

pytestmark = pytest.mark.stack


def test_containers_exist_and_conditional_write_refuses_a_second_upload(stack: Stack) -> None:
    async def go() -> None:
        async with BlobServiceClient.from_connection_string(os.environ["CDC_STORAGE"]) as svc:
            names = {c.name async for c in svc.list_containers()}
            assert set(layout.BLOB_CONTAINERS) <= names
            blob = svc.get_blob_client(layout.INCOMING, f"t/2026/11/21/{uuid.uuid4()}.json.gz")
            await blob.upload_blob(b"first", overwrite=False)
            with pytest.raises(ResourceExistsError):
                await blob.upload_blob(b"second", overwrite=False)
            assert await (await blob.download_blob()).readall() == b"first"
            props = await blob.get_blob_properties()
            await blob.upload_blob(
                b"third",
                overwrite=True,
                etag=props.etag,
                match_condition=MatchConditions.IfNotModified,
            )
            assert await (await blob.download_blob()).readall() == b"third"

    asyncio.run(go())
    assert stack.storage_connection_string.endswith(f"BlobEndpoint={stack.blob_endpoint};")
