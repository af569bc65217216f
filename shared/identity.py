"""Stable identifiers and normalised user keys, shared by parsers, storage and the API."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

_CALL_NS = uuid.UUID("5b0c7f5e-2f47-4a4e-9a0e-6c1d1c0a2d11")


def content_hash(data: Any) -> str:
    """Hash of a record's content: a record seen twice hashes the same."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, bytes):
        raw = data
    else:
        raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def call_id(tenant_id: str, key: str) -> str:
    """The public call id: deterministic from tenant and call key, so every processor
    run, in any order, addresses the same document."""
    return str(uuid.uuid5(_CALL_NS, f"{tenant_id.lower()}|{key}"))


def session_id(sip_call_id: str, from_tag: str | None, to_tag: str | None) -> str:
    raw = f"{sip_call_id.strip()}|{(from_tag or '').strip()}|{(to_tag or '').strip()}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def is_focus_uri(uri: str | None) -> bool:
    """A conference (focus/MCU) URI: `sip:org@contoso.com;gruu;opaque=app:conf:...`."""
    lower = (uri or "").lower()
    return "opaque=app:conf" in lower or ";gruu" in lower


def _phone_in_sip(uri: str) -> str | None:
    """`sip:+14255550123@contoso.com;user=phone` is a telephone number in SIP form
    (RFC 3261 section 19.1.1): its user part is the number. Returned as `tel:` so it is
    never taken for a user (no history, no directory entry) and is masked like any
    phone number (docs/reference/roles.md)."""
    lower = uri.lower()
    if not lower.startswith(("sip:", "sips:")):
        return None
    params = [p.strip() for p in lower.split(";")[1:]]
    if "user=phone" not in params:
        return None
    address = uri.split(":", 1)[1].split(";", 1)[0]
    number = address.rsplit("@", 1)[0] if "@" in address else address
    return "tel:" + number if number else None


def normalise_uri(uri: str | None) -> str | None:
    if not uri:
        return None
    uri = uri.strip().strip("<>")
    phone = _phone_in_sip(uri)
    if phone is not None:
        return phone
    if ";" in uri and not uri.lower().startswith("tel:") and not is_focus_uri(uri):
        uri = uri.split(";", 1)[0]
    lower = uri.lower()
    if lower.startswith(("sip:", "tel:")):
        return lower[:4] + (uri[4:].lower() if lower.startswith("sip:") else uri[4:])
    if "@" in uri:
        return "sip:" + lower
    return uri


def user_key(uri: str | None) -> str | None:
    """Key of a user's history partition: the SIP address / UPN, lower case, no scheme.
    Phone numbers and conference focus URIs are not users."""
    uri = normalise_uri(uri)
    if not uri or not uri.startswith("sip:"):
        return None
    address = uri[4:]
    if "@" not in address or is_focus_uri(uri) or "/" in address:
        return None
    return address


def uri_kind(uri: str | None) -> str:
    uri = normalise_uri(uri) or ""
    if uri.startswith("tel:") or ";user=phone" in uri:
        return "phone"
    if is_focus_uri(uri):
        return "server"
    if uri.startswith("sip:"):
        return "user"
    return "unknown"
