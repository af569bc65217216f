"""The named hostile inputs of issue 9, built once and shared by the HTTP and processor
tests (the parser-level versions live in tests/unit/test_qoe_xml.py and
test_envelope_and_body.py; these are the same attacks sent through the real route)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JSON = {"Content-Type": "application/json"}
GZ = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
MAX_QOE_BYTES = 300 * 1024


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], Any]:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, rh = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw, status, rh = err.read(), err.code, dict(err.headers)
    ctype = rh.get("Content-Type", "")
    return status, rh, (json.loads(raw) if "json" in ctype and raw else raw)


def golden_qoe(name: str = "audio_p2p_caller.xml") -> str:
    return (GOLDEN / "qoe" / name).read_text("utf-8")


def graph_example() -> dict[str, Any]:
    return json.loads((GOLDEN / "graph" / "ms_get_callrecord_expanded.json").read_text("utf-8"))


def qoe_attacks(canary_url: str) -> dict[str, str]:
    """QoE XML attacks; network entities point at `canary_url` (a loopback server that
    records any hit), so "no network access" is observed, not assumed."""
    ns = 'xmlns="ms-rtcp-metrics"'

    def ref(i: int) -> str:
        return f"&lol{i - 1};" if i > 1 else "&lol;"

    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{ref(i) * 10}">' for i in range(1, 10))
        + f"]><VQReportEvent {ns}>&lol9;</VQReportEvent>"
    )
    xml = golden_qoe()
    pad = MAX_QOE_BYTES + 1 - len(xml.encode())
    oversized = xml.replace("</VQReportEvent>", "<!--" + "x" * (pad - 7) + "--></VQReportEvent>")
    assert len(oversized.encode()) == MAX_QOE_BYTES + 1
    return {
        "xxe-file": (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f"<VQReportEvent {ns}>&x;</VQReportEvent>"
        ),
        "xxe-network": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{canary_url}/x">]>'
            f"<VQReportEvent {ns}>&x;</VQReportEvent>"
        ),
        "xxe-parameter-entity": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{canary_url}/p.dtd"> %p;]><VQReportEvent {ns}/>'
        ),
        "external-dtd": (
            f'<!DOCTYPE VQReportEvent SYSTEM "{canary_url}/qoe.dtd"><VQReportEvent {ns}/>'
        ),
        "billion-laughs": laughs,
        "quadratic-blowup": (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "'
            + "A" * 50_000
            + f'">]><VQReportEvent {ns}>'
            + "&a;" * 5_000
            + "</VQReportEvent>"
        ),
        "qoe-300KB+1": oversized,
    }


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth - 1):
        node["x"] = {}
        node = node["x"]
    return root


def gz(obj: Any) -> bytes:
    return gzip.compress(json.dumps(obj).encode())
