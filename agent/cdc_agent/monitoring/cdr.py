"""LcsCDR rows -> `sfb-cdr-json` records (the format the service already takes).

Peer-to-peer sessions come from `SessionDetails`, a user's session with a conference
(the A/V conferencing server) from `ConferenceSessionDetails`; both are keyed by
(SessionIdTime, SessionIdSeq), the key of `Dialogs`, whose `ExternalId` holds the SIP
dialog ID as `Call-ID;from-tag;to-tag`. Users, client versions and conference URIs are
resolved through `Users`, `ClientVersions` and `ConferenceUris`; the media of a session
come from `Media` (MediaId as in the static `MediaList` table).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, select

from cdc_agent.monitoring import schema as s
from cdc_agent.monitoring.qoe import _after, _iso, parse_dialog_id

# MediaList (static): 1 IM, 2 File Transfer, 3 Remote Assistance, 4 Application Sharing,
# 5 Audio, 6 Video, 7 App Invite. Application sharing is the `data` media of sfb-cdr-json.
MEDIA_NAMES = {
    1: "im",
    2: "file-transfer",
    3: "remote-assistance",
    4: "data",
    5: "audio",
    6: "video",
    7: "app-invite",
}

Row = Mapping[str, Any]


def p2p_page(since: datetime | None, after: tuple[datetime, int] | None, limit: int) -> Select[Any]:
    sd, dl = s.cdr_session_details, s.cdr_dialogs
    u1, u2 = s.cdr_users.alias("u1"), s.cdr_users.alias("u2")
    v1, v2 = s.cdr_client_versions.alias("v1"), s.cdr_client_versions.alias("v2")
    j = (
        sd.outerjoin(
            dl,
            and_(dl.c.SessionIdTime == sd.c.SessionIdTime, dl.c.SessionIdSeq == sd.c.SessionIdSeq),
        )
        .outerjoin(u1, u1.c.UserId == sd.c.User1Id)
        .outerjoin(u2, u2.c.UserId == sd.c.User2Id)
        .outerjoin(v1, v1.c.VersionId == sd.c.User1ClientVerId)
        .outerjoin(v2, v2.c.VersionId == sd.c.User2ClientVerId)
    )
    stmt = select(
        sd.c.SessionIdTime,
        sd.c.SessionIdSeq,
        sd.c.CorrelationId,
        sd.c.InviteTime,
        sd.c.ResponseTime,
        sd.c.ResponseCode,
        sd.c.DiagnosticId,
        sd.c.SessionEndTime,
        dl.c.ExternalId,
        u1.c.UserUri.label("User1Uri"),
        u2.c.UserUri.label("User2Uri"),
        v1.c.Version.label("User1Version"),
        v2.c.Version.label("User2Version"),
    ).select_from(j)
    return _window(stmt, sd, since, after, limit)


def conference_page(
    since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> Select[Any]:
    cs, dl = s.cdr_conference_session_details, s.cdr_dialogs
    u = s.cdr_users.alias("u")
    focus, mcu = s.cdr_conference_uris.alias("focus"), s.cdr_conference_uris.alias("mcu")
    uv, cv = s.cdr_client_versions.alias("uv"), s.cdr_client_versions.alias("cv")
    j = (
        cs.outerjoin(
            dl,
            and_(dl.c.SessionIdTime == cs.c.SessionIdTime, dl.c.SessionIdSeq == cs.c.SessionIdSeq),
        )
        .outerjoin(u, u.c.UserId == cs.c.UserId)
        .outerjoin(focus, focus.c.ConferenceUriId == cs.c.ConferenceUriId)
        .outerjoin(mcu, mcu.c.ConferenceUriId == cs.c.McuConferenceUriId)
        .outerjoin(uv, uv.c.VersionId == cs.c.UserClientVersionId)
        .outerjoin(cv, cv.c.VersionId == cs.c.ConfClientVersionId)
    )
    stmt = select(
        cs.c.SessionIdTime,
        cs.c.SessionIdSeq,
        cs.c.InviteTime,
        cs.c.ResponseTime,
        cs.c.ResponseCode,
        cs.c.DiagnosticId,
        cs.c.SessionEndTime,
        dl.c.ExternalId,
        u.c.UserUri.label("User1Uri"),
        mcu.c.ConferenceUri.label("User2Uri"),
        focus.c.ConferenceUri.label("ConferenceUri"),
        uv.c.Version.label("User1Version"),
        cv.c.Version.label("User2Version"),
    ).select_from(j)
    return _window(stmt, cs, since, after, limit)


def _window(
    stmt: Select[Any],
    table: Any,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Select[Any]:
    where = [
        c
        for c in (
            table.c.SessionIdTime >= since if since is not None else None,
            _after(table.c.SessionIdTime, table.c.SessionIdSeq, after),
        )
        if c is not None
    ]
    if where:
        stmt = stmt.where(*where)
    return stmt.order_by(table.c.SessionIdTime, table.c.SessionIdSeq).limit(limit)


def media(t0: datetime, t1: datetime) -> Select[Any]:
    m = s.cdr_media
    return select(m.c.SessionIdTime, m.c.SessionIdSeq, m.c.MediaId).where(
        m.c.SessionIdTime >= t0, m.c.SessionIdTime <= t1
    )


def all_statements(since: datetime, after: tuple[datetime, int]) -> list[Select[Any]]:
    return [p2p_page(since, after, 10), conference_page(since, after, 10), media(since, since)]


def media_by_key(rows: Iterable[Row]) -> dict[tuple[datetime, int], list[str]]:
    out: dict[tuple[datetime, int], list[str]] = {}
    for r in rows:
        name = MEDIA_NAMES.get(int(r["MediaId"])) if r["MediaId"] is not None else None
        if name:
            names = out.setdefault((r["SessionIdTime"], int(r["SessionIdSeq"])), [])
            if name not in names:
                names.append(name)
    return out


def _external_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def cdr_record(row: Row, media_types: list[str], conference: bool) -> dict[str, Any] | None:
    """One row -> the `sfb-cdr-json` object; None without a caller URI or Call-ID (the
    service would refuse it anyway, and there is nothing to correlate it with)."""
    call_id, from_tag, to_tag = parse_dialog_id(_external_id(row.get("ExternalId")))
    user1 = row.get("User1Uri")
    if not call_id or not user1 or row.get("InviteTime") is None:
        return None
    order = {"audio": 0, "video": 1, "data": 2}
    data: dict[str, Any] = {
        "sessionIdTime": _iso(row["SessionIdTime"]),
        "sessionIdSeq": int(row["SessionIdSeq"]),
        "callId": call_id,
        "fromTag": from_tag,
        "toTag": to_tag,
        "correlationId": (str(row["CorrelationId"]) if row.get("CorrelationId") else None),
        "user1Uri": user1,
        "user2Uri": row.get("User2Uri"),
        "inviteTime": _iso(row["InviteTime"]),
        "responseTime": _iso(row.get("ResponseTime")),
        "endTime": _iso(row.get("SessionEndTime")),
        "responseCode": row.get("ResponseCode"),
        "diagnosticId": row.get("DiagnosticId"),
        "mediaTypes": sorted(media_types, key=lambda m: (order.get(m, 9), m)),
        "isConference": conference,
        "conferenceUri": row.get("ConferenceUri") if conference else None,
        "user1UserAgent": row.get("User1Version"),
        "user2UserAgent": row.get("User2Version"),
    }
    return data
