"""Accepting a batch: limits, validation, durable write, idempotency (spec: ingest.md).

Order of writes, so a retry after any failure converges:
1. the batch status document is created with the content hash (`receiving`): it is the
   idempotency record that outlives the raw blob;
2. the raw batch goes to Blob with a conditional write (never overwrites);
3. the status becomes `accepted` and only then do we answer 202.
A retry that finds `receiving` redoes step 2 and 3; one that finds any later status
answers 200 (same hash) or 409 (different content).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError
from pydantic import ValidationError

from shared.auth.levels import INGEST
from shared.auth.tokens import Principal
from shared.models.envelope import BatchEnvelope
from shared.problems import FieldError, Problem
from shared.settings import Settings
from shared.storage import layout
from shared.storage.batches import (
    create_batch,
    public_status,
    read_batch,
    update_batch,
    utcnow,
)
from shared.storage.clients import Clients
from shared.storage.retry import with_retries


@dataclass
class IngestResult:
    status_code: int
    body: dict[str, Any]


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v or ""
    return ""


def decode_body(body: bytes, headers: Mapping[str, str], settings: Settings) -> bytes:
    """Check content type and encoding, and decompress with a hard cap (no gzip bomb)."""
    ctype = _header(headers, "content-type").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise Problem(415, "Content-Type must be application/json", field="Content-Type")
    encoding = _header(headers, "content-encoding").strip().lower()
    limit = settings.max_batch_bytes
    if len(body) > limit:
        raise Problem(413, f"request body exceeds {limit} bytes", field="body")
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise Problem(415, "Content-Encoding must be gzip or absent", field="Content-Encoding")
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    data = body
    try:
        while data:
            out += inflater.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise Problem(413, f"decompressed body exceeds {limit} bytes", field="body")
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            raise Problem(400, "gzip body is truncated", field="body")
    except zlib.error as exc:
        raise Problem(400, f"body is not valid gzip: {exc}", field="body") from None
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


def parse_envelope(raw: bytes, settings: Settings) -> BatchEnvelope:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"body is not valid UTF-8 at byte {exc.start}", field="body") from None
    try:
        # stdlib json rejects NaN/Infinity through parse_constant, and numbers the
        # processor's streaming parser cannot read through parse_int/parse_float;
        # pydantic then validates the shape.
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_checked_int,
            parse_float=_checked_float,
        )
    except RecursionError:
        raise Problem(400, "JSON nests too deeply", field="body") from None
    except ValueError as exc:
        raise Problem(400, f"malformed JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise Problem(400, "the batch must be a JSON object", field="$")
    records = data.get("records")
    if isinstance(records, list) and len(records) > settings.max_batch_records:
        raise Problem(
            413, f"a batch holds at most {settings.max_batch_records} records", field="records"
        )
    try:
        return BatchEnvelope.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(_json_path(e["loc"]), e["msg"]) for e in exc.errors()[:20]]
        raise Problem(400, "the batch envelope is invalid", errors=errors) from None


def content_hash(envelope: BatchEnvelope) -> str:
    """Identity of a batch's content; `sentAt` is left out so a resend with a new
    timestamp still counts as the same batch."""
    body = envelope.model_dump_json(exclude={"sentAt"})
    return hashlib.sha256(body.encode()).hexdigest()


def _status_body(doc: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "batchId": doc["batchId"],
        "status": doc["status"] if doc["status"] != "receiving" else "accepted",
        "statusUrl": f"{base_url}/api/v1/batches/{doc['batchId']}",
        "records": doc.get("received") or doc.get("records") or 0,
    }


async def accept_batch(
    clients: Clients,
    settings: Settings,
    principal: Principal,
    body: bytes,
    headers: Mapping[str, str],
    base_url: str,
) -> IngestResult:
    principal.require(INGEST)
    raw = decode_body(body, headers, settings)
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
            raise Problem(503, "batch status could not be recorded; retry")
        if created is None:
            return _replay(existing, digest, base_url)
    elif existing.get("status") != "receiving":
        return _replay(existing, digest, base_url)
    elif existing.get("contentHash") != digest:
        raise Problem(
            409, "a batch with this batchId and different content exists", field="batchId"
        )

    blob = clients.blobs(layout.INCOMING).get_blob_client(existing["blobName"])
    stored = (
        body
        if _header(headers, "content-encoding").lower() == "gzip"
        else (gzip.compress(raw, compresslevel=5))
    )
    try:
        await with_retries(
            lambda: blob.upload_blob(
                stored,
                overwrite=False,
                metadata={"contenthash": digest, "tenantid": tenant},
                content_settings=None,
            ),
            what="write batch blob",
        )
    except ResourceExistsError:
        props = await blob.get_blob_properties()
        if (props.metadata or {}).get("contenthash") != digest:
            raise Problem(
                409, "a batch with this batchId and different content exists", field="batchId"
            ) from None
    doc = await update_batch(
        clients,
        tenant,
        batch_id,
        {"status": "accepted", "received": len(envelope.records)},
        unless_status=("accepted", "processing", "completed", "completedWithErrors", "failed"),
    )
    return IngestResult(202, _status_body(doc or existing, base_url))


def _replay(existing: dict[str, Any], digest: str, base_url: str) -> IngestResult:
    if existing.get("contentHash") != digest:
        raise Problem(
            409, "a batch with this batchId and different content exists", field="batchId"
        )
    return IngestResult(200, public_status(existing) | _status_body(existing, base_url))


async def batch_status(clients: Clients, principal: Principal, batch_id: str) -> dict[str, Any]:
    principal.require(INGEST)
    doc = await read_batch(clients, principal.tenant_id, batch_id)
    if doc is None:
        raise Problem(404, f"no batch {batch_id!r} for this tenant", field="batchId")
    out = public_status(doc)
    if out["status"] == "receiving":
        out["status"] = "accepted"
    return out
