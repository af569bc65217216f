"""Spool folders: which files are complete, and how each becomes records.

A file is taken only once it is complete: temp names are ignored (`*.tmp`, `*.part`,
`~*`, dot files...), and a file must have kept the same size and mtime for
`settle_seconds` (an exporter still writing keeps touching it). Writers that write then
rename are picked up at once. The size/mtime are checked again after reading, so a file
that changed while read is left for the next pass instead of being sent half-written.

Record formats (ingest.md): a QoE file is one `VQReportEvent` (kind `qoe`, format
`ms-qoe-xml`, data = the XML text); a CDR file is JSON lines, a JSON array, or CSV with
the `sfb-cdr-json` field names as header (kind `cdr`, format `sfb-cdr-json`, data = the
JSON object, CSV values converted to the JSON types of the published schema).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdc_agent.exclusions import ExclusionPolicy, UnsafeXml, cdr_users, parse_qoe, qoe_users

QOE_SUFFIXES = frozenset({".xml"})
CDR_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json", ".csv"})
TEMP_SUFFIXES = frozenset(
    {
        ".tmp",
        ".temp",
        ".part",
        ".partial",
        ".crdownload",
        ".filepart",
        ".swp",
        ".lock",
        ".inprogress",
        ".writing",
        ".bak",
    }
)
MAX_QOE_BYTES = 300 * 1024  # MS-QoE limit; the service rejects larger reports anyway
INT_FIELDS = ("sessionIdSeq", "responseCode", "diagnosticId")
BOOL_FIELDS = ("isConference",)
LIST_FIELDS = ("mediaTypes",)
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f", ""})
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


class BadFile(ValueError):
    """A file that can never be sent as is (malformed, unsafe); it goes to rejected/."""


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    kind: str  # "qoe" | "cdr"
    size: int
    mtime_ns: int


@dataclass
class ParsedFile:
    """A file's records after the exclusion policy, and what identifies its content."""

    file: SpoolFile
    records: list[dict[str, Any]]
    excluded: int
    sha256: str


def is_temp_name(name: str) -> bool:
    lower = name.lower()
    if lower.startswith((".", "~", "_tmp", "tmp_")):
        return True
    return any(lower.endswith(s) for s in TEMP_SUFFIXES)


def _kind_for(path: Path, kind: str) -> bool:
    suffixes = QOE_SUFFIXES if kind == "qoe" else CDR_SUFFIXES
    return path.suffix.lower() in suffixes


class Scanner:
    """Lists complete files, oldest first. Keeps the last size/mtime seen of each file so
    a `watch` loop takes a growing file only once it has stopped changing."""

    def __init__(
        self, dirs: dict[str, Path | None], settle_seconds: float, clock: Any = time.time
    ) -> None:
        self.dirs = {k: v for k, v in dirs.items() if v is not None}
        self.settle = settle_seconds
        self.clock = clock
        self._seen: dict[Path, tuple[int, int, float]] = {}

    def candidates(self) -> Iterator[SpoolFile]:
        """All non-temp files of the right type (complete or not)."""
        for kind, folder in self.dirs.items():
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if is_temp_name(entry.name):
                    continue
                path = Path(entry.path)
                if not _kind_for(path, kind):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield SpoolFile(path, kind, st.st_size, st.st_mtime_ns)

    def ready(self, skip: set[Path] | frozenset[Path] = frozenset()) -> list[SpoolFile]:
        """Complete files, oldest first: unchanged for `settle_seconds`."""
        now = self.clock()
        out: list[SpoolFile] = []
        current: dict[Path, tuple[int, int, float]] = {}
        for f in self.candidates():
            if f.path in skip:
                continue
            prev = self._seen.get(f.path)
            first = prev[2] if prev and prev[:2] == (f.size, f.mtime_ns) else now
            current[f.path] = (f.size, f.mtime_ns, first)
            age = now - f.mtime_ns / 1e9
            if age >= self.settle or now - first >= self.settle:
                out.append(f)
        self._seen = current
        out.sort(key=lambda f: (f.mtime_ns, str(f.path)))
        return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode(raw: bytes, path: Path) -> str:
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(enc)
            except UnicodeDecodeError as exc:
                raise BadFile(f"{path.name}: not valid {enc}: {exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFile(f"{path.name}: not valid UTF-8 at byte {exc.start}") from None


def qoe_record(raw: bytes, path: Path) -> tuple[dict[str, Any], list[str]]:
    """One QoE file -> its record and the users it names."""
    if len(raw) > MAX_QOE_BYTES:
        raise BadFile(f"{path.name}: {len(raw)} bytes is over the 300 KB QoE report limit")
    try:
        root = parse_qoe(raw)
    except UnsafeXml as exc:
        raise BadFile(f"{path.name}: {exc}") from None
    encoding = (root.getroottree().docinfo.encoding or "utf-8").lower()
    if encoding.replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
        # The service re-encodes the text as UTF-8: a declaration naming another encoding
        # would then lie, so it is dropped once the text is decoded.
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise BadFile(f"{path.name}: cannot decode as {encoding}: {exc}") from None
        text = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)
    else:
        text = _decode(raw, path)
    return {"kind": "qoe", "format": "ms-qoe-xml", "data": text}, qoe_users(root)


def _csv_value(field: str, value: str | None, where: str) -> Any:
    if value is None:
        return None
    value = value.strip()
    if field in INT_FIELDS:
        if value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise BadFile(f"{where}: {field} must be an integer, got {value!r}") from None
    if field in BOOL_FIELDS:
        low = value.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise BadFile(f"{where}: {field} must be true/false, got {value!r}")
    if field in LIST_FIELDS:
        return [p.strip() for p in re.split(r"[;|]", value) if p.strip()]
    return value if value != "" else None


def cdr_rows_csv(text: str, path: Path) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        return
    names = [n.strip() for n in reader.fieldnames]
    if "callId" not in names:
        raise BadFile(
            f"{path.name}: the CSV header must name the sfb-cdr-json fields "
            f"(callId, user1Uri, ...), got {names[:6]}"
        )
    for row in reader:
        where = f"{path.name} line {reader.line_num}"
        if None in row:
            raise BadFile(f"{where}: more values than header columns")
        values = {k.strip(): v for k, v in row.items() if k is not None}
        if all((v or "").strip() == "" for v in values.values()):
            continue
        yield {k: _csv_value(k, v, where) for k, v in values.items()}


def cdr_rows_json(text: str, path: Path) -> Iterator[dict[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError as exc:
            raise BadFile(f"{path.name}: malformed JSON array: {exc}") from None
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadFile(f"{path.name} item {i}: a CDR must be a JSON object")
            yield item
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise BadFile(f"{path.name} line {n}: malformed JSON: {exc}") from None
        if not isinstance(item, dict):
            raise BadFile(f"{path.name} line {n}: a CDR must be a JSON object")
        yield item


def read_file(f: SpoolFile, policy: ExclusionPolicy) -> ParsedFile:
    """Read a complete file into records, dropping excluded ones (counted).

    Raises BadFile for content that can never be sent, OSError when the file vanished
    or is locked, and FileChanged when it changed while being read.
    """
    raw = f.path.read_bytes()
    st = f.path.stat()
    if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns) or len(raw) != f.size:
        raise FileChanged(f"{f.path.name} changed while being read")
    digest = hashlib.sha256(raw).hexdigest()
    records: list[dict[str, Any]] = []
    excluded = 0
    if f.kind == "qoe":
        record, users = qoe_record(raw, f.path)
        if policy and policy.excludes_any(users):
            excluded += 1
        else:
            records.append(record)
    else:
        text = _decode(raw, f.path)
        rows = (
            cdr_rows_csv(text, f.path)
            if f.path.suffix.lower() == ".csv"
            else cdr_rows_json(text, f.path)
        )
        for row in rows:
            if policy and policy.excludes_any(cdr_users(row)):
                excluded += 1
            else:
                records.append({"kind": "cdr", "format": "sfb-cdr-json", "data": row})
    return ParsedFile(f, records, excluded, digest)


class FileChanged(OSError):
    """The file is still being written: try again on the next pass."""
