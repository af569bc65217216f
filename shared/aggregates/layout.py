"""How the aggregate counts are laid out in documents: one day document per UTC day and
subnet, plus one document per *facet* for the dimensions few reports ask for.

Why facets: the CQD dimensions crossed in one cell key (hour x client version x
product x transport x ...) made the day documents thirteen times larger at 1,000,000
streams, and every report paid for reading them, even one grouped by building only. So
each count is written to several documents of the same day and subnet, each holding the
same counts under a different, narrow cell key:

- the day document (`kind` `agg`, key `{day}|{subnet}|{prefix}`): cells
  `{media}|{conn}|{inside}|{vpn}[|{server}]`, and the poor-users map. It answers every
  report over days, places, media, connection, Inside, VPN, site and pool (the
  out-of-the-box reports most used), at the size it had before the dimensions.
- `client` (`aggClient`): media x product x client type x client version.
- `network` (`aggNetwork`): media x connection x VPN x transport x relay x Wi-Fi band.
- `hour` (`aggHour`): media x UTC hour of the stream's end.

A report reads the documents of one facet only (the smallest that holds every
dimension it groups or filters by), so it still reads at most days x subnets documents;
a combination no facet holds (client version by hour) is refused, not answered from a
cross product nobody stores. Summed over its cells, every document of a day and subnet
gives the same totals: a facet is a regrouping, never a sample.

Facet cells are `name=value` parts (`m=audio|p=teams|ct=desktop|cv=16.0.1`), so a cell
names its own dimensions and a part added later reads as absent in older documents.
Partitions: the day documents of a month share `{tenantId}|{yyyy-mm}`; each facet's
documents of the month have their own, `{tenantId}|{yyyy-mm}|{facet}`. A report's
query then reads a partition holding only the kind it wants: a query's cost grows with
the items of its partition (on Cosmos DB as on the local server, whose query engine the
launcher keeps linear), so a shared partition would make every report pay for all four
kinds. A writer batches per partition, so a day and subnet is up to four batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAIN = ""


@dataclass(frozen=True)
class Facet:
    name: str  # "" for the day document
    kind: str  # the document's `kind`
    parts: tuple[str, ...]  # the cell parts, in key order (facets only)
    dimensions: frozenset[str]  # the report dimensions its cells answer


# Report dimensions decided per document (day, subnet and the building file): every
# facet answers them.
DOCUMENT_DIMENSIONS = frozenset(
    ("day", "week", "month", "building", "networkName", "city", "region", "subnet", "insideCorp")
)

DAY = Facet(
    MAIN,
    "agg",
    (),
    frozenset(("mediaType", "connectionType", "vpn", "site", "pool")),
)
CLIENT = Facet(
    "client",
    "aggClient",
    ("m", "p", "ct", "cv"),
    frozenset(
        ("mediaType", "product", "isTeams", "clientType", "userAgentCategory", "clientVersion")
    ),
)
NETWORK = Facet(
    "network",
    "aggNetwork",
    ("m", "c", "v", "tr", "rl", "wb"),
    frozenset(("mediaType", "connectionType", "vpn", "transport", "relay", "wifiBand")),
)
HOUR = Facet("hour", "aggHour", ("m", "h"), frozenset(("mediaType", "hour")))
FACETS: tuple[Facet, ...] = (DAY, CLIENT, NETWORK, HOUR)
BY_NAME: dict[str, Facet] = {f.name: f for f in FACETS}


def doc_key(day: str, subnet: str, prefix: int | None, facet: str = MAIN) -> str:
    key = f"{day}|{subnet}|{'' if prefix is None else prefix}"
    return key if facet == MAIN else f"{key}|{facet}"


def split_doc_key(key: str) -> tuple[str, str, int | None]:
    """(day, subnet, prefix) of any document key, the day document's or a facet's."""
    day, subnet, prefix = key.split("|")[:3]
    return day, subnet, int(prefix) if prefix else None


def facet_of(key: str) -> Facet:
    parts = key.split("|")
    return BY_NAME[parts[3]] if len(parts) > 3 else DAY


def partition_key(tenant_id: str, key: str) -> str:
    """The partition of the document with key `key` (see the module docstring)."""
    return month_partition(tenant_id, split_doc_key(key)[0][:7], facet_of(key))


def month_partition(tenant_id: str, month: str, facet: Facet) -> str:
    """The partition of `facet`'s documents of `month` (YYYY-MM)."""
    base = f"{tenant_id}|{month}"
    return base if facet is DAY else f"{base}|{facet.name}"


def facet_cell(facet: Facet, values: Mapping[str, str]) -> str:
    """A facet's cell key from the stream's part values (`values` holds every part)."""
    return "|".join(f"{p}={values[p]}" for p in facet.parts)


def parse_facet_cell(cell: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in cell.split("|") if "=" in part)


def new_document(tenant_id: str, key: str, doc_id: str, pk: str) -> dict[str, Any]:
    """The empty document a first count creates: the day document carries the
    poor-users map, a facet document only cells."""
    day, subnet, prefix = split_doc_key(key)
    facet = facet_of(key)
    doc: dict[str, Any] = {
        "id": doc_id,
        "pk": pk,
        "tenantId": tenant_id,
        "kind": facet.kind,
        "day": day,
        "subnet": subnet,
        "prefix": prefix,
        "cells": {},
        "ops": [],
        "evictedAt": 0,
    }
    if facet is DAY:
        doc["poorUsers"] = {}
    else:
        doc["facet"] = facet.name
    return doc


def facet_for(dimensions: set[str] | frozenset[str]) -> Facet | None:
    """The facet whose documents answer every one of `dimensions` (report dimension
    names), the day document first; None when no facet holds them together."""
    cell_level = set(dimensions) - DOCUMENT_DIMENSIONS
    for facet in FACETS:
        if cell_level <= facet.dimensions:
            return facet
    return None
