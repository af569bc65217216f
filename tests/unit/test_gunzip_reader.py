"""The processor's streaming reader: inflates only what the JSON parser asks for."""

import asyncio
import gzip
import json
import random

import ijson
import pytest

from shared.processor import BatchUnreadable, _GunzipReader


class Chunks:
    """Async iterator of byte ranges, like a blob download's chunks()."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.i = data, size, 0

    def __aiter__(self) -> "Chunks":
        return self

    async def __anext__(self) -> bytes:
        if self.i >= len(self.data):
            raise StopAsyncIteration
        chunk = self.data[self.i : self.i + self.size]
        self.i += len(chunk)
        return chunk


RNG = random.Random(5)
RECORDS = [
    {
        "kind": "qoe",
        "format": "ms-qoe-xml",
        "data": "<x>" + "".join(RNG.choice("abcdef0123") for _ in range(2000)) + "</x>",
    }
    for _ in range(1500)
]
RAW = json.dumps({"batchId": "b", "records": RECORDS}).encode()
BLOB = gzip.compress(RAW)


@pytest.mark.parametrize("chunk", [997, 64 * 1024, 4 * 1024 * 1024])
def test_records_stream_out_whatever_the_chunking(chunk):
    async def run():
        return [
            r
            async for r in ijson.items_async(
                _GunzipReader(Chunks(BLOB, chunk), 10**9), "records.item"
            )
        ]

    assert asyncio.run(run()) == RECORDS


def test_buffer_stays_small_when_one_chunk_holds_the_whole_blob():
    """A single 4 MB range is ~3x that as JSON: it must be inflated piecemeal."""

    async def run() -> tuple[bytes, int]:
        reader, out, most = _GunzipReader(Chunks(BLOB, 4 * 1024 * 1024), 10**9), b"", 0
        while block := await reader.read(65536):
            out += block
            most = max(most, len(reader._buf))
        return out, most

    out, most = asyncio.run(run())
    assert out == RAW and most < 200_000 < len(RAW)


def test_limit_and_corrupt_gzip_are_unreadable():
    async def drain(reader: _GunzipReader) -> None:
        while await reader.read(65536):
            pass

    with pytest.raises(BatchUnreadable, match="beyond"):
        asyncio.run(drain(_GunzipReader(Chunks(BLOB, 65536), 100_000)))
    with pytest.raises(BatchUnreadable, match="gzip"):
        asyncio.run(drain(_GunzipReader(Chunks(b"not gzip at all", 10), 10**9)))
