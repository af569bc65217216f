"""Rebuild the hand-specified golden QoE reports and CDRs (values chosen by hand below).

Run `python -m tests.golden.make_golden` to rewrite the inputs; with `--expected` it
also rewrites `*.expected.json` from the current code, which must then be reviewed by a
person against classification.md before committing (the tests compare against them).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from devhost.qoe_generator import MCU_UA, MEDIATION_UA, SFB_UA, Line, Net, build_report

HERE = Path(__file__).parent
T0 = datetime(2026, 11, 20, 9, 0, 2, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 20, 9, 12, 40, tzinfo=timezone.utc)
FOCUS = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:7QW2Z1XK"
AVMCU = "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:7QW2Z1XK"
ASMCU = "sip:alice@contoso.com;gruu;opaque=app:conf:applicationsharing:id:7QW2Z1XK"
EVENTS = {
    "NetworkSendQualityEventRatio": 0.0,
    "NetworkReceiveQualityEventRatio": 0.0,
    "CPUInsufficientEventRatio": 0.0,
    "DeviceRenderNotFunctioningEventRatio": 0.0,
    "DeviceCaptureNotFunctioningEventRatio": 0.0,
}


def _audio(jitter, loss, deg, concealed, util, rtt, **events):
    return Line(
        "main-audio",
        "audio",
        {
            "jitter_ms": jitter,
            "jitter_max_ms": jitter * 3,
            "packet_loss_rate": loss,
            "packet_loss_rate_max": loss * 4,
            "degradation_avg": deg,
            "concealed_ratio_avg": concealed,
            "packet_utilization": util,
        },
        {"jitter_ms": 4.0, "packet_loss_rate": 0.001, "packet_utilization": util},
        rtt,
        {**EVENTS, **events},
        dict(EVENTS),
        "SILKWide",
    )


def cases() -> dict[str, str]:
    wired = Net(
        ip="10.12.4.57",
        mask="255.255.252.0",
        mac="00-15-5D-4A-10-22",
        remote_ip="10.14.8.9",
        port=50020,
    )
    wifi = Net(
        ip="10.13.22.140",
        mask="255.255.255.0",
        connection="wifi",
        link_speed=300e6,
        mac="A4-34-D9-11-22-33",
        bssid="f4-cf-e2-0a-11-b0",
        ssid="CONTOSO-CORP",
        remote_ip="10.12.4.57",
        port=50040,
        capture="Headset Microphone (Plantronics)",
        render="Headset Earphone (Plantronics)",
    )
    home = Net(
        ip="192.168.1.23",
        mask="255.255.255.0",
        inside=False,
        connection="wifi",
        vpn=True,
        link_speed=54e6,
        mac="3C-22-FB-00-01-02",
        bssid="00-1a-2b-3c-4d-5e",
        ssid="HomeNet",
        remote_ip="52.112.4.10",
        ice="RELAY",
        port=50060,
    )
    p2p = dict(
        call_id="9c1f0c7a4e2b44d1@fe01.contoso.local",
        from_tag="a1b2c3d4",
        to_tag="e5f6a7b8",
        start=T0,
        end=T1,
    )
    out = {}
    # audio, peer-to-peer: both endpoints; the callee (on wifi) hears high jitter.
    out["audio_p2p_caller.xml"] = build_report(
        caller=True,
        from_uri="sip:alice@contoso.com",
        to_uri="sip:bob@contoso.com",
        lines=[_audio(6.0, 0.004, 0.22, 0.011, 37900.0, 48.5)],
        net=wired,
        machine="CONTOSO-PC17",
        **p2p,
    )
    out["audio_p2p_callee.xml"] = build_report(
        caller=False,
        from_uri="sip:bob@contoso.com",
        to_uri="sip:alice@contoso.com",
        lines=[
            _audio(
                42.0, 0.021, 1.31, 0.052, 37850.0, 51.0, DeviceRenderNotFunctioningEventRatio=0.02
            )
        ],
        net=wifi,
        machine="CONTOSO-LT04",
        **p2p,
    )
    # video, peer-to-peer: audio + main-video, the caller's video frame rate is low.
    vid = dict(
        call_id="77aa01bb@fe01.contoso.local", from_tag="11aa", to_tag="22bb", start=T0, end=T1
    )
    out["video_p2p_caller.xml"] = build_report(
        caller=True,
        from_uri="sip:carol@contoso.com",
        to_uri="sip:dave@contoso.com",
        lines=[
            _audio(3.0, 0.0, 0.08, 0.004, 37000.0, 22.0),
            Line(
                "main-video",
                "video",
                {"video_frame_rate_avg": 5.5, "packet_utilization": 52000.0},
                {"video_frame_rate_avg": 24.0},
                22.0,
                codec="H264",
            ),
        ],
        net=wired,
        **vid,
    )
    # VBSS in a conference: a `data` line carrying Payload/Video, seen by an outside user.
    out["vbss_conference.xml"] = build_report(
        call_id="5d0e3f11@fe01.contoso.local",
        from_tag="f00d",
        to_tag="beef",
        caller=True,
        from_uri="sip:erin@contoso.com",
        to_uri=AVMCU,
        start=T0,
        end=T1,
        lines=[
            _audio(9.0, 0.012, 0.41, 0.02, 36000.0, 161.0),
            Line(
                "data",
                "vbss",
                {"video_frame_rate_avg": 1.5},
                {"video_frame_rate_avg": 8.0},
                161.0,
                codec="H264",
            ),
        ],
        net=home,
        remote_ua=MCU_UA,
        conf_uri=FOCUS,
        machine="ERIN-HOME",
    )
    # Application sharing (RDP) in the same conference: spoiled tiles over the limit.
    out["appsharing_conference.xml"] = build_report(
        call_id="6e1f4022@fe01.contoso.local",
        from_tag="c0de",
        to_tag="d00d",
        caller=True,
        from_uri="sip:frank@contoso.com",
        to_uri=ASMCU,
        start=T0,
        end=T1,
        lines=[
            Line(
                "data",
                "appsharing",
                {"spoiled_tile_pct": 41.0, "rdp_tile_latency_ms": 180.0, "relative_one_way_s": 1.2},
                {"jitter_ms": 2.0},
                30.0,
                codec="RDP",
            )
        ],
        net=wired,
        remote_ua="RTCC/7.0.0.0 ASMCU/7.0.2046.0",
        conf_uri=FOCUS,
    )
    # PSTN: the user calls out through the Mediation Server; its report is the callee's.
    pstn = dict(
        call_id="0f9e8d7c@fe01.contoso.local", from_tag="aa01", to_tag="bb02", start=T0, end=T1
    )
    out["pstn_user.xml"] = build_report(
        caller=True,
        from_uri="sip:grace@contoso.com",
        to_uri="tel:+14255550123",
        lines=[_audio(4.0, 0.002, 0.15, 0.006, 37500.0, 35.0)],
        net=wired,
        remote_ua=MEDIATION_UA,
        **pstn,
    )
    out["pstn_mediation.xml"] = build_report(
        caller=False,
        from_uri="tel:+14255550123",
        to_uri="sip:grace@contoso.com",
        lines=[_audio(11.0, 0.13, 0.9, 0.03, 37400.0, 36.0)],
        net=Net(
            ip="10.10.0.5",
            mask="255.255.255.0",
            mac="00-15-5D-00-00-05",
            remote_ip="10.12.4.57",
            capture="",
            render="",
        ),
        local_ua=MEDIATION_UA,
        remote_ua=SFB_UA,
        machine="MED01",
        **pstn,
    )
    return out


def cdrs() -> dict[str, dict]:
    base = {
        "correlationId": None,
        "user1DisplayName": "Alice",
        "user2DisplayName": "Bob",
        "mediaTypes": ["audio"],
        "isConference": False,
        "conferenceUri": None,
        "user1UserAgent": SFB_UA,
        "user2UserAgent": SFB_UA,
    }
    return {
        "audio_p2p.cdr.json": {
            **base,
            "sessionIdTime": "2026-11-20T09:00:00Z",
            "sessionIdSeq": 1,
            "callId": "9c1f0c7a4e2b44d1@fe01.contoso.local",
            "fromTag": "a1b2c3d4",
            "toTag": "e5f6a7b8",
            "user1Uri": "sip:alice@contoso.com",
            "user2Uri": "sip:bob@contoso.com",
            "inviteTime": "2026-11-20T09:00:00Z",
            "responseTime": "2026-11-20T09:00:02Z",
            "endTime": "2026-11-20T09:12:40Z",
            "responseCode": 200,
            "diagnosticId": None,
        },
        "setup_failure.cdr.json": {
            **base,
            "sessionIdTime": "2026-11-20T10:00:00Z",
            "sessionIdSeq": 2,
            "callId": "3a3a3a3a@fe01.contoso.local",
            "fromTag": "9f9f",
            "toTag": None,
            "user1Uri": "sip:alice@contoso.com",
            "user2Uri": "sip:heidi@contoso.com",
            "inviteTime": "2026-11-20T10:00:00Z",
            "responseTime": "2026-11-20T10:00:31Z",
            "endTime": None,
            "responseCode": 480,
            "diagnosticId": 24,
        },
        "dropped_no_qoe.cdr.json": {
            **base,
            "sessionIdTime": "2026-11-20T11:00:00Z",
            "sessionIdSeq": 3,
            "callId": "4b4b4b4b@fe01.contoso.local",
            "fromTag": "7e7e",
            "toTag": "8d8d",
            "user1Uri": "sip:ivan@contoso.com",
            "user2Uri": "sip:judy@contoso.com",
            "inviteTime": "2026-11-20T11:00:00Z",
            "responseTime": "2026-11-20T11:00:03Z",
            "endTime": "2026-11-20T11:04:10Z",
            "responseCode": 200,
            "diagnosticId": None,
        },
    }


# golden case name -> the input files that make up one call
CALLS = {
    "audio_p2p": ["audio_p2p.cdr.json", "audio_p2p_caller.xml", "audio_p2p_callee.xml"],
    "video_p2p": ["video_p2p_caller.xml"],
    "conference": ["vbss_conference.xml", "appsharing_conference.xml"],
    "pstn": ["pstn_user.xml", "pstn_mediation.xml"],
    "setup_failure": ["setup_failure.cdr.json"],
    "dropped_no_qoe": ["dropped_no_qoe.cdr.json"],
}


def main(expected: bool) -> None:
    qoe = HERE / "qoe"
    qoe.mkdir(exist_ok=True)
    for name, xml in cases().items():
        (qoe / name).write_text(xml, encoding="utf-8")
    for name, data in cdrs().items():
        (qoe / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if expected:
        from tests.golden.summary import summarise_files

        for call, files in CALLS.items():
            summary = summarise_files([qoe / f for f in files])
            (qoe / f"{call}.expected.json").write_text(
                json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )


if __name__ == "__main__":
    main("--expected" in sys.argv)
