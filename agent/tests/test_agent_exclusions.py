"""The exclusion policy: which addresses match, and which users a record names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_testlib import cdr_row, qoe_xml

from cdc_agent.exclusions import ExclusionPolicy, addresses, parse_qoe, qoe_users
from cdc_agent.sources import SpoolFile, read_file

POLICY = ExclusionPolicy.of(
    users=["SIP:CEO@Contoso.com", "legal@contoso.com", "tel:+1555"],
    domains=["restricted.contoso.com", "@secret.example"],
)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("sip:Alice@Contoso.com", ["alice@contoso.com"]),
        ('"Alice" <sip:alice@contoso.com>;tag=12', ["alice@contoso.com"]),
        ("sip:alice@contoso.com;opaque=user:epid:abc;gruu", ["alice@contoso.com"]),
        ("<sip:a@x.com>, <tel:+14255550100;ext=1>", ["a@x.com", "+14255550100"]),
        ("alice@contoso.com", ["alice@contoso.com"]),
        ("sips:bob@contoso.com?subject=x", ["bob@contoso.com"]),
    ],
)
def test_addresses(value: str, expected: list[str]) -> None:
    assert addresses(value) == expected


@pytest.mark.parametrize(
    "uri, excluded",
    [
        ("sip:ceo@contoso.com", True),
        ("sip:CEO@CONTOSO.COM;gruu;opaque=app:conf:focus:id:1", True),
        ("ceo@contoso.com", True),
        ("sip:legal@contoso.com", True),
        ("sip:alice@contoso.com", False),
        ("sip:x@restricted.contoso.com", True),
        ("sip:x@lab.restricted.contoso.com", True),
        ("sip:x@notrestricted.contoso.com", False),
        ("sip:y@secret.example", True),
        ("tel:+1555", True),
        ("tel:+15550", False),
    ],
)
def test_policy_matching(uri: str, excluded: bool) -> None:
    assert POLICY.excludes_any([uri]) is excluded


def test_policy_normalises_and_fingerprints() -> None:
    assert POLICY.as_json() == {
        "users": ["+1555", "ceo@contoso.com", "legal@contoso.com"],
        "domains": ["restricted.contoso.com", "secret.example"],
    }
    same = ExclusionPolicy.of(
        users=["legal@contoso.com", "ceo@contoso.com", "tel:+1555"],
        domains=["secret.example", "restricted.contoso.com"],
    )
    assert same.fingerprint() == POLICY.fingerprint()
    assert ExclusionPolicy.of().fingerprint() != POLICY.fingerprint()
    assert not ExclusionPolicy.of() and POLICY


def test_qoe_users_by_namespace_and_local_name_not_prefix() -> None:
    xml = (
        '<m:VQReportEvent xmlns:m="ms-rtcp-metrics" xmlns:v2="ms-rtcp-metrics.v2" '
        'xmlns:o="urn:other"><m:VQSessionReport><m:DialogInfo>'
        "<m:FromURI>sip:a@x.com</m:FromURI><m:ToURI>sip:b@x.com</m:ToURI>"
        "<v2:LocalPAI>sip:c@x.com</v2:LocalPAI><o:FromURI>sip:not@x.com</o:FromURI>"
        "<m:ConfURI>sip:org@x.com;gruu;opaque=app:conf:focus:id:9</m:ConfURI>"
        "</m:DialogInfo></m:VQSessionReport></m:VQReportEvent>"
    )
    users = qoe_users(parse_qoe(xml.encode()))
    assert users == [
        "sip:a@x.com",
        "sip:b@x.com",
        "sip:c@x.com",
        "sip:org@x.com;gruu;opaque=app:conf:focus:id:9",
    ]


def _spool(p: Path, kind: str) -> SpoolFile:
    st = p.stat()
    return SpoolFile(p, kind, st.st_size, st.st_mtime_ns)


@pytest.mark.parametrize(
    "kw, excluded",
    [
        ({}, False),
        ({"from_uri": "sip:ceo@contoso.com"}, True),
        ({"to_uri": "sip:ceo@contoso.com"}, True),
        ({"to_uri": "sip:z@restricted.contoso.com"}, True),
        ({"conf": "sip:legal@contoso.com;gruu;opaque=app:conf:focus:id:1"}, True),
    ],
)
def test_qoe_record_excluded_if_any_user_is(tmp_path: Path, kw: dict, excluded: bool) -> None:
    f = tmp_path / "r.xml"
    f.write_text(qoe_xml(**kw))
    parsed = read_file(_spool(f, "qoe"), POLICY)
    assert (parsed.excluded, len(parsed.records)) == ((1, 0) if excluded else (0, 1))


def test_cdr_records_excluded_and_counted(tmp_path: Path) -> None:
    rows = [
        cdr_row(1),
        cdr_row(2, caller="sip:ceo@contoso.com"),
        cdr_row(3, callee="sip:q@lab.restricted.contoso.com"),
        cdr_row(4, isConference=True, conferenceUri="sip:legal@contoso.com;gruu"),
        cdr_row(5, callee=None),
    ]
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows))
    parsed = read_file(_spool(f, "cdr"), POLICY)
    assert parsed.excluded == 3
    assert [r["data"]["sessionIdSeq"] for r in parsed.records] == [1, 5]
