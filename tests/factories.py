"""Builders for test records and batches (CDR sessions, envelopes)."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.ingest import BodyFormat

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
OTHER_TENANT = "11111111-2222-4333-8444-555555555555"
# written to by no test (devhost.stack.EMPTY_TENANT): the tenant whose answers must be empty
EMPTY_TENANT = "99999999-8888-4777-a666-555555555555"


def cdr(
    n: int = 0,
    *,
    caller: str = "sip:alice@contoso.com",
    callee: str = "sip:bob@contoso.com",
    start: datetime | None = None,
    duration_s: int = 300,
    conference: str | None = None,
    response_code: int = 200,
    diagnostic_id: int | None = None,
    call_id: str | None = None,
) -> dict[str, Any]:
    if conference is not None and callee == "sip:bob@contoso.com":
        callee = conference  # a meeting leg is a dialog between the user and the focus
    start = start or datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=n)
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "sessionIdTime": iso(start),
        "sessionIdSeq": n % 1000,
        "callId": call_id or f"call-{n}@fe01.contoso.local",
        "fromTag": f"ft{n}",
        "toTag": f"tt{n}" if response_code == 200 else None,
        "correlationId": None,
        "user1Uri": caller,
        "user2Uri": callee,
        "user1DisplayName": caller.split(":")[1].split("@")[0].title(),
        "inviteTime": iso(start),
        "responseTime": iso(start + timedelta(seconds=2)),
        "endTime": iso(start + timedelta(seconds=duration_s)),
        "responseCode": response_code,
        "diagnosticId": diagnostic_id,
        "mediaTypes": ["audio"],
        "isConference": conference is not None,
        "conferenceUri": conference,
        "user1UserAgent": "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)",
        "user2UserAgent": "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)",
    }


def cdr_record(**kw: Any) -> dict[str, Any]:
    return {"kind": "cdr", "format": "sfb-cdr-json", "data": cdr(**kw)}


def meeting_legs(
    n: int, *, attendee: str = "attendee", long_user_agent: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """An SfB meeting: its focus URI and one CDR leg per attendee (`{attendee}0000@...`),
    each with its own call id. `long_user_agent`: a real client's user agent header is
    long (~500 characters), which makes the call larger."""
    focus = f"sip:org@contoso.com;gruu;opaque=app:conf:focus:id:{uuid.uuid4().hex[:8]}"
    legs = [
        cdr_record(
            n=i,
            caller=f"sip:{attendee}{i:04d}@contoso.com",
            conference=focus,
            call_id=f"{uuid.uuid4()}@fe01",
        )
        for i in range(n)
    ]
    if long_user_agent:
        for leg in legs:
            leg["data"]["user1UserAgent"] = "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 " + "x" * 450
    return focus, legs


def envelope(
    records: list[dict[str, Any]], *, tenant: str = TENANT, batch_id: str | None = None
) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "batchId": batch_id or str(uuid.uuid4()),
        "tenantId": tenant,
        "source": {
            "type": "sfb-server",
            "fqdn": "fe01.contoso.local",
            "pool": "pool01.contoso.local",
            "site": "Seattle",
            "version": "7.0.2046.0",
        },
        "sentAt": "2026-11-21T10:00:00Z",
        "records": records,
    }


def gz(obj: Any) -> bytes:
    return gzip.compress(json.dumps(obj).encode())


def body_format(headers: dict[str, str]) -> BodyFormat:
    """The declared format of a body, from request-style headers (any case)."""
    low = {k.lower(): v for k, v in headers.items()}
    return BodyFormat(low.get("content-type", ""), low.get("content-encoding", ""))
