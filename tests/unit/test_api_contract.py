"""The contract's pure parts: the 401 challenge, the source ids a fragment keeps and the
keys a call is found by, the camelCase rule on the models."""

from __future__ import annotations

import json

from functions.problems import bearer_challenge
from shared.analytics.service import detail_dict
from shared.merge import (
    build_document,
    lookup_keys,
    normalise_source_id,
    stored_lookup_keys,
    union,
)
from shared.parsing import ParseContext, parse_record
from shared.settings import Settings
from tests.factories import TENANT, cdr

CONF = "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Q1ABC"


def test_challenge_names_the_one_tenant_and_the_app_id_uri() -> None:
    one = Settings(auth_tenants=("t1",), auth_audiences=("client-guid", "api://cdc"))
    assert bearer_challenge(one, token_sent=False) == (
        'Bearer authorization_uri="https://login.microsoftonline.com/t1/oauth2/authorize", '
        'resource_id="api://cdc"'
    )
    many = Settings(auth_tenants=("t1", "t2"), auth_audiences=("api://cdc",))
    value = bearer_challenge(many, token_sent=True)
    assert "/organizations/oauth2/authorize" in value and value.endswith('error="invalid_token"')


def _doc(records: list[dict]) -> object:
    frags = [
        f for r in records for f in parse_record("cdr", "sfb-cdr-json", r, ParseContext(TENANT))
    ]
    return build_document(TENANT, frags[0].key, union({}, frags), None)


def test_meeting_keeps_every_legs_dialog_and_is_found_by_uri_id_and_call_ids() -> None:
    legs = [cdr(i, caller=f"sip:u{i}@contoso.com", conference=CONF) for i in range(3)]
    doc = _doc(legs)
    ids = doc.view.source_ids  # type: ignore[attr-defined]
    assert sorted(i.sip_call_id for i in ids) == [f"call-{i}@fe01.contoso.local" for i in range(3)]
    assert {(i.from_tag, i.to_tag) for i in ids} == {(f"ft{i}", f"tt{i}") for i in range(3)}
    keys = lookup_keys(doc.view)  # type: ignore[attr-defined]
    assert normalise_source_id(CONF) in keys and "q1abc" in keys
    assert all(f"call-{i}@fe01.contoso.local" in keys for i in range(3))
    assert normalise_source_id(" <Call-1@FE01.contoso.local> ") == "call-1@fe01.contoso.local"


def test_a_call_stored_before_source_ids_is_found_by_the_ids_of_its_fragments() -> None:
    """The backfill's keys come from the fragments: a view without `sourceIds` (as the
    processor stored calls before them) gives the same keys as a fresh one."""
    legs = [cdr(i, caller=f"sip:u{i}@contoso.com", conference=CONF) for i in range(3)]
    doc = _doc(legs)
    fresh = lookup_keys(doc.view)  # type: ignore[attr-defined]
    old_view = doc.view.model_copy(update={"source_ids": []})  # type: ignore[attr-defined]
    assert lookup_keys(old_view) == [normalise_source_id(CONF)]  # only the view's URI
    assert stored_lookup_keys(doc.fragments.values(), old_view) == fresh  # type: ignore[attr-defined]
    assert {"q1abc", "call-0@fe01.contoso.local"} <= set(fresh)


def test_detail_body_is_camel_case_with_source_ids() -> None:
    body = detail_dict(_doc([cdr(1)]))  # type: ignore[arg-type]
    text = json.dumps(body)
    assert '"callType"' in text and '"sourceIds"' in text and '"sipCallId"' in text
    assert "_" not in "".join(_keys(body))


def _keys(node: object) -> list[str]:
    if isinstance(node, list):
        return [k for v in node for k in _keys(v)]
    if isinstance(node, dict):
        return [k for k, v in node.items() for k in [k, *_keys(v)]]
    return []
