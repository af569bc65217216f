"""Which copy of a Graph call record wins, and whose participants a call lists.

Ordering is (version, lastModifiedDateTime): `record_order` for the fetcher, the same
pair on the fragment for the merge. A newer copy replaces the call; an older or equal
one changes nothing, in any arrival order. Participants come from the record's own
`participants_v2` list as well as from its sessions.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import pytest

from shared.graph.fetcher import batch_id, newer
from shared.merge import build_view, merged_document, union
from shared.parsing import ParseContext, parse_record
from shared.parsing.graph import modified_key, record_order

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
EXAMPLE = Path(__file__).parents[1] / "golden" / "graph" / "ms_get_callrecord_expanded.json"


def example() -> dict:
    return json.loads(EXAMPLE.read_text("utf-8"))


def graph(data: dict) -> list:
    return parse_record("callRecord", "graph-v1", data, CTX)


def with_jitter(data: dict, jitter: str, *, version: int, modified: str) -> dict:
    d = copy.deepcopy(data)
    d["version"], d["lastModifiedDateTime"] = version, modified
    d["sessions"][0]["segments"][0]["media"][0]["streams"][0]["averageJitter"] = jitter
    return d


def test_modified_key_sorts_as_time():
    assert modified_key("2020-02-25T19:00:24.582757Z") == "2020-02-25T19:00:24.5827570Z"
    assert modified_key("2020-02-25T19:00:24Z") == "2020-02-25T19:00:24.0000000Z"
    # 100 ns apart: distinct (datetime alone would keep 6 digits and call them equal)
    assert modified_key("2020-02-25T19:00:24.5827571Z") > modified_key(
        "2020-02-25T19:00:24.582757Z"
    )
    # an offset is converted to UTC before comparing
    assert modified_key("2020-02-25T20:00:24.5+01:00") == "2020-02-25T19:00:24.5000000Z"
    assert modified_key("2020-02-25T19:00:25Z") > modified_key("2020-02-25T19:00:24.9999999Z")
    for bad in (None, "", "yesterday", 5, "2020-13-45T99:00:00Z"):
        assert modified_key(bad) == ""


def test_record_order_is_version_then_modified():
    a = {"version": 1, "lastModifiedDateTime": "2020-02-25T19:00:24Z"}
    b = {"version": 1, "lastModifiedDateTime": "2020-02-25T19:05:00Z"}
    c = {"version": 2, "lastModifiedDateTime": "2020-02-25T18:00:00Z"}
    assert record_order(a) < record_order(b) < record_order(c)
    assert record_order({"version": True}) == (0, "") == record_order("x")


def test_fetcher_hands_over_only_a_strictly_newer_copy():
    stored = {"status": "stored", "version": 1, "lastModified": "2020-02-25T19:00:24.582757Z"}
    same = {"version": 1, "lastModifiedDateTime": "2020-02-25T19:00:24.5827570Z"}
    assert not newer(same, stored)  # equal: a redelivery
    assert not newer({"version": 1, "lastModifiedDateTime": "2020-02-25T18:00:00Z"}, stored)
    assert not newer({"version": 0, "lastModifiedDateTime": "2021-01-01T00:00:00Z"}, stored)
    assert newer({"version": 1, "lastModifiedDateTime": "2020-02-25T19:00:25Z"}, stored)
    assert newer({"version": 2, "lastModifiedDateTime": "2020-01-01T00:00:00Z"}, stored)
    assert newer(same, None) and newer(same, {"status": "notFound"})


def test_same_version_later_modification_replaces_in_any_order():
    base = example()
    old = with_jitter(base, "PT0.010S", version=1, modified="2020-02-25T19:00:24Z")
    new = with_jitter(base, "PT0.090S", version=1, modified="2020-02-25T19:30:00Z")
    frags = graph(old) + graph(new)
    for order in itertools.permutations(frags):
        kept = union(union({}, [order[0]]), [order[1]])
        [kept_frag] = kept.values()
        assert kept_frag.modified == "2020-02-25T19:30:00.0000000Z"
        view = build_view(kept)
        assert view.sessions[0].streams[0].metrics.jitter_ms == pytest.approx(90.0)


def test_version_beats_modification_time():
    base = example()
    v2 = with_jitter(base, "PT0.020S", version=2, modified="2020-02-25T19:00:00Z")
    v1_later = with_jitter(base, "PT0.080S", version=1, modified="2020-02-26T00:00:00Z")
    for order in itertools.permutations(graph(v2) + graph(v1_later)):
        view = build_view(union(union({}, [order[0]]), [order[1]]))
        assert view.sessions[0].streams[0].metrics.jitter_ms == pytest.approx(20.0)


def test_older_or_equal_copy_changes_nothing():
    base = example()
    new = with_jitter(base, "PT0.090S", version=2, modified="2020-02-25T19:30:00Z")
    older_version = with_jitter(base, "PT0.010S", version=1, modified="2020-02-25T19:40:00Z")
    older_time = with_jitter(base, "PT0.011S", version=2, modified="2020-02-25T19:29:59Z")
    doc = merged_document(None, CTX.tenant_id, "graph:x", graph(new), None)
    assert doc is not None
    for copy_ in (new, older_version, older_time):  # a redelivery, then two older copies
        assert merged_document(doc, CTX.tenant_id, "graph:x", graph(copy_), None) is None


def test_participants_v2_lists_everyone_across_pages():
    d = example()
    d["participants_v2"] = [
        {
            "id": f"u{i}",
            "identity": {
                "user": {
                    "id": f"u{i}",
                    "displayName": f"Listener {i}",
                    "userPrincipalName": f"Listener{i}@contoso.com",
                },
                "phone": None,
            },
        }
        for i in range(300)
    ] + [
        # the organizer without a UPN: named by the session endpoint with the same id
        {"id": "o", "identity": {"user": {"id": "821809f5-0000-0000-0000-3b5136c0e777"}}},
        {"id": "p", "identity": {"phone": {"id": "+15550100123"}}},
    ]
    [frag] = graph(d)
    view = build_view(union({}, [frag]))
    uris = {p.uri for p in view.participants}
    assert {f"sip:listener{i}@contoso.com" for i in range(300)} <= uris
    assert "sip:abbie.wilkins@contoso.com" in uris and "sip:owen.franklin@contoso.com" in uris
    assert "tel:+15550100123" in uris
    assert len(view.participants) == 303  # 300 listeners, the phone, the two in the session
    kinds = {p.uri: p.kind for p in view.participants}
    assert kinds["tel:+15550100123"] == "phone" and kinds["sip:listener7@contoso.com"] == "user"


def test_deprecated_participants_when_there_is_no_participants_v2():
    d = example()
    d["participants"] = [{"user": {"id": "x1", "userPrincipalName": "zoe.zhang@contoso.com"}}]
    assert "sip:zoe.zhang@contoso.com" in {p.uri for p in graph(d)[0].participants}
    d["participants_v2"] = [
        {"id": "y", "identity": {"user": {"id": "y", "userPrincipalName": "yan@contoso.com"}}}
    ]
    assert [p.uri for p in graph(d)[0].participants] == ["sip:yan@contoso.com"]


def test_batch_id_follows_content():
    a = example()
    b = with_jitter(a, "PT0.090S", version=1, modified=a["lastModifiedDateTime"])
    assert batch_id([a]) == batch_id([copy.deepcopy(a)])  # a resent group: the same batch
    assert batch_id([a]) != batch_id([b])  # other content: another batch, never a conflict
    c = dict(a, id="other")
    assert batch_id([a, c]) == batch_id([c, a]) and batch_id([a, c]).startswith("graph-2x-")
    assert batch_id([a]).startswith(f"graph-{a['id']}-v1-") and len(batch_id([a])) <= 128
