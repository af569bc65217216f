import gzip
import json

import pytest

from functions.problems import Problem, as_problem
from shared.errors import DomainError
from shared.ingest import content_hash, decode_body, parse_envelope
from shared.models.envelope import BatchEnvelope
from shared.settings import Settings
from tests.factories import body_format, cdr_record, envelope

S = Settings(max_batch_bytes=10_000, max_batch_records=5)
JSON = body_format({"Content-Type": "application/json"})
GZ = body_format({"Content-Type": "application/json", "Content-Encoding": "gzip"})


def problem(fn, *a) -> Problem:
    with pytest.raises(DomainError) as info:
        fn(*a)
    return as_problem(info.value)


def test_plain_and_gzip_bodies_decode():
    raw = b'{"a": 1}'
    assert decode_body(raw, JSON, S) == raw
    assert decode_body(gzip.compress(raw), GZ, S) == raw
    utf8 = body_format({"content-type": "application/json; charset=utf-8"})
    assert decode_body(raw, utf8, S) == raw


@pytest.mark.parametrize(
    "headers,field",
    [
        ({"Content-Type": "text/plain"}, "Content-Type"),
        ({}, "Content-Type"),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, "Content-Encoding"),
    ],
)
def test_wrong_type_or_encoding_is_415(headers, field):
    p = problem(decode_body, b"{}", body_format(headers), S)
    assert p.status == 415 and p.body()["field"] == field


def test_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"0" * 50_000_000)  # 50 MB of zeros in ~50 KB
    p = problem(decode_body, bomb, GZ, Settings(max_batch_bytes=1_000_000))
    assert p.status == 413


def test_oversized_plain_body_is_413():
    assert problem(decode_body, b" " * 10_001, JSON, S).status == 413


def test_bad_and_truncated_gzip_is_400():
    assert problem(decode_body, b"not gzip", GZ, S).status == 400
    assert problem(decode_body, gzip.compress(b"{}" * 100)[:-12], GZ, S).status == 400


def test_valid_envelope_parses():
    env = parse_envelope(json.dumps(envelope([cdr_record()])).encode(), S)
    assert isinstance(env, BatchEnvelope) and env.records[0].kind == "cdr"


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda e: e.pop("tenantId"), "tenantId"),
        (lambda e: e.update(tenantId="contoso"), "tenantId"),
        (lambda e: e.update(batchId="../etc"), "batchId"),
        (lambda e: e.update(schemaVersion="2.0"), "schemaVersion"),
        (lambda e: e.update(records=[]), "records"),
        (lambda e: e["records"][0].update(format="csv"), "records[0]"),
        (lambda e: e["records"][0].update(kind="sip"), "records[0].kind"),
        (lambda e: e["records"][0].update(data="<xml/>"), "records[0]"),
        (lambda e: e.update(extra=1), "extra"),
        (lambda e: e["source"].pop("fqdn"), "source.fqdn"),
    ],
)
def test_invalid_envelope_names_the_field(mutate, field):
    env = envelope([cdr_record()])
    mutate(env)
    p = problem(parse_envelope, json.dumps(env).encode(), S)
    assert p.status == 400
    assert p.body()["field"].startswith(field), p.body()


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[1,2]",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_json_is_400(raw):
    assert problem(parse_envelope, raw, S).status == 400


def test_deeply_nested_record_data_is_400():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    env = envelope([{"kind": "cdr", "format": "sfb-cdr-json", "data": deep}])
    p = problem(parse_envelope, json.dumps(env).encode(), S)
    assert p.status == 400 and "deeper" in json.dumps(p.body())


def test_too_many_records_is_413():
    env = envelope([cdr_record(n=i) for i in range(6)])
    p = problem(parse_envelope, json.dumps(env).encode(), S)
    assert p.status == 413 and p.body()["field"] == "records"


def test_content_hash_ignores_sent_at_only():
    env = envelope([cdr_record()], batch_id="b1")
    a = parse_envelope(json.dumps(env).encode(), S)
    env["sentAt"] = "2026-11-22T00:00:00Z"
    b = parse_envelope(json.dumps(env).encode(), S)
    env["records"][0]["data"]["responseCode"] = 486
    c = parse_envelope(json.dumps(env).encode(), S)
    assert content_hash(a) == content_hash(b) != content_hash(c)


@pytest.mark.parametrize(
    "raw_records,key",
    [
        # a second `records` array: stdlib json keeps the last, ijson streams both
        ('"records": [{rec}], "records": [{rec}, {rec}]', "records"),
        # a duplicate deep inside a record's data
        (
            '"records": [{{"kind": "cdr", "format": "sfb-cdr-json", "data": '
            '{{"SessionIdTime": 1, "SessionIdTime": 2}}}}]',
            "SessionIdTime",
        ),
    ],
)
def test_duplicate_keys_anywhere_are_400_naming_the_key(raw_records, key):
    env = envelope([cdr_record()])
    rec = json.dumps(env.pop("records")[0])
    head = json.dumps(env)[:-1]
    raw = f"{head}, {raw_records.format(rec=rec)}}}".encode()
    p = problem(parse_envelope, raw, S)
    assert p.status == 400 and p.body()["field"] == key, p.body()


def test_source_extras_are_bounded():
    env = envelope([cdr_record()])
    env["source"]["agentHost"] = "sfb01"  # small extras stay allowed
    assert parse_envelope(json.dumps(env).encode(), Settings()).source.fqdn
    env["source"]["blob"] = "x" * 3_000_000
    p = problem(parse_envelope, json.dumps(env).encode(), Settings(max_batch_bytes=10_000_000))
    assert p.status == 400 and p.body()["field"].startswith("source"), p.body()
    env["source"] = {"fqdn": "a"} | {f"k{i}": i for i in range(21)}
    assert problem(parse_envelope, json.dumps(env).encode(), S).status == 400
