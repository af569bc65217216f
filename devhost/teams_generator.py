"""Teams call records in the shape of Microsoft's documented Graph examples.

Why generated and not copied: tests, the demo and the benchmark need many distinct
records (peer-to-peer, meetings with hundreds of sessions, PSTN calls) with the field
layout of "Get callRecord" Example 2 (`sessions($expand=segments)`, `organizer_v2`,
`participants_v2`, `associatedIdentity`, ISO-8601 durations), and PSTN / Direct
Routing log rows in the shape of `pstnCallLogRow` / `directRoutingLogRow`.
Deterministic for a seed. Names and numbers are fictional (+1555...).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

DOMAIN = "contoso.com"


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def user(name: str, tenant_id: str) -> dict[str, Any]:
    """`first.last` -> a communicationsIdentity with a stable id and a UPN."""
    first, _, last = name.partition(".")
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{name}")),
        "displayName": f"{first.title()} {last.title()}".strip(),
        "tenantId": tenant_id,
        "userPrincipalName": f"{name}@{DOMAIN}",
    }


def _endpoint(ident: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
        "name": f"machine-{rng.randint(1, 999)}",
        "userAgent": {
            "@odata.type": "#microsoft.graph.callRecords.clientUserAgent",
            "headerValue": "CallSignalingAgent (54051/0.0.0.0/Windows)",
            "platform": "windows",
            "productFamily": "teams",
        },
        "associatedIdentity": ident,
    }


def _phone_endpoint(number: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
        "identity": {"phone": {"id": number, "displayName": None}},
    }


def _media(rng: random.Random, poor: bool) -> dict[str, Any]:
    jitter = rng.uniform(0.040, 0.090) if poor else rng.uniform(0.002, 0.015)
    loss = rng.uniform(0.12, 0.25) if poor else rng.uniform(0.0, 0.01)
    rtt = rng.uniform(0.600, 0.900) if poor else rng.uniform(0.020, 0.120)

    def stream(direction: str, sid: int) -> dict[str, Any]:
        return {
            "streamId": str(sid),
            "streamDirection": direction,
            "averageAudioDegradation": round(rng.uniform(0, 1.5), 2),
            "averageJitter": f"PT{jitter:.3f}S",
            "maxJitter": f"PT{jitter * 2:.3f}S",
            "averagePacketLossRate": round(loss, 4),
            "maxPacketLossRate": round(min(loss * 2, 1.0), 4),
            "averageRoundTripTime": f"PT{rtt:.3f}S",
            "maxRoundTripTime": f"PT{rtt * 1.5:.3f}S",
            "averageRatioOfConcealedSamples": round(rng.uniform(0, 0.08), 3),
            "packetUtilization": rng.randint(500, 5000),
            "wasMediaBypassed": False,
        }

    subnet = f"10.{rng.randint(1, 20)}.{rng.randint(0, 255)}.0"
    return {
        "label": "main-audio",
        "callerNetwork": {
            "ipAddress": subnet[:-1] + str(rng.randint(2, 250)),
            "subnet": subnet,
            "linkSpeed": 1_000_000_000,
            "connectionType": "wired",
        },
        "calleeNetwork": {
            "ipAddress": "10.200.0.10",
            "subnet": "10.200.0.0",
            "connectionType": "wired",
        },
        "callerDevice": {
            "captureDeviceName": "Headset Microphone",
            "renderDeviceName": "Headset Earphone",
        },
        "calleeDevice": {
            "captureDeviceName": "Default input device",
            "renderDeviceName": "Default output device",
        },
        "streams": [
            stream("callerToCallee", rng.randint(1, 2**31)),
            stream("calleeToCaller", rng.randint(1, 2**31)),
        ],
    }


def _session(
    rng: random.Random,
    caller: dict[str, Any],
    callee: dict[str, Any],
    start: datetime,
    end: datetime,
    poor: bool,
    sid: str | None = None,
) -> dict[str, Any]:
    sid = sid or str(uuid.UUID(int=rng.getrandbits(128)))
    return {
        "modalities": ["audio"],
        "startDateTime": _iso(start),
        "endDateTime": _iso(end),
        "id": sid,
        "isTest": False,
        "caller": caller,
        "callee": callee,
        "segments": [
            {
                "startDateTime": _iso(start),
                "endDateTime": _iso(end),
                "id": sid,
                "caller": caller,
                "callee": callee,
                "media": [_media(rng, poor)],
            }
        ],
    }


def call_record(
    tenant_id: str,
    *,
    kind: str = "peerToPeer",
    sessions: int = 1,
    start: datetime | None = None,
    seed: int = 0,
    users: list[str] | None = None,
    version: int = 1,
    poor: bool = False,
    phone: str | None = None,
    record_id: str | None = None,
    minutes: float = 5.0,
    listeners: int = 0,
) -> dict[str, Any]:
    """A callRecord as `GET .../callRecords/{id}?$expand=sessions($expand=segments)`
    returns it, with its `participants_v2` collection (all inline; the stand-in pages
    them and serves the participants separately, as Graph does).
    kind: peerToPeer | groupCall | pstn (peer-to-peer with a phone callee).
    listeners: meeting attendees listed only in participants_v2 (no session of theirs
    is in the record)."""
    rng = random.Random(f"{tenant_id}/{seed}/{kind}")
    start = start or datetime.now(timezone.utc) - timedelta(hours=1)
    end = start + timedelta(minutes=minutes)
    names = users or ["alice.anders", "bob.brooks", "chloe.chen", "diego.dubois"]
    organizer = user(names[0], tenant_id)
    rid = record_id or str(uuid.UUID(int=rng.getrandbits(128)))
    sess: list[dict[str, Any]] = []
    if kind == "groupCall":
        server = {
            "@odata.type": "#microsoft.graph.callRecords.serviceEndpoint",
            "userAgent": {
                "@odata.type": "#microsoft.graph.callRecords.serviceUserAgent",
                "role": "audioVideoMcu",
                "headerValue": "av-mcu",
            },
        }
        for i in range(sessions):
            who = (
                user(names[i % len(names)], tenant_id)
                if i < len(names)
                else user(f"guest{i}.attendee", tenant_id)
            )
            sess.append(_session(rng, _endpoint(who, rng), server, start, end, poor))
    elif kind == "pstn":
        sess.append(
            _session(
                rng,
                _endpoint(organizer, rng),
                _phone_endpoint(phone or f"+1555{rng.randint(0, 9_999_999):07d}"),
                start,
                end,
                poor,
            )
        )
    else:
        sess.append(
            _session(
                rng,
                _endpoint(organizer, rng),
                _endpoint(user(names[1], tenant_id), rng),
                start,
                end,
                poor,
            )
        )
    people: dict[str, dict[str, Any]] = {}
    for sess_ in sess:
        for side in ("caller", "callee"):
            ident = sess_[side].get("associatedIdentity")
            phone_ = sess_[side].get("identity", {}).get("phone")
            if ident:
                people.setdefault(ident["id"], {"user": ident})
            elif phone_:
                people.setdefault(phone_["id"], {"phone": phone_})
    for i in range(listeners):
        ident = user(f"listener{i}.attendee", tenant_id)
        people.setdefault(ident["id"], {"user": ident})
    # participant entities as "List participants_v2" shows them: the user identity with
    # its UPN, the other kinds of the communicationsIdentitySet null.
    participants = [
        {"id": pid, "identity": {"user": None, "phone": None, "guest": None, **ident}}
        for pid, ident in people.items()
    ]
    return {
        "version": version,
        "type": "groupCall" if kind == "groupCall" else "peerToPeer",
        "modalities": ["audio"],
        "lastModifiedDateTime": _iso(end + timedelta(minutes=2 + version)),
        "startDateTime": _iso(start),
        "endDateTime": _iso(end),
        "id": rid,
        "joinWebUrl": (
            f"https://teams.microsoft.com/l/meetup-join/{rid}" if kind == "groupCall" else None
        ),
        "organizer_v2": {
            "id": organizer["id"],
            "identity": {
                "user": {
                    "id": organizer["id"],
                    "displayName": organizer["displayName"],
                    "tenantId": tenant_id,
                }
            },
        },
        "participants_v2": participants,
        "sessions": sess,
    }


def pstn_row(
    tenant_id: str,
    *,
    seed: int = 0,
    start: datetime | None = None,
    direct_routing: bool = False,
    trunk: str = "sbc1.contoso.com",
    upn: str = "alice.anders@contoso.com",
    answered: bool = True,
    sip_code: int | None = None,
) -> dict[str, Any]:
    """A `pstnCallLogRow` (Calling Plans) or `directRoutingLogRow` row, with `_tenant`
    (the stand-in's own key, stripped from responses)."""
    rng = random.Random(f"{tenant_id}/{seed}/{direct_routing}")
    start = start or datetime.now(timezone.utc) - timedelta(hours=2)
    duration = rng.randint(30, 900) if answered else 0
    end = start + timedelta(seconds=duration or 5)
    number = f"+1555{rng.randint(0, 9_999_999):07d}"
    code = sip_code or (200 if answered else rng.choice([404, 480, 486, 487, 503]))
    phrase = {
        200: "OK",
        404: "Not Found",
        480: "Temporarily Unavailable",
        486: "Busy Here",
        487: "Request Terminated",
        503: "Service Unavailable",
    }.get(code, "Error")
    row_id = str(uuid.UUID(int=rng.getrandbits(128)))
    ident = user(upn.split("@")[0], tenant_id)
    if direct_routing:
        return {
            "_tenant": tenant_id,
            "id": row_id,
            "correlationId": str(uuid.uuid4()),
            "userId": ident["id"],
            "userPrincipalName": upn,
            "userDisplayName": ident["displayName"],
            "startDateTime": _iso(start),
            "inviteDateTime": _iso(start),
            "failureDateTime": None if answered else _iso(end),
            "endDateTime": _iso(end),
            "duration": duration,
            "callType": "ByotOut",
            "successfulCall": answered,
            "callerNumber": upn,
            "calleeNumber": number,
            "mediaPathLocation": "USWE",
            "signalingLocation": "USWE",
            "finalSipCode": code,
            "callEndSubReason": 0 if answered else 560000 + code,
            "finalSipCodePhrase": phrase,
            "trunkFullyQualifiedDomainName": trunk,
            "mediaBypassEnabled": rng.random() < 0.5,
            "userCountryCode": "US",
            "transferorCorrelationId": "",
            "otherPartyCountryCode": "us",
        }
    return {
        "_tenant": tenant_id,
        "id": row_id,
        "callId": str(uuid.uuid4()),
        "userId": ident["id"],
        "userPrincipalName": upn,
        "userDisplayName": ident["displayName"],
        "startDateTime": _iso(start),
        "endDateTime": _iso(end),
        "duration": duration,
        "charge": 0.0,
        "callType": "user_out",
        "currency": "USD",
        "calleeNumber": number,
        "usageCountryCode": "US",
        "tenantCountryCode": "US",
        "connectionCharge": 0.0,
        "callerNumber": "+15550100000",
        "destinationContext": None,
        "destinationName": "United States",
        "conferenceId": None,
        "licenseCapability": "MCOPSTNU",
        "inventoryType": "Subscriber",
        "operator": "Microsoft",
        "callDurationSource": "microsoft",
        "finalSipCode": code,
        "finalSipCodePhrase": phrase,
        "callEndSubReason": 0 if answered else 560000 + code,
        "trunkFullyQualifiedDomainName": None,
        "mediaBypassEnabled": False,
    }
