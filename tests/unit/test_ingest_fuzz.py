"""Hostile input to the ingest route's parsing: always a clean 4xx, never an exception."""

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ingest import decode_body, parse_envelope
from shared.models.envelope import BatchEnvelope
from shared.problems import Problem
from shared.settings import Settings
from tests.factories import cdr_record, envelope
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
        env = parse_envelope(decode_body(body, headers, S), S)
        assert isinstance(env, BatchEnvelope)
    except Problem as p:
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


def test_huge_numbers_and_ten_thousand_and_one_records():
    env = envelope([cdr_record()])
    env["records"][0]["data"]["sessionIdSeq"] = 10**400
    _accept(json.dumps(env).encode(), {"Content-Type": "application/json"})
    big = Settings(max_batch_bytes=50_000_000)
    env = envelope([cdr_record(n=i) for i in range(10_001)])
    try:
        parse_envelope(json.dumps(env).encode(), big)
        raise AssertionError("10,001 records accepted")
    except Problem as p:
        assert p.status == 413 and p.body()["field"] == "records"
