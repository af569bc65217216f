"""Where each endpoint of a call is: building, network, city, inside/outside, and for
on-prem servers their site and pool.

Why at read time: the building file and the topology change (a new file re-labels the
past), and the call documents are immutable folds of their records; so call detail
resolves places when it is read, with the same rules as the reports, and a helpdesk
engineer sees the same building for a call as the "Quality by building" report counts
it under. Cost: the building index and the topology are parsed once per version, and
the pair is kept per tenant for `CONTEXT_TTL_S` seconds, so a helpdesk engineer paging
through calls pays the call's one point read; the first detail after that window adds
two point reads (building pointer, topology), run in parallel with the call read. The
price: a new building file or topology reaches call detail up to `CONTEXT_TTL_S` late
(reports read both on every run).

Visibility: `place` is classified "advanced" in shared/analytics/visibility.py, so a
specialist never sees it, exactly like the IP addresses it is derived from.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.aggregates.contribution import UNKNOWN_SUBNET, subnet_of
from shared.buildings import BuildingIndex
from shared.models.call import Endpoint
from shared.storage.buildings import load_building_index
from shared.storage.clients import Clients
from shared.storage.topology import load_topology
from shared.topology import Topology, server_signature

CONTEXT_TTL_S = 30.0
PlaceContext = tuple[BuildingIndex | None, Topology | None]
_context: dict[str, tuple[float, PlaceContext]] = {}


async def load_place_context(clients: Clients, tenant_id: str) -> PlaceContext:
    """The tenant's active building index and topology (see the module docstring)."""
    now = time.monotonic()
    hit = _context.get(tenant_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    index, topology = await asyncio.gather(
        load_building_index(clients, tenant_id), load_topology(clients, tenant_id)
    )
    _context[tenant_id] = (now + CONTEXT_TTL_S, (index, topology))
    return index, topology


def endpoint_place(
    ep: Endpoint, index: BuildingIndex | None, topology: Topology | None
) -> dict[str, Any]:
    """The endpoint's place. Building lookup uses the endpoint's network address, as the
    aggregates do; inside/outside follows the reports and CQD: the building file's
    InsideCorp decides, and a subnet no row covers (every subnet, with no file) is
    Outside (docs/reference/buildings.md)."""
    subnet, _ = subnet_of(ep)
    row = index.lookup(subnet) if index is not None and subnet != UNKNOWN_SUBNET else None
    inside = bool(row and row.inside_corp)
    place: dict[str, Any] = {
        "building": row.building_name if row else None,
        "networkName": row.network_name if row else None,
        "city": (row.city or None) if row else None,
        "insideCorp": inside,
    }
    signature = server_signature(ep)
    if signature is not None:
        placed = topology.resolve(signature) if topology is not None else None
        place["site"] = placed.site if placed else None
        place["pool"] = placed.pool if placed else None
        place["serverRole"] = placed.role if placed else signature.split(":", 1)[0]
        if placed is not None:
            place["matchedBy"] = placed.matched_by
            if placed.gateway:
                place["gateway"] = placed.gateway
    return place


def add_places(
    detail: dict[str, Any],
    sessions: list[Any],
    index: BuildingIndex | None,
    topology: Topology | None,
) -> dict[str, Any]:
    """Put `place` on each session's caller and callee of the (unprojected) detail dict.
    `sessions` are the view's Session models, in the same order as detail["sessions"]."""
    for out, session in zip(detail.get("sessions") or [], sessions, strict=False):
        for role in ("caller", "callee"):
            if isinstance(out.get(role), dict):
                out[role]["place"] = endpoint_place(getattr(session, role), index, topology)
    return detail
