"""Merge properties over real parsed records: any order, any batch split, duplicates.

Records come from the QoE generator (CDRs + both endpoints' reports, conferences, PSTN)
and the golden Graph example; they are parsed, unioned in random orders and splits,
and the folded, classified view must equal the reference every time.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost.qoe_generator import demo_users, generate_call
from shared.merge import build_view, union
from shared.parsing import ParseContext, cdr, graph, parse_record, qoe_xml

_ = (cdr, graph, qoe_xml)  # register every parser (the dispatcher loads lazily)
CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
GRAPH = Path(__file__).parents[1] / "golden" / "graph" / "ms_get_callrecord_expanded.json"


def _fragments(seed: int, scenario: str):
    records = generate_call(random.Random(seed), "t", demo_users(8), WHEN, scenario=scenario)
    return [f for r in records for f in parse_record(r["kind"], r["format"], r["data"], CTX)]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    scenario=st.sampled_from(["p2p", "conference", "pstn", "setupFailure", "dropped"]),
    data=st.data(),
)
def test_view_is_independent_of_order_split_and_duplicates(seed, scenario, data):
    fragments = _fragments(seed, scenario)
    reference = build_view(union({}, fragments)).model_dump()
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    stream = fragments + [rng.choice(fragments) for _ in range(data.draw(st.integers(0, 4)))]
    rng.shuffle(stream)
    cuts = sorted(rng.randrange(len(stream) + 1) for _ in range(data.draw(st.integers(0, 4))))
    state: dict = {}
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        state = union(state, stream[a:b])
    assert build_view(state).model_dump() == reference
    # re-applying everything once more changes nothing (idempotence)
    assert build_view(union(state, fragments)).model_dump() == reference


def test_graph_versions_and_duplicates_converge():
    base = json.loads(GRAPH.read_text())
    versions = []
    for v in (1, 2, 3):
        d = json.loads(json.dumps(base))
        d["version"] = v
        d["sessions"][0]["segments"][0]["media"][0]["streams"][0]["averageJitter"] = f"PT0.0{v}S"
        versions += parse_record("callRecord", "graph-v1", d, CTX)
    reference = build_view(union({}, versions)).model_dump()
    rng = random.Random(5)
    for _ in range(20):
        order = versions + rng.sample(versions, 2)
        rng.shuffle(order)
        state: dict = {}
        for f in order:
            state = union(state, [f])
        assert build_view(state).model_dump() == reference
    assert reference["sessions"][0]["streams"][0]["metrics"]["jitter_ms"] == 30.0
