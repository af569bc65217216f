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
3. Storage: one document (`id = "topology"`, `type = "topology"`) in the tenant's
   partition of the `tenants` container, next to the building file; a topology is small
   (hundreds of pools at most), so one point read per report, and the parsed index is
   cached per (tenant, version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.models.call import Endpoint
from shared.problems import FieldError, Problem
from shared.storage import layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries

ROLES = ("frontEnd", "edge", "mediation")
TOPOLOGY_ID = "topology"
TOPOLOGY_TYPE = "topology"
MAX_SITES = 1_000
MAX_POOLS = 5_000
MAX_GATEWAYS = 5_000
MAX_SERVERS = 100  # member servers per pool
MAX_ERRORS = 100
MAX_NAME = 128

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


# ---------------------------------------------------------------------- validation


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, where: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(FieldError(where, message))


def _text(value: Any, where: str, errors: _Errors, *, required: bool = True) -> str | None:
    if value is None:
        if required:
            errors.add(where, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(where, "must be a non-empty string")
        return None
    if len(value) > MAX_NAME:
        errors.add(where, f"must be at most {MAX_NAME} characters")
        return None
    return value.strip()


def _fqdn(value: Any, where: str, errors: _Errors) -> str | None:
    text = _text(value, where, errors)
    if text is None:
        return None
    if not is_fqdn(text):
        errors.add(where, f"not a fully qualified domain name: {text[:80]!r}")
        return None
    return text.lower()


def _list(body: dict[str, Any], name: str, limit: int, errors: _Errors) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        errors.add(name, "must be an array")
        return []
    if len(value) > limit:
        errors.add(name, f"at most {limit} entries")
        return []
    return value


def _object(value: Any, where: str, allowed: set[str], errors: _Errors) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.add(where, "must be an object")
        return {}
    for key in sorted(set(value) - allowed):
        errors.add(f"{where}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return value


def parse_topology(body: Any) -> Topology:
    """Validate the uploaded JSON; one 400 naming every offending field (JSON paths)."""
    errors = _Errors()
    if not isinstance(body, dict):
        raise Problem(400, "the topology must be a JSON object", field="$")
    for key in sorted(set(body) - {"sites", "pools", "gateways"}):
        errors.add(key, "unknown field (allowed: gateways, pools, sites)")
    sites: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    raw_sites = _list(body, "sites", MAX_SITES, errors)
    for i, raw in enumerate(raw_sites):
        where = f"sites[{i}]"
        item = _object(raw, where, {"name", "description", "city", "country"}, errors)
        name = _text(item.get("name"), f"{where}.name", errors) if item else None
        if name is None:
            continue
        if name.lower() in names:
            errors.add(f"{where}.name", f"duplicate site {name!r}")
            continue
        names[name.lower()] = name
        site = {"name": name}
        for extra in ("description", "city", "country"):
            v = _text(item.get(extra), f"{where}.{extra}", errors, required=False)
            if v is not None:
                site[extra] = v
        sites.append(site)
    if not raw_sites and isinstance(body.get("sites", []), list):
        errors.add("sites", "at least one site is required")

    def site_ref(value: Any, where: str) -> str | None:
        name = _text(value, where, errors)
        if name is None:
            return None
        if name.lower() not in names:
            errors.add(where, f"no site named {name!r} in sites")
            return None
        return names[name.lower()]

    seen: dict[str, str] = {}

    def claim(fqdn: str, where: str) -> bool:
        if fqdn in seen:
            errors.add(where, f"{fqdn} is already declared at {seen[fqdn]}")
            return False
        seen[fqdn] = where
        return True

    pools: list[Pool] = []
    mediation: set[str] = set()
    for i, raw in enumerate(_list(body, "pools", MAX_POOLS, errors)):
        where = f"pools[{i}]"
        item = _object(raw, where, {"fqdn", "role", "site", "servers"}, errors)
        if not item:
            continue
        fqdn = _fqdn(item.get("fqdn"), f"{where}.fqdn", errors)
        site = site_ref(item.get("site"), f"{where}.site")
        role_raw = item.get("role")
        role_list = role_raw if isinstance(role_raw, list) else [role_raw]
        roles: list[str] = []
        if role_raw is None or not role_list:
            errors.add(f"{where}.role", f"is required (one of {', '.join(ROLES)}, or a list)")
        for j, r in enumerate(role_list):
            at = f"{where}.role" if not isinstance(role_raw, list) else f"{where}.role[{j}]"
            if r is None:
                continue
            if r not in ROLES:
                errors.add(at, f"must be one of {', '.join(ROLES)}, got {str(r)[:40]!r}")
            elif r not in roles:
                roles.append(r)
        servers: list[str] = []
        raw_servers = item.get("servers", [])
        if not isinstance(raw_servers, list) or len(raw_servers) > MAX_SERVERS:
            errors.add(f"{where}.servers", f"must be an array of at most {MAX_SERVERS} FQDNs")
            raw_servers = []
        for j, s in enumerate(raw_servers):
            name = _fqdn(s, f"{where}.servers[{j}]", errors)
            if name and claim(name, f"{where}.servers[{j}]"):
                servers.append(name)
        if fqdn and not claim(fqdn, f"{where}.fqdn"):
            continue
        if fqdn and "mediation" in roles:
            mediation.add(fqdn)  # even if the pool has other errors: no cascading error
        if fqdn and site and roles:
            pools.append(Pool(fqdn, tuple(roles), site, tuple(servers)))
    gateways: list[Gateway] = []
    for i, raw in enumerate(_list(body, "gateways", MAX_GATEWAYS, errors)):
        where = f"gateways[{i}]"
        item = _object(raw, where, {"fqdn", "site", "mediationPool"}, errors)
        if not item:
            continue
        fqdn = _fqdn(item.get("fqdn"), f"{where}.fqdn", errors)
        site = site_ref(item.get("site"), f"{where}.site")
        pool = None
        if item.get("mediationPool") is not None:
            pool = _fqdn(item.get("mediationPool"), f"{where}.mediationPool", errors)
            if pool and pool not in mediation:
                errors.add(
                    f"{where}.mediationPool", f"{pool} is not a pool with the mediation role"
                )
                pool = None
        if fqdn and not claim(fqdn, f"{where}.fqdn"):
            continue
        if fqdn and site:
            gateways.append(Gateway(fqdn, site, pool))
    if errors.items:
        raise Problem(
            400,
            f"the topology is invalid ({len(errors.items)} error(s) shown)",
            field=errors.items[0].field,
            errors=errors.items,
        )
    return Topology(sites, pools, gateways)


# ------------------------------------------------------------------------- storage

# Keyed by (tenant, document etag): a concurrent upload elsewhere changes the etag even
# if two writers computed the same `version`, so a stale parse is never served.
_cache: dict[tuple[str, str], Topology] = {}


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


async def _read(clients: Clients, tenant_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.TENANTS), TOPOLOGY_ID, tenant_id, what="read topology"
    )


def topology_summary(doc: dict[str, Any] | None) -> dict[str, Any]:
    if not doc:
        return {
            "active": False,
            "version": 0,
            "sites": 0,
            "pools": 0,
            "gateways": 0,
            "uploadedAt": None,
            "uploadedBy": None,
        }
    t = doc["topology"]
    return {
        "active": True,
        "version": doc["version"],
        "sites": len(t["sites"]),
        "pools": len(t["pools"]),
        "gateways": len(t["gateways"]),
        "uploadedAt": doc.get("uploadedAt"),
        "uploadedBy": doc.get("uploadedBy"),
    }


async def save_topology(
    clients: Clients, tenant_id: str, topology: Topology, uploaded_by: str | None
) -> dict[str, Any]:
    """Replace the tenant's topology (one upsert: readers see the old or the new one)."""
    old = await _read(clients, tenant_id)
    version = int(old.get("version") or 0) + 1 if old else 1
    doc = {
        "id": TOPOLOGY_ID,
        "tenantId": tenant_id,
        "type": TOPOLOGY_TYPE,
        "version": version,
        "topology": topology.as_json(),
        "uploadedAt": _utcnow(),
        "uploadedBy": uploaded_by,
    }
    written = await with_retries(
        lambda: clients.container(layout.TENANTS).upsert_item(doc), what="write topology"
    )
    for key in [k for k in _cache if k[0] == tenant_id]:
        del _cache[key]
    etag = written.get("_etag") if isinstance(written, dict) else None
    if etag:
        _cache[(tenant_id, str(etag))] = topology
    return topology_summary(doc)


async def read_topology(clients: Clients, tenant_id: str) -> dict[str, Any]:
    """The active topology as uploaded (normalised), with its summary."""
    doc = await _read(clients, tenant_id)
    return {**topology_summary(doc), "topology": doc["topology"] if doc else None}


async def load_topology(clients: Clients, tenant_id: str) -> Topology | None:
    """The tenant's active topology (cached per version); None when none was uploaded."""
    doc = await _read(clients, tenant_id)
    if not doc:
        return None
    key = (tenant_id, str(doc.get("_etag") or doc.get("version")))
    cached = _cache.get(key)
    if cached is None:
        cached = parse_topology(doc["topology"])
        for old in [k for k in _cache if k[0] == tenant_id]:
            del _cache[old]
        _cache[key] = cached
    return cached
