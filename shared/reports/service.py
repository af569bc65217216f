"""CQD-style quality reports over the pre-aggregated documents.

A report never touches call documents or streams: it reads the day-and-subnet aggregate
documents of the period (one single-partition query per month partition
`{tenantId}|{yyyy-mm}`, the partition key also in the WHERE), then resolves each subnet
to its building with the tenant's *current* building file, so a new file re-labels past
days too. Cost: (days x subnets) documents, whatever the stream volume.

Topology: cells of sessions with an on-prem server carry its signature as a
fifth part; `site` and `pool` resolve it with the tenant's *current* topology, the same
way (and for the same reason) as subnets resolve to buildings.

Visibility (docs/reference/roles.md): specialist and reader get no EUII: no users, and
subnets coarsened to /24 (IPv6 /48) network addresses; engineer and admin get the stored
subnet address and the poor-users drill-down. No level ever sees a full endpoint IP: the aggregates
only hold network addresses.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.aggregates.contribution import (
    POOR_DUE_PREFIX,
    RATING_PREFIX,
    TOKEN_PREFIX,
    UNKNOWN_SUBNET,
    split_cell,
)
from shared.aggregates.layout import (
    DAY,
    DOCUMENT_DIMENSIONS,
    FACETS,
    Facet,
    facet_for,
    parse_facet_cell,
)
from shared.auth.levels import REPORTS
from shared.auth.tokens import Principal
from shared.buildings import BuildingIndex, BuildingRow
from shared.errors import Invalid
from shared.models.call import metric_name
from shared.paging import page_rows
from shared.reports.vocabulary import (
    BOOL_DIMENSIONS,
    EUII_LEVELS,
    FILTERS,
    GROUP_BY,
)
from shared.storage import aggregates as aggregates_store
from shared.storage.buildings import BuildingTimeline, load_building_timeline
from shared.storage.clients import Clients
from shared.storage.topology import load_topology
from shared.topology import Topology

COUNTS = (
    "streams",
    "good",
    "poor",
    "unclassified",
    "cdrStreams",
    "setupFailedStreams",
    "setupSucceededStreams",
    "droppedStreams",
    "sessions",
    "poorCalls",
    "shortCalls",
    "callSetupFailures",
)
MAX_DAYS = 396
MIN_MISSING_AUDIO = 10
QUERY_CONCURRENCY = 4


def _parse_day(value: str | None, name: str) -> date:
    if not value:
        raise Invalid(f"query parameter '{name}' is required (YYYY-MM-DD)", field=name)
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise Invalid(
            f"'{name}' must be a date (YYYY-MM-DD) or an ISO-8601 time", field=name
        ) from None


@dataclass
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Period:
        start = _parse_day(params.get("from"), "from")
        end = _parse_day(params.get("to"), "to")
        if end < start:
            raise Invalid("'to' is before 'from'", field="to")
        if (end - start).days + 1 > MAX_DAYS:
            raise Invalid(f"the period is longer than {MAX_DAYS} days", field="to")
        return cls(start, end)

    def months(self) -> list[str]:
        out, d = [], self.start.replace(day=1)
        while d <= self.end:
            out.append(d.strftime("%Y-%m"))
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out


async def read_aggregates(
    clients: Clients,
    tenant_id: str,
    period: Period,
    fields: str = "c.day, c.subnet, c.prefix, c.cells",
    facet: Facet = DAY,
) -> list[dict[str, Any]]:
    """The period's documents of one facet (one query per month partition, in
    parallel; only `fields` travel)."""
    return await aggregates_store.read_days(
        clients,
        tenant_id,
        period.start.isoformat(),
        period.end.isoformat(),
        period.months(),
        fields,
        QUERY_CONCURRENCY,
        facet,
    )


def coarse_subnet(subnet: str, prefix: int | None) -> str:
    """A network address no finer than /24 (IPv6 /48): what non-EUII levels see."""
    if subnet == UNKNOWN_SUBNET:
        return subnet
    try:
        address = ipaddress.ip_address(subnet)
    except ValueError:
        return UNKNOWN_SUBNET
    limit = 24 if address.version == 4 else 48
    bits = limit if prefix is None else min(prefix, limit)
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False).network_address)


def _bool_param(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "inside"):
        return True
    if v in ("0", "false", "no", "outside"):
        return False
    raise Invalid(f"'{name}' must be true/false (insideCorp also inside/outside)", field=name)


@dataclass
class _Resolver:
    """Per-request resolution of subnets to building rows and display values."""

    index: BuildingTimeline | None
    euii: bool
    topology: Topology | None = None
    facet: Facet = DAY
    _rows: dict[tuple[int, str], BuildingRow | None] = field(default_factory=dict)
    _cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    _coarse: dict[tuple[str, int | None], str] = field(default_factory=dict)
    _days: dict[str, tuple[BuildingIndex | None, str]] = field(default_factory=dict)

    def _day(self, day: str) -> tuple[BuildingIndex | None, str]:
        """The file that labels `day` and its ISO week, once per day: a report reads
        hundreds of documents per day, and choosing the file sorts the timeline."""
        known = self._days.get(day)
        if known is None:
            index = self.index.index_for(day) if self.index is not None else None
            iso = date.fromisoformat(day).isocalendar()
            known = self._days[day] = (index, f"{iso.year}-W{iso.week:02d}")
        return known

    def row(self, subnet: str, day: str) -> BuildingRow | None:
        """The building row of `subnet` in the file that labels `day` (its upload's
        validity, shared.building_timeline), looked up once per file and subnet."""
        index = self._day(day)[0]
        if index is None:
            return None
        key = (id(index), subnet)
        if key not in self._rows:
            self._rows[key] = index.lookup(subnet)
        return self._rows[key]

    def subnet(self, subnet: str, prefix: int | None) -> str:
        if self.euii:
            return subnet
        key = (subnet, prefix)
        shown = self._coarse.get(key)
        if shown is None:  # ipaddress is slow: once per subnet, not per day and subnet
            shown = self._coarse[key] = coarse_subnet(subnet, prefix)
        return shown

    def doc_dims(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The dimensions of a document (its day and subnet), once per document."""
        day = str(doc["day"])
        row = self.row(str(doc["subnet"]), day)
        return {
            "day": day,
            "week": self._day(day)[1],
            "month": day[:7],
            "building": row.building_name if row else None,
            "networkName": row.network_name if row else None,
            "city": (row.city or None) if row else None,
            "region": (row.region or None) if row else None,
            "subnet": self.subnet(str(doc["subnet"]), doc.get("prefix")),
            # CQD: the building file's InsideCorp decides; a subnet no row covers (and
            # every subnet when there is no file) is Outside. The client's flag is unused.
            "insideCorp": bool(row and row.inside_corp),
            "vpn": bool(row and row.vpn),  # or the cell's own flag (see dims)
        }

    def cell_dims(self, cell: str) -> dict[str, Any]:
        """The dimensions of a cell key, computed once per distinct key: a report's
        documents repeat the same few hundred keys, so this is what keeps the cost of
        the extra dimensions per document, not per cell. A dimension the facet's cells
        do not hold reads as unknown (the facet choice never asks for one)."""
        cached = self._cells.get(cell)
        if cached is not None:
            return cached
        server: str | None = None
        if self.facet is DAY:
            # four base parts, the session's server signature if any, then name=value
            # parts (cells written when every dimension was in the day document)
            (media, conn, _inside, vpn), server, values = split_cell(cell)
            values.update(m=media, c=conn, v=vpn)
        else:
            values = parse_facet_cell(cell)
        placed = self.topology.resolve(server) if server and self.topology else None
        conn = values.get("c", "unknown")
        product = values.get("p", "unknown")
        client_type = values.get("ct", "unknown")
        relay = values.get("rl", "na")
        hour = values.get("h")
        out = {
            "connectionType": conn,
            "mediaType": values.get("m", "unknown"),
            "vpn": values.get("v") == "1",
            "site": placed.site if placed else None,
            "pool": placed.pool if placed else None,
            "product": product,
            "isTeams": product == "teams",
            "clientType": client_type,
            "userAgentCategory": f"{product}-{client_type}",
            "clientVersion": values.get("cv", "unknown"),
            "transport": values.get("tr", "unknown"),
            "relay": None if relay == "na" else relay == "1",
            "wifiBand": values.get("wb", "na" if conn != "wifi" else "unknown"),
            "hour": int(hour) if hour and hour.isdigit() else None,
        }
        self._cells[cell] = out
        return out

    def dims(self, doc: Mapping[str, Any], cell: str) -> dict[str, Any]:
        """Every dimension of one cell of one document (VPN: the stream's flag or the
        building file row's)."""
        base, own = self.doc_dims(doc), self.cell_dims(cell)
        return {**base, **own, "vpn": base["vpn"] or own["vpn"]}


def _hour_param(value: str) -> int:
    if not value.strip().isdigit() or not 0 <= int(value) <= 23:
        raise Invalid("'hour' must be a whole number 0-23 (UTC)", field="hour")
    return int(value)


def summary_filters(params: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FILTERS:
        value = params.get(name)
        if value is None or value == "":
            continue
        if name in BOOL_DIMENSIONS:
            out[name] = _bool_param(value, name)
        elif name == "hour":
            out[name] = _hour_param(value)
        else:
            out[name] = value
    return out


def filters_match(dims: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    for name, want in filters.items():
        have = dims[name]
        if isinstance(want, (list, tuple)):  # report definitions: any of
            if not any(filters_match({name: have}, {name: w}) for w in want):
                return False
        elif isinstance(want, bool):
            if have is not want:
                return False
        elif isinstance(want, int):
            if have != want:
                return False
        elif str(have or "").lower() != str(want).lower():
            return False
    return True


def _group_by(params: Mapping[str, str]) -> list[str]:
    raw = params.get("groupBy") or "day"
    names = [g.strip() for g in raw.split(",") if g.strip()]
    bad = [g for g in names if g not in GROUP_BY]
    if bad or not names:
        raise Invalid(
            f"groupBy must be one or more of {', '.join(GROUP_BY)}",
            field="groupBy",
            extra={"invalid": bad},
        )
    return names


def poor_percent(poor: int, good: int) -> float | None:
    """Poor / (Poor + Good) in percent; unclassified streams are left out (CQD)."""
    return round(100.0 * poor / (poor + good), 2) if poor + good else None


def _finish(group: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = dict(group)
    for name in COUNTS:
        row[name] = counts.get(name, 0)
    row["setupSucceededStreams"] = row["cdrStreams"] - row["setupFailedStreams"]
    row["poorPercent"] = poor_percent(row["poor"], row["good"])
    row["callSetupFailurePercent"] = _percent(row["setupFailedStreams"], row["cdrStreams"])
    row["droppedStreamPercent"] = _percent(row["droppedStreams"], row["setupSucceededStreams"])
    # metric names as the API spells them everywhere (`jitterMs`, docs/reference/api.md)
    row["poorDueTo"] = {
        metric_name(k[len(POOR_DUE_PREFIX) :]): v
        for k, v in sorted(counts.items())
        if k.startswith(POOR_DUE_PREFIX)
    }
    for name, prefix in (("rateMyCall", RATING_PREFIX), ("feedbackTokens", TOKEN_PREFIX)):
        row[name] = {k[len(prefix) :]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}
    return row


def _percent(part: int, whole: int) -> float | None:
    """CQD's rates: setup failures / streams with CDR data, drops / streams set up."""
    return round(100.0 * part / whole, 2) if whole else None


def group_key(row: Mapping[str, Any], names: list[str]) -> tuple[Any, ...]:
    """A grouped report's row order (and its page position): by the group values, the
    rows without a value last."""
    return tuple((row[n] is None, str(row[n])) for n in names)


async def quality_summary(
    clients: Clients, principal: Principal, params: Mapping[str, str]
) -> dict[str, Any]:
    principal.require(REPORTS)
    period = Period.parse(params)
    names = _group_by(params)
    body = await run_summary(clients, principal, period, names, summary_filters(params))
    return paged(body, params, lambda r: group_key(r, names), ("groupBy", "filters"))


def paged(
    body: dict[str, Any],
    params: Mapping[str, str],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    query: Sequence[str] = (),
) -> dict[str, Any]:
    """`body` with one page of its rows and the next page's `continuationToken`. The
    token continues this query only: its resolved period and the `query` fields of the
    body (grouping, filters, building...)."""
    asked = {"from": body["from"], "to": body["to"], **{k: body.get(k) for k in query}}
    rows, token = page_rows(body["rows"], params.get("continuationToken"), key, asked)
    return {**body, "rows": rows, "continuationToken": token}


async def run_summary(
    clients: Clients,
    principal: Principal,
    period: Period,
    names: list[str],
    filters: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary engine, shared by the query-string API and the report definitions
    (shared/reports/definitions.py), which validate `names` and `filters` themselves;
    a filter value may be a list (any of)."""
    principal.require(REPORTS)
    euii = bool(set(principal.levels) & EUII_LEVELS)
    facet = report_facet(names, filters)
    index, topology, docs = await asyncio.gather(
        load_building_timeline(clients, principal.tenant_id),
        load_topology(clients, principal.tenant_id),
        read_aggregates(clients, principal.tenant_id, period, facet=facet),
    )
    resolver = _Resolver(index, euii, topology, facet)
    groups = _group(docs, resolver, names, filters)
    rows = [_finish(dict(zip(names, key, strict=True)), counts) for key, counts in groups.items()]
    rows.sort(key=lambda r: group_key(r, names))
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "groupBy": names,
        "filters": dict(filters),
        "buildingFile": index is not None,
        "topology": topology is not None,
        "documentsRead": len(docs),
        "rows": rows,
    }


_DOC_LEVEL = DOCUMENT_DIMENSIONS


def report_facet(names: Sequence[str], filters: Mapping[str, Any]) -> Facet:
    """The documents a report reads: the facet holding every dimension it groups or
    filters by (shared.aggregates.layout); a combination no facet holds is refused,
    naming the combinations that are counted together."""
    facet = facet_for({*names, *filters})
    if facet is not None:
        return facet
    together = "; ".join(", ".join(sorted(f.dimensions)) for f in FACETS)
    raise Invalid(
        "these dimensions are not counted together; besides the day, place and "
        f"insideCorp dimensions, a report can combine only one of these sets: {together}",
        field="groupBy",
        extra={"dimensions": sorted({*names, *filters} - DOCUMENT_DIMENSIONS)},
    )


def _group(
    docs: list[dict[str, Any]],
    resolver: _Resolver,
    names: list[str],
    filters: Mapping[str, Any],
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Sum the cells of the documents into groups. Document-level filters are checked
    once per document, cell-level ones once per distinct cell key; only VPN (the
    stream's flag or the building file row's) needs both."""
    doc_filters = {k: v for k, v in filters.items() if k in _DOC_LEVEL}
    cell_filters = {k: v for k, v in filters.items() if k not in _DOC_LEVEL and k != "vpn"}
    vpn_filter = {k: v for k, v in filters.items() if k == "vpn"}
    cell_ok: dict[str, bool] = {}
    groups: dict[tuple[Any, ...], dict[str, int]] = {}
    for doc in docs:
        base = resolver.doc_dims(doc)
        if doc_filters and not filters_match(base, doc_filters):
            continue
        for cell, counts in (doc.get("cells") or {}).items():
            own = resolver.cell_dims(cell)
            ok = cell_ok.get(cell)
            if ok is None:
                ok = cell_ok[cell] = not cell_filters or filters_match(own, cell_filters)
            if not ok:
                continue
            vpn = base["vpn"] or own["vpn"]
            if vpn_filter and not filters_match({"vpn": vpn}, vpn_filter):
                continue
            key = tuple(
                vpn if n == "vpn" else (base[n] if n in _DOC_LEVEL else own[n]) for n in names
            )
            target = groups.get(key)
            if target is None:
                target = groups[key] = {}
            for k, n in counts.items():
                target[k] = target.get(k, 0) + n
    return groups


def poor_user_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Most poor streams first, then by user (the order of the poor-users rows)."""
    return (-int(row["poorStreams"]), str(row["user"]))


async def poor_users(
    clients: Clients, principal: Principal, params: Mapping[str, str]
) -> dict[str, Any]:
    """Users with poor streams in a building or subnet (engineer/admin: EUII), a page
    at a time."""
    body = await poor_user_table(clients, principal, params)
    return paged(body, params, poor_user_key, ("building", "subnet"))


async def poor_user_table(
    clients: Clients, principal: Principal, params: Mapping[str, str]
) -> dict[str, Any]:
    """Every row of the poor-users drill-down (the report set pages it itself)."""
    principal.require(EUII_LEVELS)
    period = Period.parse(params)
    building, subnet = params.get("building"), params.get("subnet")
    index, docs = await asyncio.gather(
        load_building_timeline(clients, principal.tenant_id),
        read_aggregates(
            clients, principal.tenant_id, period, "c.day, c.subnet, c.prefix, c.poorUsers"
        ),
    )
    resolver = _Resolver(index, euii=True)
    users: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if subnet and str(doc["subnet"]) != subnet:
            continue
        if building:
            row = resolver.row(str(doc["subnet"]), str(doc["day"]))
            if not row or row.building_name.lower() != building.lower():
                continue
        for user, n in (doc.get("poorUsers") or {}).items():
            entry = users.setdefault(
                user, {"user": user, "poorStreams": 0, "days": set(), "subnets": set()}
            )
            entry["poorStreams"] += n
            entry["days"].add(doc["day"])
            entry["subnets"].add(doc["subnet"])
    rows = [
        {
            "user": u["user"],
            "poorStreams": u["poorStreams"],
            "days": len(u["days"]),
            "subnets": sorted(u["subnets"]),
        }
        for u in users.values()
    ]
    rows.sort(key=poor_user_key)
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "building": building,
        "subnet": subnet,
        "documentsRead": len(docs),
        "rows": rows,
    }


async def missing_subnets(
    clients: Clients, principal: Principal, params: Mapping[str, str]
) -> dict[str, Any]:
    """Subnets with at least 10 audio streams in the period that no range covers."""
    principal.require(REPORTS)
    period = Period.parse(params)
    euii = bool(set(principal.levels) & EUII_LEVELS)
    index, docs = await asyncio.gather(
        load_building_timeline(clients, principal.tenant_id),
        read_aggregates(clients, principal.tenant_id, period),
    )
    resolver = _Resolver(index, euii)
    audio: dict[str, int] = {}
    for doc in docs:
        subnet = str(doc["subnet"])
        if subnet == UNKNOWN_SUBNET or resolver.row(subnet, str(doc["day"])) is not None:
            continue
        n = sum(
            c.get("streams", 0)
            for cell, c in (doc.get("cells") or {}).items()
            if cell.startswith("audio|")
        )
        if n:
            shown = resolver.subnet(subnet, doc.get("prefix"))
            audio[shown] = audio.get(shown, 0) + n
    rows = [{"subnet": s, "audioStreams": n} for s, n in audio.items() if n >= MIN_MISSING_AUDIO]
    body = {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "buildingFile": index is not None,
        "minAudioStreams": MIN_MISSING_AUDIO,
        "documentsRead": len(docs),
        "rows": rows,
    }
    return paged(body, params, lambda r: (-int(r["audioStreams"]), str(r["subnet"])))


MAP_MEASURES = {
    "poorDueTo": POOR_DUE_PREFIX,
    "rateMyCall": RATING_PREFIX,
    "feedbackTokens": TOKEN_PREFIX,
}


def map_columns(rows: list[dict[str, Any]], measure: str) -> list[str]:
    """`poorDueTo.{metric}`-style columns for a map measure: one per key seen."""
    prefix = MAP_MEASURES[measure]
    return [f"{prefix}{k}" for k in sorted({k for r in rows for k in (r.get(measure) or {})})]


# the columns of the reports whose rows are not grouped (their CSV header when empty)


def to_csv(report: Mapping[str, Any], columns_when_empty: Sequence[str] = ()) -> str:
    """The report's table as CSV: group columns, counts, the rates, then the map
    measures (poor-due-to, Rate My Call ratings and feedback tokens). A report with no
    rows still has its header row (`columns_when_empty` for reports without a
    groupBy), so a Power BI query over an empty period keeps its columns."""
    rows: list[dict[str, Any]] = list(report.get("rows") or [])
    first = list(report.get("groupBy") or (list(rows[0]) if rows else columns_when_empty))
    columns = [c for c in first if c not in MAP_MEASURES]
    if "groupBy" in report:
        columns += [*COUNTS, "poorPercent", "callSetupFailurePercent", "droppedStreamPercent"]
    for measure in MAP_MEASURES:
        columns += map_columns(rows, measure)
    return table_csv(rows, columns)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM(...)`,
    also after a tab or CR) gets a leading apostrophe, so it is shown as text. Building
    and site names come from files tenants upload: they are not trusted. Numbers are
    left alone (a negative number is data, not a formula)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def table_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as CSV in `columns` order; `poorDueTo.{metric}` (and `rating.`,
    `feedbackToken.`) columns read the row's map (0 when absent); booleans as
    true/false, lists joined with ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in columns])
    for r in rows:
        line = []
        for c in columns:
            v: Any = r.get(c)
            for measure, prefix in MAP_MEASURES.items():
                if c.startswith(prefix):
                    v = (r.get(measure) or {}).get(c[len(prefix) :], 0)
            if isinstance(v, bool):
                v = "true" if v else "false"
            elif isinstance(v, list):
                v = ";".join(map(str, v))
            line.append("" if v is None else csv_cell(v))
        writer.writerow(line)
    return out.getvalue()
