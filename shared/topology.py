"""The tenant's on-prem Skype for Business topology: sites, pools, gateways.

Why: a QoE report says *that* a stream was poor; the topology says *where* the server
side of it lives (which site, which pool), which is what makes the data actionable for
an on-prem admin ("the Dublin mediation pool drops calls", not "some server does").

Three parts, kept apart on purpose:

1. `server_signature(endpoint)`: a pure function of one call endpoint, computed from the
   call alone (never from the topology): `{role}:{fqdn}` for an endpoint that is a server
   (role from the user agent, e.g. `MediationServer` -> `mediation`; FQDN from the
   contact URI's user part, the user agent, or the machine name), None for a client.
   The aggregates store this signature (shared/aggregates/contribution.py), so they stay
   a pure function of the stored calls (exact under re-processing, and a brute-force
   recount needs no topology) and a topology upload re-labels past days too, exactly
   like the building file does for subnets.
2. `Topology.resolve(signature)`: at read time (reports, call detail), the signature is
   matched to a pool: by FQDN first (pool FQDN, member server FQDN or gateway FQDN);
   failing that, by role when the topology has exactly one pool holding that role.
   The role fallback exists because SfB servers rarely put their FQDN where the call
   records we keep can see it (a mediation server's QoE report carries it only in the
   contact URI's opaque part, and its user agent is the generic
   `RTCC/7.0.0.0 MediationServer/...`); an ambiguous role (two mediation pools) is
   left unmatched rather than guessed.
3. Storage (`shared.storage.topology`): one document (`id = "topology"`) in the tenant's
   partition of the `tenants` container, next to the building file; a topology is small
   (hundreds of pools at most), so one point read per report, and the parsed index is
   cached per (tenant, version). The upload is validated by
   `shared.topology_validation.parse_topology`.

This module is pure: the model and the rules, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.models.call import Endpoint

ROLES = ("frontEnd", "edge", "mediation")

# A DNS name of at least two labels whose last label is alphabetic: "fe01.contoso.local"
# matches, a version number ("7.0.2046.0") or an IP address does not.
_FQDN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]")

# User-agent tokens of SfB server roles (lower case, substring match), most specific
# first. RTCC ("Real-Time Collaboration Core") alone marks some Microsoft server
# component whose role the agent does not say.
_UA_ROLES: tuple[tuple[str, str], ...] = (
    ("mediationserver", "mediation"),
    ("mediarelay", "edge"),
    ("mras", "edge"),
    ("accessedge", "edge"),
    ("avedge", "edge"),
    ("mcu", "frontEnd"),  # AVMCU, ASMCU, DataMCU: conferencing runs on front-end pools
    ("conferencingattendant", "frontEnd"),
    ("conferencingannouncement", "frontEnd"),
    ("responsegroup", "frontEnd"),
    ("callpark", "frontEnd"),
    ("rtcc/", "server"),
)


def is_fqdn(text: str | None) -> bool:
    return bool(text) and bool(_FQDN_RE.match(str(text).lower()))


def _role_of_agent(agent: str | None) -> str | None:
    lower = (agent or "").lower()
    for token, role in _UA_ROLES:
        if token in lower:
            return role
    return None


def _fqdn_in(text: str | None) -> str | None:
    """The first FQDN-looking token of a user agent or machine name, lower case."""
    for token in _TOKEN_RE.findall(text or ""):
        if is_fqdn(token):
            return token.lower()
    return None


def _uri_user_fqdn(uri: str | None) -> str | None:
    """`sip:fe01.contoso.local@contoso.local;gruu;...` -> `fe01.contoso.local`: a server's
    contact URI has its FQDN as the user part. A user's URI may look alike
    (`sip:first.middle.name@...`), which is why this alone never makes an endpoint a
    server (see `server_signature`)."""
    if not uri or not uri.lower().startswith("sip:"):
        return None
    user = uri[4:].split(";", 1)[0].split("@", 1)[0]
    return user.lower() if is_fqdn(user) and user.count(".") >= 2 else None


def server_signature(ep: Endpoint) -> str | None:
    """`{role}:{fqdn}` (fqdn may be empty) if the endpoint is an on-prem server, else None.

    A pure function of the endpoint, so it can go into the aggregates. An endpoint is a
    server when its user agent names an SfB server role or carries an FQDN. Its kind
    alone (`server`: a focus/MCU URI) is not enough on purpose: Teams' cloud
    conferencing servers have that kind too and belong to no on-prem pool."""
    role = _role_of_agent(ep.user_agent)
    if role is None:
        if not _fqdn_in(ep.user_agent):
            return None
        role = "server"
    fqdn = (
        _uri_user_fqdn(ep.uri)
        or _fqdn_in(ep.user_agent)
        or (_fqdn_in(ep.machine_name) if ep.machine_name and "." in ep.machine_name else None)
    )
    return f"{role}:{fqdn or ''}"


def split_signature(signature: str) -> tuple[str, str]:
    role, _, fqdn = signature.partition(":")
    return role, fqdn


# ------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Pool:
    fqdn: str
    roles: tuple[str, ...]
    site: str
    servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gateway:
    fqdn: str
    site: str
    mediation_pool: str | None = None


@dataclass(frozen=True)
class Placement:
    """Where a server endpoint lives, and how we know."""

    site: str
    pool: str
    role: str
    matched_by: str  # "fqdn" | "role"
    gateway: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "site": self.site,
            "pool": self.pool,
            "serverRole": self.role,
            "matchedBy": self.matched_by,
        }
        if self.gateway:
            out["gateway"] = self.gateway
        return out


class Topology:
    """A validated topology with the lookups the readers need."""

    def __init__(
        self, sites: list[dict[str, Any]], pools: list[Pool], gateways: list[Gateway]
    ) -> None:
        self.sites = sites
        self.pools = pools
        self.gateways = gateways
        self._by_fqdn: dict[str, Placement] = {}
        for pool in pools:
            role = pool.roles[0]
            for name in (pool.fqdn, *pool.servers):
                self._by_fqdn[name] = Placement(pool.site, pool.fqdn, role, "fqdn")
        for gw in gateways:
            self._by_fqdn.setdefault(
                gw.fqdn,
                Placement(gw.site, gw.mediation_pool or gw.fqdn, "gateway", "fqdn", gw.fqdn),
            )
        by_role: dict[str, list[Pool]] = {}
        for pool in pools:
            for role in pool.roles:
                by_role.setdefault(role, []).append(pool)
        self._only: dict[str, Placement] = {
            role: Placement(ps[0].site, ps[0].fqdn, role, "role")
            for role, ps in by_role.items()
            if len(ps) == 1
        }
        self._cache: dict[str, Placement | None] = {}

    def resolve(self, signature: str | None) -> Placement | None:
        """FQDN match first, then the unique pool of the role (see the module docstring)."""
        if not signature:
            return None
        if signature in self._cache:
            return self._cache[signature]
        role, fqdn = split_signature(signature)
        found = self._by_fqdn.get(fqdn) if fqdn else None
        if found is not None and found.role != role and role in ROLES:
            found = Placement(found.site, found.pool, role, "fqdn", found.gateway)
        if found is None:
            found = self._only.get(role)
        self._cache[signature] = found
        return found

    def resolve_endpoint(self, ep: Endpoint) -> tuple[str | None, Placement | None]:
        signature = server_signature(ep)
        return signature, self.resolve(signature)

    def as_json(self) -> dict[str, Any]:
        return {
            "sites": self.sites,
            "pools": [
                {
                    "fqdn": p.fqdn,
                    "role": list(p.roles),
                    "site": p.site,
                    **({"servers": list(p.servers)} if p.servers else {}),
                }
                for p in self.pools
            ],
            "gateways": [
                {
                    "fqdn": g.fqdn,
                    "site": g.site,
                    **({"mediationPool": g.mediation_pool} if g.mediation_pool else {}),
                }
                for g in self.gateways
            ],
        }

    def summary(self) -> dict[str, int]:
        return {"sites": len(self.sites), "pools": len(self.pools), "gateways": len(self.gateways)}


EMPTY_TOPOLOGY = Topology([], [], [])
