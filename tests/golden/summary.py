"""The parts of a classified call the golden files pin down (stable, reviewable JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.merge import build_view, union
from shared.models.call import CallView
from shared.parsing import ParseContext, cdr, graph, parse_record, qoe_xml

# Imported for their @register side effect: the dispatcher loads parsers lazily only when
# none is registered, so importing one parser directly would hide the others.
_PARSER_MODULES = (cdr, graph, qoe_xml)

CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")
_ENDPOINT_FIELDS = (
    "uri",
    "kind",
    "user_agent",
    "ip_address",
    "subnet",
    "connection_type",
    "vpn",
    "inside",
    "bssid",
    "ssid",
    "mac_address",
    "capture_device",
    "render_device",
    "device_ratios",
    "device_flags",
)


def record_for(path: Path) -> dict[str, Any]:
    if path.suffix == ".xml":
        return {"kind": "qoe", "format": "ms-qoe-xml", "data": path.read_text("utf-8")}
    if path.parent.name == "graph":
        return {
            "kind": "callRecord",
            "format": "graph-v1",
            "data": json.loads(path.read_text("utf-8")),
        }
    return {"kind": "cdr", "format": "sfb-cdr-json", "data": json.loads(path.read_text("utf-8"))}


def view_for(paths: list[Path], profile: str | None = None) -> tuple[CallView, set[str]]:
    frags = []
    for p in paths:
        rec = record_for(p)
        frags += parse_record(rec["kind"], rec["format"], rec["data"], CTX)
    return build_view(union({}, frags), profile), {f.key for f in frags}


def summarise(view: CallView, keys: set[str]) -> dict[str, Any]:
    def endpoint(ep: Any) -> dict[str, Any]:
        return {k: getattr(ep, k) for k in _ENDPOINT_FIELDS if getattr(ep, k) not in (None, {}, [])}

    return {
        "keys": sorted(keys),
        "call_type": view.call_type,
        "rating": view.rating,
        "reasons": view.reasons,
        "participants": [p.uri for p in view.participants],
        "sessions": [
            {
                "rating": s.rating,
                "reasons": s.reasons,
                "reason_metrics": s.reason_metrics,
                "has_qoe": s.has_qoe,
                "caller": endpoint(s.caller),
                "callee": endpoint(s.callee),
                "streams": [
                    {
                        "id": st.id,
                        "media_type": st.media_type,
                        "ice": st.ice,
                        "metrics": st.metrics.model_dump(exclude_none=True),
                        "rating": st.quality.rating if st.quality else None,
                        "poor_due_to": st.quality.poor_due_to if st.quality else None,
                        "unclassified_reason": (
                            st.quality.unclassified_reason if st.quality else None
                        ),
                        "flags": st.quality.flags if st.quality else None,
                        "profile": st.quality.profile if st.quality else None,
                    }
                    for st in s.streams
                ],
            }
            for s in view.sessions
        ],
    }


def summarise_files(paths: list[Path], profile: str | None = None) -> dict[str, Any]:
    view, keys = view_for(paths, profile)
    return json.loads(json.dumps(summarise(view, keys)))
