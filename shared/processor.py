"""The batch processor behind the blob trigger.

Streams the raw batch (gzip -> JSON records, never the whole file in memory), parses
each record, drops excluded users' records, quarantines bad ones with their reason and
merges the rest into call documents, a chunk at a time. Every run recounts from
scratch and every write is idempotent, so a re-run (the host's retry, a duplicate
Event Grid delivery, a redeployed blob) ends in the same calls and the same counts.

Failures: transient errors propagate so the host retries; the processor counts its own
attempts in the batch status (host-agnostic), and the run that reaches the limit, or
finds the blob unreadable, moves the blob to the poison container with its reason
instead of raising. Nothing accepted is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared import telemetry  # batch context, EUII scrubbing, metrics
from shared.exclusions import ExclusionPolicy, TenantSettings
from shared.merge import lookup_keys, merged_document
from shared.models.call import CallDocument, Fragment
from shared.parsing import ParseContext, RecordRejected, parse_record
from shared.settings import Settings, get_settings
from shared.storage import layout
from shared.storage.batches import MAX_ERRORS, read_batch, save_batch, update_batch, utcnow
from shared.storage.blobs import BatchBlobs, BlobMissing
from shared.storage.call_ledger import GROUP_CALLS, CommitGroup  # quality aggregates
from shared.storage.calls import (
    Combine,
    Directory,
    MergeResult,
    call_key,
    ensure_user_index,
    history_keys,
    merge_call,
    read_calls_raw,
    read_history_raw,
    write_directory,
    write_user_index,
)
from shared.storage.clients import Clients, get_clients
from shared.storage.heap import release_memory
from shared.storage.items import ItemTooLarge
from shared.storage.source_index import index_source_ids
from shared.storage.tenants import read_tenant_settings

log = logging.getLogger(__name__)

CHUNK_RECORDS = 100  # records merged per flush: bounds the working set (see bench/pipeline)
# Rejected records parked per flush, by size too: a count alone lets 100 records of up to
# `max_qoe_bytes` each (30 MB) wait in memory for their blob writes.
QUARANTINE_BUFFER_BYTES = 1024 * 1024
INFLATE_SLICE = 16 * 1024  # compressed bytes handed to zlib per call (see _GunzipReader)
# A call that gained this many fragments in one chunk is a large meeting whose legs are
# still arriving: it is held over to the next flush instead of written now, so a
# 1,000-leg meeting in one batch is read and written once, not once per chunk (each time
# whole, megabytes in a head and chunks). Held-over records are bounded by size.
HOLD_FRAGMENTS = 20
HOLD_BYTES = 2 * 1024 * 1024
FINAL = ("completed", "completedWithErrors", "failed")


class BatchUnreadable(Exception):
    """The blob itself is corrupt (bad gzip/JSON): retrying cannot help."""


@dataclass
class RunCounts:
    received: int = 0
    stored: int = 0
    excluded: int = 0
    quarantined: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)


class _GunzipReader:
    """Async file-like over a blob download: decompresses as ijson reads, with a cap.

    Memory is bounded by constants, not by the blob: one downloaded range at a time
    (dropped once zlib has consumed it), zlib fed `INFLATE_SLICE` bytes of it per call
    through a memoryview (so `unconsumed_tail`, which zlib copies on every call that
    stops at `max_length`, is at most one slice, never the rest of a multi-MB range),
    and only as much inflated JSON as the parser asked for."""

    def __init__(self, chunks: Any, limit: int) -> None:
        self._chunks = chunks.__aiter__()
        self._z = zlib.decompressobj(wbits=47)  # gzip or zlib header
        self._chunk = memoryview(b"")  # the downloaded range being inflated
        self._pos = 0  # how far into it zlib has consumed
        self._buf = bytearray()  # inflated, not yet read
        self._limit = limit
        self._total = 0
        self._eof = False

    async def _next_chunk(self) -> bool:
        self._chunk.release()  # the consumed range goes before the next one arrives
        self._chunk, self._pos = memoryview(b""), 0
        try:
            self._chunk = memoryview(await self._chunks.__anext__())
        except StopAsyncIteration:
            self._buf += self._z.flush()
            self._eof = True
            return False
        return True

    async def read(self, n: int = 65536) -> bytes:
        # Inflate only what the parser asks for (max_length): a blob range of a few MB
        # compressed is tens of MB of JSON, and holding that at once is exactly the
        # whole-file memory this reader exists to avoid.
        while len(self._buf) < n and not self._eof:
            if self._pos >= len(self._chunk):
                if not await self._next_chunk():
                    break
                continue
            piece = self._chunk[self._pos : self._pos + INFLATE_SLICE]
            try:
                out = self._z.decompress(piece, max(n - len(self._buf), 16384))
            except zlib.error as exc:
                raise BatchUnreadable(f"blob is not valid gzip: {exc}") from exc
            self._pos += len(piece) - len(self._z.unconsumed_tail)
            self._total += len(out)
            if self._total > self._limit:
                raise BatchUnreadable(f"blob decompresses beyond {self._limit} bytes")
            self._buf += out
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


async def _records(reader: _GunzipReader) -> AsyncIterator[Any]:
    """The batch's records, one at a time, from ijson's push parser. Not
    `ijson.items_async`: its C wrapper does not pass an exception thrown into a pending
    read on to that read (asyncio throws a failed future's exception in), so an error
    the HTTP stack raises and handles itself inside a ranged download (aiohttp's
    proxy-environment lookup) would escape into the batch instead."""
    import ijson

    found = ijson.sendable_list()
    parser = ijson.items_coro(found, "records.item", use_float=True)
    while True:
        block = await reader.read(65536)
        if block:
            parser.send(block)
        else:
            parser.close()  # raises if the JSON is incomplete
        for record in found:
            yield record
        del found[:]
        if not block:
            return


def parse_blob_name(name: str) -> tuple[str, str]:
    parsed = layout.parse_incoming_blob_name(name)
    if parsed is None:
        raise BatchUnreadable(f"blob name {name!r} is not {{tenant}}/y/m/d/{{batch}}.json.gz")
    return parsed


def _approx_size(record: Any) -> int:
    """Roughly the bytes a record holds as JSON: the length of its strings (a QoE
    report's XML is nearly all of it) plus a little per value, without serialising it
    (iterative: a nesting depth is no reason to fail)."""
    size, stack = 0, [record]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            size += len(value) + 2
        elif isinstance(value, dict):
            size += 2 + sum(len(str(k)) + 4 for k in value)
            stack.extend(value.values())
        elif isinstance(value, list):
            size += 2 + len(value)
            stack.extend(value)
        else:
            size += 8
    return size


def held_over(
    sources: dict[str, dict[int, Any]], fresh: dict[str, int], budget: int = HOLD_BYTES
) -> set[str]:
    """The calls of a chunk to hold over to the next flush: those that gained at least
    `HOLD_FRAGMENTS` fragments in this chunk (`fresh`), most first, while their
    records fit in `budget` bytes. A call that gained none since is written (its legs
    have stopped coming), and so is one sharing a record with another call: a record is
    counted stored when its calls are written, so its calls are written together."""
    owners: dict[int, int] = defaultdict(int)
    for records in sources.values():
        for index in records:
            owners[index] += 1
    held: set[str] = set()
    for key, gained in sorted(fresh.items(), key=lambda kv: (-kv[1], kv[0])):
        if gained < HOLD_FRAGMENTS:
            break
        records = sources[key]
        if any(owners[i] > 1 for i in records):
            continue
        size = sum(_approx_size(r) for r in records.values())
        if size <= budget:
            held.add(key)
            budget -= size
    return held


def _records_in(sources: dict[str, dict[int, Any]]) -> int:
    """How many records the calls of `sources` came from (a record may name several)."""
    return len({index for records in sources.values() for index in records})


def _uris(fragments: list[Fragment]) -> list[str]:
    out = []
    for frag in fragments:
        out += [u for u in (frag.organizer, frag.conference_uri) if u]
        for s in frag.sessions:
            out += [u for u in (s.caller.uri, s.callee.uri) if u]
    return out


class BatchProcessor:
    def __init__(self, clients: Clients, settings: Settings) -> None:
        self.blobs = BatchBlobs(clients)
        self.clients = clients
        self.settings = settings
        self._sem = asyncio.Semaphore(max(1, settings.cosmos_concurrency))

    async def process(self, blob_name: str) -> dict[str, Any]:
        # Every log line and span of the run carries the batch's ids; the
        # counters, duration and outcome are emitted when it ends.
        tenant_id, batch_id = parse_blob_name(blob_name)
        with telemetry.batch_context(batch_id, tenant_id) as scope:
            return scope.finish(await self._attempt(blob_name))

    async def _attempt(self, blob_name: str) -> dict[str, Any]:
        tenant_id, batch_id = parse_blob_name(blob_name)
        name = blob_name.split("/", 1)[1] if blob_name.startswith("incoming/") else blob_name
        ctx = {"batchId": batch_id, "tenantId": tenant_id}
        doc = await read_batch(self.clients, tenant_id, batch_id)
        if doc is None:  # the trigger won the race with ingest's status write
            doc = await save_batch(
                self.clients,
                {
                    "id": batch_id,
                    "batchId": batch_id,
                    "tenantId": tenant_id,
                    "status": "accepted",
                    "receivedAt": utcnow(),
                    "blobName": name,
                    "attempts": 0,
                    "ttl": layout.BATCHES.default_ttl,
                },
            )
        if doc.get("status") in FINAL:
            held = await self.blobs.incoming_content_hash(name)
            if held is None:
                # A duplicate event for a batch that finished (and whose blob is gone):
                # the result stands. Without this a fresh attempt would find no blob and
                # poison a completed batch.
                log.info("batch already %s; repeated event ignored", doc.get("status"), extra=ctx)
                return doc
            if doc.get("status") != "failed" and held and held == doc.get("contentHash"):
                # The completed batch's own content delivered again (a duplicate event
                # that raced the blob's deletion, a crash between the final status and
                # the delete): every record of it is already stored and counted, so the
                # redelivery is a no-op that costs the status read. A failed batch copied
                # back from poison/, or other content under the name, is processed.
                log.info(
                    "batch already %s; the same content delivered again is ignored",
                    doc.get("status"),
                    extra=ctx,
                )
                await self._delete_incoming(name)
                return doc
        # A finished batch whose blob is back (redeployed from poison/, see README): a
        # fresh attempt budget.
        attempts = 1 if doc.get("status") in FINAL else int(doc.get("attempts") or 0) + 1
        doc = (
            await update_batch(
                self.clients,
                tenant_id,
                batch_id,
                {
                    "status": "processing",
                    "attempts": attempts,
                    "startedAt": utcnow(),
                },
            )
            or doc
        )
        telemetry.set_context(sourceServer=doc.get("sourceFqdn"))
        log.info(
            "processing batch",
            extra=ctx | {"attempt": attempts, "sourceServer": doc.get("sourceFqdn")},
        )
        try:
            counts = await self._stream_and_merge(tenant_id, batch_id, name)
        except BatchUnreadable as exc:
            return await self._poison(tenant_id, batch_id, name, str(exc), attempts)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            if attempts >= self.settings.max_process_attempts:
                return await self._poison(tenant_id, batch_id, name, reason, attempts)
            log.warning(
                "batch attempt %d failed, the host will retry: %s",
                attempts,
                type(exc).__name__,
                extra=ctx,
            )
            try:
                await update_batch(
                    self.clients,
                    tenant_id,
                    batch_id,
                    {"status": "accepted", "lastError": reason},
                    unless_status=FINAL,
                )
            except Exception:  # the store may be what is failing; the retry re-reads
                log.exception("could not record the failed attempt", extra=ctx)
            raise
        status = "completed" if counts.quarantined == 0 else "completedWithErrors"
        final = await update_batch(
            self.clients,
            tenant_id,
            batch_id,
            {
                "status": status,
                "received": counts.received,
                "stored": counts.stored,
                "excluded": counts.excluded,
                "quarantined": counts.quarantined,
                "calls": len(counts.calls),
                "errors": counts.errors[:MAX_ERRORS],
                "completedAt": utcnow(),
                "lastError": None,
            },
        )
        await self._delete_incoming(name)
        log.info(
            "batch %s: %d received, %d stored, %d excluded, %d quarantined",
            status,
            counts.received,
            counts.stored,
            counts.excluded,
            counts.quarantined,
            extra=ctx,
        )
        return final or {}

    async def _stream_and_merge(self, tenant_id: str, batch_id: str, name: str) -> RunCounts:
        import ijson

        tenant = await read_tenant_settings(self.clients, tenant_id)
        parse_ctx = ParseContext(tenant_id=tenant_id, max_qoe_bytes=self.settings.max_qoe_bytes)
        try:
            downloader = await self.blobs.open_incoming(name)
        except BlobMissing as exc:
            raise BatchUnreadable("the batch blob no longer exists") from exc
        reader = _GunzipReader(downloader.chunks(), self.settings.max_batch_bytes)
        counts = RunCounts()
        seen_users: set[tuple[str, str | None]] = set()
        pending: dict[str, list[Fragment]] = defaultdict(list)
        sources: dict[str, dict[int, Any]] = defaultdict(dict)  # call key -> its records
        pending_records = 0  # records read since the last flush that gave fragments
        fresh: dict[str, int] = defaultdict(int)  # fragments per call since the last flush
        quarantine: list[tuple[int, str, Any]] = []
        parked_bytes = 0  # the size of what waits in `quarantine`
        keep_aggregates = tenant.classification.retention.ttl_seconds("aggregates")
        commits: dict[str, bool] = {}  # the batch's commit groups (and those it looked up)
        group = CommitGroup(self.clients, tenant_id, keep_aggregates, commits)
        try:
            async for record in _records(reader):
                index = counts.received
                counts.received += 1
                rejected = len(quarantine)
                fragments = self._fragments_of(
                    record, parse_ctx, tenant.exclusions, index, counts, quarantine
                )
                if len(quarantine) > rejected:
                    parked_bytes += _approx_size(record)
                if fragments:
                    for frag in fragments:
                        pending[frag.key].append(frag)
                        sources[frag.key][index] = record
                        fresh[frag.key] += 1
                    pending_records += 1
                if (
                    pending_records >= CHUNK_RECORDS
                    or len(quarantine) >= CHUNK_RECORDS
                    or parked_bytes >= QUARANTINE_BUFFER_BYTES
                ):
                    held = held_over(sources, fresh)
                    now = {k: v for k, v in pending.items() if k not in held}
                    now_sources = {k: v for k, v in sources.items() if k not in held}
                    refused = await self._flush(
                        tenant_id,
                        batch_id,
                        now,
                        now_sources,
                        quarantine,
                        counts,
                        tenant,
                        seen_users,
                        group,
                    )
                    counts.stored += _records_in(now_sources) - len(refused)
                    pending = defaultdict(list, {k: pending[k] for k in held})
                    sources = defaultdict(dict, {k: sources[k] for k in held})
                    pending_records, quarantine, parked_bytes = 0, [], 0
                    fresh = defaultdict(int)
                    if len(group.calls) >= GROUP_CALLS:
                        # the group's transitions into the aggregates, then its commit
                        await group.finish()
                        group = CommitGroup(self.clients, tenant_id, keep_aggregates, commits)
                        release_memory()
        except ijson.JSONError as exc:
            raise BatchUnreadable(
                f"batch JSON is corrupt after record {counts.received}: {exc}"
            ) from exc
        refused = await self._flush(
            tenant_id,
            batch_id,
            pending,
            sources,
            quarantine,
            counts,
            tenant,
            seen_users,
            group,
        )
        counts.stored += _records_in(sources) - len(refused)
        await group.finish()
        return counts

    async def replay_record(
        self, tenant_id: str, batch_id: str, index: int, record: Any
    ) -> tuple[str, str | None]:
        """Run one quarantined record through today's parsers, policy and merge (an admin
        replays it after a parser fix): ("stored" | "excluded" | "quarantined", reason)."""
        return (await self.replay_records(tenant_id, batch_id, [(index, record)]))[index]

    async def replay_records(
        self, tenant_id: str, batch_id: str, records: Sequence[tuple[int, Any]]
    ) -> dict[int, tuple[str, str | None]]:
        """Replay quarantined records of one batch together: each (index, record) is
        parsed alone, then the usable ones are merged in one flush, as the processor
        would have (one read-many, one merge per call however many of its records come
        back). Merging is a union, so a record replayed twice stores its call once."""
        tenant = await read_tenant_settings(self.clients, tenant_id)
        ctx = ParseContext(tenant_id=tenant_id, max_qoe_bytes=self.settings.max_qoe_bytes)
        counts = RunCounts()
        outcomes: dict[int, tuple[str, str | None]] = {}
        pending: dict[str, list[Fragment]] = defaultdict(list)
        sources: dict[str, dict[int, Any]] = defaultdict(dict)
        for index, record in records:
            rejected: list[tuple[int, str, Any]] = []
            fragments = self._fragments_of(record, ctx, tenant.exclusions, index, counts, rejected)
            if rejected:
                outcomes[index] = ("quarantined", rejected[0][1])
                continue
            outcomes[index] = ("stored", None) if fragments else ("excluded", None)
            for frag in fragments:
                pending[frag.key].append(frag)
                sources[frag.key][index] = record
        if pending:
            group = CommitGroup(
                self.clients, tenant_id, tenant.classification.retention.ttl_seconds("aggregates")
            )
            refused = await self._flush(
                tenant_id, batch_id, pending, sources, [], counts, tenant, set(), group
            )
            await group.finish()
            for index, reason in refused.items():
                outcomes[index] = ("quarantined", reason)
        return outcomes

    def _fragments_of(
        self,
        record: Any,
        ctx: ParseContext,
        policy: ExclusionPolicy,
        index: int,
        counts: RunCounts,
        quarantine: list[tuple[int, str, Any]],
    ) -> list[Fragment]:
        if policy.excludes_record(record):
            # Decided before parsing: an excluded user's record, well-formed or not, is
            # counted and dropped, never parsed, stored or quarantined.
            counts.excluded += 1
            return []
        try:
            if not isinstance(record, dict):
                raise RecordRejected("record is not a JSON object")
            fragments = parse_record(
                str(record.get("kind")), str(record.get("format")), record.get("data"), ctx
            )
            if not fragments:
                raise RecordRejected("record holds no call data")
        except RecordRejected as exc:
            counts.quarantined += 1
            if len(counts.errors) < MAX_ERRORS:
                counts.errors.append({"index": index, "reason": exc.reason})
            quarantine.append((index, exc.reason, record))
            return []
        if (policy.users or policy.domains) and any(policy.excludes(u) for u in _uris(fragments)):
            # also after parsing: a URI the parser rebuilt (a phone number in SIP form)
            counts.excluded += 1
            return []
        return fragments

    async def _flush(
        self,
        tenant_id: str,
        batch_id: str,
        pending: dict[str, list[Fragment]],
        sources: dict[str, dict[int, Any]],
        quarantine: list[tuple[int, str, Any]],
        counts: RunCounts,
        tenant: TenantSettings,
        seen_users: set[tuple[str, str | None]],
        group: CommitGroup,
    ) -> dict[int, str]:
        """Merge the pending calls and park the rejected records. Returns the pending
        records quarantined here instead of stored (index -> reason): those of a call
        Cosmos DB refused as too large (413). That call's records are quarantined
        alone, with the reason; the other calls of the batch are stored as usual.
        The calls' aggregate transitions join `group`, which applies them later."""
        profile = tenant.profile_choice()
        table = tenant.classification.table()
        ttl = tenant.classification.retention.ttl_seconds("calls")
        too_large: list[tuple[str, ItemTooLarge]] = []

        def combine(key: str, fragments: list[Fragment]) -> Combine:
            def run(current: CallDocument | None) -> CallDocument | None:
                doc = merged_document(current, tenant_id, key, fragments, profile, table)
                if doc is not None:
                    doc.ttl = ttl  # the tenant's retention, per item (docs/reference/settings.md)
                return doc

            return run

        async def merge(
            key: str, fragments: list[Fragment], stored: dict[str, Any] | None
        ) -> MergeResult | None:
            async with self._sem:
                try:
                    return await merge_call(
                        self.clients, tenant_id, key, combine(key, fragments), stored, group
                    )
                except ItemTooLarge as exc:
                    too_large.append((key, exc))
                    return None

        async def park(index: int, reason: str, record: Any) -> None:
            body = json.dumps(
                {
                    "tenantId": tenant_id,
                    "batchId": batch_id,
                    "index": index,
                    "reason": reason,
                    "record": record,
                },
                default=str,
            )
            async with self._sem:
                await self.blobs.quarantine(tenant_id, batch_id, index, body.encode())

        # What the flush is about to write is read first, one read-many per container
        # (calls, then what their ledgers need and the history entries of the calls
        # already stored), instead of one point read each: a stored call then costs its
        # replace only.
        stored = await read_calls_raw(self.clients, tenant_id, list(pending)) if pending else {}
        await group.learn((call_key(tenant_id, k)[0], raw) for k, raw in stored.items())
        merged = await asyncio.gather(
            *(merge(k, v, stored.get(k)) for k, v in pending.items()),
            *(park(*q) for q in quarantine),
        )
        results = [r for r in merged if isinstance(r, MergeResult)]
        # entries of a call's first revision do not exist yet (created straight away)
        reread = [r for r in results if not r.changed or r.document.revision > 1]
        reread_ids = {id(r) for r in reread}
        history = await read_history_raw(
            self.clients, [k for r in reread for k in history_keys(r.document)]
        )
        source_ids: dict[str, set[str]] = {}  # the flush's ids to index, written together
        directory: Directory = {}  # and its users' directory entries
        await asyncio.gather(
            *(
                self._follow_up(
                    r,
                    history if id(r) in reread_ids else None,
                    seen_users,
                    source_ids,
                    directory,
                )
                for r in results
            )
        )
        await asyncio.gather(
            index_source_ids(self.clients, tenant_id, source_ids),
            write_directory(self.clients, tenant_id, directory),
        )
        counts.calls.update(r.call_id for r in results)
        refused: dict[int, tuple[str, Any]] = {}
        for key, exc in too_large:
            size = f"{exc.size} bytes" if exc.size else "its size"
            reason = (
                f"the call this record belongs to is too large to store ({size}; Cosmos DB "
                "refuses items over 2 MB)"
            )
            for index, record in sources.get(key, {}).items():
                refused.setdefault(index, (reason, record))
        if refused:
            log.error(
                "%d record(s) of %d call(s) quarantined: call too large to store",
                len(refused),
                len(too_large),
            )
        for index, (reason, _) in sorted(refused.items()):
            counts.quarantined += 1
            if len(counts.errors) < MAX_ERRORS:
                counts.errors.append({"index": index, "reason": reason})
        await asyncio.gather(*(park(i, r, rec) for i, (r, rec) in refused.items()))
        return {i: r for i, (r, _) in refused.items()}

    async def _follow_up(
        self,
        result: MergeResult,
        history: dict[tuple[str, str], dict[str, Any]] | None,
        seen_users: set[tuple[str, str | None]],
        source_ids: dict[str, set[str]],
        directory: Directory,
    ) -> None:
        """After a call's merge: its history entries, and the directory entries and
        source ids to index (collected in `directory` and `source_ids`, written once for
        the flush). `history`: what the flush's read-many found for it. Its aggregates
        are its commit group's (`call_ledger`)."""
        async with self._sem:
            keys = lookup_keys(result.document.view)
            if result.changed:
                await write_user_index(
                    self.clients, result.document, seen_users, history, directory
                )
                # ids the stored call already had were indexed when it was written
                # (or are re-checked by the redelivery of a batch that crashed)
                if result.previous is not None:
                    old = set(lookup_keys(result.previous.view))
                    keys = [k for k in keys if k not in old]
            else:  # a crash may have come between the call write and its index
                await ensure_user_index(
                    self.clients, result.document, seen_users, history, directory
                )
            for k in keys:
                source_ids.setdefault(k, set()).add(result.call_id)

    async def _poison(
        self, tenant_id: str, batch_id: str, name: str, reason: str, attempts: int
    ) -> dict[str, Any]:
        ctx = {"batchId": batch_id, "tenantId": tenant_id}
        log.error(
            "batch goes to the poison path after %d attempt(s): %s",
            attempts,
            reason[:200],
            extra=ctx,
        )
        data = await self.blobs.read_incoming(name)
        if data is not None:
            await self.blobs.poison(name, data, reason, attempts)
        await self.blobs.poison_reason(
            name,
            json.dumps(
                {
                    "tenantId": tenant_id,
                    "batchId": batch_id,
                    "reason": reason,
                    "attempts": attempts,
                    "at": utcnow(),
                }
            ).encode(),
        )
        final = None
        try:
            final = await update_batch(
                self.clients,
                tenant_id,
                batch_id,
                {
                    "status": "failed",
                    "failure": reason,
                    "completedAt": utcnow(),
                    "poisonBlob": self.blobs.poison_path(name),
                },
            )
        except Exception:
            log.exception("poisoned batch status could not be saved", extra=ctx)
        if data is not None:
            await self._delete_incoming(name)
        return final or {"status": "failed", "failure": reason}

    async def _delete_incoming(self, name: str) -> None:
        await self.blobs.delete_incoming(name)


async def process_batch_blob(blob_name: str) -> dict[str, Any]:
    settings = get_settings()
    return await BatchProcessor(get_clients(settings), settings).process(blob_name)
