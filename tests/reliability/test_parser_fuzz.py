"""Issue 9, every parser under hostile records: Graph callRecords, CDRs and QoE reports
mutated at random (hypothesis, bounded; `make fuzz` / CDC_FUZZ_EXAMPLES for longer).

A record either is rejected with a reason (the processor quarantines it) or yields
fragments that survive everything the processor does with them outside the quarantine
guard: the union and fold into a call view (classification), the aggregate
contribution, and the JSON the Cosmos DB SDK sends (strict: no NaN/Infinity). Anything
else raised there would fail the whole batch instead of one record. The last test sends
a batch of mutated records through the real route and processor."""

from __future__ import annotations

import copy
import json
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.aggregates.contribution import call_contribution
from shared.merge import union
from shared.parsing import ParseContext, RecordRejected, parse_record
from shared.processor import BatchProcessor, RunCounts
from shared.settings import Settings
from shared.storage.calls import build_document
from shared.storage.tenants import ExclusionPolicy
from tests.factories import cdr
from tests.fuzzing import fuzz_examples
from tests.reliability.attacks import golden_qoe, graph_example

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
CTX = ParseContext(tenant_id=TENANT)
FUZZ = settings(
    max_examples=fuzz_examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values a hostile or broken sender might put anywhere (all valid JSON the ingest route
# lets through: 64-bit integers, finite floats).
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63 - 1), max_value=2**63 - 1)
    | st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63 - 1, 1e308, -1e308, 5e-324, -0.0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "PT",
            "P1Y",
            "PT-5S",
            "PT1e400S",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "sip:",
            "tel:+",
            "\x00",
            "\ud800",
            "NaN",
            "Infinity",
            "255.255.255.255",
            "::1",
            "10.0.0.0/33",
        ]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


def usable(fragments: list[Any]) -> None:
    """What the processor does with parsed fragments outside the quarantine guard."""
    by_key: dict[str, list[Any]] = {}
    for frag in fragments:
        by_key.setdefault(frag.key, []).append(frag)
    for key, frags in by_key.items():
        doc = build_document(TENANT, key, union({}, frags), None)
        call_contribution(doc)
        json.dumps(doc.to_cosmos(), allow_nan=False)
        for profile in ("sfb2019", "teams2021"):
            build_document(TENANT, key, union({}, frags), profile)


def outcome(kind: str, fmt: str, data: Any) -> str:
    try:
        fragments = parse_record(kind, fmt, data, CTX)
    except RecordRejected as exc:
        assert exc.reason and isinstance(exc.reason, str)
        return "rejected"
    usable(fragments)
    return "parsed"


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def mutate(doc: Any, data: Any, rounds: int = 4) -> Any:
    """Replace, delete or duplicate what sits at random paths of a JSON document."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, rounds))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
        if op == "replace":
            parent[path[-1]] = data.draw(VALUES)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = [copy.deepcopy(parent[path[-1]])] * 2
    return doc


GRAPH = graph_example()


@FUZZ
@given(st.data())
def test_graph_call_records_mutated_never_raise(data):
    record = mutate(GRAPH, data, rounds=6)
    outcome("callRecord", "graph-v1", record)


@FUZZ
@given(st.data())
def test_graph_call_records_as_text_never_raise(data):
    text = json.dumps(mutate(GRAPH, data, rounds=2))
    cut = data.draw(st.integers(0, len(text)))
    outcome("callRecord", "graph-v1", text[:cut] if data.draw(st.booleans()) else text)


@FUZZ
@given(st.data())
def test_cdr_records_mutated_never_raise(data):
    outcome("cdr", "sfb-cdr-json", mutate(cdr(n=3, conference=None), data))


QOE_FILES = [
    "audio_p2p_caller.xml",
    "video_p2p_caller.xml",
    "pstn_mediation.xml",
    "appsharing_conference.xml",
]


@FUZZ
@given(st.data())
def test_qoe_reports_with_mutated_values_never_raise(data):
    """Attribute and element values replaced (the structure stays, so the values reach
    the metric parsing and classification, unlike byte-level mutation)."""
    import re

    xml = golden_qoe(data.draw(st.sampled_from(QOE_FILES)))
    values = list(re.finditer(r">([^<>]+)<|=\"([^\"]*)\"", xml))
    for _ in range(data.draw(st.integers(1, 6))):
        m = data.draw(st.sampled_from(values))
        group = 1 if m.group(1) is not None else 2
        new = data.draw(
            st.sampled_from(
                [
                    "",
                    "-1",
                    "0",
                    "NaN",
                    "INF",
                    "-INF",
                    "1e308",
                    "1e999",
                    "99999999999999999999",
                    "abc",
                    "&amp;",
                    "2026-13-45T99:99:99Z",
                    "0.0.0.0",
                    "999.1.1.1",
                    "true",
                    " ",
                    "\u00e9",
                ]
            )
            | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
        )
        new = new.replace("<", "").replace("&", "&amp;").replace('"', "")
        start, end = m.span(group)
        if end <= len(xml):
            xml = xml[:start] + new + xml[end:]
            values = list(re.finditer(r">([^<>]+)<|=\"([^\"]*)\"", xml))
    outcome("qoe", "ms-qoe-xml", xml)


@FUZZ
@given(
    kind=st.sampled_from(["cdr", "qoe", "callRecord", "x", ""]),
    fmt=st.sampled_from(["sfb-cdr-json", "ms-qoe-xml", "graph-v1", "none"]),
    data=VALUES,
)
def test_processor_record_dispatch_quarantines_with_a_reason(kind, fmt, data):
    """`BatchProcessor._parse` (the quarantine guard) on arbitrary records: fragments,
    or one quarantined entry with a reason; never an exception."""
    processor = BatchProcessor(clients=None, settings=Settings())  # type: ignore[arg-type]
    counts, parked = RunCounts(), []
    record = {"kind": kind, "format": fmt, "data": data}
    fragments = processor._parse(record, CTX, ExclusionPolicy(), 0, counts, parked)
    if fragments:
        usable(fragments)
    else:
        assert counts.quarantined == 1 and parked[0][1] and counts.errors[0]["reason"]


# ------------------------------------------------ a mutated batch through the pipeline


def _mutated_records(seed: int, n: int) -> list[dict[str, Any]]:
    """Records that pass the envelope (right data type, depth <= 32) with hostile
    contents: mutated Graph records and CDRs, and QoE reports with values swapped."""
    rng = random.Random(seed)

    def scramble(node: Any, depth: int = 0) -> Any:
        if isinstance(node, dict):
            return {k: scramble(v, depth + 1) for k, v in node.items() if rng.random() > 0.05}
        if isinstance(node, list):
            return [scramble(v, depth + 1) for v in node]
        r = rng.random()
        if r < 0.08:
            return rng.choice(
                [
                    None,
                    -1,
                    2**63 - 1,
                    1e308,
                    "",
                    "PT-1S",
                    [],
                    {},
                    "x" * 300,
                    "9999-12-31T23:59:59Z",
                    True,
                    0.5,
                ]
            )
        return node

    out = []
    for i in range(n):
        choice = i % 3
        if choice == 0:
            data = scramble(GRAPH)
            if isinstance(data, dict):
                data["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
            out.append({"kind": "callRecord", "format": "graph-v1", "data": data})
        elif choice == 1:
            data = scramble(cdr(n=i, call_id=f"fz-{seed}-{i}@fe"))
            out.append({"kind": "cdr", "format": "sfb-cdr-json", "data": data})
        else:
            xml = golden_qoe(rng.choice(QOE_FILES))
            xml = xml.replace("9c1f0c7a4e2b44d1", uuid.uuid4().hex[:16])
            for _ in range(3):
                at = rng.randrange(len(xml))
                xml = (
                    xml[:at]
                    + rng.choice(["", "-1", "1e999", "NaN", "x", "<", "&"])
                    + xml[at + rng.randint(0, 8) :]
                )
            out.append({"kind": "qoe", "format": "ms-qoe-xml", "data": xml})
    return out


@pytest.mark.stack
def test_a_batch_of_mutated_records_never_fails(local_host, mint, figures):
    from devhost.stack import DEMO_TENANT
    from tests.factories import envelope
    from tests.reliability.attacks import GZ, call, gz

    token = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    env = envelope(_mutated_records(seed=91, n=240), tenant=DEMO_TENANT)
    status, _, body = call(local_host, "POST", "/api/v1/batches", token, gz(env), GZ)
    assert status == 202, body
    local_host.wait_idle(120)
    status, _, batch = call(local_host, "GET", f"/api/v1/batches/{env['batchId']}", token)
    assert status == 200 and batch["status"] in ("completed", "completedWithErrors"), batch
    assert batch["received"] == 240
    assert batch["received"] == batch["stored"] + batch["excluded"] + batch["quarantined"]
    assert all(e["reason"] for e in batch["errors"])
    assert not [p for p in local_host.host.poisoned if env["batchId"] in p[0]]
    figures(
        received=batch["received"],
        stored=batch["stored"],
        quarantined=batch["quarantined"],
        calls=batch["calls"],
    )
