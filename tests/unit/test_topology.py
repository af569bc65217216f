"""The on-prem topology: validation (every error names its JSON path), server signatures
(a pure function of an endpoint), matching to pools, and the `place` of an endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from functions.problems import as_problem
from shared.aggregates.contribution import contribution
from shared.analytics.visibility import project_call
from shared.buildings import BuildingIndex, parse_building_file
from shared.errors import DomainError
from shared.models.call import CallView, Endpoint, Session, Stream, StreamQuality
from shared.reports.places import endpoint_place
from shared.topology import server_signature
from shared.topology_validation import parse_topology

MEDIATION_UA = "RTCC/7.0.0.0 MediationServer/7.0.2046.0"  # devhost.qoe_generator's
MCU_UA = "RTCC/7.0.0.0 AVMCU/7.0.2046.0"
SFB_UA = "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)"
POOL = "fe01.contoso.local"


def topology_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sites": [{"name": "Redmond", "city": "Redmond"}, {"name": "Dublin"}],
        "pools": [
            {
                "fqdn": POOL,
                "role": ["frontEnd", "mediation"],
                "site": "Redmond",
                "servers": ["fe01a.contoso.local", "fe01b.contoso.local"],
            },
            {"fqdn": "edge01.contoso.com", "role": "edge", "site": "Dublin"},
            {"fqdn": "fe02.contoso.local", "role": "frontEnd", "site": "Dublin"},
        ],
        "gateways": [{"fqdn": "gw01.contoso.local", "site": "Redmond", "mediationPool": POOL}],
    }
    body.update(over)
    return body


def errors_of(body: Any) -> list[dict[str, str]]:
    with pytest.raises(DomainError) as info:
        parse_topology(body)
    assert as_problem(info.value).status == 400
    out = as_problem(info.value).body()
    assert out["field"] == out["errors"][0]["field"]
    return out["errors"]


def fields(body: Any) -> set[str]:
    return {e["field"] for e in errors_of(body)}


# ---------------------------------------------------------------------- validation


def test_a_valid_topology_round_trips() -> None:
    topo = parse_topology(topology_body())
    assert topo.summary() == {"sites": 2, "pools": 3, "gateways": 1}
    again = parse_topology(topo.as_json())
    assert again.as_json() == topo.as_json()
    assert again.as_json()["pools"][1]["role"] == ["edge"]  # a single role is a list of one


def test_validation_names_every_offending_field() -> None:
    body = topology_body(
        pools=[
            {"fqdn": "not a name", "role": "frontEnd", "site": "Redmond"},
            {"fqdn": "med.contoso.local", "role": "registrar", "site": "Paris"},
            {"fqdn": "x.contoso.local", "role": ["edge", "director"], "site": "Dublin"},
            {"fqdn": "y.contoso.local", "site": "Dublin", "colour": "red"},
            {"fqdn": "x.contoso.local", "role": "edge", "site": "Dublin"},
        ],
        gateways=[
            {"fqdn": "gw.contoso.local", "site": "Redmond", "mediationPool": "x.contoso.local"},
            {"site": "Redmond"},
        ],
        servers=[],
    )
    assert fields(body) == {
        "servers",
        "pools[0].fqdn",
        "pools[1].role",
        "pools[1].site",
        "pools[2].role[1]",
        "pools[3].role",
        "pools[3].colour",
        "pools[4].fqdn",
        "gateways[0].mediationPool",
        "gateways[1].fqdn",
    }


def test_sites_are_required_and_unique() -> None:
    assert fields({"pools": []}) == {"sites"}
    assert fields({"sites": [{"name": "A"}, {"name": "a"}]}) == {"sites[1].name"}
    assert fields({"sites": "Redmond"}) == {"sites"}
    assert fields({"sites": [{"name": ""}, 7]}) == {"sites[0].name", "sites[1]"}
    with pytest.raises(DomainError) as info:
        parse_topology([1, 2])
    assert info.value.field == "$"


def test_versions_and_addresses_are_not_fqdns() -> None:
    for bad in ("7.0.2046.0", "10.1.2.3", "localhost", "-a.contoso.com", "a..b.com"):
        assert fields(
            topology_body(pools=[{"fqdn": bad, "role": "edge", "site": "Dublin"}], gateways=[])
        ) == {"pools[0].fqdn"}


# ------------------------------------------------------------------------ matching


def ep(**kw: Any) -> Endpoint:
    return Endpoint(role=kw.pop("role", "callee"), **kw)


def test_server_signature_is_a_pure_function_of_the_endpoint() -> None:
    assert server_signature(ep(uri="sip:alice@contoso.com", user_agent=SFB_UA)) is None
    assert server_signature(ep(uri="sip:first.middle.last@contoso.com", user_agent=SFB_UA)) is None
    assert server_signature(ep(uri="tel:+14255550100", user_agent=MEDIATION_UA)) == "mediation:"
    assert (
        server_signature(ep(uri=f"sip:{POOL}@contoso.local;gruu;opaque=srvr:x", user_agent=MCU_UA))
        == f"frontEnd:{POOL}"
    )
    assert server_signature(ep(user_agent=f"RTCC/7.0.0.0 MediationServer ({POOL})")) == (
        f"mediation:{POOL}"
    )
    assert server_signature(ep(user_agent="Gateway/1.0 gw01.contoso.local")) == (
        "server:gw01.contoso.local"
    )
    # The focus/MCU kind alone is not on-prem (Teams' cloud MCUs have it too).
    assert (
        server_signature(
            ep(uri="sip:o@contoso.com;gruu;opaque=app:conf:audio-video:id:1", kind="server")
        )
        is None
    )


def test_fqdn_first_then_the_only_pool_of_the_role() -> None:
    topo = parse_topology(topology_body())
    placed = topo.resolve("mediation:")
    assert placed and (placed.site, placed.pool, placed.matched_by) == (
        "Redmond",
        POOL,
        "role",
    )  # only fe01 has the mediation role
    assert topo.resolve("frontEnd:") is None  # two front-end pools: ambiguous, no guess
    placed = topo.resolve("frontEnd:fe02.contoso.local")
    assert placed and (placed.site, placed.pool, placed.matched_by) == (
        "Dublin",
        "fe02.contoso.local",
        "fqdn",
    )
    placed = topo.resolve("mediation:fe01b.contoso.local")  # a member server
    assert placed and (placed.pool, placed.role) == (POOL, "mediation")
    placed = topo.resolve("server:gw01.contoso.local")
    assert placed and (placed.site, placed.pool, placed.gateway) == (
        "Redmond",
        POOL,
        "gw01.contoso.local",
    )
    assert topo.resolve("edge:") is not None and topo.resolve("server:") is None
    assert topo.resolve(None) is None


def test_contribution_carries_the_server_signature_only_for_server_sessions() -> None:
    user = ep(
        role="caller",
        uri="sip:alice@contoso.com",
        kind="user",
        user_agent=SFB_UA,
        ip_address="10.1.2.3",
        subnet_mask="255.255.255.0",
        connection_type="wired",
        inside=True,
    )
    gateway_side = ep(
        uri="tel:+14255550100",
        kind="phone",
        user_agent=MEDIATION_UA,
        ip_address="10.50.0.9",
        subnet_mask="255.255.255.0",
        connection_type="wired",
        inside=True,
    )
    stream = Stream(
        id="main-audio:callerToCallee",
        label="main-audio",
        media_type="audio",
        direction="callerToCallee",
        quality=StreamQuality(rating="good"),
    )
    pstn = Session(
        id="s1",
        start="2031-02-01T10:00:00Z",
        end="2031-02-01T10:05:00Z",
        caller=user,
        callee=gateway_side,
        streams=[stream],
    )
    got = contribution(CallView(start=pstn.start, sessions=[pstn]))
    cells = {e.split("#")[0] for k, entries in got.items() if k.count("|") == 2 for e in entries}
    # the signature is the fifth part of the day document's cells, and the last
    assert cells == {"audio|wired|in|0|mediation:"}


# --------------------------------------------------------------------------- place

BUILDINGS = "10.1.0.0,HQ-Net,16,HQ,,,,Redmond,98052,US,WA,West,1,0\n"


def test_place_of_a_user_and_of_a_mediation_server() -> None:
    index = BuildingIndex(parse_building_file(BUILDINGS))
    topo = parse_topology(topology_body())
    user = ep(
        role="caller",
        uri="sip:alice@contoso.com",
        user_agent=SFB_UA,
        ip_address="10.1.2.3",
        subnet_mask="255.255.255.0",
        inside=False,
    )
    assert endpoint_place(user, index, topo) == {
        "building": "HQ",
        "networkName": "HQ-Net",
        "city": "Redmond",
        "insideCorp": True,
    }
    server = ep(
        uri="tel:+14255550100", user_agent=MEDIATION_UA, ip_address="172.16.0.4", inside=True
    )
    assert endpoint_place(server, index, topo) == {
        "building": None,
        "networkName": None,
        "city": None,
        "insideCorp": False,
        "site": "Redmond",
        "pool": POOL,
        "serverRole": "mediation",
        "matchedBy": "role",
    }
    # No building file: Outside (CQD; the QoE flag is not used); no topology: a server
    # with an unknown pool.
    assert endpoint_place(server, None, None) == {
        "building": None,
        "networkName": None,
        "city": None,
        "insideCorp": False,
        "site": None,
        "pool": None,
        "serverRole": "mediation",
    }


def test_place_is_advanced_hidden_from_specialists() -> None:
    place = {"building": "HQ", "site": "Redmond", "pool": POOL}
    detail = {
        "callId": "c",
        "call_type": "pstn",
        "sessions": [
            {
                "id": "s",
                "caller": {
                    "role": "caller",
                    "uri": "sip:alice@contoso.com",
                    "kind": "user",
                    "place": place,
                },
                "callee": {
                    "role": "callee",
                    "uri": "tel:+14255550100",
                    "kind": "phone",
                    "place": place,
                },
            }
        ],
    }
    for level in ("admin", "engineer"):
        out = project_call(detail, level, "alice@contoso.com")
        assert out["sessions"][0]["callee"]["place"] == place
    out = project_call(detail, "specialist", "alice@contoso.com")
    assert "place" not in out["sessions"][0]["caller"]
    assert "place" not in out["sessions"][0]["callee"]
