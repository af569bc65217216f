"""Tampered continuation tokens on the paged routes: a clear 400 naming the field, never a
500 and never another user's or tenant's page (the token only positions a read that is
scoped by the principal's tenant and the user in the path)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from devhost.stack import DEMO_TENANT

pytestmark = pytest.mark.stack


def b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = [
    "!!!not-base64!!!",
    b64(b"\xff\xfe not json"),
    b64([1, 2, 3]),
    b64("just a string"),
    b64({"start": 5, "id": None}),
    b64({"start": ["2031-01-01"], "id": {"$ne": 1}}),
    b64({"unexpected": True}),
    "A" * 5000,
]


def get(base: str, path: str, token: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


@pytest.mark.parametrize("tampered", TAMPERED, ids=range(len(TAMPERED)))
@pytest.mark.parametrize("route", ["history", "audit"])
def test_tampered_token_is_a_400_naming_the_field(
    local_host: str, mint: Callable[..., str], tampered: str, route: str
) -> None:
    token = mint(DEMO_TENANT, user="admin@contoso.com", level="admin")
    quoted = urllib.parse.quote(tampered)
    path = (
        f"/api/v1/users/alice@contoso.com/calls?continuationToken={quoted}"
        if route == "history"
        else f"/api/v1/audit?continuationToken={quoted}"
    )
    status, body = get(local_host, path, token)
    assert status == 400, (status, body)
    assert body.get("field") == "continuationToken", body
