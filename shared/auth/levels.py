"""Access levels from Entra directory roles (`wids`) and the API's app roles (`roles`).

The tables are docs/reference/roles.md verbatim. A principal holding several roles gets the widest
level for what it may see; `ingest` is separate (an app identity that only posts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Level = Literal["admin", "engineer", "specialist", "reader", "ingest"]

# Widest first: the first one a principal holds is its level.
LEVEL_ORDER: tuple[Level, ...] = ("admin", "engineer", "specialist", "reader", "ingest")

WIDS_LEVELS: dict[str, Level] = {
    "62e90394-69f5-4237-9190-012177145e10": "admin",  # Global Administrator
    "69091246-20e8-4a56-aa4d-066075b2a7a8": "admin",  # Teams Administrator
    "baf37b3a-610e-45da-9e62-d9d1e5e8914b": "admin",  # Teams Communications Administrator
    "75941009-915a-4869-abe7-691bff18279e": "admin",  # Skype for Business Administrator
    "f70938a0-fc10-4177-9e90-2178f8765737": "engineer",  # Teams Comms Support Engineer
    "fcf91098-03e3-41a9-b5ba-6f0ec8188a12": "specialist",  # Teams Comms Support Specialist
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "reader",  # Global Reader
    "4a5d8f65-41da-4de4-8968-e035b65339cf": "reader",  # Reports Reader
}

APP_ROLE_LEVELS: dict[str, Level] = {
    "CallAnalytics.Admin": "admin",
    "CallAnalytics.Engineer": "engineer",
    "CallAnalytics.Specialist": "specialist",
    "QualityReports.Read": "reader",
    "CallData.Ingest": "ingest",
}


def levels_from_claims(wids: Iterable[str], roles: Iterable[str]) -> list[Level]:
    held = {WIDS_LEVELS[w.lower()] for w in wids if w.lower() in WIDS_LEVELS}
    held |= {APP_ROLE_LEVELS[r] for r in roles if r in APP_ROLE_LEVELS}
    return [lvl for lvl in LEVEL_ORDER if lvl in held]


# What each route family accepts. Admin may do everything below it, ingest included.
INGEST: frozenset[Level] = frozenset({"ingest", "admin"})
CALL_ANALYTICS: frozenset[Level] = frozenset({"admin", "engineer", "specialist"})
REPORTS: frozenset[Level] = frozenset({"admin", "engineer", "specialist", "reader"})
ADMIN: frozenset[Level] = frozenset({"admin"})
# Finding a call by a source's own id (Graph, SIP, conference URI) works on the Debug
# side of call detail: engineer and admin only (docs/reference/roles.md).
CALL_LOOKUP: frozenset[Level] = frozenset({"admin", "engineer"})
