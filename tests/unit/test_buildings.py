"""The building file: parsing, row/column errors, overlaps, lookup, and scale."""

from __future__ import annotations

import ipaddress
import random
import time

import pytest

from functions.problems import as_problem
from shared.buildings import (
    BuildingIndex,
    find_overlaps,
    parse_building_file,
    timed_parse_and_index,
)
from shared.errors import DomainError

SAMPLE = (
    "192.168.1.0,USA/Seattle/SEATTLE-SEA-1,26,SEATTLE-SEA-1,Contoso,IT Termination,"
    "Engineering,Seattle,98001,US,WA,MSUS,1,0,0"
)


def row(
    ip: str,
    prefix: int | str,
    building: str = "B1",
    inside: str = "1",
    express: str = "0",
    vpn: str | None = "0",
    sep: str = ",",
) -> str:
    cols = [
        ip,
        f"Net-{building}",
        str(prefix),
        building,
        "",
        "",
        "",
        "City",
        "98001",
        "US",
        "WA",
        "Region",
        inside,
        express,
    ]
    if vpn is not None:
        cols.append(vpn)
    return sep.join(cols)


def errors_of(body: str) -> list[dict[str, str]]:
    with pytest.raises(DomainError) as info:
        parse_building_file(body)
    assert as_problem(info.value).status == 400
    return [e.as_dict() for e in info.value.errors]


def test_spec_sample_row() -> None:
    [r] = parse_building_file(SAMPLE + "\n")
    assert (r.network_ip, r.prefix, r.building_name, r.network_name) == (
        "192.168.1.0",
        26,
        "SEATTLE-SEA-1",
        "USA/Seattle/SEATTLE-SEA-1",
    )
    assert (r.city, r.zip_code, r.country, r.state, r.region) == (
        "Seattle",
        "98001",
        "US",
        "WA",
        "MSUS",
    )
    assert (r.inside_corp, r.express_route, r.vpn, r.row) == (True, False, False, 1)


def test_tsv_and_14_columns_default_vpn_to_0() -> None:
    body = "\n".join(
        [row("10.0.0.0", 24, vpn=None, sep="\t"), row("10.0.1.0", 24, vpn="1", sep="\t")]
    )
    rows = parse_building_file(body.encode("utf-8-sig"))
    assert [r.vpn for r in rows] == [False, True]


def test_bad_prefixes_name_row_and_column() -> None:
    body = "\n".join(
        [
            row("10.0.0.0", 24),
            row("10.1.0.0", 7),
            row("10.2.0.0", 29),
            row("10.3.0.0", 33),
            row("10.4.0.0", "x"),
        ]
    )
    errs = errors_of(body)
    assert [e["field"] for e in errs] == [f"row {n}, column 3 (NetworkRange)" for n in (2, 3, 4, 5)]
    assert "8-28" in errs[0]["message"] and "7" in errs[0]["message"]


def test_bad_booleans_addresses_and_required_fields() -> None:
    body = "\n".join(
        [
            row("10.0.0.0", 24, inside="yes"),
            row("10.0.1.0", 24, express="2"),
            row("10.0.2.0", 24, vpn="true"),
            row("10.0.3.999", 24),
            row("10.0.4.5", 24),  # host bits set
            row("10.0.5.0", 24, building=""),
            "10.0.6.0,only,three",
        ]
    )
    fields = [e["field"] for e in errors_of(body)]
    assert fields == [
        "row 1, column 13 (InsideCorp)",
        "row 2, column 14 (ExpressRoute)",
        "row 3, column 15 (VPN)",
        "row 4, column 1 (NetworkIP)",
        "row 5, column 1 (NetworkIP)",
        "row 6, column 4 (BuildingName)",
        "row 7",
    ]


def test_overlaps_name_both_rows() -> None:
    body = "\n".join(
        [
            row("10.0.0.0", 16, "Campus"),
            row("10.1.0.0", 24),
            row("10.0.5.0", 24, "Annex"),
            row("10.1.0.0", 24, "Dup"),
        ]
    )
    errs = errors_of(body)
    msgs = {e["field"]: e["message"] for e in errs}
    assert "10.0.5.0/24 overlaps 10.0.0.0/16 (row 1)" in msgs["row 3, column 1 (NetworkIP)"]
    assert "(row 2)" in msgs["row 4, column 1 (NetworkIP)"]
    assert len(errs) == 2


def test_longest_containing_prefix() -> None:
    rows = parse_building_file(
        "\n".join(
            [
                row("10.0.0.0", 16, "Campus"),
                row("10.1.2.0", 26, "Small"),
                row("10.1.2.64", 26, "Next"),
            ]
        )
    )
    idx = BuildingIndex(rows)
    assert idx.lookup("10.0.200.7").building_name == "Campus"
    assert idx.lookup("10.1.2.0").building_name == "Small"
    assert idx.lookup("10.1.2.70").building_name == "Next"
    assert idx.lookup("10.1.2.128") is None and idx.lookup("2001:db8::") is None
    # Nested ranges (if overlap validation were relaxed): the longest wins.
    nested = BuildingIndex([*rows, *parse_building_file(row("10.0.9.0", 24, "Wing"))])
    assert nested.lookup("10.0.9.1").building_name == "Wing"
    assert find_overlaps(nested.rows)


def _big_file(n: int, seed: int = 1) -> tuple[str, list[ipaddress.IPv4Network]]:
    """n disjoint ranges of mixed lengths (/20 to /28) across 10.0.0.0/8 and more."""
    rng = random.Random(seed)
    lines, nets = [], []
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    for i in range(n):
        prefix = rng.choice([20, 22, 24, 24, 24, 26, 28])
        start = base + i * 4096  # each range gets its own /20 slot: disjoint by design
        net = ipaddress.IPv4Network((start, prefix))
        nets.append(net)
        lines.append(row(str(net.network_address), prefix, f"B{i // 20}", inside=str(i % 2)))
    return "\n".join(lines) + "\n", nets


@pytest.mark.slow
def test_100k_rows_parse_index_and_lookup() -> None:
    """Correctness at the size tenants upload; the times are printed, not asserted
    (timings belong to bench/, where they are ratios measured in one run)."""
    body, nets = _big_file(100_000)
    index, parse_s, index_s = timed_parse_and_index(body)
    probes = [str(n.network_address + 1) for n in random.Random(2).sample(nets, 20_000)]
    t = time.perf_counter()
    found = [index.lookup(p) for p in probes]
    lookup_s = time.perf_counter() - t
    print(
        f"\n100,000-row building file: parse {parse_s:.2f}s, index {index_s:.2f}s, "
        f"{len(probes)} lookups {lookup_s * 1000:.0f} ms "
        f"({lookup_s / len(probes) * 1e6:.1f} µs each)"
    )
    assert len(index) == 100_000 and all(found)
