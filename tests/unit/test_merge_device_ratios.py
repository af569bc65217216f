"""Both reports of a session carry an endpoint's client event ratios: its own report
(LocalClientEvent) and the other side's view (RemoteClientEvent). The fold keeps the
worst of each, so a report that saw nothing never hides one that saw a failing device,
whichever order the fragments fold in (the order follows content hashes)."""

from __future__ import annotations

import itertools

from shared.merge import build_view, union
from shared.models.call import Endpoint, Fragment, Session


def _fragment(fid: str, caller_ratios: dict[str, float]) -> Fragment:
    session = Session(
        id="s1",
        sip_call_id="c1",
        has_qoe=True,
        caller=Endpoint(role="caller", uri="sip:alice@contoso.com", device_ratios=caller_ratios),
        callee=Endpoint(role="callee", uri="sip:bob@contoso.com"),
    )
    return Fragment(
        fragment_id=fid,
        record_id=f"r-{fid}",
        source_format="ms-qoe-xml",
        key="sip:c1",
        call_type="peerToPeer",
        sessions=[session],
    )


def test_the_worst_ratio_wins_in_every_fold_order() -> None:
    own = {"DeviceCaptureNotFunctioningEventRatio": 0.49, "DeviceGlitchesEventRatio": 0.0}
    seen_by_other = {
        "DeviceCaptureNotFunctioningEventRatio": 0.0,
        "DeviceGlitchesEventRatio": 0.02,
        "DeviceEchoEventRatio": 0.0,
    }
    results = []
    for a, b in itertools.permutations([("a", own), ("b", seen_by_other)]):
        for ids in (("0", "1"), ("1", "0")):  # fragment ids decide the fold order
            frags = [_fragment(ids[0] + a[0], a[1]), _fragment(ids[1] + b[0], b[1])]
            view = build_view(union({}, frags))
            results.append(view.sessions[0].caller.device_ratios)
    assert all(
        r
        == {
            "DeviceCaptureNotFunctioningEventRatio": 0.49,
            "DeviceGlitchesEventRatio": 0.02,
            "DeviceEchoEventRatio": 0.0,
        }
        for r in results
    )
    view = build_view(union({}, [_fragment("x", own), _fragment("y", seen_by_other)]))
    assert (
        view.sessions[0].caller.device_flags.get("DeviceCaptureNotFunctioningEventRatio") == "red"
    )
    assert "device" in view.sessions[0].reasons
