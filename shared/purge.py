"""Purging a user's data (docs/reference/data.md, "purged on request"): the pure part.

A call where the user is the only internal participant is deleted; in any other call
their identity is replaced by "Purged User": the URI wherever it appears, and on the
endpoints that are theirs the name, IP addresses, MAC addresses, device and machine
names (and the BSSID, EUII too: docs/reference/roles.md). The user's own values (their
IP, MAC, machine name) are then replaced wherever else they appear in the call (the
other side's view of the network).

Why a walk over the stored JSON and not over the models: the identity appears in the
fragments (the records as parsed) and in the view derived from them, in fields a new
parser may add; a walk that looks at every string misses none of them, and the view is
not re-derived (that would reclassify the call under today's profile).
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.identity import user_key

PURGED = "Purged User"
# On an endpoint that is the purged user's: every field that identifies them or their
# machine. Subnets stay (reports group by them; /24 or coarser is not EUII).
ENDPOINT_IDENTITY = (
    "uri",
    "display_name",
    "displayName",
    "machine_name",
    "ip_address",
    "mac_address",
    "bssid",
    "capture_device",
    "render_device",
    "capture_driver",
    "render_driver",
    "dns_suffix",
)
_OWN_VALUES = ("ip_address", "mac_address", "machine_name", "bssid", "display_name")


def user_hash(tenant_id: str, user: str) -> str:
    """What the audit record keeps of the user: a hash, so an auditor holding the address
    can check a purge happened without the log holding the address."""
    return hashlib.sha256(f"{tenant_id.lower()}|{user.lower()}".encode()).hexdigest()


def _is_user(value: Any, user: str) -> bool:
    return isinstance(value, str) and user_key(value) == user


def only_internal_participant(internal: list[str], user: str) -> bool:
    """Deleted rather than scrubbed: nobody else in the organisation has it in their
    history (external parties and phone numbers are not users of ours)."""
    return set(internal) <= {user}


def _own_values(node: Any, user: str, found: set[str]) -> None:
    if isinstance(node, dict):
        if _is_user(node.get("uri"), user):
            for key in _OWN_VALUES:
                value = node.get(key)
                if isinstance(value, str) and value:
                    found.add(value)
        for v in node.values():
            _own_values(v, user, found)
    elif isinstance(node, list):
        for v in node:
            _own_values(v, user, found)


def _scrub(node: Any, user: str, values: set[str]) -> Any:
    if isinstance(node, dict):
        mine = _is_user(node.get("uri"), user)
        out: dict[str, Any] = {}
        for k, v in node.items():
            if mine and k in ENDPOINT_IDENTITY and v is not None:
                out[k] = PURGED
            else:
                out[k] = _scrub(v, user, values)
        return out
    if isinstance(node, list):
        return [_scrub(v, user, values) for v in node]
    if isinstance(node, str):
        if _is_user(node, user) or node in values:
            return PURGED
        return _replace_inside(node, user, values)
    return node


def _replace_inside(text: str, user: str, values: set[str]) -> str:
    """The address inside a longer string (a conference URI names its organiser)."""
    lower = text.lower()
    if user not in lower and not any(v in text for v in values):
        return text
    out, i = [], 0
    while True:
        j = lower.find(user, i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j] + PURGED)
        i = j + len(user)
    result = "".join(out)
    for v in sorted(values, key=len, reverse=True):
        if len(v) >= 7:  # an IP or MAC, not a short name that would match anything
            result = result.replace(v, PURGED)
    return result


def scrub_call(raw: dict[str, Any], user: str) -> dict[str, Any]:
    """The stored call (JSON, store fields included) with the user's identity replaced.
    The item's own fields (`id`, `pk`, `key`, `tenantId`, the store's `_` fields) are
    kept: the call's identity must not change, and `key` is what later records of the
    same call are matched by."""
    values: set[str] = set()
    _own_values(raw, user, values)
    values.discard(PURGED)
    keep = {k: v for k, v in raw.items() if k in ("id", "pk", "key", "tenantId") or k[:1] == "_"}
    body = {k: v for k, v in raw.items() if k not in keep}
    return keep | _scrub(body, user, values)


def without_user_counter(
    contribution: dict[str, dict[str, int]] | None, user: str
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """A call's aggregate contribution (as its ledger holds it) without the user's
    poor-stream counter, and the aggregate documents that counted it: those keep the
    count under "Purged User", the ledger forgets whose it was."""
    entry = f"@{user}"
    out: dict[str, dict[str, int]] = {}
    held: list[str] = []
    for doc_key, entries in (contribution or {}).items():
        if entry in entries:
            held.append(doc_key)
        out[doc_key] = {k: v for k, v in entries.items() if k != entry}
    return out, held


def rename_counter(poor_users: dict[str, int], user: str) -> dict[str, int]:
    """The aggregate's poor-users counters with the user's folded into "Purged User"
    (the count stays, the name goes)."""
    out = dict(poor_users)
    n = out.pop(user, 0)
    if n:
        out[PURGED] = out.get(PURGED, 0) + n
    return out
