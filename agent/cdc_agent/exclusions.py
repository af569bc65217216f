"""The exclusion policy: users and domains whose call data must stay on premises.

Matching mirrors the service's own check (ingest.md, "Exclusion policy") so the agent
drops exactly what the service would drop: `sip:`/`sips:`/`tel:` and URI parameters are
ignored, comparison is case-insensitive, and a domain also covers its subdomains. A
record is excluded when any user it names is excluded, including a meeting's ConfURI
(which carries the organiser's address).

QoE XML is parsed with lxml locked down (no DTD, no entity expansion, no network), since
a report is untrusted input that could otherwise read local files (XXE) or exhaust memory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

QOE_NS = "ms-rtcp-metrics"
# DialogInfo children that name a participant (qoe-xml.md). ConfURI is the organiser's.
QOE_USER_ELEMENTS = frozenset(
    {"FromURI", "ToURI", "LocalContactURI", "RemoteContactURI", "LocalPAI", "RemotePAI", "ConfURI"}
)
CDR_USER_FIELDS = ("user1Uri", "user2Uri", "conferenceUri")
_URI_RE = re.compile(r"(?:sips?|tel):[^\s<>;,?\"]+", re.IGNORECASE)


class UnsafeXml(ValueError):
    """The QoE file is not a well-formed, DTD-free VQReportEvent."""


def safe_parser() -> etree.XMLParser:
    """An lxml parser that never loads a DTD, expands an entity or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_qoe(raw: bytes) -> etree._Element:
    """Parse a QoE report safely; reject DTDs outright (no report legitimately has one)."""
    try:
        root = etree.fromstring(raw, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from None
    if root is None:
        raise UnsafeXml("empty document")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("a DOCTYPE/DTD is not allowed in a QoE report")
    qname = etree.QName(root)
    if qname.localname != "VQReportEvent" or qname.namespace != QOE_NS:
        raise UnsafeXml(
            f"root element is {{{qname.namespace}}}{qname.localname}, expected "
            f"{{{QOE_NS}}}VQReportEvent"
        )
    return root


def qoe_users(root: etree._Element) -> list[str]:
    """Every participant address in a report, matched on namespace + local name."""
    out: list[str] = []
    for el in root.iter(etree.Element):
        qname = etree.QName(el)
        if (
            qname.localname in QOE_USER_ELEMENTS
            and qname.namespace
            and qname.namespace.startswith(QOE_NS)
            and el.text
            and el.text.strip()
        ):
            out.append(el.text.strip())
    return out


def cdr_users(data: dict[str, Any]) -> list[str]:
    return [v for v in (data.get(k) for k in CDR_USER_FIELDS) if isinstance(v, str) and v]


def addresses(value: str) -> list[str]:
    """Bare lower-case addresses in a URI-ish value: `"Al" <sip:al@x.com>;tag=1` -> al@x.com.

    A value may hold several URIs (a P-Asserted-Identity with sip: and tel:) or none (a
    plain UPN); both are handled.
    """
    found = _URI_RE.findall(value)
    candidates = found or [value]
    out = []
    for c in candidates:
        c = c.strip().strip("<>\"'").lower()
        for scheme in ("sips:", "sip:", "tel:"):
            if c.startswith(scheme):
                c = c[len(scheme) :]
                break
        c = re.split(r"[;?>]", c, maxsplit=1)[0].strip()
        if c:
            out.append(c)
    return out


def _norm_entry(v: str) -> str:
    v = v.strip().lower()
    for scheme in ("sips:", "sip:", "tel:"):
        if v.startswith(scheme):
            v = v[len(scheme) :]
    return v.lstrip("@")


@dataclass(frozen=True)
class ExclusionPolicy:
    users: frozenset[str] = field(default_factory=frozenset)
    domains: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, users: Iterable[str] = (), domains: Iterable[str] = ()) -> ExclusionPolicy:
        return cls(
            frozenset(u for u in map(_norm_entry, users) if u),
            frozenset(d for d in map(_norm_entry, domains) if d),
        )

    def __bool__(self) -> bool:
        return bool(self.users or self.domains)

    def excludes_address(self, address: str) -> bool:
        if address in self.users:
            return True
        if "@" not in address:
            return False
        domain = address.rsplit("@", 1)[1]
        return any(domain == d or domain.endswith("." + d) for d in self.domains)

    def excludes_any(self, values: Iterable[str]) -> bool:
        return any(self.excludes_address(a) for v in values for a in addresses(v))

    def as_json(self) -> dict[str, list[str]]:
        """The body of `PUT /api/v1/ingest/exclusions` (the tenant's copy)."""
        return {"users": sorted(self.users), "domains": sorted(self.domains)}

    def fingerprint(self) -> str:
        """Changes whenever the policy does, so the agent pushes it again only then."""
        body = json.dumps(self.as_json(), sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()
