"""The portal's display rules, run in Node on the portal's own modules: a value past a
threshold never reads the same as the threshold, and an endpoint's place is text
("not in the building file" when its subnet is not covered), never raw JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Node is a prerequisite of the project (README): without it this fails, it does not skip.
NODE = shutil.which("node")

SCRIPT = """
import { formatMetric } from "%(thr)s";
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map(([k, v, m]) => formatMetric(k, v, m))));
"""


def _node(script: str, arg: object, tmp_path: Path) -> object:
    assert NODE is not None, "node is not on PATH (Node 20 is a prerequisite, README)"
    file = tmp_path / "run.mjs"
    file.write_text(script)
    out = subprocess.run(
        [str(NODE), str(file), json.dumps(arg)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("metric", "threshold", "media"),
    [
        ("packet_loss_rate", 0.1, "audio"),
        ("packet_loss_rate", 0.01, "audio"),
        ("jitter_ms", 30.0, "audio"),
        ("jitter_ms", 15.0, "audio"),
        ("round_trip_ms", 500.0, "audio"),
        ("degradation_avg", 1.0, "audio"),
        ("concealed_ratio_avg", 0.07, "audio"),
        ("video_frame_rate_avg", 7.0, "video"),
        ("video_frame_rate_avg", 2.0, "vbss"),
        ("relative_one_way_s", 1.75, "appsharing"),
    ],
)
def test_a_value_off_a_threshold_never_reads_as_the_threshold(
    metric: str, threshold: float, media: str, tmp_path: Path
) -> None:
    thr = (ROOT / "portal" / "js" / "thresholds.js").as_uri()
    values = [threshold * (1 + d) for d in (-0.001, 0.0, 0.001)] + [threshold + 1e-4]
    shown = _node(SCRIPT % {"thr": thr}, [[metric, v, media] for v in values], tmp_path)
    below, at, above, tiny = shown  # type: ignore[misc]
    assert len({below, at, above}) == 3, shown
    assert tiny != at, shown


def test_the_issue_example(tmp_path: Path) -> None:
    thr = (ROOT / "portal" / "js" / "thresholds.js").as_uri()
    shown = _node(
        SCRIPT % {"thr": thr},
        [["packetLossRate", 0.1001, "audio"], ["packetLossRate", 0.1, "audio"]],
        tmp_path,
    )
    assert shown == ["10.01%", "10.0%"]


PLACE = """
globalThis.document = undefined;
const { place } = await import("%(call)s");
console.log(JSON.stringify(JSON.parse(process.argv[2]).map(place)));
"""


def test_place_is_text_and_names_an_uncovered_subnet(tmp_path: Path) -> None:
    call = (ROOT / "portal" / "js" / "views" / "call.js").as_uri()
    shown = _node(
        PLACE % {"call": call},
        [
            {"building": None, "networkName": None, "city": None, "insideCorp": True},
            {"building": "HQ", "networkName": "HQ-Floor1", "city": "Seattle", "insideCorp": True},
            {
                "building": None,
                "insideCorp": False,
                "site": "Redmond",
                "pool": "fe01",
                "serverRole": "mediation",
            },
        ],
        tmp_path,
    )
    assert shown == [
        "not in the building file; inside the corporate network",
        "HQ · HQ-Floor1 · Seattle; inside the corporate network",
        "not in the building file; outside the corporate network; site Redmond, pool fe01, "
        "mediation",
    ]
    assert not any("{" in s for s in shown)  # type: ignore[union-attr]


COMBINATIONS = """
import { COUNTED_TOGETHER, notCountedTogether } from "%(quality)s";
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify([COUNTED_TOGETHER, cases.map((c) => notCountedTogether(c))]));
"""


def test_dashboard_knows_which_dimensions_are_counted_together(tmp_path: Path) -> None:
    """The dashboard's sets are the aggregate facets' (shared.aggregates.layout), so the
    form refuses exactly the combinations the API refuses."""
    from shared.aggregates.layout import FACETS

    quality = (ROOT / "portal" / "js" / "views" / "quality.js").as_uri()
    cases = [["product", "building"], ["clientVersion", "hour"], ["transport", "vpn"], []]
    sets, got = _node(COMBINATIONS % {"quality": quality}, cases, tmp_path)  # type: ignore[misc]
    assert sorted(map(sorted, sets)) == sorted(sorted(f.dimensions) for f in FACETS)
    assert got == [None, ["clientVersion", "hour"], None, None]
