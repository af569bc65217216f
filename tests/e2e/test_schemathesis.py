"""schemathesis against our OpenAPI document through the local host: no 5xx anywhere,
and every response conforms to the document (status code declared, content type
declared, body valid against the response schema, declared headers sent and valid), for
every operation of the document (the JUnit report names each one that ran).

schemathesis runs from its own virtual environment (tests/e2e/schemathesis_tool.py) and
talks to the local host over loopback like any client would. Bounded: a few examples per
operation and a time budget, so the suite stays fast."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from devhost.stack import DEMO_TENANT
from functions.contract import openapi_document
from tests.e2e import schemathesis_tool

pytestmark = pytest.mark.stack


@pytest.mark.parametrize("level", ["admin", "engineer", "specialist"])
def test_every_generated_request_gets_a_conforming_answer(local_host, mint, level, tmp_path):
    st = schemathesis_tool.ensure()
    roles = {
        "admin": ["CallAnalytics.Admin"],
        "engineer": ["CallAnalytics.Engineer"],
        "specialist": ["CallAnalytics.Specialist"],
    }
    token = mint(DEMO_TENANT, roles=roles[level], user=f"{level}@contoso.com")
    base = str(local_host)
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{base}/api/v1/openapi.json",
            "--url",
            base,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,response_headers_conformance",
            "--report",
            "junit",
            "--report-junit-path",
            str(tmp_path / "junit.xml"),
            "--max-examples",
            "5",
            "--max-time",
            # admin reaches every operation's 2xx (the source-index backfill's runs take
            # ~2 s each): a longer budget so the fuzzing still reaches every operation.
            # Measured: every operation is reached in 35 s at admin level and in 15 s at
            # the others on a quiet machine; the budgets leave about twice that for CI.
            "60" if level == "admin" else "30",
            # One worker: with two threads, hypothesis's `ast.parse` of its lambdas hit
            # CPython 3.11's spurious "AST constructor recursion depth mismatch"
            # SystemError (python/cpython#106905) once, failing the run for no API fault.
            "--seed",
            "1",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
            "--suppress-health-check",
            "all",
            "-H",
            f"Authorization: Bearer {token}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    if level == "admin":
        _reset_settings(base, token)  # generated settings must not classify later tests' calls
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert "No issues found" in result.stdout or " passed" in result.stdout, tail
    # every operation of the document was exercised, none skipped or errored
    tested = _operations_tested(tmp_path / "junit.xml")
    with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=30) as resp:
        served = json.loads(resp.read())
    documented = {
        f"{method.upper()} {path}" for path, ops in served["paths"].items() for method in ops
    }
    assert served == json.loads(json.dumps(openapi_document()))  # the host serves this code's
    # schemathesis leaves out the operation that serves the document it loaded (it counts
    # one operation fewer than the document has); loading it is that operation's check
    documented.discard("GET /api/v1/openapi.json")
    assert tested == documented, (sorted(documented - tested), sorted(tested - documented))
    print(tail[-1500:])
    print(f"schemathesis ({level}): {len(tested)} of {len(documented)} operations conform")


def _operations_tested(junit: Path) -> set[str]:
    """The operations of the JUnit report that ran and passed (`METHOD /path`)."""
    names = set()
    for case in ET.parse(junit).getroot().iter("testcase"):
        if any(child.tag in ("skipped", "error", "failure") for child in case):
            continue
        names.add(case.get("name", ""))
    return names


def _reset_settings(base: str, token: str) -> None:
    req = urllib.request.Request(
        f"{base}/api/v1/admin/settings",
        data=b"{}",
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
