"""Hostile input over HTTP through the local Functions host: each named attack
gets its status code and a problem body (never a 5xx); the QoE attacks inside an
accepted batch end quarantined with a reason (never a failed batch) and touch neither
the network nor the file system; a bounded hypothesis run over the route itself."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.stack import DEMO_TENANT
from tests.factories import cdr_record, envelope
from tests.fuzzing import fuzz_examples
from tests.reliability.attacks import GZ, JSON, call, gz, nested, qoe_attacks

pytestmark = pytest.mark.stack
TERMINAL = ("completed", "completedWithErrors", "failed")


@pytest.fixture(scope="module")
def ingest(mint) -> str:
    return mint(DEMO_TENANT, roles=["CallData.Ingest"])


@pytest.fixture(scope="module")
def canary() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request: an XXE that fetched anything
    would show up here."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server API name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY leak "canary">')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def _env(records: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope(records, tenant=DEMO_TENANT)


def _raw_env_with(value_text: str) -> bytes:
    """A valid envelope whose first record's `sessionIdSeq` is `value_text` verbatim."""
    env = _env([cdr_record(call_id=f"{uuid.uuid4()}@fe")])
    env["records"][0]["data"]["sessionIdSeq"] = "@@"
    return json.dumps(env).replace('"@@"', value_text).encode()


def _invalid_utf8() -> bytes:
    env = _env([cdr_record(call_id=f"{uuid.uuid4()}@fe")])
    return json.dumps(env).replace("Alice", "Al@@ice").encode().replace(b"@@", b"\xc3\x28")


def _named_http_attacks() -> dict[str, tuple[bytes, dict[str, str], int, str]]:
    """name -> (body, headers, status, field the problem names)."""
    deep_records = _env([cdr_record()])
    deep_records["records"][0]["data"] = nested(100)
    ten_thousand_and_one = _env([cdr_record(n=i) for i in range(10_001)])
    return {
        "gzip bomb (60 MB of spaces, 58 KB gzip)": (
            gzip.compress(b" " * 60_000_000),
            GZ,
            413,
            "body",
        ),
        "100-level nested JSON in a record": (
            json.dumps(deep_records).encode(),
            JSON,
            400,
            "records[0]",
        ),
        "100,000-level nested JSON": (b"[" * 100_000 + b"]" * 100_000, JSON, 400, "body"),
        "NaN": (_raw_env_with("NaN"), JSON, 400, "body"),
        "Infinity": (_raw_env_with("Infinity"), JSON, 400, "body"),
        "-Infinity": (_raw_env_with("-Infinity"), JSON, 400, "body"),
        "invalid UTF-8": (_invalid_utf8(), JSON, 400, "body"),
        "invalid UTF-8 inside gzip": (gzip.compress(_invalid_utf8()), GZ, 400, "body"),
        "batch of 10,001 records": (gz(ten_thousand_and_one), GZ, 413, "records"),
        "truncated gzip": (gz(_env([cdr_record()]))[:-9], GZ, 400, "body"),
        "huge integer 10**400": (_raw_env_with(str(10**400)), JSON, 400, "body"),
        "integer 2**63 (past 64 bits)": (_raw_env_with(str(2**63)), JSON, 400, "body"),
        "1e999 (overflows a float)": (_raw_env_with("1e999"), JSON, 400, "body"),
        "-1e999": (_raw_env_with("-1e999"), JSON, 400, "body"),
    }


NAMED = _named_http_attacks()


@pytest.mark.parametrize("name", list(NAMED))
def test_named_attack_gets_its_status_and_a_problem_body(local_host, ingest, figures, name):
    body, headers, status, field = NAMED[name]
    got, rh, problem = call(local_host, "POST", "/api/v1/batches", ingest, body, headers)
    assert got == status, (name, problem)
    assert rh["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["detail"], problem
    assert str(problem.get("field", "")).startswith(field), problem
    figures(status=got, field=problem.get("field"), detail=problem["detail"][:120])


def _wait_terminal(local_host: Any, token: str, batch_id: str) -> dict[str, Any]:
    """The batch's own status, polled until terminal: waiting for the whole processor
    to drain would also wait on whatever an earlier module left running."""
    deadline = time.monotonic() + 300
    while True:
        status, _, body = call(local_host, "GET", f"/api/v1/batches/{batch_id}", token)
        if (status == 200 and body["status"] in TERMINAL) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body
    assert body["status"] in TERMINAL, body
    return body


def _quarantined(tenant: str, batch_id: str) -> dict[int, dict[str, Any]]:
    from azure.storage.blob import BlobServiceClient

    from shared.storage import layout

    service = BlobServiceClient.from_connection_string(os.environ["CDC_STORAGE"])
    container = service.get_container_client(layout.QUARANTINE)
    out = {}
    for blob in container.list_blobs(name_starts_with=f"{tenant}/{batch_id}/"):
        doc = json.loads(container.download_blob(blob.name).readall())
        out[doc["index"]] = doc
    return out


def test_qoe_attacks_in_an_accepted_batch_are_quarantined_with_a_reason(
    local_host, ingest, canary, figures
):
    url, hits = canary
    attacks = qoe_attacks(url)
    good = cdr_record(call_id=f"{uuid.uuid4()}@fe")
    records = [{"kind": "qoe", "format": "ms-qoe-xml", "data": xml} for xml in attacks.values()]
    records.append(good)
    env = _env(records)
    status, _, body = call(local_host, "POST", "/api/v1/batches", ingest, gz(env), GZ)
    assert status == 202, body
    batch = _wait_terminal(local_host, ingest, env["batchId"])
    assert batch["status"] == "completedWithErrors", batch
    assert (batch["received"], batch["stored"], batch["quarantined"]) == (
        len(records),
        1,
        len(attacks),
    )
    reasons = {e["index"]: e["reason"] for e in batch["errors"]}
    parked = _quarantined(DEMO_TENANT, env["batchId"])
    names = list(attacks)
    for index, name in enumerate(names):
        assert reasons.get(index), (name, batch["errors"])
        assert parked[index]["reason"] == reasons[index], name
        assert parked[index]["record"]["data"] == attacks[name], name
    assert hits == [], f"an XML entity or DTD was fetched: {hits}"
    assert "root:" not in json.dumps(batch), "file entity content leaked"
    figures(**{name: reasons[i][:100] for i, name in enumerate(names)})


@pytest.mark.parametrize("text", [str(2**63 - 1), str(-(2**63 - 1)), "1e308", "1e-999", "-0.0"])
def test_extreme_numbers_in_range_are_accepted_and_never_fail_the_batch(
    local_host, ingest, figures, text
):
    """Numbers JSON allows and the pipeline can read, but no telemetry has: accepted
    (the envelope is valid; the record's own parser judges its fields), then the record
    is quarantined with a reason or stored; the batch never fails."""
    body = _raw_env_with(text)
    batch_id = json.loads(body.replace(text.encode(), b"0"))["batchId"]
    status, _, answer = call(local_host, "POST", "/api/v1/batches", ingest, body, JSON)
    assert status == 202, answer
    batch = _wait_terminal(local_host, ingest, batch_id)
    assert batch["status"] in ("completed", "completedWithErrors"), batch
    assert batch["received"] == batch["stored"] + batch["excluded"] + batch["quarantined"] == 1
    for error in batch.get("errors") or []:
        assert error["reason"]
    figures(
        outcome=batch["status"],
        stored=batch["stored"],
        quarantined=batch["quarantined"],
        reason=(batch.get("errors") or [{}])[0].get("reason", "")[:120],
    )


def test_a_corrupt_blob_is_poisoned_with_its_multiline_reason(local_host, ingest, figures):
    """A blob the ingest route would never accept (written straight to `incoming/`, as a
    copy back from `poison/` or an older version might be): its parser error spans
    lines, and still reaches the poison path with its reason (blob metadata is an HTTP
    header: control characters must not make the poison write itself fail)."""
    from azure.storage.blob import BlobServiceClient

    from shared.storage import layout

    batch_id = f"corrupt-{uuid.uuid4().hex[:8]}"
    name = f"{DEMO_TENANT}/2026/11/23/{batch_id}.json.gz"
    service = BlobServiceClient.from_connection_string(os.environ["CDC_STORAGE"])
    service.get_container_client(layout.INCOMING).upload_blob(
        name, gzip.compress(b'{"records": [{"kind": "cdr", "data": {"n": 1' + b"0" * 30 + b"}}]}")
    )
    batch = _wait_terminal(local_host, ingest, batch_id)
    assert batch["status"] == "failed", batch
    poison = service.get_container_client(layout.POISON)
    props = poison.get_blob_client(name).get_blob_properties()
    assert "overflow" in props.metadata["reason"], props.metadata
    reason = json.loads(poison.download_blob(name + ".reason.json").readall())
    assert "\n" in reason["reason"] and reason["attempts"] == 1
    assert not service.get_container_client(layout.INCOMING).get_blob_client(name).exists()
    figures(status=batch["status"], reason=props.metadata["reason"][:120])


# Bounded fuzz of the route itself: mutated valid batches and random headers.
_BASE = json.dumps(
    envelope([cdr_record(n=i) for i in range(3)], tenant=DEMO_TENANT, batch_id="fuzz-base")
).encode()
_HEADERS = st.sampled_from(
    [
        JSON,
        GZ,
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json; charset=utf-8"},
        {"Content-Type": "application/json", "Content-Encoding": "br"},
        {},
    ]
)


@st.composite
def _mutated_bodies(draw: Any) -> bytes:
    data = bytearray(_BASE)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 50))]
        elif op == "insert":
            data[i:i] = draw(
                st.sampled_from(
                    [
                        b"NaN",
                        b"1e999",
                        b"{",
                        b"]",
                        b"\xff",
                        b'"\\ud800"',
                        b"[" * 200,
                        b"null",
                        b'"records": []',
                        b"\x00",
                    ]
                )
            )
        else:
            del data[i:]
    return bytes(data)


@settings(
    max_examples=fuzz_examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(_mutated_bodies(), st.binary(max_size=300)),
    headers=_HEADERS,
    compress=st.booleans(),
)
def test_fuzzed_posts_never_get_a_5xx(local_host, ingest, body, headers, compress):
    if compress:
        body = gzip.compress(body)
    status, rh, answer = call(local_host, "POST", "/api/v1/batches", ingest, body, headers)
    assert status < 500, (status, answer)
    if status >= 400:
        assert rh["Content-Type"].startswith("application/problem+json"), rh
        assert answer["status"] == status and answer["detail"], answer
    else:
        assert status in (200, 202), answer
