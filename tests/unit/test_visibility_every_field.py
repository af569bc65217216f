"""Every field of the call model filled in, projected for each Call Analytics level: the
exact set of fields each receives, written from docs/reference/roles.md ("What a
specialist sees"). The call is filled by walking the models, so a new model field shows
up here and must be placed in one of the sets below before this test passes."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from shared.analytics.service import detail_dict
from shared.analytics.visibility import project_call
from shared.models.call import CallDocument, CallView

# The body is camelCase (the models' alias rule, docs/reference/api.md); the sets below
# name fields as Python does and are turned into wire paths by that same rule.
OPAQUE = {"metrics", "flags", "deviceRatios", "deviceFlags", "reasonMetrics", "place", "pstn"}
SEARCHED = "alice@contoso.com"

ENDPOINT_ALL = {
    "role", "kind", "uri", "display_name", "connection_type", "vpn", "inside",
    "user_agent", "machine_name", "os", "cpu", "ip_address", "port", "subnet",
    "subnet_mask", "mac_address", "bssid", "ssid", "dns_suffix", "link_speed_bps",
    "wifi_radio_type", "wifi_signal_strength", "wifi_channel", "wifi_band", "product_family",
    "platform", "feedback_rating", "feedback_tokens", "capture_device", "capture_driver",
    "render_device", "render_driver", "device_ratios", "device_flags", "place",
}  # fmt: skip
# Basic call details and the party's identity; its network place as CQD's in/out/VPN; the
# client type (productFamily). Wifi band / channel, platform and the Rate My Call rating
# and tokens are advanced.
ENDPOINT_SPECIALIST = {
    "role", "kind", "uri", "display_name", "connection_type", "vpn", "inside", "product_family",
}  # fmt: skip
SESSION_ALL = {
    "id", "sip_call_id", "from_tag", "to_tag", "start", "end", "invite_time",
    "response_time", "response_code", "diagnostic_id", "failure_stage", "failure_reason",
    "media_types", "has_qoe", "rating", "reasons", "reason_metrics", "pstn",
}  # fmt: skip
# Debug: SIP Call-ID and tags; advanced: the raw signalling times, the PSTN / Direct
# Routing row (trunk, SIP code, media bypass).
SESSION_SPECIALIST = SESSION_ALL - {
    "sip_call_id", "from_tag", "to_tag", "invite_time", "response_time", "pstn"
}  # fmt: skip
STREAM_ALL = {
    "id", "label", "media_type", "direction", "ice", "transport", "relay", "source_format",
    "segment_id", "stream_id", "metrics", "quality.rating", "quality.poor_due_to",
    "quality.unclassified_reason", "quality.flags", "quality.profile",
}  # fmt: skip
# Raw metrics and their flags, ICE / transport / relay (advanced), Graph segment and stream
# ids (debug): absent.
STREAM_SPECIALIST = STREAM_ALL - {
    "ice", "transport", "relay", "segment_id", "stream_id", "metrics", "quality.flags"
}  # fmt: skip
CALL_ALL = {
    "callId", "call_type", "conference_uri", "organizer", "start", "end", "duration_s",
    "rating", "reasons", "sources", "participant_count",
    "participants[].uri", "participants[].display_name", "participants[].kind",
}  # fmt: skip
# The sources' own ids: Debug, for engineer and admin; a specialist keeps the callId only.
SOURCE_IDS_ALL = {
    "source_format", "record_id", "call_record_id", "version", "session_ids", "segment_ids",
    "stream_ids", "sip_call_id", "from_tag", "to_tag", "conference_uri", "report_id",
    "cdr_session",
}  # fmt: skip


def wire(path: str) -> str:
    """`sessions[].caller.ip_address` -> `sessions[].caller.ipAddress` (the alias rule)."""
    return ".".join(
        to_camel(seg[:-2]) + "[]" if seg.endswith("[]") else to_camel(seg)
        for seg in path.split(".")
    )


def expected(level: str) -> set[str]:
    if level == "specialist":
        # the searched user's own participant entry keeps its uri; the conference URI is debug
        call = CALL_ALL - {"conference_uri"}
        endpoint = {
            "caller": ENDPOINT_SPECIALIST,  # the searched user: shown
            "callee": ENDPOINT_SPECIALIST - {"uri"},  # another user: "External User"
        }
        session, stream = SESSION_SPECIALIST, STREAM_SPECIALIST
        source_ids: set[str] = set()
    else:
        call, session, stream = CALL_ALL, SESSION_ALL, STREAM_ALL
        endpoint = {"caller": ENDPOINT_ALL, "callee": ENDPOINT_ALL}
        source_ids = SOURCE_IDS_ALL
    out = set(call)
    out |= {f"source_ids[].{f}" for f in source_ids}
    out |= {f"sessions[].{f}" for f in session}
    out |= {f"sessions[].streams[].{f}" for f in stream}
    for role, fields in endpoint.items():
        out |= {f"sessions[].{role}.{f}" for f in fields}
    return {wire(p) for p in out}


def _value(annotation: Any, name: str, path: str) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), name, path)
    if origin is Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return fill(annotation, f"{path}.{name}")
    if origin is list:
        item = _value(args[0], name, path)
        return [item]
    if origin is dict:
        return {"k": _value(args[1], name, path)}
    if annotation is bool:
        return True
    if annotation is int:
        return 7
    if annotation is float:
        return 0.5
    if annotation is str:
        return f"{name}-value"
    raise AssertionError(f"no filler for {path}.{name}: {annotation}")


def fill(model: type[BaseModel], path: str = "") -> Any:
    values = {n: _value(f.annotation, n, path) for n, f in model.model_fields.items()}
    return model.model_validate(values)


def full_call() -> CallDocument:
    view = fill(CallView)
    view.participants[0].uri = f"sip:{SEARCHED}"
    other = view.participants[0].model_copy(update={"uri": "sip:bob@fabrikam.com"})
    view.participants.append(other)
    for session in view.sessions:
        session.caller.role, session.caller.uri = "caller", f"sip:{SEARCHED}"
        session.callee.role, session.callee.uri = "callee", "sip:bob@fabrikam.com"
        session.caller.kind = session.callee.kind = "user"
        session.caller.ip_address = session.callee.ip_address = "10.1.2.3"
    view.organizer = f"sip:{SEARCHED}"
    return CallDocument(id="c1", pk="t|c1", tenantId="t", key="sip:x", view=view)


def leaves(node: Any, path: str = "") -> set[str]:
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        return set().union(*(leaves(v, path + "[]") for v in node))
    if isinstance(node, dict) and path.rsplit(".", 1)[-1] not in OPAQUE:
        out: set[str] = set()
        for key, value in node.items():
            out |= leaves(value, f"{path}.{key}" if path else key)
        return out
    return {path}


def detail() -> dict[str, Any]:
    body = detail_dict(full_call())
    for session in body["sessions"]:
        for role in ("caller", "callee"):
            session[role]["place"] = {"building": "B1", "site": "S1"}
    return body


def test_the_filled_call_has_every_model_field() -> None:
    assert leaves(detail()) == expected("admin")


@pytest.mark.parametrize("level", ["admin", "engineer", "specialist"])
def test_each_level_receives_exactly_its_fields(level: str) -> None:
    got = leaves(project_call(detail(), level, SEARCHED))  # type: ignore[arg-type]
    assert got == expected(level), {
        "extra": sorted(got - expected(level)),
        "missing": sorted(expected(level) - got),
    }


def test_specialist_values_of_the_other_party() -> None:
    out = project_call(detail(), "specialist", SEARCHED)
    callee = out["sessions"][0]["callee"]
    assert callee["displayName"] == "External User" and "uri" not in callee
    assert out["sessions"][0]["caller"]["uri"] == f"sip:{SEARCHED}"
    me, them = out["participants"]
    assert me["uri"] == f"sip:{SEARCHED}"
    assert them == {"displayName": "External User", "kind": "user"}
    assert out["organizer"] == f"sip:{SEARCHED}"


@pytest.mark.parametrize(
    ("uri", "kind", "shown"),
    [
        # a phone number: masked (last 3 digits), never the uri; parameters dropped
        (
            "tel:+15552823456;ext=12;x=1",
            "phone",
            {"kind": "phone", "phone": "tel:+15552823***", "displayName": "External User"},
        ),
        # a server with an ordinary SIP address, and a focus URI of any kind: "Conference"
        ("sip:pool01@contoso.com", "server", {"kind": "server", "displayName": "Conference"}),
        (
            "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:1",
            "user",
            {"kind": "user", "displayName": "Conference"},
        ),
        # the searched user's domain: internal; any other: external
        ("sip:carol@contoso.com", "user", {"kind": "user", "displayName": "Internal User"}),
        ("sip:carol@contoso.com.evil", "user", {"kind": "user", "displayName": "External User"}),
        # the domain is what follows the last "@"
        ("sip:carol@sub@contoso.com", "user", {"kind": "user", "displayName": "Internal User"}),
    ],
)
def test_specialist_sees_other_parties_as_documented(
    uri: str, kind: str, shown: dict[str, str]
) -> None:
    body = detail()
    callee = body["sessions"][0]["callee"]
    callee.update(uri=uri, kind=kind, displayName="Real Name")
    out = project_call(body, "specialist", SEARCHED)["sessions"][0]["callee"]
    assert {k: out[k] for k in ("kind", "displayName", "phone") if k in out} == shown
    assert "uri" not in out and "Real Name" not in str(out)


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("tel:+15552823456", "tel:+15552823***"),
        ("tel:+15552823456;ext=12;y=2", "tel:+15552823***"),
        ("+15552823456", "+15552823***"),
        ("tel:12", "tel:***"),
        ("tel:1234", "tel:1***"),
    ],
)
def test_mask_phone_literally(uri: str, masked: str) -> None:
    from shared.analytics.visibility import mask_phone

    assert mask_phone(uri) == masked


def test_engineer_sees_phone_numbers_masked_and_admin_in_full() -> None:
    body = detail()
    body["sessions"][0]["callee"].update(uri="tel:+15552823456", kind="phone")
    engineer = project_call(body, "engineer", SEARCHED)["sessions"][0]["callee"]
    admin = project_call(body, "admin", SEARCHED)["sessions"][0]["callee"]
    assert engineer["uri"] == "tel:+15552823***" and admin["uri"] == "tel:+15552823456"
