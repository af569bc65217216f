"""The reports' vocabulary: the dimensions a summary groups and filters by, the levels
that see EUII, the drill-downs' columns.

Apart from `shared.reports.service` because the route modules declare their query
parameters from it when the Functions worker imports them, before any request; the
service (aggregate layouts, buildings, topology, storage) loads with the first report.
"""

from __future__ import annotations

from shared.auth.levels import Level

EUII_LEVELS: frozenset[Level] = frozenset({"admin", "engineer"})
# Dimensions added with the CQD fidelity work (docs/reference/cqd-dimensions.md); cells
# written before them read as "unknown" for these.
CQD_DIMENSIONS = (
    "product",
    "isTeams",
    "clientType",
    "userAgentCategory",
    "clientVersion",
    "transport",
    "relay",
    "wifiBand",
    "hour",
)
# site and pool: the on-prem server of the session, from the topology.
GROUP_BY = (
    "day",
    "week",
    "month",
    "building",
    "networkName",
    "city",
    "region",
    "subnet",
    "connectionType",
    "mediaType",
    "insideCorp",
    "vpn",
    "site",
    "pool",
    *CQD_DIMENSIONS,
)
FILTERS = (
    "mediaType",
    "connectionType",
    "insideCorp",
    "vpn",
    "building",
    "networkName",
    "city",
    "region",
    "subnet",
    "site",
    "pool",
    *CQD_DIMENSIONS,
)
BOOL_DIMENSIONS = ("insideCorp", "vpn", "isTeams", "relay")
# the drill-downs' columns, for the header row of an empty CSV
POOR_USER_COLUMNS = ("user", "poorStreams", "days", "subnets")
MISSING_SUBNET_COLUMNS = ("subnet", "audioStreams")
