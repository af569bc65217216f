"""What each level may see of a call: one projection, driven by a field classification.

Every field of the call detail response has a class in `FIELD_CLASSES`, keyed by its
path (list indices written `[]`). A field that is not classified is dropped for a
specialist: a new model field cannot leak by default. The classes follow docs/reference/roles.md:

- basic: shown to every Call Analytics level;
- identity: a participant's URI / name: the searched user's own shown, others become
  "Internal User" / "External User" for a specialist;
- advanced: device names, IP addresses, subnet, MAC, building/network mapping, the
  raw metrics of the Advanced tab: not for a specialist;
- debug: DNS suffix, SSID, BSSID, user agent header: not for a specialist.
Phone numbers (`tel:`) are masked (last 3 digits) for everyone but admin.

The tables below name fields as Python does (snake_case); `FIELD_CLASSES` is keyed by
the response's camelCase paths, derived with the models' own alias rule (`to_camel`), so
the projection walks the body exactly as it is sent.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic.alias_generators import to_camel

from shared.auth.levels import Level
from shared.identity import is_focus_uri, user_key

FieldClass = Literal["basic", "identity", "advanced", "debug"]

_ENDPOINT: dict[str, FieldClass] = {
    "role": "basic",
    "kind": "basic",
    "uri": "identity",
    "display_name": "identity",
    "connection_type": "basic",
    "vpn": "basic",
    "inside": "basic",
    "user_agent": "debug",
    "machine_name": "advanced",
    "os": "advanced",
    "cpu": "advanced",
    "ip_address": "advanced",
    "port": "advanced",
    "subnet": "advanced",
    "subnet_mask": "advanced",
    "mac_address": "advanced",
    "bssid": "debug",
    "ssid": "debug",
    "dns_suffix": "debug",
    "link_speed_bps": "advanced",
    "wifi_radio_type": "advanced",
    "wifi_signal_strength": "advanced",
    "wifi_channel": "advanced",
    "wifi_band": "advanced",
    "product_family": "basic",
    "platform": "advanced",
    "feedback_rating": "advanced",
    "feedback_tokens": "advanced",
    "capture_device": "advanced",
    "capture_driver": "advanced",
    "render_device": "advanced",
    "render_driver": "advanced",
    "device_ratios": "advanced",
    "device_flags": "advanced",
    "place": "advanced",  # building / network / city / site / pool (building file, topology)
}

_SESSION: dict[str, FieldClass] = {
    "id": "basic",
    "start": "basic",
    "end": "basic",
    "rating": "basic",
    "reasons": "basic",
    "reason_metrics": "basic",
    "media_types": "basic",
    "response_code": "basic",
    "diagnostic_id": "basic",
    "failure_stage": "basic",
    "failure_reason": "basic",
    "has_qoe": "basic",
    "invite_time": "advanced",
    "response_time": "advanced",
    "sip_call_id": "debug",
    "from_tag": "debug",
    "to_tag": "debug",
    # PSTN / Direct Routing facts (trunk, SIP code, media bypass): engineer and admin;
    # a specialist sees the masked number and the call's duration only.
    "pstn": "advanced",
}

_STREAM: dict[str, FieldClass] = {
    "id": "basic",
    "label": "basic",
    "media_type": "basic",
    "direction": "basic",
    "ice": "advanced",
    "transport": "advanced",
    "relay": "advanced",
    "source_format": "basic",
    "segment_id": "debug",
    "stream_id": "debug",
    "metrics": "advanced",
    "quality": "basic",
    "quality.rating": "basic",
    "quality.poor_due_to": "basic",
    "quality.unclassified_reason": "basic",
    "quality.profile": "basic",
    "quality.flags": "advanced",
}

# The sources' own ids (Graph callRecord/session/segment/stream ids, SIP dialog, conference
# URI, QoE report ids): the Debug side, for engineer and admin; a specialist keeps the
# product's call id only.
_SOURCE_IDS: dict[str, FieldClass] = {
    "source_ids": "debug",
}

_SNAKE_CLASSES: dict[str, FieldClass] = {
    "callId": "basic",
    "call_type": "basic",
    "start": "basic",
    "end": "basic",
    "duration_s": "basic",
    "rating": "basic",
    "reasons": "basic",
    "sources": "basic",
    "participant_count": "basic",
    "session_count": "basic",
    "continuation_token": "basic",
    "conference_uri": "debug",
    "organizer": "identity",
    "participants": "basic",
    "participants[].uri": "identity",
    "participants[].display_name": "identity",
    "participants[].kind": "basic",
    "sessions": "basic",
    **{f"sessions[].{k}": v for k, v in _SESSION.items()},
    "sessions[].caller": "basic",
    "sessions[].callee": "basic",
    **{f"sessions[].caller.{k}": v for k, v in _ENDPOINT.items()},
    **{f"sessions[].callee.{k}": v for k, v in _ENDPOINT.items()},
    "sessions[].streams": "basic",
    **{f"sessions[].streams[].{k}": v for k, v in _STREAM.items()},
    **_SOURCE_IDS,
}


def api_path(path: str) -> str:
    """`sessions[].caller.ip_address` -> `sessions[].caller.ipAddress`: the model alias
    rule applied to each segment of a field path."""
    return ".".join(
        to_camel(seg[:-2]) + "[]" if seg.endswith("[]") else to_camel(seg)
        for seg in path.split(".")
    )


FIELD_CLASSES: dict[str, FieldClass] = {api_path(k): v for k, v in _SNAKE_CLASSES.items()}

# Subtrees shown whole once their root is visible (their keys are data, not fields).
_OPAQUE = (
    "metrics",
    "quality.flags",
    "deviceRatios",
    "deviceFlags",
    "reasonMetrics",
    "place",
    "sourceIds",
    "pstn",
)

_TEL_RE = re.compile(r"^(tel:)?(\+?\d+?)(\d{1,3})$")


def mask_phone(uri: str) -> str:
    """`tel:+15552823456` -> `tel:+15552823***` (last 3 digits, as Microsoft masks)."""
    body = uri[4:] if uri.lower().startswith("tel:") else uri
    digits = body.split(";", 1)[0]
    if len(digits) <= 3:
        return (uri[:4] if uri.lower().startswith("tel:") else "") + "***"
    return (uri[:4] if uri.lower().startswith("tel:") else "") + digits[:-3] + "***"


def _visible(cls: FieldClass | None, level: Level) -> bool:
    if level in ("admin", "engineer"):
        return True
    return cls in ("basic", "identity")


def _anonymise(value: dict[str, Any], searched: str | None, tenant_domains: set[str]) -> None:
    """A specialist sees the searched user; everyone else is Internal / External User."""
    uri = value.get("uri")
    if uri and searched and user_key(uri) == searched:
        return
    if value.get("kind") == "server" or is_focus_uri(uri):
        value.pop("uri", None)
        value["displayName"] = "Conference"
        return
    key = user_key(uri) if uri else None
    internal = key is not None and key.rsplit("@", 1)[-1] in tenant_domains
    value.pop("uri", None)
    if value.get("kind") == "phone" and uri:
        value["phone"] = mask_phone(uri)
    value["displayName"] = "Internal User" if internal else "External User"


def _walk(node: Any, path: str, level: Level) -> Any:
    if isinstance(node, list):
        return [_walk(v, path + "[]", level) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        child = f"{path}.{key}" if path else key
        cls = FIELD_CLASSES.get(child)
        if not _visible(cls, level):
            continue  # unclassified or not for this level: absent, not blanked
        if any(child.endswith(o) for o in _OPAQUE):
            out[key] = value
        else:
            out[key] = _walk(value, child, level)
    return out


def mask_phones(node: Any) -> Any:
    """Every `tel:` string anywhere in `node` masked (all levels below admin)."""
    if isinstance(node, list):
        return [mask_phones(v) for v in node]
    if isinstance(node, dict):
        return {k: mask_phones(v) for k, v in node.items()}
    if isinstance(node, str) and node.lower().startswith("tel:"):
        return mask_phone(node)
    return node


def project_call(
    detail: dict[str, Any], level: Level, searched_user: str | None = None
) -> dict[str, Any]:
    """The call detail as `level` may see it. `detail` is the full response dict."""
    if level not in ("admin", "engineer", "specialist"):
        raise ValueError(f"level {level} has no Call Analytics access")
    out = _walk(detail, "", level)
    if level == "specialist":
        domains = {searched_user.rsplit("@", 1)[-1]} if searched_user else set()
        if out.get("callType") == "conference" and searched_user:
            out["sessions"] = [
                s
                for s in out.get("sessions", [])
                if searched_user
                in (
                    user_key(s.get("caller", {}).get("uri")),
                    user_key(s.get("callee", {}).get("uri")),
                )
            ]
        for p in out.get("participants", []):
            _anonymise(p, searched_user, domains)
        for s in out.get("sessions", []):
            for role in ("caller", "callee"):
                if role in s:
                    _anonymise(s[role], searched_user, domains)
        if "organizer" in out:
            org = {"uri": out.pop("organizer"), "kind": "user"}
            _anonymise(org, searched_user, domains)
            out["organizer"] = org.get("displayName") or org.get("uri")
    if level != "admin":
        out = mask_phones(out)
    return out
