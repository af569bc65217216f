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
  (`shared.storage.reports`); admins create, replace and delete them
  (`shared.reports.report_set`); `version` counts the replacements. Every level that
  reads reports can list and run them.
- A definition is validated against the dimensions and measures that exist: a bad one is
  refused (`Invalid`) with a `field` naming the offending path (`groupBy[1]`, `filters.color`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.aggregates.dimensions import CLIENT_TYPES, PRODUCTS, TRANSPORTS, WIFI_BANDS
from shared.aggregates.layout import DOCUMENT_DIMENSIONS, facet_for
from shared.auth.levels import REPORTS, Level
from shared.errors import FieldError, Invalid
from shared.reports.service import (
    COUNTS,
    MAP_MEASURES,
    MAX_DAYS,
    Period,
    map_columns,
    poor_percent,
    table_csv,
)
from shared.reports.vocabulary import BOOL_DIMENSIONS, EUII_LEVELS, FILTERS, GROUP_BY

Source = Literal["summary", "poorUsers"]

DERIVED = ("poorPercent", "callSetupFailurePercent", "droppedStreamPercent")
MEASURES = (*COUNTS, *DERIVED, *MAP_MEASURES)
POOR_USER_MEASURES = ("poorStreams", "days", "subnets")
MEDIA_TYPES = ("audio", "video", "vbss", "appsharing", "data")
CONNECTION_TYPES = ("wired", "wifi", "other", "unknown")
BOOL_FILTERS = BOOL_DIMENSIONS
ENUM_FILTERS: dict[str, tuple[str, ...]] = {
    "mediaType": MEDIA_TYPES,
    "connectionType": CONNECTION_TYPES,
    "product": PRODUCTS,
    "clientType": CLIENT_TYPES,
    "transport": TRANSPORTS,
    "wifiBand": WIFI_BANDS,
}
HOURS = tuple(range(24))
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

    def as_json(self, with_authors: bool = True) -> dict[str, Any]:
        """`with_authors=False` leaves out createdBy/updatedBy (UPNs): below engineer a
        reader sees what a report does, not who wrote it (docs/reference/roles.md)."""
        hidden = () if with_authors else ("createdBy", "updatedBy")
        meta = {k: v for k, v in self.meta.items() if k not in hidden}
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
            **meta,
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
_RELIABILITY = (
    "cdrStreams",
    "setupFailedStreams",
    "callSetupFailurePercent",
    "setupSucceededStreams",
    "droppedStreams",
    "droppedStreamPercent",
)

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
        "CQD reliability by day: setup failures per stream with CDR data, drops per "
        "stream whose setup succeeded.",
        ("day",),
        _RELIABILITY,
        {"lastDays": 30},
        version=2,
    ),
    _builtin(
        "reliability-drill-down",
        "Reliability drill-down",
        "Setup failures and drops by region, building, subnet and hour of day (UTC), "
        "last 7 days; the poor-users report lists the users of a building or subnet.",
        ("region", "building", "subnet", "hour"),
        _RELIABILITY,
        {"lastDays": 7},
    ),
    _builtin(
        "teams-vs-sfb",
        "Teams vs Skype for Business",
        "Audio quality and reliability by product (Teams, Skype for Business Online, "
        "Skype for Business Server), by month.",
        ("month", "product"),
        (*_QUALITY, "callSetupFailurePercent", "droppedStreamPercent"),
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "client-versions",
        "Client versions",
        "Audio quality by product, client type and client version, last 30 days.",
        ("product", "clientType", "clientVersion"),
        _QUALITY,
        {"lastDays": 30},
        _AUDIO,
    ),
    _builtin(
        "transport",
        "Transport (UDP blocked)",
        "Audio streams by transport and relay per network, last 30 days: networks "
        "whose streams run over TCP are where UDP is blocked.",
        ("networkName", "subnet", "transport", "relay"),
        _QUALITY,
        {"lastDays": 30},
        _AUDIO,
    ),
    _builtin(
        "wifi-by-band",
        "Wi-Fi by band",
        "Audio quality of Wi-Fi streams by band (2.4 / 5 / 6 GHz) and building, last 30 days.",
        ("wifiBand", "building"),
        _QUALITY,
        {"lastDays": 30},
        {"mediaType": "audio", "connectionType": "wifi"},
    ),
    _builtin(
        "rate-my-call",
        "Rate My Call",
        "Users' call ratings and feedback tokens by product, by month (verbatim "
        "feedback is never stored).",
        ("month", "product"),
        ("sessions", "rateMyCall", "feedbackTokens"),
        {"lastMonths": 12},
    ),
    _builtin(
        "wired-vs-wifi",
        "Wired vs Wi-Fi",
        "Audio quality by connection type, by month (a stream with either endpoint "
        "on Wi-Fi is Wi-Fi).",
        ("month", "connectionType"),
        _QUALITY,
        {"lastMonths": 12},
        _AUDIO,
    ),
    _builtin(
        "inside-vs-outside",
        "Inside vs Outside corp",
        "Audio quality inside and outside the corporate network, by month: the "
        "building file's InsideCorp decides; a subnet no row covers is Outside.",
        ("month", "insideCorp"),
        _QUALITY,
        {"lastMonths": 12},
        _AUDIO,
        version=2,
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
    if name == "hour":
        if not isinstance(value, int) or isinstance(value, bool) or value not in HOURS:
            errors.append(FieldError(where, "must be a whole number 0-23 (UTC hour)"))
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


class ReportDefinitionBody(BaseModel):
    """A custom report, as documented. `validate_definition` is what checks a body (it
    names every offending path, `groupBy[1]`, `filters.x`, in one answer); this model
    is built from the same constants, so the document lists what it accepts."""

    model_config = ConfigDict(defer_build=True)

    name: str = Field(max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    groupBy: list[str] = Field(description=(f"1-{MAX_GROUP_BY} of " + ", ".join(GROUP_BY)))
    filters: dict[str, Any] | None = Field(
        default=None,
        description=(
            "{dimension: value or [values]}, dimension one of "
            + ", ".join(FILTERS)
            + "; "
            + " and ".join(BOOL_FILTERS)
            + " take true/false"
        ),
    )
    measures: list[str] | None = Field(default=None, description=", ".join(MEASURES))
    period: dict[str, int] | None = Field(
        default=None,
        description=(
            f'default period: {{"lastDays": 1-{MAX_DAYS}}} or {{"lastMonths": 1-{MAX_MONTHS}}}'
        ),
    )


def validate_definition(body: Any) -> dict[str, Any]:
    """A custom report body -> its normalised fields; one `Invalid` listing every error."""
    if not isinstance(body, dict):
        raise Invalid("a report definition must be a JSON object", field="$")
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
    together = {*(out["groupBy"] or ()), *(out["filters"] or {})}
    if not errors and facet_for(together) is None:
        errors.append(
            FieldError(
                "groupBy",
                "these dimensions are not counted together (docs/reference/"
                "cqd-dimensions.md, Cost): " + ", ".join(sorted(together - DOCUMENT_DIMENSIONS)),
            )
        )
    if errors:
        raise Invalid(
            f"the report definition is invalid ({len(errors)} error(s))",
            field=errors[0].field,
            errors=errors,
        )
    return out


def definition_from_doc(doc: Mapping[str, Any]) -> ReportDefinition:
    """A custom definition as stored (see `shared.storage.reports`)."""
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


def project_row(
    row: Mapping[str, Any], group_by: tuple[str, ...], measures: tuple[str, ...]
) -> dict[str, Any]:
    out = {name: row.get(name) for name in group_by}
    for m in measures:
        if m == "poorPercent":
            out[m] = poor_percent(row["poor"], row["good"])
        elif m == "callSetupFailurePercent":  # CQD: setup failed / streams with CDR data
            out[m] = _percent(row["setupFailedStreams"], row["cdrStreams"])
        elif m == "droppedStreamPercent":  # CQD: dropped / streams whose setup succeeded
            out[m] = _percent(row["droppedStreams"], row["setupSucceededStreams"])
        else:
            out[m] = row.get(m)
    return out


def report_csv(report: Mapping[str, Any]) -> str:
    """The run's table as CSV: dimensions, then measures in the definition's order
    (`poorDueTo` as one `poorDueTo.{metric}` column per metric seen)."""
    rows: list[dict[str, Any]] = list(report.get("rows") or [])
    columns: list[str] = list(report.get("groupBy") or [])
    for m in report.get("measures") or []:
        if m in MAP_MEASURES:
            columns += map_columns(rows, m)
        else:
            columns.append(m)
    return table_csv(rows, columns)
