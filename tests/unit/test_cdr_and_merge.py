import itertools
import random

import pytest

from shared.identity import call_id, normalise_uri, user_key
from shared.merge import build_view, internal_users, union
from shared.parsing import ParseContext, RecordRejected, parse_record
from tests.factories import TENANT, cdr

CTX = ParseContext(tenant_id=TENANT)


def frags(data):
    return parse_record("cdr", "sfb-cdr-json", data, CTX)


def test_cdr_becomes_one_session_fragment():
    [f] = frags(cdr(1))
    assert f.key == "sip:call-1@fe01.contoso.local"
    assert f.call_type == "peerToPeer"
    [s] = f.sessions
    assert s.caller.uri == "sip:alice@contoso.com" and s.callee.uri == "sip:bob@contoso.com"
    assert s.start == "2026-11-20T09:01:02Z" and s.end == "2026-11-20T09:06:00Z"
    assert s.response_code == 200


def test_pstn_and_conference_keys():
    [p] = frags(cdr(2, callee="tel:+15552823456"))
    assert p.call_type == "pstn"
    conf = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:ABC123"
    [a] = frags(cdr(3, conference=conf))
    [b] = frags(cdr(4, caller="sip:carol@contoso.com", conference=conf))
    assert a.key == b.key and a.call_type == "conference"
    view = build_view(union({}, [a, b]))
    assert {p.uri for p in view.participants} == {"sip:alice@contoso.com", "sip:carol@contoso.com"}


@pytest.mark.parametrize(
    "mutate,where",
    [
        (lambda d: d.pop("callId"), "callId"),
        (lambda d: d.update(sessionIdSeq="x"), "sessionIdSeq"),
        (lambda d: d.update(inviteTime="yesterday"), "inviteTime"),
        (lambda d: d.update(responseCode=1000), "responseCode"),
    ],
)
def test_bad_cdr_is_rejected_with_the_field(mutate, where):
    data = cdr(1)
    mutate(data)
    with pytest.raises(RecordRejected) as info:
        frags(data)
    assert where in info.value.reason


def test_setup_failure_rates_the_call_poor_and_no_qoe_is_unavailable():
    failed = build_view(union({}, frags(cdr(5, response_code=480, diagnostic_id=25))))
    assert failed.rating == "poor" and failed.reasons == ["callSetup"]
    plain = build_view(union({}, frags(cdr(6))))
    assert plain.rating == "unavailable"


def test_merge_is_order_independent_and_idempotent():
    conf = "sip:org@contoso.com;gruu;opaque=app:conf:focus:id:Z9"
    records = [cdr(i, caller=f"sip:u{i}@contoso.com", conference=conf) for i in range(5)]
    fragments = [f for r in records for f in frags(r)]
    reference = build_view(union({}, fragments)).model_dump()
    rng = random.Random(7)
    for _ in range(20):
        shuffled = fragments + rng.sample(fragments, 2)  # duplicates too
        rng.shuffle(shuffled)
        state: dict = {}
        cut = rng.randrange(len(shuffled))
        for part in (shuffled[:cut], shuffled[cut:]):  # split across two "batches"
            state = union(state, part)
        assert build_view(state).model_dump() == reference


def test_higher_version_replaces_lower_in_any_order():
    [a] = frags(cdr(1))
    b = a.model_copy(update={"fragment_id": "zz", "version": 2})
    for order in itertools.permutations([a, b]):
        assert set(union({}, order)) == {"zz"}


def test_ids_and_user_keys():
    assert call_id(TENANT, "sip:x") == call_id(TENANT.upper(), "sip:x")
    assert normalise_uri("SIP:Alice@Contoso.com;transport=tls") == "sip:alice@contoso.com"
    assert user_key("sip:Alice@Contoso.com") == "alice@contoso.com"
    assert user_key("tel:+15551234567") is None
    assert user_key("sip:org@contoso.com;gruu;opaque=app:conf:focus:id:1") is None
    view = build_view(union({}, frags(cdr(1, callee="tel:+1555"))))
    assert internal_users(view) == ["alice@contoso.com"]


def test_exclusion_policy_reads_raw_records_of_any_shape():
    from shared.exclusions import ExclusionPolicy

    oid = "821809f5-0000-0000-0000-3b5136c0e777"
    policy = ExclusionPolicy(users=["ceo@contoso.com", oid.upper()], domains=["board.contoso.com"])
    assert policy.excludes_record({"data": {"user1Uri": "sip:CEO@contoso.com;gruu"}})
    assert policy.excludes_record({"data": {"a": [{"id": oid}]}})
    assert policy.excludes_record({"data": f"<x><URI>sips:jane@board.contoso.com</URI>{oid}</x>"})
    assert policy.excludes_record({"data": "<x>sip%3A and ceo@contoso.com in text</x>"})
    assert not policy.excludes_record(
        {"data": {"user1Uri": "sip:cfo@contoso.com", "fqdn": "board.contoso.com"}}
    )
    assert not ExclusionPolicy().excludes_record({"data": {"u": "ceo@contoso.com"}})


@pytest.mark.parametrize("n", range(6))
def test_the_complete_export_of_a_record_wins_in_any_order(n):
    """An export taken while the session ran (no end time yet) meets the one taken
    after it ended: same record id, different content hash. The complete one wins,
    whichever hash is larger and whichever arrives first."""
    done = cdr(n)
    running = dict(done, endTime=None)
    [complete] = frags(done)
    [partial] = frags(running)
    assert complete.record_id == partial.record_id
    assert complete.fragment_id != partial.fragment_id
    for order in itertools.permutations([complete, partial]):
        assert set(union({}, order)) == {complete.fragment_id}
        assert set(union({partial.fragment_id: partial}, [complete])) == {complete.fragment_id}
        assert set(union({complete.fragment_id: complete}, [partial])) == {complete.fragment_id}
    [s] = build_view(union({}, [partial, complete])).sessions
    assert s.end == complete.sessions[0].end
