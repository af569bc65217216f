"""The tenant's classification and retention settings an admin sets
(docs/reference/roles.md: "set tenant settings"), validated here as plain values.

Why a module of its own: the exclusion policy (`shared.exclusions`) is pushed by the
on-prem agent, these settings are set by a person in the portal; both live in the one
tenant settings item, but each side replaces only its own part.

The rules (docs/reference/settings.md):
- the classifier profile is chosen per source format; a source left out gets its
  default (docs/reference/classification.md);
- only yellow tiers may be overridden, red is the poor threshold and stays fixed;
- retention is a per-item TTL no longer than the container's maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.classification.thresholds import (
    DEFAULT_PROFILE_BY_SOURCE,
    DEFAULT_ROWS,
    PROFILES,
    ThresholdTable,
    build_table,
)
from shared.errors import FieldError, Invalid

DAY = 86_400
# The most the service keeps each kind of item (docs/reference/data.md), in days: the
# containers' default TTL. A tenant may keep less, never more.
RETENTION_MAX_DAYS: dict[str, int] = {"calls": 30, "aggregates": 396, "audit": 365}
RETENTION_MIN_DAYS = 1
PROFILE_NOTICE = (
    "The classifier profile applies to calls processed from now on; calls already "
    "stored keep the classification they were given."
)
YELLOW_KEYS: frozenset[str] = frozenset(
    {r.metric for r in DEFAULT_ROWS} | {f"{r.media}.{r.metric}" for r in DEFAULT_ROWS}
)


class _Camel(BaseModel):
    model_config = ConfigDict(defer_build=True, alias_generator=to_camel, populate_by_name=True)


class Retention(_Camel):
    """Days each kind of item is kept; None: the service maximum."""

    calls_days: int | None = None
    aggregates_days: int | None = None
    audit_days: int | None = None

    def ttl_seconds(self, kind: str) -> int:
        """The per-item `ttl` to write for `kind` (calls, aggregates, audit)."""
        days = getattr(self, f"{kind}_days") or RETENTION_MAX_DAYS[kind]
        return int(days) * DAY


def day_ttl(day: str, keep_seconds: int, now: float) -> int:
    """The per-item `ttl` of an item about day `day` (YYYY-MM-DD, UTC) kept `keep_seconds`
    after that day ends, written at `now` (epoch seconds).

    Why from the day and not from the write: Cosmos DB counts `ttl` from the item's last
    write, so a day's aggregate rewritten by a late report, or a backfill of old days,
    would otherwise outlive the retention the admin chose. Never more than
    `keep_seconds` (the service maximum is the caller's cap), never less than 1 (an
    item past its retention expires at once)."""
    y, m, d = (int(x) for x in day.split("-"))
    end = (date(y, m, d) - date(1970, 1, 1)).days * DAY + DAY
    return max(1, min(keep_seconds, int(end + keep_seconds - now)))


class ClassificationSettings(_Camel):
    """What an admin sets: stored in the tenant settings item under `classification`."""

    classifier_profiles: dict[str, str] = Field(default_factory=dict)
    yellow_tiers: dict[str, float | None] = Field(default_factory=dict)
    retention: Retention = Field(default_factory=Retention)

    def table(self) -> ThresholdTable:
        return build_table(self.yellow_tiers) if self.yellow_tiers else build_table()

    def profiles(self) -> Mapping[str, str]:
        return dict(self.classifier_profiles)


class SettingsBody(_Camel):
    """The body of `PUT /api/v1/admin/settings` (camelCase on the wire)."""

    classifier_profiles: dict[str, str] = Field(
        default_factory=dict,
        description="source format -> profile (" + ", ".join(PROFILES) + ")",
    )
    yellow_tiers: dict[str, float | None] = Field(
        default_factory=dict, description="metric or media.metric -> yellow tier"
    )
    retention: Retention = Field(default_factory=Retention)


class SettingsOut(_Camel):
    tenant_id: str
    classifier_profiles: dict[str, str]
    effective_profiles: dict[str, str]
    yellow_tiers: dict[str, float | None]
    retention: Retention
    retention_max_days: dict[str, int]
    updated_at: str | None = None
    updated_by: str | None = None
    changed: list[str] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)


_TOP = {"classifierProfiles", "yellowTiers", "retention"}
_RETENTION = {"callsDays": "calls", "aggregatesDays": "aggregates", "auditDays": "audit"}


def _profiles(value: Any, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, dict):
        errors.append(FieldError("classifierProfiles", "must be an object"))
        return {}
    out = {}
    for source, profile in value.items():
        where = f"classifierProfiles.{source}"
        if source not in DEFAULT_PROFILE_BY_SOURCE:
            known = ", ".join(sorted(DEFAULT_PROFILE_BY_SOURCE))
            errors.append(FieldError(where, f"unknown source format (known: {known})"))
        elif profile is None:
            continue  # back to the source's default
        elif profile not in PROFILES:
            errors.append(FieldError(where, f"unknown profile (known: {', '.join(PROFILES)})"))
        else:
            out[str(source)] = str(profile)
    return out


def _yellow(value: Any, errors: list[FieldError]) -> dict[str, float | None]:
    if not isinstance(value, dict):
        errors.append(FieldError("yellowTiers", "must be an object"))
        return {}
    out: dict[str, float | None] = {}
    for key, tier in value.items():
        where = f"yellowTiers.{key}"
        if key not in YELLOW_KEYS:
            errors.append(FieldError(where, "unknown metric"))
        elif tier is None:
            continue  # back to the default tier
        elif isinstance(tier, bool) or not isinstance(tier, (int, float)):
            errors.append(FieldError(where, "must be a number"))
        elif not math.isfinite(tier) or tier < 0:
            errors.append(FieldError(where, "must be a finite number >= 0"))
        else:
            out[str(key)] = float(tier)
    # A yellow tier beyond red would colour a poor value yellow: refuse it.
    if not errors:
        table = build_table(out)
        for row in table.rows:
            if row.yellow is None or row.op == ">=":
                continue
            beyond = row.yellow >= row.red if row.op == ">" else row.yellow <= row.red
            one = f"{row.media}.{row.metric}"
            key = one if one in out else row.metric
            if beyond and key in out:
                errors.append(
                    FieldError(f"yellowTiers.{key}", f"must be on the good side of red ({row.red})")
                )
    return out


def _retention(value: Any, errors: list[FieldError]) -> Retention:
    if not isinstance(value, dict):
        errors.append(FieldError("retention", "must be an object"))
        return Retention()
    days: dict[str, int | None] = {}
    for key in sorted(set(value) - set(_RETENTION)):
        errors.append(FieldError(f"retention.{key}", "unknown field"))
    for key, kind in _RETENTION.items():
        v = value.get(key)
        where = f"retention.{key}"
        top = RETENTION_MAX_DAYS[kind]
        if v is None:
            days[key] = None
        elif isinstance(v, bool) or not isinstance(v, int):
            errors.append(FieldError(where, "must be a whole number of days"))
        elif not RETENTION_MIN_DAYS <= v <= top:
            errors.append(FieldError(where, f"must be between {RETENTION_MIN_DAYS} and {top} days"))
        else:
            days[key] = v
    return Retention.model_validate(days)


def parse_settings(body: Any) -> ClassificationSettings:
    """Validate a PUT body; one `Invalid` naming every offending field."""
    if not isinstance(body, dict):
        raise Invalid("the settings must be a JSON object", field="$")
    errors = [
        FieldError(k, f"unknown field (allowed: {', '.join(sorted(_TOP))})")
        for k in sorted(set(body) - _TOP)
    ]
    settings = ClassificationSettings(
        classifier_profiles=_profiles(body.get("classifierProfiles", {}), errors),
        yellow_tiers=_yellow(body.get("yellowTiers", {}), errors),
        retention=_retention(body.get("retention", {}), errors),
    )
    if errors:
        raise Invalid(
            f"the settings are invalid ({len(errors)} error(s))",
            field=errors[0].field,
            errors=errors,
        )
    return settings


def changes(before: ClassificationSettings, after: ClassificationSettings) -> list[dict[str, Any]]:
    """One entry per changed setting (`field`, `from`, `to`): each is audited apart."""
    out: list[dict[str, Any]] = []
    for source in sorted(DEFAULT_PROFILE_BY_SOURCE):
        a = before.classifier_profiles.get(source)
        b = after.classifier_profiles.get(source)
        if a != b:
            out.append({"field": f"classifierProfiles.{source}", "from": a, "to": b})
    for key in sorted(set(before.yellow_tiers) | set(after.yellow_tiers)):
        a2, b2 = before.yellow_tiers.get(key), after.yellow_tiers.get(key)
        if a2 != b2:
            out.append({"field": f"yellowTiers.{key}", "from": a2, "to": b2})
    for key in _RETENTION:
        attr = _RETENTION[key] + "_days"
        a3, b3 = getattr(before.retention, attr), getattr(after.retention, attr)
        if a3 != b3:
            out.append({"field": f"retention.{key}", "from": a3, "to": b3})
    return out


def effective_profiles(settings: ClassificationSettings) -> dict[str, str]:
    return {s: settings.classifier_profiles.get(s, d) for s, d in DEFAULT_PROFILE_BY_SOURCE.items()}
