"""Continuation tokens: one paging vocabulary for every list and report
(docs/reference/api.md, "JSON or CSV, one paging vocabulary").

A token is opaque to clients: URL-safe base64 of a small JSON object. Two kinds of
list use it:

- lists read page by page from Cosmos DB (a user's history, the audit log) keep the
  keyset of the last item they returned (`encode_page_token` / `decode_page_token`);
- lists computed in full per request (the reports, the alert list) are cut into pages
  here (`page_rows`): the token holds the sort key of the last row returned and a
  fingerprint of the query, so the next page starts after that row even when rows
  were added or removed in between (no offset that would skip or repeat one), and a
  token from another query is refused instead of positioning it.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shared.errors import Invalid

# Rows per page of a computed list: large enough that a month of a typical report is
# one page (a Power BI refresh makes one request), small enough that a page stays a
# few hundred kilobytes.
PAGE_ROWS = 1000
FIELD = "continuationToken"
Row = TypeVar("Row")


def encode_page_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def decode_page_token(token: str | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The state `encode_page_token` wrote: exactly `keys`, each a string. Anything else
    (a hand-edited or foreign token) is a 400, so no query is built from its values."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(state, dict) or set(state) != set(keys):
            raise ValueError
        if not all(isinstance(state[k], str) for k in keys):
            raise ValueError
        return state
    except ValueError:
        raise Invalid("continuation token is not valid", field=FIELD) from None


def fingerprint(query: Any) -> str:
    """A short digest of what a list was asked for (its resolved period, grouping,
    filters): a token only continues the query it came from."""
    text = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tuples(value: Any) -> Any:
    """JSON gives lists back for the tuples a sort key is made of."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def page_rows(
    rows: Sequence[Row],
    token: str | None,
    key: Callable[[Row], tuple[Any, ...]],
    query: Any,
    limit: int | None = None,
) -> tuple[list[Row], str | None]:
    """The page of `rows` (in ascending `key` order, which must be unique per row) that
    follows the token's row, and the token of the next page (None on the last)."""
    size = PAGE_ROWS if limit is None else limit
    ordered = sorted(rows, key=key)
    digest = fingerprint(query)
    state = decode_page_token(token, ("q", "after"))
    if state is not None:
        if state["q"] != digest:
            raise Invalid("continuation token is not valid for this query", field=FIELD)
        try:
            after = _tuples(json.loads(state["after"]))
            if not isinstance(after, tuple):
                raise ValueError
            ordered = [r for r in ordered if key(r) > after]
        except (ValueError, TypeError):
            raise Invalid("continuation token is not valid", field=FIELD) from None
    page = ordered[:size]
    if len(ordered) <= size or not page:
        return page, None
    return page, encode_page_token({"q": digest, "after": json.dumps(key(page[-1]))})
