"""Report definitions: the out-of-the-box report set and the tenant's custom reports.

Why definitions and not more endpoints: CQD's value is a *set* of named, comparable
reports (overview, by building, reliability, ...), and admins who want another view
should add one without a deployment. A definition is data (dimensions, filters,
measures, default period) that runs through the one summary engine
(`service.run_summary`), so every report, built-in or custom, reads only the
pre-aggregated documents, gets the same role projection (reader/specialist: coarsened
subnets, no users) and the same exact counts.

- Built-ins are code, versioned (`version` changes when a definition's meaning does), so
  a saved CSV says which definition produced it. They cannot be modified or deleted.
- Custom reports live in the tenant's partition of the `tenants` container
  (`type = "report"`, `id = "report|{reportId}"`); admins create, replace and delete
  them; `version` counts the replacements. Every level that reads reports can list and
  run them.
- A definition is validated against the dimensions and measures that exist: a bad one is
  a 400 whose `field` names the offending path (`groupBy[1]`, `filters.color`, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from azure.core import MatchConditions

from shared.auth.levels import ADMIN, REPORTS, Level
from shared.auth.tokens import Principal
from shared.problems import FieldError, Problem
from shared.reports.service import (
    COUNTS,
    EUII_LEVELS,
    FILTERS,
    GROUP_BY,
    MAX_DAYS,
    Period,
    poor_percent,
    poor_users,
    run_summary,
    table_csv,
)
from shared.storage import cosmos_errors, layout
from shared.storage.clients import Clients
from shared.storage.retry import read_or_none, with_retries

Source = Literal["summary", "poorUsers"]

DERIVED = ("poorPercent", "callSetupFailurePercent", "droppedStreamPercent")
MEASURES = (*COUNTS, *DERIVED, "poorDueTo")
POOR_USER_MEASURES = ("poorStreams", "days", "subnets")
MEDIA_TYPES = ("audio", "video", "vbss", "appsharing", "data")
CONNECTION_TYPES = ("wired", "wifi", "other", "unknown")
BOOL_FILTERS = ("insideCorp", "vpn")
ENUM_FILTERS: dict[str, tuple[str, ...]] = {
    "mediaType": MEDIA_TYPES,
    "connectionType": CONNECTION_TYPES,
}
ALLOWED_FIELDS = ("name", "description", "groupBy", "filters", "measures", "period")
DEFAULT_MEASURES = ("streams", "good", "poor", "poorPercent")
DEFAULT_PERIOD = {"lastDays": 30}
MAX_GROUP_BY = 4
MAX_FILTER_VALUES = 50
MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_TEXT_VALUE = 200
MAX_CUSTOM_REPORTS = 200
MAX_MONTHS = 13
REPORT_TYPE = "report"
CUSTOM_PREFIX = "custom-"


@dataclass(frozen=True)
class ReportDefinition:
    """A named report: what to group by, which rows to keep, which measures to show."""

    id: str
    name: str
    version: int
    description: str
    group_by: tuple[str, ...]
    filters: dict[str, Any]
    measures: tuple[str, ...]
    period: dict[str, int]
    source: Source = "summary"
    levels: frozenset[Level] = REPORTS
    built_in: bool = True
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "builtIn": self.built_in,
            "description": self.description,
            "source": self.source,
            "groupBy": list(self.group_by),
            "filters": dict(self.filters),
            "measures": list(self.measures),
            "period": dict(self.period),
            "levels": sorted(self.levels),
            **self.meta,
        }

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version, "builtIn": self.built_in}


def _builtin(
    rid: str,
    name: str,
    description: str,
    group_by: tuple[str, ...],
    measures: tuple[str, ...],
    period: dict[str, int],
    filters: dict[str, Any] | None = None,
    version: int = 1,
) -> ReportDefinition:
    return ReportDefinition(
        rid, name, version, description, group_by, filters or {}, measures, period
    )


_QUALITY = ("streams", "good", "poor", "unclassified", "poorPercent", "poorDueTo")
_AUDIO = {"mediaType": "audio"}

BUILT_IN: tuple[ReportDefinition, ...] = (
    _builtin(
        "overview",
        "Overview",
        "Audio streams and Poor % by month over the last 12 months (CQD summary).",
        ("month",),
        ("streams", "good", "poor", "unclassified", "poorPercent"),
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "quality-by-building",
        "Quality by building",
        "Audio quality per building of the building file, last 30 days; streams "
        "from subnets no range covers are the row without a building.",
        ("building",),
        (*_QUALITY, "sessions", "poorCalls"),
        {"lastDays": 30},
        _AUDIO,
    ),
    _builtin(
        "quality-by-network",
        "Quality by network",
        "Audio quality per network (building-file network name and subnet), last 30 "
        "days. Readers and specialists see subnets coarsened to /24.",
        ("networkName", "subnet"),
        _QUALITY,
        {"lastDays": 30},
        _AUDIO,
    ),
    _builtin(
        "reliability",
        "Reliability",
        "Call setup failures per session and dropped streams per stream, by day.",
        ("day",),
        (
            "sessions",
            "callSetupFailures",
            "callSetupFailurePercent",
            "streams",
            "droppedStreams",
            "droppedStreamPercent",
        ),
        {"lastDays": 30},
    ),
    _builtin(
        "wired-vs-wifi",
        "Wired vs Wi-Fi",
        "Audio quality by connection type, by month.",
        ("month", "connectionType"),
        _QUALITY,
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "inside-vs-outside",
        "Inside vs Outside corp",
        "Audio quality inside and outside the corporate network (the building file "
        "decides for covered subnets, the client's own flag otherwise), by month.",
        ("month", "insideCorp"),
        _QUALITY,
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "vpn",
        "VPN",
        "Audio quality over VPN and not, by month.",
        ("month", "vpn"),
        _QUALITY,
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "video-and-screen-sharing",
        "Video and screen sharing",
        "Video, video-based screen sharing and application sharing quality by month.",
        ("month", "mediaType"),
        _QUALITY,
        {"lastMonths": 12},
        {"mediaType": ["video", "vbss", "appsharing"]},
    ),
    _builtin(
        "quality-by-site-and-pool",
        "Quality by site and pool",
        "Streams and sessions through each on-prem pool (mediation, conferencing, "
        "edge) of the uploaded topology, last 30 days; sessions without an on-prem "
        "server are the row without a site.",
        ("site", "pool"),
        (
            "streams",
            "good",
            "poor",
            "poorPercent",
            "sessions",
            "callSetupFailures",
            "droppedStreams",
        ),
        {"lastDays": 30},
    ),
    ReportDefinition(
        id="per-user",
        name="Per user",
        version=1,
        description="Users with poor streams, most first, last 30 days (EUII: "
        "engineer and admin only).",
        group_by=("user",),
        filters={},
        measures=POOR_USER_MEASURES,
        period={"lastDays": 30},
        source="poorUsers",
        levels=EUII_LEVELS,
    ),
)
BUILT_IN_BY_ID = {d.id: d for d in BUILT_IN}


# ---------------------------------------------------------------------- validation


def _check_text(
    value: Any, where: str, limit: int, errors: list[FieldError], required: bool
) -> str | None:
    if value is None:
        if required:
            errors.append(FieldError(where, "is required"))
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        errors.append(FieldError(where, "must be a non-empty string"))
        return None
    if len(value) > limit:
        errors.append(FieldError(where, f"must be at most {limit} characters"))
        return None
    return value.strip()


def _check_group_by(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        errors.append(FieldError("groupBy", f"must be a non-empty array of {', '.join(GROUP_BY)}"))
        return ()
    if len(value) > MAX_GROUP_BY:
        errors.append(FieldError("groupBy", f"at most {MAX_GROUP_BY} dimensions"))
        return ()
    out: list[str] = []
    for i, name in enumerate(value):
        if name not in GROUP_BY:
            errors.append(
                FieldError(
                    f"groupBy[{i}]",
                    f"unknown dimension {str(name)[:40]!r} (one of {', '.join(GROUP_BY)})",
                )
            )
        elif name in out:
            errors.append(FieldError(f"groupBy[{i}]", f"{name} is listed twice"))
        else:
            out.append(name)
    return tuple(out)


def _check_filter_value(name: str, value: Any, where: str, errors: list[FieldError]) -> Any:
    if name in BOOL_FILTERS:
        if not isinstance(value, bool):
            errors.append(FieldError(where, "must be true or false"))
        return value
    if name in ENUM_FILTERS:
        if value not in ENUM_FILTERS[name]:
            errors.append(FieldError(where, f"must be one of {', '.join(ENUM_FILTERS[name])}"))
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_VALUE:
        errors.append(
            FieldError(where, f"must be a non-empty string of at most {MAX_TEXT_VALUE} characters")
        )
        return value
    return value.strip()


def _check_filters(value: Any, errors: list[FieldError]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(FieldError("filters", "must be an object {dimension: value or [values]}"))
        return {}
    out: dict[str, Any] = {}
    for name, want in value.items():
        where = f"filters.{name}"
        if name not in FILTERS:
            errors.append(FieldError(where, f"unknown filter (one of {', '.join(FILTERS)})"))
            continue
        if isinstance(want, list):
            if name in BOOL_FILTERS:
                errors.append(FieldError(where, "must be true or false, not a list"))
                continue
            if not want or len(want) > MAX_FILTER_VALUES:
                errors.append(FieldError(where, f"a list needs 1-{MAX_FILTER_VALUES} values"))
                continue
            out[name] = [
                _check_filter_value(name, w, f"{where}[{i}]", errors) for i, w in enumerate(want)
            ]
        else:
            out[name] = _check_filter_value(name, want, where, errors)
    return out


def _check_measures(value: Any, errors: list[FieldError]) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_MEASURES
    if not isinstance(value, list) or not value:
        errors.append(FieldError("measures", f"must be a non-empty array of {', '.join(MEASURES)}"))
        return ()
    out: list[str] = []
    for i, name in enumerate(value):
        if name not in MEASURES:
            errors.append(
                FieldError(
                    f"measures[{i}]",
                    f"unknown measure {str(name)[:40]!r} (one of {', '.join(MEASURES)})",
                )
            )
        elif name not in out:
            out.append(name)
    return tuple(out)


def _check_period(value: Any, errors: list[FieldError]) -> dict[str, int]:
    if value is None:
        return dict(DEFAULT_PERIOD)
    limits = {"lastDays": MAX_DAYS, "lastMonths": MAX_MONTHS}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in limits:
        errors.append(FieldError("period", '{"lastDays": n} or {"lastMonths": n}'))
        return {}
    ((unit, n),) = value.items()
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= limits[unit]:
        errors.append(FieldError(f"period.{unit}", f"must be a whole number 1-{limits[unit]}"))
        return {}
    return {unit: n}


def validate_definition(body: Any) -> dict[str, Any]:
    """A custom report body -> its normalised fields; one 400 listing every error."""
    if not isinstance(body, dict):
        raise Problem(400, "a report definition must be a JSON object", field="$")
    errors: list[FieldError] = []
    for key in body:
        if key not in ALLOWED_FIELDS:
            errors.append(
                FieldError(str(key), f"unknown field (allowed: {', '.join(ALLOWED_FIELDS)})")
            )
    out = {
        "name": _check_text(body.get("name"), "name", MAX_NAME, errors, True),
        "description": _check_text(
            body.get("description"), "description", MAX_DESCRIPTION, errors, False
        )
        or "",
        "groupBy": _check_group_by(body.get("groupBy"), errors),
        "filters": _check_filters(body.get("filters"), errors),
        "measures": _check_measures(body.get("measures"), errors),
        "period": _check_period(body.get("period"), errors),
    }
    if errors:
        raise Problem(
            400,
            f"the report definition is invalid ({len(errors)} error(s))",
            field=errors[0].field,
            errors=errors,
        )
    return out


# ------------------------------------------------------------------------- storage


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _item_id(report_id: str) -> str:
    return f"report|{report_id}"


def _from_doc(doc: Mapping[str, Any]) -> ReportDefinition:
    return ReportDefinition(
        id=str(doc["reportId"]),
        name=str(doc["name"]),
        version=int(doc["version"]),
        description=str(doc.get("description") or ""),
        group_by=tuple(doc["groupBy"]),
        filters=dict(doc.get("filters") or {}),
        measures=tuple(doc["measures"]),
        period=dict(doc["period"]),
        built_in=False,
        meta={k: doc.get(k) for k in ("createdAt", "createdBy", "updatedAt", "updatedBy")},
    )


async def _custom_docs(clients: Clients, tenant_id: str) -> list[dict[str, Any]]:
    container = clients.container(layout.TENANTS)
    query = "SELECT * FROM c WHERE c.tenantId = @t AND c.type = @type"
    params = [{"name": "@t", "value": tenant_id}, {"name": "@type", "value": REPORT_TYPE}]

    async def op() -> list[dict[str, Any]]:
        return [
            d
            async for d in container.query_items(query, parameters=params, partition_key=tenant_id)
        ]

    return await with_retries(op, what="list reports")


async def _read_doc(clients: Clients, tenant_id: str, report_id: str) -> dict[str, Any] | None:
    return await read_or_none(
        clients.container(layout.TENANTS), _item_id(report_id), tenant_id, what="read report"
    )


def _visible(definition: ReportDefinition, principal: Principal) -> bool:
    return bool(set(principal.levels) & definition.levels)


async def list_reports(clients: Clients, principal: Principal) -> dict[str, Any]:
    """Built-ins the caller's level may run, then the tenant's custom reports by name."""
    principal.require(REPORTS)
    custom = sorted(
        (_from_doc(d) for d in await _custom_docs(clients, principal.tenant_id)),
        key=lambda d: (d.name.lower(), d.id),
    )
    return {"reports": [d.as_json() for d in (*BUILT_IN, *custom) if _visible(d, principal)]}


async def get_report(clients: Clients, principal: Principal, report_id: str) -> ReportDefinition:
    """The definition, if it exists for this tenant and the caller's level may run it."""
    principal.require(REPORTS)
    definition = BUILT_IN_BY_ID.get(report_id)
    if definition is None and report_id.startswith(CUSTOM_PREFIX):
        doc = await _read_doc(clients, principal.tenant_id, report_id)
        definition = _from_doc(doc) if doc and doc.get("type") == REPORT_TYPE else None
    if definition is None:
        raise Problem(404, "no such report for this tenant", field="id")
    if not _visible(definition, principal):
        raise Problem(
            403,
            "this report needs a wider role",
            extra={"requiredLevels": sorted(definition.levels)},
        )
    return definition


async def _check_name(
    clients: Clients, tenant_id: str, name: str, own_id: str | None = None
) -> int:
    """409 if another report has this name (case-insensitive); the custom count."""
    docs = await _custom_docs(clients, tenant_id)
    taken = {d.name.lower() for d in BUILT_IN}
    taken |= {str(d["name"]).lower() for d in docs if d.get("reportId") != own_id}
    if name.lower() in taken:
        raise Problem(409, f"a report named {name!r} already exists", field="name")
    return len(docs)


def _author(principal: Principal) -> str | None:
    return principal.name or principal.object_id


async def create_report(clients: Clients, principal: Principal, body: Any) -> dict[str, Any]:
    principal.require(ADMIN)
    fields = validate_definition(body)
    count = await _check_name(clients, principal.tenant_id, fields["name"])
    if count >= MAX_CUSTOM_REPORTS:
        raise Problem(409, f"a tenant keeps at most {MAX_CUSTOM_REPORTS} custom reports")
    report_id = CUSTOM_PREFIX + uuid.uuid4().hex[:12]
    now = _utcnow()
    doc = {
        "id": _item_id(report_id),
        "tenantId": principal.tenant_id,
        "type": REPORT_TYPE,
        "reportId": report_id,
        "version": 1,
        **fields,
        "groupBy": list(fields["groupBy"]),
        "measures": list(fields["measures"]),
        "createdAt": now,
        "createdBy": _author(principal),
        "updatedAt": now,
        "updatedBy": _author(principal),
    }
    await with_retries(
        lambda: clients.container(layout.TENANTS).create_item(doc), what="create report"
    )
    return _from_doc(doc).as_json()


async def replace_report(
    clients: Clients, principal: Principal, report_id: str, body: Any
) -> dict[str, Any]:
    """Replace a custom definition (etag-conditional: a concurrent edit is a 409)."""
    principal.require(ADMIN)
    if report_id in BUILT_IN_BY_ID:
        raise Problem(
            409, "built-in reports are read-only; create a custom report instead", field="id"
        )
    fields = validate_definition(body)
    old = await _read_doc(clients, principal.tenant_id, report_id)
    if old is None or old.get("type") != REPORT_TYPE:
        raise Problem(404, "no such report for this tenant", field="id")
    await _check_name(clients, principal.tenant_id, fields["name"], own_id=report_id)
    doc = {k: v for k, v in old.items() if not k.startswith("_")}
    doc.update(
        fields,
        groupBy=list(fields["groupBy"]),
        measures=list(fields["measures"]),
        version=int(old["version"]) + 1,
        updatedAt=_utcnow(),
        updatedBy=_author(principal),
    )
    try:
        await with_retries(
            lambda: clients.container(layout.TENANTS).replace_item(
                doc["id"], doc, etag=old["_etag"], match_condition=MatchConditions.IfNotModified
            ),
            what="replace report",
        )
    except cosmos_errors.CosmosAccessConditionFailedError:
        raise Problem(
            409, "the report was modified concurrently; read it and retry", field="id"
        ) from None
    return _from_doc(doc).as_json()


async def delete_report(clients: Clients, principal: Principal, report_id: str) -> None:
    principal.require(ADMIN)
    if report_id in BUILT_IN_BY_ID:
        raise Problem(409, "built-in reports cannot be deleted", field="id")

    async def op() -> None:
        await clients.container(layout.TENANTS).delete_item(
            _item_id(report_id), partition_key=principal.tenant_id
        )

    try:
        await with_retries(op, what="delete report")
    except cosmos_errors.CosmosResourceNotFoundError:
        raise Problem(404, "no such report for this tenant", field="id") from None


# ---------------------------------------------------------------------------- running


def default_period(period: Mapping[str, int], today: date) -> Period:
    """The definition's period ending today (UTC): the last n days, or the last n
    calendar months (the current one included, so 12 months is 11 full ones + this)."""
    if "lastMonths" in period:
        month = today.year * 12 + today.month - 1 - (int(period["lastMonths"]) - 1)
        return Period(date(month // 12, month % 12 + 1, 1), today)
    return Period(today - timedelta(days=int(period.get("lastDays", 30)) - 1), today)


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _project(
    row: Mapping[str, Any], group_by: tuple[str, ...], measures: tuple[str, ...]
) -> dict[str, Any]:
    out = {name: row.get(name) for name in group_by}
    for m in measures:
        if m == "poorPercent":
            out[m] = poor_percent(row["poor"], row["good"])
        elif m == "callSetupFailurePercent":
            out[m] = _percent(row["callSetupFailures"], row["sessions"])
        elif m == "droppedStreamPercent":
            out[m] = _percent(row["droppedStreams"], row["streams"])
        else:
            out[m] = row.get(m)
    return out


async def run_report(
    clients: Clients,
    principal: Principal,
    report_id: str,
    params: Mapping[str, str],
    today: date | None = None,
) -> dict[str, Any]:
    """Run a definition over `from`/`to` (both, or neither for its default period)."""
    definition = await get_report(clients, principal, report_id)
    if params.get("from") or params.get("to"):
        period = Period.parse(params)
    else:
        period = default_period(definition.period, today or datetime.now(timezone.utc).date())
    head = {
        "report": definition.ref(),
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "groupBy": list(definition.group_by),
        "filters": dict(definition.filters),
        "measures": list(definition.measures),
    }
    if definition.source == "poorUsers":
        body = await poor_users(clients, principal, {"from": head["from"], "to": head["to"]})
        return {**head, "documentsRead": body["documentsRead"], "rows": body["rows"]}
    body = await run_summary(
        clients, principal, period, list(definition.group_by), definition.filters
    )
    rows = [_project(r, definition.group_by, definition.measures) for r in body["rows"]]
    return {
        **head,
        "buildingFile": body["buildingFile"],
        "topology": body["topology"],
        "documentsRead": body["documentsRead"],
        "rows": rows,
    }


def report_csv(report: Mapping[str, Any]) -> str:
    """The run's table as CSV: dimensions, then measures in the definition's order
    (`poorDueTo` as one `poorDueTo.{metric}` column per metric seen)."""
    rows: list[dict[str, Any]] = list(report.get("rows") or [])
    columns: list[str] = list(report.get("groupBy") or [])
    for m in report.get("measures") or []:
        if m == "poorDueTo":
            due = sorted({k for r in rows for k in (r.get("poorDueTo") or {})})
            columns += [f"poorDueTo.{k}" for k in due]
        else:
            columns.append(m)
    return table_csv(rows, columns)
