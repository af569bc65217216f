"""The CQD dimensions (docs/reference/cqd-dimensions.md): what each parser reads and how
a stream's dimension values are decided. Pure: no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.aggregates import dimensions as d
from shared.aggregates.contribution import contribution, split_cell
from shared.aggregates.layout import FACETS, parse_facet_cell
from shared.models.call import CallView, Endpoint, Session, Stream, StreamQuality
from shared.parsing import ParseContext, parse_record
from shared.parsing.qoe_xml import parse_qoe

GOLDEN = Path(__file__).parents[1] / "golden"
CTX = ParseContext(tenant_id="8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b")


def _graph_example() -> dict:
    return json.loads((GOLDEN / "graph" / "ms_get_callrecord_expanded.json").read_text("utf-8"))


def test_graph_reads_product_platform_feedback_and_never_the_text() -> None:
    data = _graph_example()
    callee = data["sessions"][0]["callee"]
    callee["feedback"] = {
        "rating": "poor",
        "text": "Bob could not hear me at all",
        "tokens": {"NoSound": True, "Echo": False, "bad token!": True},
    }
    [frag] = parse_record("callRecord", "graph-v1", data, CTX)
    s = frag.sessions[0]
    assert (s.caller.product_family, s.caller.platform) == ("skypeForBusiness", "android")
    assert (s.callee.feedback_rating, s.callee.feedback_tokens) == ("poor", ["NoSound"])
    assert "could not hear" not in frag.model_dump_json()
    view = CallView(sessions=[s], sources=["graph-v1"])
    # Graph call records of Skype for Business clients are Skype for Business Online.
    assert d.product(s, view) == d.SFB_ONLINE
    assert d.client_type(s.caller) == "mobile" and d.client_type(s.callee) == "desktop"


def test_graph_protocol_relay_and_wifi_band() -> None:
    data = _graph_example()
    media = data["sessions"][0]["segments"][0]["media"][0]
    media["callerNetwork"].update(
        {
            "protocol": "tcp",
            "relayIPAddress": "52.112.0.1",
            "connectionType": "wifi",
            "wifiBand": "frequency50GHz",
            "wifiChannel": 44,
        }
    )
    [frag] = parse_record("callRecord", "graph-v1", data, CTX)
    s = frag.sessions[0]
    assert {(x.transport, x.relay) for x in s.streams} == {("TCP", True)}
    assert (s.caller.wifi_band, s.caller.wifi_channel) == ("frequency50GHz", 44)
    assert d.wifi_band(s.caller) == "5GHz"


def test_qoe_reads_the_wifi_channel_and_ice_relay() -> None:
    xml = (GOLDEN / "qoe" / "audio_p2p_callee.xml").read_text("utf-8")
    [frag] = parse_qoe(xml, CTX)
    s = frag.sessions[0]
    assert s.callee.wifi_channel == 44 and d.wifi_band(s.callee) == "5GHz"
    assert all(x.relay is ((x.ice or "").upper() == "RELAY") for x in s.streams if x.ice)


@pytest.mark.parametrize(
    "fields,band",
    [
        ({"wifi_band": "frequency24GHz"}, "2.4GHz"),
        ({"wifi_band": "frequency60GHz"}, "6GHz"),
        ({"wifi_channel": 6}, "2.4GHz"),
        ({"wifi_channel": 149}, "5GHz"),
        ({"wifi_radio_type": "802.11g"}, "2.4GHz"),
        ({"wifi_radio_type": "802.11ac"}, "5GHz"),
        ({"wifi_radio_type": "802.11ax"}, "unknown"),  # 2.4, 5 or 6 GHz: not decidable
        ({}, "unknown"),
    ],
)
def test_wifi_band_rules(fields: dict, band: str) -> None:
    assert d.wifi_band(Endpoint(role="caller", connection_type="wifi", **fields)) == band
    assert d.wifi_band(Endpoint(role="caller", connection_type="wired", **fields)) == "na"


@pytest.mark.parametrize(
    "ua,kind",
    [
        ("UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)", "desktop"),
        ("RTCC/7.0.0.0 UCWA/7.0.0.0 AndroidLync/6.25.0.27 (SM-G930U Android 8.0.0)", "mobile"),
        ("RTCC/6.0.0.0 MediationServer", "server"),
        ("OCPhone/4.0.7577.4420 (Microsoft Lync Phone Edition)", "ipPhone"),
        ("", "unknown"),
    ],
)
def test_client_type_from_the_user_agent(ua: str, kind: str) -> None:
    assert d.client_type(Endpoint(role="caller", user_agent=ua or None)) == kind


def test_client_version_is_the_first_dotted_version() -> None:
    # CQD's own example: the OC/ (client application) version, not UCCAPI's
    ep = Endpoint(role="caller", user_agent="UCCAPI/16.0.7766.5281 OC/16.0.7766.2047")
    assert d.client_version(ep) == "16.0.7766.2047"
    ep = Endpoint(role="caller", user_agent="RTCC/7.0.0.0 UCWA/7.0.0.0 AndroidLync/6.25.0.27")
    assert d.client_version(ep) == "7.0.0.0"
    assert d.client_version(Endpoint(role="caller", user_agent="no version")) == "unknown"


def _stream(direction: str, rating: str = "good", **kw: object) -> Stream:
    return Stream(
        id=f"main-audio:{direction}",
        label="main-audio",
        media_type="audio",
        direction=direction,  # type: ignore[arg-type]
        quality=StreamQuality(rating=rating),  # type: ignore[arg-type]
        source_format="ms-qoe-xml",
        **kw,  # type: ignore[arg-type]
    )


def test_one_endpoint_on_wifi_or_vpn_makes_the_stream_wifi_or_vpn() -> None:
    """CQD: a stream is Wi-Fi when either endpoint is on Wi-Fi (VPN the same); both
    streams of this call, whichever endpoint they count on, are wifi and VPN."""
    wired = Endpoint(
        role="caller",
        uri="sip:a@contoso.com",
        kind="user",
        ip_address="10.0.0.5",
        connection_type="wired",
    )
    wifi = Endpoint(
        role="callee",
        uri="sip:b@contoso.com",
        kind="user",
        ip_address="10.0.1.5",
        connection_type="wifi",
        vpn=True,
        wifi_channel=11,
    )
    session = Session(
        id="s",
        start="2033-01-01T10:00:00Z",
        end="2033-01-01T10:10:00Z",
        caller=wired,
        callee=wifi,
        streams=[
            _stream("callerToCallee", transport="UDP", relay=False),
            _stream("calleeToCaller", transport="UDP", relay=False),
        ],
    )
    got = contribution(CallView(sessions=[session], sources=["ms-qoe-xml"]))
    cells = {(key.count("|") > 2, e.split("#")[0]) for key, entries in got.items() for e in entries}
    dims: dict[str, set[str]] = {}
    for in_facet, cell in cells:
        if in_facet:
            for name, value in parse_facet_cell(cell).items():
                dims.setdefault(name, set()).add(value)
        else:
            (media, conn, _inside, vpn), _server, _ = split_cell(cell)
            assert (media, conn, vpn) == ("audio", "wifi", "1")
    assert dims == {
        "m": {"audio"},
        "c": {"wifi"},
        "v": {"1"},
        "wb": {"2.4GHz"},
        "p": {"sfbServer"},
        "ct": {"unknown"},
        "cv": {"unknown"},
        "h": {"10"},
        "tr": {"udp"},
        "rl": {"0"},
    }


def test_rate_my_call_counts_rating_and_tokens_on_the_session() -> None:
    rater = Endpoint(
        role="caller",
        uri="sip:a@contoso.com",
        kind="user",
        feedback_rating="poor",
        feedback_tokens=["NoSound", "Echo"],
    )
    session = Session(
        id="s",
        start="2033-01-01T10:00:00Z",
        end="2033-01-01T10:10:00Z",
        caller=rater,
        callee=Endpoint(role="callee"),
    )
    got = contribution(CallView(sessions=[session], sources=["graph-v1"]))
    assert len(got) == len(FACETS)  # the day document and each facet, same counts
    for entries in got.values():
        counted = {e.split("#", 1)[1]: n for e, n in entries.items()}
        assert counted["rating.poor"] == 1
        assert counted["feedbackToken.NoSound"] == 1 and counted["feedbackToken.Echo"] == 1
