"""Who the parties of a call are to each level, on small hand-written call bodies, with
the literal answers of docs/reference/roles.md ("What a specialist sees"): the searched
user shown, everyone else "Internal User" (the searched user's domain) / "External
User" / "Conference", the organizer too; in a meeting only the searched user's own
sessions, whichever side of the session they are on; peer-to-peer calls keep every
session. The bodies leave fields out on purpose: a call detail may lack an organizer,
sessions, a caller or a URI, and the projection must still answer."""

from __future__ import annotations

from typing import Any

import pytest

from shared.analytics.visibility import api_path, project_call

ME = "alice@contoso.com"


def party(uri: str | None, kind: str = "user", name: str = "Real Name") -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "displayName": name}
    if uri is not None:
        out["uri"] = uri
    return out


def session(sid: str, caller: dict[str, Any] | None, callee: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "callee": callee}
    if caller is not None:
        out["caller"] = caller
    return out


def call(call_type: str, *sessions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"callId": "c1", "callType": call_type, "sessions": list(sessions), **extra}


def names(out: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(session id, caller as shown, callee as shown): the uri when kept, else the name."""
    return [
        (
            s["id"],
            s.get("caller", {}).get("uri") or s.get("caller", {}).get("displayName"),
            s["callee"].get("uri") or s["callee"].get("displayName"),
        )
        for s in out.get("sessions", [])
    ]


def test_the_caller_is_anonymised_like_the_callee() -> None:
    body = call(
        "peerToPeer",
        session("s1", party("sip:bob@contoso.com"), party(f"sip:{ME}")),
        session("s2", party("sip:eve@fabrikam.com"), party(f"sip:{ME}")),
    )
    out = project_call(body, "specialist", ME)
    assert names(out) == [
        ("s1", "Internal User", f"sip:{ME}"),
        ("s2", "External User", f"sip:{ME}"),
    ]
    assert "Real Name" not in str(out["sessions"][0]["caller"])


def test_the_organizer_is_shown_as_a_party_is() -> None:
    other = call("groupCall", organizer="sip:bob@contoso.com")
    assert project_call(other, "specialist", ME)["organizer"] == "Internal User"
    outside = call("groupCall", organizer="sip:eve@fabrikam.com")
    assert project_call(outside, "specialist", ME)["organizer"] == "External User"
    mine = call("groupCall", organizer=f"sip:{ME}")
    assert project_call(mine, "specialist", ME)["organizer"] == f"sip:{ME}"
    assert project_call(other, "engineer", ME)["organizer"] == "sip:bob@contoso.com"


def test_a_meeting_keeps_the_searched_users_sessions_on_either_side() -> None:
    focus = party("sip:org@contoso.com;gruu;opaque=app:conf:focus:id:9", name="Focus")
    body = call(
        "conference",
        session("mine-as-caller", party(f"sip:{ME}"), focus),
        session("theirs", party("sip:bob@contoso.com"), focus),
        session("mine-as-callee", focus, party(f"sip:{ME}")),
        session("no-caller", None, party("sip:eve@fabrikam.com")),
        {"id": "no-callee", "caller": party("sip:bob@contoso.com")},
    )
    out = project_call(body, "specialist", ME)
    assert names(out) == [
        ("mine-as-caller", f"sip:{ME}", "Conference"),
        ("mine-as-callee", "Conference", f"sip:{ME}"),
    ]
    assert len(project_call(body, "engineer", ME)["sessions"]) == 5


def test_a_peer_to_peer_call_keeps_every_session() -> None:
    """Only meetings are cut down to the searched user's sessions (roles.md, "meetings")."""
    body = call(
        "peerToPeer",
        session("s1", party(f"sip:{ME}"), party("sip:bob@contoso.com")),
        session("s2", party("sip:bob@contoso.com"), party("sip:carol@contoso.com")),
    )
    out = project_call(body, "specialist", ME)
    assert names(out) == [
        ("s1", f"sip:{ME}", "Internal User"),
        ("s2", "Internal User", "Internal User"),
    ]


@pytest.mark.parametrize("call_type", ["conference", "peerToPeer"])
def test_a_call_without_sessions_or_parties_still_answers(call_type: str) -> None:
    body = {"callId": "c1", "callType": call_type, "participantCount": 3}
    out = project_call(body, "specialist", ME)
    assert out.pop("sessions", []) == [] and out == body


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        # a server without a URI: "Conference", and no error for the missing uri
        (party(None, kind="server"), {"kind": "server", "displayName": "Conference"}),
        # a user entry without a URI: nobody can tell its domain, so External User
        (party(None), {"kind": "user", "displayName": "External User"}),
        # a phone party without a URI: nothing to mask
        (party(None, kind="phone"), {"kind": "phone", "displayName": "External User"}),
    ],
)
def test_parties_without_a_uri(shown: dict[str, Any], expected: dict[str, Any]) -> None:
    body = call("peerToPeer", session("s1", party(f"sip:{ME}"), shown), participants=[shown])
    out = project_call(body, "specialist", ME)
    assert out["sessions"][0]["callee"] == expected
    assert out["participants"] == [expected]


def test_the_domain_is_what_follows_the_searched_users_last_at() -> None:
    """A searched key with two `@` (a guest's UPN): its domain is after the last one."""
    body = call("peerToPeer", session("s1", party("sip:bob@contoso.com"), party("sip:x@y.com")))
    out = project_call(body, "specialist", "guest@fabrikam.com@contoso.com")
    assert names(out) == [("s1", "Internal User", "External User")]


def test_no_searched_user_anonymises_everyone() -> None:
    body = call(
        "peerToPeer",
        session("s1", party(f"sip:{ME}"), party("tel:+15552823456", kind="phone")),
        organizer=f"sip:{ME}",
    )
    out = project_call(body, "specialist", None)
    assert out["sessions"][0]["caller"] == {"kind": "user", "displayName": "External User"}
    assert out["sessions"][0]["callee"] == {
        "kind": "phone",
        "displayName": "External User",
        "phone": "tel:+15552823***",
    }
    assert out["organizer"] == "External User"


@pytest.mark.parametrize("level", ["reader", "ingest", "nobody"])
def test_levels_without_call_analytics_are_refused(level: str) -> None:
    with pytest.raises(ValueError, match=f"level {level} has no Call Analytics access"):
        project_call(call("peerToPeer"), level)  # type: ignore[arg-type]


def test_field_paths_follow_the_alias_rule() -> None:
    assert api_path("sessions[].caller.ip_address") == "sessions[].caller.ipAddress"
    assert api_path("source_ids[].call_record_id") == "sourceIds[].callRecordId"
    assert api_path("call_type") == "callType"
