"""`pstnCall` / `graph-pstn-v1`: one row of Graph's PSTN or Direct Routing call log.

Why its own call (key `pstn:<row id>`): a log row has no session or stream data, and
its `callId` is documented as not guaranteed unique, so it is not merged into a Teams
call record; it is the PSTN leg as the carrier or the SBC saw it: who (the user's UPN),
the other number, trunk, final SIP code and phrase, call end sub-reason, media bypass,
duration. Direction: `user_out`/`ByotOut`-like call types are the user calling the
number; `*_in`/`ByotIn` the number calling the user.
"""

from __future__ import annotations

from typing import Any, Literal

from shared.identity import content_hash
from shared.models.call import Endpoint, Fragment, PstnDetail, Session
from shared.parsing import ParseContext, RecordRejected, register

SOURCE = "graph-pstn-v1"


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tel(number: str | None) -> str | None:
    if not number:
        return None
    digits = number.removeprefix("tel:")
    return f"tel:{digits}" if digits.lstrip("+").isdigit() else None


@register("pstnCall", "graph-pstn-v1")
def parse_pstn(data: Any, ctx: ParseContext) -> list[Fragment]:
    del ctx
    if not isinstance(data, dict):
        raise RecordRejected("graph-pstn-v1 record must be a JSON object (a log row)")
    row_id = _str(data.get("id"))
    if not row_id:
        raise RecordRejected("graph-pstn-v1 row has no id")
    log_type: Literal["pstn", "directRouting"] = (
        "directRouting" if data.get("logType") == "directRouting" else "pstn"
    )
    upn = _str(data.get("userPrincipalName"))
    user = Endpoint(
        role="caller",
        uri=f"sip:{upn.lower()}" if upn and "@" in upn else None,
        display_name=_str(data.get("userDisplayName")),
        kind="user",
    )
    call_type = _str(data.get("callType")) or ""
    inbound = call_type.lower().endswith("in")
    # The other party: for a Direct Routing row the caller/callee numbers are given;
    # one of them may be the user's own (a UPN or their number).
    other = _tel(_str(data.get("callerNumber")) if inbound else _str(data.get("calleeNumber")))
    phone = Endpoint(role="callee", uri=other, kind="phone")
    if inbound:
        caller = phone.model_copy(update={"role": "caller"})
        callee = user.model_copy(update={"role": "callee"})
    else:
        caller, callee = user, phone
    code = _int(data.get("finalSipCode"))
    duration = data.get("duration")
    successful = data.get("successfulCall")
    if not isinstance(successful, bool):
        successful = (
            code == 200 if code is not None else (isinstance(duration, int) and duration > 0)
        )
    detail = PstnDetail(
        log_type=log_type,
        call_type=call_type or None,
        trunk_fqdn=_str(data.get("trunkFullyQualifiedDomainName")),
        final_sip_code=code,
        final_sip_phrase=_str(data.get("finalSipCodePhrase")),
        call_end_sub_reason=_int(data.get("callEndSubReason")),
        media_bypass=data.get("mediaBypassEnabled")
        if isinstance(data.get("mediaBypassEnabled"), bool)
        else None,
        duration_s=float(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else None,
        successful=successful,
    )
    start, end = _str(data.get("startDateTime")), _str(data.get("endDateTime"))
    session = Session(
        id=row_id,
        start=start,
        end=end,
        response_code=code,
        failure_reason=None if successful else detail.final_sip_phrase,
        media_types=["audio"],
        caller=caller,
        callee=callee,
        pstn=detail,
    )
    return [
        Fragment(
            fragment_id=content_hash(data),
            record_id=f"pstn:{row_id}",
            source_format=SOURCE,
            key=f"pstn:{row_id}",
            call_type="pstn",
            start=start,
            end=end,
            sessions=[session],
        )
    ]
