"""Beside each golden snapshot (`tests/golden/qoe/*.expected.json`), the values a person
would check, computed by hand from the hand-chosen inputs in tests/golden/make_golden.py
and the thresholds of docs/reference/classification.md, and asserted against the live
parse (not the snapshot), so a snapshot regenerated from wrong code cannot pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.golden.make_golden import CALLS
from tests.golden.summary import summarise_files

GOLDEN = Path(__file__).parents[1] / "golden" / "qoe"


def live(call: str) -> dict[str, Any]:
    return summarise_files([GOLDEN / f for f in CALLS[call]])


def streams(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{s['media_type']}:{s['id']}": s for sess in summary["sessions"] for s in sess["streams"]
    }


# call -> (call rating, call reasons, {stream: (rating, poor due to, flags)})
CHECKS: dict[str, tuple[str, list[str], dict[str, tuple[str, list[str], dict[str, str]]]]] = {
    # Callee received jitter 42 ms (> 30 red), degradation 1.31 (> 1.0 red), loss 0.021
    # (> 0.01 yellow, not > 0.1), concealed 0.052 (> 0.035 yellow, not > 0.07): sfb2019 poor
    # on jitter and degradation. Callee render-not-functioning ratio 0.02 >= 0.005: device.
    # The caller received 6 ms / 0.004 / 0.22 / 0.011: good, no flag.
    "audio_p2p": (
        "poor",
        ["audioNetwork", "device"],
        {
            "audio:main-audio:callerToCallee": (
                "poor",
                ["degradation_avg", "jitter_ms"],
                {
                    "jitter_ms": "red",
                    "degradation_avg": "red",
                    "packet_loss_rate": "yellow",
                    "concealed_ratio_avg": "yellow",
                },
            ),
            "audio:main-audio:calleeToCaller": ("good", [], {}),
        },
    ),
    # Video frame rate 5.5 fps < 7: poor (and red); audio 3 ms / 0 / 0.08 / 0.004, round trip
    # 22 ms: good. Only audio makes a session poor, so the call is good.
    "video_p2p": (
        "good",
        [],
        {
            "video:main-video:calleeToCaller": (
                "poor",
                ["video_frame_rate_avg"],
                {"video_frame_rate_avg": "red"},
            ),
            "audio:main-audio:calleeToCaller": ("good", [], {}),
        },
    ),
    # VBSS 1.5 fps < 2: poor. Audio loss 0.012 (> 0.01) and round trip 161 ms (> 100):
    # yellow only, good. App sharing: spoiled tiles 41 % > 36: poor; relative one-way
    # 1.2 s > 1.0 yellow (not > 1.75); RDP latency 180 ms < 200: no flag. The app-sharing
    # session has no audio (unavailable); the call is good from the audio session.
    "conference": (
        "good",
        [],
        {
            "vbss:data:calleeToCaller": (
                "poor",
                ["video_frame_rate_avg"],
                {"video_frame_rate_avg": "red"},
            ),
            "audio:main-audio:calleeToCaller": (
                "good",
                [],
                {"packet_loss_rate": "yellow", "round_trip_ms": "yellow"},
            ),
            "appsharing:data:calleeToCaller": (
                "poor",
                ["spoiled_tile_pct"],
                {"spoiled_tile_pct": "red", "relative_one_way_s": "yellow"},
            ),
        },
    ),
    # The Mediation Server received loss 0.13 (> 0.1 red) and degradation 0.9 (> 0.5
    # yellow); jitter 11 ms and concealed 0.03 are under their yellow tiers.
    "pstn": (
        "poor",
        ["audioNetwork"],
        {
            "audio:main-audio:callerToCallee": (
                "poor",
                ["packet_loss_rate"],
                {"packet_loss_rate": "red", "degradation_avg": "yellow"},
            ),
            "audio:main-audio:calleeToCaller": ("good", [], {}),
        },
    ),
    # ms-diagnostics 24 is within 20..29: call setup failed.
    "setup_failure": ("poor", ["callSetup"], {}),
    # A CDR with no QoE report: no audio metrics, so unavailable.
    "dropped_no_qoe": ("unavailable", [], {}),
}


def test_every_golden_call_has_checks() -> None:
    assert set(CHECKS) == set(CALLS)


@pytest.mark.parametrize("call", sorted(CHECKS))
def test_golden_values_a_person_checks(call: str) -> None:
    rating, reasons, wanted = CHECKS[call]
    summary = live(call)
    assert (summary["rating"], summary["reasons"]) == (rating, reasons)
    got = streams(summary)
    assert set(got) == set(wanted)
    for name, (stream_rating, due, flags) in wanted.items():
        s = got[name]
        assert (s["rating"], sorted(s["poor_due_to"]), s["flags"]) == (stream_rating, due, flags)


def test_golden_dimensions() -> None:
    audio = live("audio_p2p")["sessions"][0]
    assert audio["caller"]["connection_type"] == "wired"
    assert audio["callee"]["connection_type"] == "wifi"
    assert audio["callee"]["ssid"] == "CONTOSO-CORP"
    assert audio["caller"]["ip_address"] == "10.12.4.57"
    assert audio["reason_metrics"]["device"] == ["callee.DeviceRenderNotFunctioningEventRatio"]
    assert {s["profile"] for s in audio["streams"]} == {"sfb2019"}  # SfB source
    setup = live("setup_failure")["sessions"][0]
    assert setup["reason_metrics"] == {"callSetup": ["ms-diagnostics 24"]}
    assert live("pstn")["call_type"] == "pstn" and live("conference")["call_type"] == "conference"
