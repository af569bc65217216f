"""Paging of computed lists (`shared.paging.page_rows`) and the contract's declaration
of the `X-Continuation-Token` header: no server needed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from functions.contract import CONTINUATION_HEADER, ENDPOINTS, openapi_document
from shared.errors import Invalid
from shared.paging import encode_page_token, page_rows


def key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (-r["n"], r["name"])


ROWS = [{"name": f"u{i:02d}", "n": i % 4} for i in range(11)]
QUERY = {"from": "2031-01-01", "to": "2031-01-31"}


def walk(rows: list[dict[str, Any]], limit: int) -> list[list[str]]:
    pages, token = [], None
    while True:
        page, token = page_rows(rows, token, key, QUERY, limit)
        pages.append([r["name"] for r in page])
        if token is None:
            return pages


def test_pages_cover_every_row_once_in_order():
    pages = walk(ROWS, 4)
    assert [len(p) for p in pages] == [4, 4, 3]
    flat = [n for p in pages for n in p]
    assert flat == [r["name"] for r in sorted(ROWS, key=key)]
    assert walk(ROWS, 11) == [flat] and walk(ROWS, 50) == [flat]
    assert walk([], 5) == [[]]


def test_a_row_removed_or_added_between_pages_shifts_nothing():
    first, token = page_rows(ROWS, None, key, QUERY, 4)
    # the last row of page one and one not yet returned disappear; a row sorting
    # before the cut appears: the next page starts right after the cut all the same
    gone = {first[-1]["name"], "u10"}
    changed = [r for r in ROWS if r["name"] not in gone] + [{"name": "u02a", "n": 3}]
    second, _ = page_rows(changed, token, key, QUERY, 4)
    ordered = [r["name"] for r in sorted(ROWS, key=key) if r["name"] not in gone]
    cut = ordered.index(first[-2]["name"]) + 1
    assert [r["name"] for r in second] == ordered[cut : cut + 4]


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        b64({"q": "x"}),
        b64({"q": 1, "after": "[]"}),
        b64({"q": "?", "after": "[]", "more": "1"}),
    ],
)
def test_a_tampered_token_is_refused_naming_the_field(token):
    with pytest.raises(Invalid) as err:
        page_rows(ROWS, token, key, QUERY, 4)
    assert err.value.field == "continuationToken"


def test_a_token_of_another_query_or_an_unorderable_key_is_refused():
    _, token = page_rows(ROWS, None, key, QUERY, 4)
    with pytest.raises(Invalid, match="for this query"):
        page_rows(ROWS, token, key, {**QUERY, "to": "2031-02-28"}, 4)
    from shared.paging import fingerprint

    for after in ('"text"', "[[1, 2]]", '["a", 1]', "not json"):
        forged = encode_page_token({"q": fingerprint(QUERY), "after": after})
        with pytest.raises(Invalid) as err:
            page_rows(ROWS, forged, key, QUERY, 4)
        assert err.value.field == "continuationToken", after


def test_every_route_that_pages_declares_the_header_and_no_other_does():
    doc = openapi_document()
    for e in ENDPOINTS:
        op = doc["paths"][e.documented_path][e.method]
        takes = any(p["name"] == "continuationToken" for p in op.get("parameters", []))
        headers = op["responses"][str(e.status)].get("headers", {})
        assert takes == (CONTINUATION_HEADER in headers), (e.method, e.path)
        for status, answer in op["responses"].items():
            if status != str(e.status):
                assert CONTINUATION_HEADER not in answer.get("headers", {}), (e.path, status)


def test_the_reports_and_lists_that_can_exceed_a_page_take_the_token():
    doc = openapi_document()
    paged = {
        path
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if any(p["name"] == "continuationToken" for p in op.get("parameters", []))
    }
    assert paged >= {
        "/api/v1/users/{user}/calls",
        "/api/v1/audit",
        "/api/v1/quality/summary",
        "/api/v1/quality/poor-users",
        "/api/v1/quality/missing-subnets",
        "/api/v1/quality/pstn-trunks",
        "/api/v1/reports/{id}/run",
        "/api/v1/admin/alerts",
        "/api/v1/admin/quarantine",
        "/api/v1/admin/source-index/backfill",
    }
    # and their bodies name the next page the same way
    schemas = doc["components"]["schemas"]
    for name in (
        "ReportTable",
        "AlertList",
        "PstnReport",
        "AuditPage",
        "CallHistory",
        "QuarantineList",
        "SourceIndexRun",
    ):
        assert "continuationToken" in schemas[name]["properties"], name
        assert "truncated" not in schemas[name]["properties"], name
