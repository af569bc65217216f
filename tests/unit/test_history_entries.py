"""A call's history entries (one per internal user, in the user's partition), built
from a parsed meeting with hand-counted expectations: who gets an entry, which sessions
are their own, and how many addresses a row keeps."""

from __future__ import annotations

from collections import defaultdict

from shared.exclusions import TenantSettings
from shared.merge import merged_document
from shared.parsing import ParseContext, parse_record
from shared.storage.calls import history_keys, user_index_docs
from tests.factories import TENANT, meeting_legs


def _meeting(n: int):
    ctx = ParseContext(tenant_id=TENANT, max_qoe_bytes=300_000)
    _, legs = meeting_legs(n)
    by_key = defaultdict(list)
    for leg in legs:
        for fragment in parse_record(leg["kind"], leg["format"], leg["data"], ctx):
            by_key[fragment.key].append(fragment)
    [(key, fragments)] = by_key.items()  # every leg joins the one conference
    settings = TenantSettings(tenantId=TENANT)
    doc = merged_document(
        None, TENANT, key, fragments, settings.profile_choice(), settings.classification.table()
    )
    assert doc is not None
    return doc


def test_each_attendee_gets_one_entry_with_their_own_session_only():
    doc = _meeting(3)
    entries = {e["user"]: e for e in user_index_docs(doc)}
    assert sorted(entries) == [
        "attendee0000@contoso.com",
        "attendee0001@contoso.com",
        "attendee0002@contoso.com",
    ]
    sessions = {s.caller.uri: s.id for s in doc.view.sessions}
    for user, entry in entries.items():
        assert entry["ownSessionIds"] == [sessions["sip:" + user]]
        assert entry["pk"] == f"{TENANT}|{user}" and entry["id"] == doc.id
        assert entry["participantCount"] == len(doc.view.participants)
    assert history_keys(doc) == [(e["id"], e["pk"]) for e in user_index_docs(doc)]


def test_a_row_keeps_the_first_50_addresses_and_counts_everyone():
    doc = _meeting(60)
    entries = user_index_docs(doc)
    assert len(entries) == 60
    everyone = [p.uri for p in doc.view.participants]
    assert len(everyone) >= 60
    for entry in entries:
        assert entry["participants"] == everyone[:50]
        assert entry["participantCount"] == len(everyone)
