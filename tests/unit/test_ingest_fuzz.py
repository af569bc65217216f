"""Hostile input to the ingest route's parsing: always a clean 4xx, never an exception."""

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.problems import as_problem
from shared.errors import DomainError
from shared.ingest import decode_body, parse_envelope
from shared.models.envelope import BatchEnvelope
from shared.settings import Settings
from tests.factories import body_format, cdr_record, envelope
from tests.fuzzing import fuzz_examples

S = Settings(max_batch_bytes=200_000, max_batch_records=50)
HEADERS = st.sampled_from(
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json", "Content-Encoding": "deflate"},
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _accept(body: bytes, headers: dict) -> None:
    try:
        env = parse_envelope(decode_body(body, body_format(headers), S), S)
        assert isinstance(env, BatchEnvelope)
    except DomainError as e:
        p = as_problem(e)
        assert p.status in (400, 413, 415), p.status
        assert p.body()["detail"]


@settings(
    max_examples=fuzz_examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.binary(max_size=2000), HEADERS)
def test_random_bytes(body, headers):
    _accept(body, headers)
    _accept(gzip.compress(body), headers)


@settings(max_examples=fuzz_examples(150), deadline=None)
@given(json_values)
def test_random_json_documents(doc):
    _accept(json.dumps(doc).encode(), {"Content-Type": "application/json"})


@settings(max_examples=fuzz_examples(150), deadline=None)
@given(
    st.sampled_from(["schemaVersion", "batchId", "tenantId", "source", "sentAt", "records"]),
    json_values,
)
def test_envelope_with_one_field_replaced(name, value):
    env = envelope([cdr_record()])
    env[name] = value
    _accept(json.dumps(env).encode(), {"Content-Type": "application/json"})


def _refused(body: bytes) -> dict:
    try:
        parse_envelope(decode_body(body, body_format({"Content-Type": "application/json"}), S), S)
    except DomainError as e:
        p = as_problem(e)
        assert p.status == 400, p.status
        return p.body()
    raise AssertionError("accepted")


def test_numbers_outside_64_bit_range_are_refused_with_400():
    """ingest.md: numbers within the 64-bit integer / float range; NaN, Infinity refused."""
    for value in (10**400, 2**63, -(2**63) - 1):
        env = envelope([cdr_record()])
        env["records"][0]["data"]["sessionIdSeq"] = value
        body = _refused(json.dumps(env).encode())
        assert "64-bit" in body["detail"], body
    for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
        env = envelope([cdr_record()])
        env["records"][0]["data"]["sessionIdSeq"] = "@@"
        _refused(json.dumps(env).replace('"@@"', literal).encode())
    ok = envelope([cdr_record()])
    ok["records"][0]["data"]["sessionIdSeq"] = 2**63 - 1
    assert isinstance(parse_envelope(json.dumps(ok).encode(), S), BatchEnvelope)


def test_huge_numbers_and_ten_thousand_and_one_records():
    big = Settings(max_batch_bytes=50_000_000)
    env = envelope([cdr_record(n=i) for i in range(10_001)])
    try:
        parse_envelope(json.dumps(env).encode(), big)
        raise AssertionError("10,001 records accepted")
    except DomainError as e:
        p = as_problem(e)
        assert p.status == 413 and p.body()["field"] == "records"
