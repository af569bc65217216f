"""The demo's building file and topology: both pass the upload validation, the building
file covers the demo's internal networks except the one left out on purpose, and the
topology places the demo's conferencing and mediation servers in a site and pool."""

from __future__ import annotations

import ipaddress

from devhost.demo import DEMO_BUILDINGS, DEMO_TOPOLOGY, generate_demo_batches
from shared.buildings import BuildingIndex, parse_building_file
from shared.topology_validation import parse_topology


def _demo_ips() -> set[str]:
    import re

    ips: set[str] = set()
    for batch in generate_demo_batches("8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b", 1)[:3]:
        for record in batch["records"]:
            if record["kind"] == "qoe":
                ips.update(re.findall(r"<IPAddr>([0-9.]+)</IPAddr>", record["data"]))
    return ips


def test_demo_building_file_is_valid_and_covers_all_but_one_network() -> None:
    rows = parse_building_file(DEMO_BUILDINGS)
    assert {r.building_name for r in rows} >= {"Seattle HQ", "London Office"}
    index = BuildingIndex(rows)
    ips = [ip for ip in _demo_ips() if ip.startswith("10.")]
    assert ips
    covered = {ip.split(".")[1] for ip in ips if index.lookup(ip, 32) is not None}
    uncovered = {ip.split(".")[1] for ip in ips if index.lookup(ip, 32) is None}
    assert covered >= {"10", "11", "12", "13"}
    assert uncovered == {"14"}  # the missing-subnets report has something to show
    assert all(ipaddress.ip_address(ip).is_private for ip in ips)


def test_demo_topology_is_valid_and_places_the_servers() -> None:
    topology = parse_topology(DEMO_TOPOLOGY)
    frontend = topology.resolve("frontEnd:")
    mediation = topology.resolve("mediation:")
    assert frontend is not None and frontend.site == "Seattle"
    assert frontend.pool == "pool01.contoso.local"
    assert mediation is not None and mediation.pool == "med01.contoso.local"
