"""Accepting a batch: limits, validation, durable write, idempotency (docs/reference/ingest.md).

Order of writes, so a retry after any failure converges:
1. the batch status document is created with the content hash (`receiving`): it is the
   idempotency record that outlives the raw blob;
2. the raw batch goes to Blob with a conditional write (never overwrites);
3. the status becomes `accepted` and only then is the batch acknowledged.
A retry that finds `receiving` redoes step 2 and 3; one that finds any later status
is told it repeated a stored batch (same hash) or conflicts with it (different content).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.auth.levels import INGEST
from shared.auth.tokens import Principal
from shared.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    TooLarge,
    Unavailable,
    Unsupported,
)
from shared.models.envelope import BatchEnvelope
from shared.settings import Settings
from shared.storage import layout
from shared.storage.batches import (
    create_batch,
    public_status,
    read_batch,
    update_batch,
    utcnow,
)
from shared.storage.blobs import BatchBlobs
from shared.storage.clients import Clients


@dataclass(frozen=True)
class BodyFormat:
    """How the posted bytes are declared (the sender's media type and content coding).
    The edge reads them from wherever the transport carries them."""

    content_type: str = ""
    content_encoding: str = ""


@dataclass
class IngestResult:
    """`created`: this request stored the batch (False: an identical one was already
    stored, the body then also carries its current status and counts)."""

    created: bool
    body: dict[str, Any]


def decode_body(body: bytes, fmt: BodyFormat, settings: Settings) -> bytes:
    """Check content type and encoding, and decompress with a hard cap (no gzip bomb)."""
    ctype = fmt.content_type.split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise Unsupported("Content-Type must be application/json", field="Content-Type")
    encoding = fmt.content_encoding.strip().lower()
    limit = settings.max_batch_bytes
    if len(body) > limit:
        raise TooLarge(f"request body exceeds {limit} bytes", field="body")
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise Unsupported("Content-Encoding must be gzip or absent", field="Content-Encoding")
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    data = body
    try:
        while data:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise TooLarge(f"decompressed body exceeds {limit} bytes", field="body")
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            raise Invalid("gzip body is truncated", field="body")
    except zlib.error as exc:
        raise Invalid(f"body is not valid gzip: {exc}", field="body") from None
    return bytes(out)


def _json_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        else:
            path += ("." if path else "") + str(part)
    return path or "$"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# The processor streams the stored batch with ijson (yajl), which refuses integers
# beyond 64 bits and floats that overflow: such a batch, once accepted, could only be
# poisoned whole. Refused here instead, with the reason, like NaN and Infinity.
_MAX_INT = 2**63 - 1


def _checked_int(text: str) -> int:
    value = int(text)
    if not -_MAX_INT <= value <= _MAX_INT:
        raise ValueError(f"integer {text[:20]}... is out of the 64-bit range")
    return value


def _checked_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} overflows a 64-bit float")
    return value


class DuplicateKey(ValueError):
    """A JSON object names a key twice. stdlib json keeps the last value and the
    processor's streaming parser (ijson) yields both, so the two would read different
    batches: the validated one and the stored one. Refused instead."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def parse_envelope(raw: bytes, settings: Settings) -> BatchEnvelope:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"body is not valid UTF-8 at byte {exc.start}", field="body") from None
    try:
        # stdlib json rejects NaN/Infinity through parse_constant, and numbers the
        # processor's streaming parser cannot read through parse_int/parse_float;
        # pydantic then validates the shape.
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_checked_int,
            parse_float=_checked_float,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise Invalid("JSON nests too deeply", field="body") from None
    except DuplicateKey as exc:
        raise Invalid(f"the JSON names key {exc.key!r} twice", field=exc.key[:200]) from None
    except ValueError as exc:
        raise Invalid(f"malformed JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise Invalid("the batch must be a JSON object", field="$")
    records = data.get("records")
    if isinstance(records, list) and len(records) > settings.max_batch_records:
        raise TooLarge(
            f"a batch holds at most {settings.max_batch_records} records", field="records"
        )
    try:
        return BatchEnvelope.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(_json_path(e["loc"]), e["msg"]) for e in exc.errors()[:20]]
        raise Invalid("the batch envelope is invalid", errors=errors) from None


def content_hash(envelope: BatchEnvelope) -> str:
    """Identity of a batch's content; `sentAt` is left out so a resend with a new
    timestamp still counts as the same batch."""
    body = envelope.model_dump_json(exclude={"sentAt"})
    return hashlib.sha256(body.encode()).hexdigest()


def _status_body(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchId": doc["batchId"],
        "status": doc["status"] if doc["status"] != "receiving" else "accepted",
        "records": doc.get("received") or doc.get("records") or 0,
    }


async def accept_batch(
    clients: Clients,
    settings: Settings,
    principal: Principal,
    body: bytes,
    fmt: BodyFormat,
) -> IngestResult:
    principal.require(INGEST)
    raw = decode_body(body, fmt, settings)
    envelope = parse_envelope(raw, settings)
    principal.require(INGEST, tenant_id=envelope.tenantId)
    digest = content_hash(envelope)
    tenant, batch_id = envelope.tenantId, envelope.batchId

    existing = await read_batch(clients, tenant, batch_id)
    if existing is None:
        received_at = utcnow()
        created = await create_batch(
            clients,
            {
                "id": batch_id,
                "batchId": batch_id,
                "tenantId": tenant,
                "status": "receiving",
                "contentHash": digest,
                "records": len(envelope.records),
                "receivedAt": received_at,
                "blobName": layout.incoming_blob_name(tenant, batch_id, received_at),
                "source": envelope.source.model_dump(mode="json"),
                "sourceFqdn": envelope.source.fqdn,
                "sentAt": envelope.sentAt.isoformat(),
                "attempts": 0,
                "ttl": layout.BATCHES.default_ttl,
            },
        )
        existing = created or await read_batch(clients, tenant, batch_id)
        if existing is None:
            raise Unavailable("batch status could not be recorded; retry")
        if created is None:
            return _replay(existing, digest)
    elif existing.get("status") != "receiving":
        return _replay(existing, digest)
    elif existing.get("contentHash") != digest:
        raise Conflict("a batch with this batchId and different content exists", field="batchId")

    stored = (
        body if fmt.content_encoding.lower() == "gzip" else (gzip.compress(raw, compresslevel=5))
    )
    found = await BatchBlobs(clients).put_incoming(existing["blobName"], stored, digest, tenant)
    if found is not None and found != digest:
        raise Conflict("a batch with this batchId and different content exists", field="batchId")
    doc = await update_batch(
        clients,
        tenant,
        batch_id,
        {"status": "accepted", "received": len(envelope.records)},
        unless_status=("accepted", "processing", "completed", "completedWithErrors", "failed"),
    )
    return IngestResult(True, _status_body(doc or existing))


def _replay(existing: dict[str, Any], digest: str) -> IngestResult:
    if existing.get("contentHash") != digest:
        raise Conflict("a batch with this batchId and different content exists", field="batchId")
    return IngestResult(False, public_status(existing) | _status_body(existing))


async def batch_status(clients: Clients, principal: Principal, batch_id: str) -> dict[str, Any]:
    principal.require(INGEST)
    doc = await read_batch(clients, principal.tenant_id, batch_id)
    if doc is None:
        raise NotFound(f"no batch {batch_id!r} for this tenant", field="batchId")
    out = public_status(doc)
    if out["status"] == "receiving":
        out["status"] = "accepted"
    return out
