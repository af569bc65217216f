"""Validation of an uploaded topology (JSON): every offending field named by its JSON
path, all errors of one upload reported at once (up to `MAX_ERRORS`), so an admin fixes
the file in one go. Pure: takes the parsed JSON, returns a `Topology` or raises
`Invalid`."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import FieldError, Invalid
from shared.topology import ROLES, Gateway, Pool, Topology, is_fqdn

MAX_SITES = 1_000
MAX_POOLS = 5_000
MAX_GATEWAYS = 5_000
MAX_SERVERS = 100  # member servers per pool
MAX_ERRORS = 100
MAX_NAME = 128


Role = Literal["frontEnd", "edge", "mediation"]
assert get_args(Role) == ROLES  # the document and the validation accept the same roles


class TopologySite(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str = Field(max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_NAME)
    city: str | None = Field(default=None, max_length=MAX_NAME)
    country: str | None = Field(default=None, max_length=MAX_NAME)


class TopologyPool(BaseModel):
    model_config = ConfigDict(defer_build=True)

    fqdn: str
    role: Role | list[Role]
    site: str
    servers: list[str] | None = Field(
        default=None, max_length=MAX_SERVERS, description="member server FQDNs"
    )


class TopologyGateway(BaseModel):
    model_config = ConfigDict(defer_build=True)

    fqdn: str
    site: str
    mediationPool: str | None = None


class TopologyBody(BaseModel):
    """The upload, as documented; `parse_topology` is what checks it (every offending
    JSON path in one answer). Sessions whose endpoint is one of these servers (by FQDN,
    or by role when only one pool has it) carry its site and pool in reports and call
    detail."""

    model_config = ConfigDict(defer_build=True)

    sites: list[TopologySite] = Field(max_length=MAX_SITES)
    pools: list[TopologyPool] = Field(default_factory=list, max_length=MAX_POOLS)
    gateways: list[TopologyGateway] = Field(default_factory=list, max_length=MAX_GATEWAYS)


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


class _TopologyParser:
    """One upload's validation state: the errors so far, the site names declared and the
    server FQDNs claimed (an FQDN may be declared once, as a pool, a server or a
    gateway). Sites first, then pools, then gateways: each may refer to the earlier."""

    def __init__(self) -> None:
        self.errors = _Errors()
        self.names: dict[str, str] = {}  # lower-case site name -> as declared
        self.seen: dict[str, str] = {}  # claimed FQDN -> where it was declared
        self.mediation: set[str] = set()

    def site_ref(self, value: Any, where: str) -> str | None:
        name = _text(value, where, self.errors)
        if name is None:
            return None
        if name.lower() not in self.names:
            self.errors.add(where, f"no site named {name!r} in sites")
            return None
        return self.names[name.lower()]

    def claim(self, fqdn: str, where: str) -> bool:
        if fqdn in self.seen:
            self.errors.add(where, f"{fqdn} is already declared at {self.seen[fqdn]}")
            return False
        self.seen[fqdn] = where
        return True

    def sites(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        errors = self.errors
        sites: list[dict[str, Any]] = []
        raw_sites = _list(body, "sites", MAX_SITES, errors)
        for i, raw in enumerate(raw_sites):
            where = f"sites[{i}]"
            item = _object(raw, where, {"name", "description", "city", "country"}, errors)
            name = _text(item.get("name"), f"{where}.name", errors) if item else None
            if name is None:
                continue
            if name.lower() in self.names:
                errors.add(f"{where}.name", f"duplicate site {name!r}")
                continue
            self.names[name.lower()] = name
            site = {"name": name}
            for extra in ("description", "city", "country"):
                v = _text(item.get(extra), f"{where}.{extra}", errors, required=False)
                if v is not None:
                    site[extra] = v
            sites.append(site)
        if not raw_sites and isinstance(body.get("sites", []), list):
            errors.add("sites", "at least one site is required")
        return sites

    def roles(self, role_raw: Any, where: str) -> list[str]:
        role_list = role_raw if isinstance(role_raw, list) else [role_raw]
        roles: list[str] = []
        if role_raw is None or not role_list:
            self.errors.add(f"{where}.role", f"is required (one of {', '.join(ROLES)}, or a list)")
        for j, r in enumerate(role_list):
            at = f"{where}.role" if not isinstance(role_raw, list) else f"{where}.role[{j}]"
            if r is None:
                continue
            if r not in ROLES:
                self.errors.add(at, f"must be one of {', '.join(ROLES)}, got {str(r)[:40]!r}")
            elif r not in roles:
                roles.append(r)
        return roles

    def servers(self, raw_servers: Any, where: str) -> list[str]:
        servers: list[str] = []
        if not isinstance(raw_servers, list) or len(raw_servers) > MAX_SERVERS:
            self.errors.add(f"{where}.servers", f"must be an array of at most {MAX_SERVERS} FQDNs")
            raw_servers = []
        for j, s in enumerate(raw_servers):
            name = _fqdn(s, f"{where}.servers[{j}]", self.errors)
            if name and self.claim(name, f"{where}.servers[{j}]"):
                servers.append(name)
        return servers

    def pools(self, body: dict[str, Any]) -> list[Pool]:
        pools: list[Pool] = []
        for i, raw in enumerate(_list(body, "pools", MAX_POOLS, self.errors)):
            where = f"pools[{i}]"
            item = _object(raw, where, {"fqdn", "role", "site", "servers"}, self.errors)
            if not item:
                continue
            fqdn = _fqdn(item.get("fqdn"), f"{where}.fqdn", self.errors)
            site = self.site_ref(item.get("site"), f"{where}.site")
            roles = self.roles(item.get("role"), where)
            servers = self.servers(item.get("servers", []), where)
            if fqdn and not self.claim(fqdn, f"{where}.fqdn"):
                continue
            if fqdn and "mediation" in roles:
                self.mediation.add(fqdn)  # even if the pool has other errors: no cascade
            if fqdn and site and roles:
                pools.append(Pool(fqdn, tuple(roles), site, tuple(servers)))
        return pools

    def gateways(self, body: dict[str, Any]) -> list[Gateway]:
        errors = self.errors
        gateways: list[Gateway] = []
        for i, raw in enumerate(_list(body, "gateways", MAX_GATEWAYS, errors)):
            where = f"gateways[{i}]"
            item = _object(raw, where, {"fqdn", "site", "mediationPool"}, errors)
            if not item:
                continue
            fqdn = _fqdn(item.get("fqdn"), f"{where}.fqdn", errors)
            site = self.site_ref(item.get("site"), f"{where}.site")
            pool = None
            if item.get("mediationPool") is not None:
                pool = _fqdn(item.get("mediationPool"), f"{where}.mediationPool", errors)
                if pool and pool not in self.mediation:
                    errors.add(
                        f"{where}.mediationPool", f"{pool} is not a pool with the mediation role"
                    )
                    pool = None
            if fqdn and not self.claim(fqdn, f"{where}.fqdn"):
                continue
            if fqdn and site:
                gateways.append(Gateway(fqdn, site, pool))
        return gateways


def parse_topology(body: Any) -> Topology:
    """Validate the uploaded JSON; one `Invalid` naming every offending field (JSON paths)."""
    if not isinstance(body, dict):
        raise Invalid("the topology must be a JSON object", field="$")
    parser = _TopologyParser()
    for key in sorted(set(body) - {"sites", "pools", "gateways"}):
        parser.errors.add(key, "unknown field (allowed: gateways, pools, sites)")
    sites = parser.sites(body)
    pools = parser.pools(body)
    gateways = parser.gateways(body)
    errors = parser.errors
    if errors.items:
        raise Invalid(
            f"the topology is invalid ({len(errors.items)} error(s) shown)",
            field=errors.items[0].field,
            errors=errors.items,
        )
    return Topology(sites, pools, gateways)
