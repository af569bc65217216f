"""The tenant building file (CQD format): parse, validate, index, store, look up.

Parsing (buildings.md): TSV or CSV, no header, 14 or 15 columns, booleans 0/1, prefix
8-28. Every problem names its row and column ("row 3, column 3 (NetworkRange)") so an
admin can fix a 100,000-row file in one pass; the first `MAX_ERRORS` are reported.
Overlap check: CIDR blocks either nest or are disjoint, so after sorting by (start,
prefix) one sweep keeping the block that reaches furthest finds every overlap in
O(n log n), and names both rows.

Lookup: one dict per prefix length present in the file ({network int: row}); an address
is masked and probed from the longest prefix (28) down to the shortest (8): at most 21
dict probes per lookup whatever the file size, no linear scan. Longest containing range
wins (with overlaps rejected there is at most one, but the rule stays right if that
validation is ever relaxed for supernets).

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
import csv
import gzip
import io
import ipaddress
import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from shared.problems import FieldError, Problem
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries

COLUMNS = (
    "NetworkIP",
    "NetworkName",
    "NetworkRange",
    "BuildingName",
    "OwnershipType",
    "BuildingType",
    "BuildingOfficeType",
    "City",
    "ZipCode",
    "Country",
    "State",
    "Region",
    "InsideCorp",
    "ExpressRoute",
    "VPN",
)
REQUIRED_TEXT = (1, 3)  # NetworkName, BuildingName (0-based column index)
MIN_PREFIX, MAX_PREFIX = 8, 28
MAX_ERRORS = 100
MAX_ROWS = 500_000
CHUNK_ROWS = 5_000
POINTER_ID = "buildings"
CHUNK_TYPE = "buildingChunk"


@dataclass(frozen=True)
class BuildingRow:
    """One network range of the file, as the reports need it."""

    row: int  # 1-based line number in the uploaded file
    network_ip: str
    prefix: int
    network_name: str
    building_name: str
    ownership_type: str
    building_type: str
    building_office_type: str
    city: str
    zip_code: str
    country: str
    state: str
    region: str
    inside_corp: bool
    express_route: bool
    vpn: bool

    @property
    def network(self) -> int:
        return ipv4_int(self.network_ip) or 0

    def as_list(self) -> list[Any]:
        return list(asdict(self).values())


def ipv4_int(text: str) -> int | None:
    """Dotted quad -> int, None if not one. Hand-rolled: `ipaddress` costs ~3 µs a call,
    which is most of the parse time of a 100,000-row file."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3 or (len(part) > 1 and part[0] == "0"):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = (value << 8) | octet
    return value


def _mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def _where(row: int, col: int) -> str:
    return f"row {row}, column {col + 1} ({COLUMNS[col]})"


def _decode(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Problem(400, "the building file must be UTF-8 text", field="$")


def _bool(value: str, row: int, col: int, errors: list[FieldError]) -> bool:
    if value in ("0", "1"):
        return value == "1"
    errors.append(FieldError(_where(row, col), f"must be 0 or 1, got {value[:40]!r}"))
    return False


def parse_building_file(body: bytes | str) -> list[BuildingRow]:
    """Parse and validate the whole file; raise one 400 Problem listing every error."""
    text = _decode(body)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    rows: list[BuildingRow] = []
    errors: list[FieldError] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for line_no, cols in enumerate(reader, start=1):
        if len(errors) >= MAX_ERRORS:
            break
        if not cols or all(not c.strip() for c in cols):
            continue  # blank lines (a trailing newline) are not rows
        if len(rows) >= MAX_ROWS:
            raise Problem(413, f"the building file has more than {MAX_ROWS} rows")
        cols = [c.strip() for c in cols]
        if len(cols) not in (14, 15):
            errors.append(
                FieldError(f"row {line_no}", f"expected 14 or 15 columns, found {len(cols)}")
            )
            continue
        before = len(errors)
        prefix = 0
        try:
            prefix = int(cols[2])
        except ValueError:
            errors.append(
                FieldError(_where(line_no, 2), f"must be a whole number 8-28, got {cols[2][:40]!r}")
            )
        else:
            if not MIN_PREFIX <= prefix <= MAX_PREFIX:
                errors.append(
                    FieldError(_where(line_no, 2), f"prefix length must be 8-28, got {prefix}")
                )
        address = ipv4_int(cols[0])
        if address is None:
            errors.append(FieldError(_where(line_no, 0), f"not an IPv4 address: {cols[0][:60]!r}"))
        elif len(errors) == before and address & ~_mask(prefix) & 0xFFFFFFFF:
            network = str(ipaddress.IPv4Address(address & _mask(prefix)))
            errors.append(
                FieldError(
                    _where(line_no, 0),
                    f"{cols[0]} is not the network address of a /{prefix} "
                    f"(did you mean {network}?)",
                )
            )
        for col in REQUIRED_TEXT:
            if not cols[col]:
                errors.append(FieldError(_where(line_no, col), "is required"))
        inside = _bool(cols[12], line_no, 12, errors)
        express = _bool(cols[13], line_no, 13, errors)
        vpn = _bool(cols[14], line_no, 14, errors) if len(cols) == 15 else False
        if len(errors) != before:
            continue
        rows.append(
            BuildingRow(
                line_no, cols[0], prefix, *cols[1:2], cols[3], *cols[4:12], inside, express, vpn
            )
        )
    if not errors and not rows:
        errors.append(FieldError("$", "the building file holds no rows"))
    if not errors:
        errors = find_overlaps(rows)
    if errors:
        raise Problem(
            400,
            f"the building file is invalid ({len(errors)} error(s) shown)",
            field=errors[0].field,
            errors=errors[:MAX_ERRORS],
        )
    return rows


def find_overlaps(rows: list[BuildingRow]) -> list[FieldError]:
    """Each range overlapping an earlier-starting (or equal) one, naming both rows."""
    spans = sorted(((r.network, r.prefix, r) for r in rows), key=lambda t: (t[0], t[1]))
    errors: list[FieldError] = []
    reach, holder = -1, None
    for start, prefix, row in spans:
        end = start + (1 << (32 - prefix)) - 1
        if holder is not None and start <= reach:
            errors.append(
                FieldError(
                    _where(row.row, 0),
                    f"{row.network_ip}/{row.prefix} overlaps {holder.network_ip}/{holder.prefix} "
                    f"(row {holder.row})",
                )
            )
            if len(errors) >= MAX_ERRORS:
                break
        if end > reach:
            reach, holder = end, row
    return errors


class BuildingIndex:
    """Longest-prefix match of an IPv4 address or subnet to its building row."""

    def __init__(self, rows: list[BuildingRow]) -> None:
        self.rows = rows
        tables: dict[int, dict[int, BuildingRow]] = {}
        for r in rows:
            tables.setdefault(r.prefix, {})[r.network] = r
        # Longest first; (prefix, mask, table) so a probe is one AND and one dict get.
        self._probes = [(p, _mask(p), tables[p]) for p in sorted(tables, reverse=True)]

    def __len__(self) -> int:
        return len(self.rows)

    def lookup_int(self, address: int, prefix: int = 32) -> BuildingRow | None:
        """The longest range containing the address; a subnet of length `prefix` matches
        only ranges at least as wide as itself (a /24 is not "in" one of its /26s)."""
        for p, mask, table in self._probes:
            if p > prefix:
                continue
            row = table.get(address & mask)
            if row is not None:
                return row
        return None

    def lookup(self, subnet: str | None, prefix: int | None = None) -> BuildingRow | None:
        if not subnet:
            return None
        address = ipv4_int(subnet)
        if address is None:
            return None  # IPv6 or garbage: building files are IPv4 only
        return self.lookup_int(address, 32 if prefix is None else prefix)

    def summary(self) -> dict[str, int]:
        return {"rows": len(self.rows), "buildings": len({r.building_name for r in self.rows})}


EMPTY_INDEX = BuildingIndex([])

# ---------------------------------------------------------------------------- storage

_cache: dict[tuple[str, str], BuildingIndex] = {}


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
            await with_retries(lambda: container.upsert_item(body), what="write building chunk")

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
        "uploadedAt": _utcnow(),
        "uploadedBy": uploaded_by,
    }
    await with_retries(lambda: container.upsert_item(pointer), what="switch building file")
    _cache[(tenant_id, upload_id)] = index
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


def timed_parse_and_index(body: bytes | str) -> tuple[BuildingIndex, float, float]:
    """Parse + index with timings (seconds), for tests and the benchmark."""
    t0 = time.perf_counter()
    rows = parse_building_file(body)
    t1 = time.perf_counter()
    index = BuildingIndex(rows)
    return index, t1 - t0, time.perf_counter() - t1
