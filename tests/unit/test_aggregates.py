"""Aggregates: what a call contributes (pure logic). The exactness of the delta
protocol is tested against the real emulator in tests/integration/test_aggregates_exact.py."""

from __future__ import annotations

import json

from shared.aggregates.contribution import (
    contribution,
    difference,
    subnet_of,
)
from shared.models.call import (
    CallDocument,
    CallView,
    Endpoint,
    Session,
    Stream,
    StreamQuality,
)

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"


# ------------------------------------------------------------------ contribution


def _stream(
    direction: str, rating: str, due: list[str] | None = None, media: str = "audio"
) -> Stream:
    return Stream(
        id=f"main-{media}:{direction}",
        label=f"main-{media}",
        media_type=media,
        direction=direction,
        quality=StreamQuality(rating=rating, poor_due_to=due or []),
    )


def _doc(sessions: list[Session], start: str = "2026-11-20T09:00:00Z") -> CallDocument:
    return CallDocument(
        id="c1",
        pk=f"{TENANT}|c1",
        tenantId=TENANT,
        key="k",
        view=CallView(start=start, sessions=sessions),
    )


def _base(got: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The contribution's day documents (the facet documents regroup the same counts
    under the dimensions, which have their own tests): what the media/connection/
    inside/VPN cell counts."""
    out: dict[str, dict[str, int]] = {}
    for key, entries in got.items():
        if key.count("|") > 2:
            continue  # a facet document
        target = out.setdefault(key, {})
        for entry, n in entries.items():
            if entry.startswith("@"):
                target[entry] = target.get(entry, 0) + n
                continue
            cell, measure = entry.split("#", 1)
            base = "|".join(p for p in cell.split("|") if "=" not in p)
            target[f"{base}#{measure}"] = target.get(f"{base}#{measure}", 0) + n
    return out


def test_stream_counts_on_the_receiver_and_session_on_the_client() -> None:
    alice = Endpoint(
        role="caller",
        uri="sip:alice@contoso.com",
        kind="user",
        ip_address="10.1.2.3",
        subnet_mask="255.255.255.0",
        connection_type="wired",
        inside=True,
    )
    bob = Endpoint(
        role="callee",
        uri="sip:bob@contoso.com",
        kind="user",
        ip_address="192.168.7.9",
        subnet_mask="255.255.254.0",
        connection_type="wifi",
        inside=False,
        vpn=True,
    )
    session = Session(
        id="s1",
        start="2026-11-20T09:00:00Z",
        end="2026-11-20T09:00:30Z",
        caller=alice,
        callee=bob,
        rating="poor",
        has_qoe=True,
        streams=[
            _stream("callerToCallee", "poor", ["jitter", "packet_loss"]),
            _stream("calleeToCaller", "good"),
        ],
    )
    got = contribution(_doc([session]).view)
    # CQD: a stream with either endpoint on Wi-Fi (or VPN) is a Wi-Fi (VPN) stream, so
    # alice's wired side counts as wifi|1 too; every stream has CDR data (a call record).
    assert _base(got) == {
        "2026-11-20|10.1.2.0|24": {
            "audio|wifi|in|1#streams": 1,
            "audio|wifi|in|1#good": 1,
            "audio|wifi|in|1#cdrStreams": 1,
            "audio|wifi|in|1#sessions": 1,
            "audio|wifi|in|1#poorCalls": 1,
            "audio|wifi|in|1#shortCalls": 1,
        },
        "2026-11-20|192.168.6.0|23": {
            "audio|wifi|out|1#streams": 1,
            "audio|wifi|out|1#poor": 1,
            "audio|wifi|out|1#cdrStreams": 1,
            "audio|wifi|out|1#poorDueTo.jitter": 1,
            "audio|wifi|out|1#poorDueTo.packet_loss": 1,
            "@bob@contoso.com": 1,
        },
    }
    assert "10.1.2.3" not in json.dumps(got) and "192.168.7.9" not in json.dumps(got)


def test_server_receiver_counts_on_the_client_and_setup_failures() -> None:
    user = Endpoint(
        role="caller",
        uri="sip:carol@contoso.com",
        kind="user",
        ip_address="10.9.9.9",
        subnet_mask="24",
    )
    mcu = Endpoint(
        role="callee",
        uri="sip:org@contoso.com;gruu;opaque=app:conf:audio-video:id:1",
        kind="server",
        ip_address="10.0.0.5",
        subnet_mask="255.255.255.0",
    )
    conf = Session(
        id="s1",
        start="2026-11-20T23:59:00Z",
        end="2026-11-21T00:30:00Z",
        caller=user,
        callee=mcu,
        rating="good",
        streams=[
            _stream("callerToCallee", "unclassified"),
            _stream("calleeToCaller", "good", media="video"),
        ],
    )
    failed = Session(
        id="s2",
        start="2026-11-21T08:00:00Z",
        end="2026-11-21T08:00:01Z",
        diagnostic_id=25,
        media_types=["audio"],
        caller=user,
        callee=mcu,
    )
    got = _base(contribution(_doc([conf, failed]).view))
    # CQD's Date is the UTC day the stream ended: the conference that started on the 20th
    # at 23:59 and ended on the 21st counts on the 21st.
    assert set(got) == {"2026-11-21|10.9.9.0|24"}
    day = got["2026-11-21|10.9.9.0|24"]
    assert day["audio|unknown|na|0#unclassified"] == 1
    assert day["video|unknown|na|0#good"] == 1
    assert "audio|unknown|na|0#shortCalls" not in day
    # the failed session has no stream, only its CDR media type: two streams (one per
    # direction) whose setup failed, out of two with CDR data.
    assert day["audio|unknown|na|0#sessions"] == 2
    assert day["audio|unknown|na|0#callSetupFailures"] == 1
    assert day["audio|unknown|na|0#cdrStreams"] == 3  # conf audio + failed session's 2
    assert day["audio|unknown|na|0#setupFailedStreams"] == 2


def test_subnet_never_keeps_the_host_address() -> None:
    assert subnet_of(Endpoint(role="caller", ip_address="10.1.2.77")) == ("10.1.2.0", 24)
    assert subnet_of(Endpoint(role="caller", subnet="10.1.2.0")) == ("10.1.2.0", None)
    assert subnet_of(
        Endpoint(role="caller", ip_address="10.1.2.77", subnet_mask="255.255.255.192")
    ) == ("10.1.2.64", 26)
    assert subnet_of(Endpoint(role="caller")) == ("unknown", None)
    assert subnet_of(Endpoint(role="caller", ip_address="2001:db8::1"))[0] == "2001:db8::"


def test_difference_telescopes() -> None:
    a = {"d1": {"x#streams": 2, "@u": 1}}
    b = {"d1": {"x#streams": 3}, "d2": {"y#poor": 1}}
    assert difference(b, a) == {"d1": {"x#streams": 1, "@u": -1}, "d2": {"y#poor": 1}}
    assert difference(a, a) == {}
