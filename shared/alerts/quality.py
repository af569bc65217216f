"""Quality alerts: a building whose audio Poor % for a day is over a threshold.

Why evaluated through `quality_summary`: the alert is computed from the pre-aggregates
by the very report an admin opens to investigate it (grouped by day and building, audio
only, the building resolved with the tenant's current building file), so the figures in
an alert never disagree with the CQD summary. Cost: one report query per evaluation,
(days x subnets) aggregate documents, whatever the call volume.

Rule: a (building, day) alerts when its classified audio streams (Poor + Good) reach
`min_streams` and its Poor % (Poor / (Poor + Good), CQD) is strictly above
`poor_percent`. Subnets outside the building file cannot alert (no building to name);
`missing-subnets` is the report for those.

Exactly one alert per (tenant, building, day), however often it is evaluated and however
often the data is re-processed: the record's id is derived from the day and the
building's name (case-insensitive), and it is *created*, so the second evaluation finds it
exists and only refreshes the figures on the existing record (keeping raisedAt and any
acknowledgement). The `cdc.quality.alerts` metric, which Azure Monitor alerts on, is
counted only by the evaluation whose create succeeded. Re-processing a batch does not
change the aggregates (they are exact under re-processing), so it cannot push a day over
or under the threshold either.

Storage: the `alerts` container (partition /tenantId, 13 months like the aggregates). A
separate container rather than typed documents in `tenants`: alerts expire, tenant
settings must not; and listing by day and status needs those paths indexed, which the
`tenants` policy deliberately does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shared import telemetry
from shared.auth.levels import ADMIN
from shared.auth.tokens import Principal
from shared.clock import iso_utc
from shared.errors import Invalid, NotFound
from shared.paging import page_rows
from shared.reports.service import poor_percent, quality_summary
from shared.settings import SettingsError
from shared.storage import alerts as alert_store
from shared.storage.clients import Clients

log = logging.getLogger(__name__)

KIND = "quality"
MEDIA = "audio"
# Microsoft's Quality of Experience Review Guide targets an audio poor stream rate of 2 %
# on internal networks (3 % overall), not 20 %: a building of the building file is an
# internal network, so the alert fires when a building misses the internal target on a
# day (docs/reference/cqd-dimensions.md, "Alert default"). At the 20-stream minimum one
# poor stream (5 %) is already over it: the minimum, not the percentage, is the knob
# against noise.
DEFAULT_POOR_PERCENT = 2.0
DEFAULT_MIN_STREAMS = 20
LOOKBACK_DAYS = 2  # today so far, and yesterday (late and back-filled batches)
DEFAULT_LIST_DAYS = 30
STATUSES = ("open", "acknowledged")
WRITE_ATTEMPTS = 10
FIGURES = ("poorPercent", "poor", "good", "streams")


@dataclass(frozen=True)
class Thresholds:
    poor_percent: float = DEFAULT_POOR_PERCENT
    min_streams: int = DEFAULT_MIN_STREAMS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Thresholds:
        """CDC_ALERT_POOR_PERCENT and CDC_ALERT_MIN_STREAMS (shared/settings.py lists
        them); read when an evaluation runs, never at import."""
        source = os.environ if env is None else env

        def number(name: str, default: float, kind: type) -> Any:
            raw = (source.get(name) or "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError as exc:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
            if value < 0:
                raise SettingsError(f"{name} must not be negative, got {raw!r}")
            return value

        return cls(
            number("CDC_ALERT_POOR_PERCENT", DEFAULT_POOR_PERCENT, float),
            number("CDC_ALERT_MIN_STREAMS", DEFAULT_MIN_STREAMS, int),
        )


def alert_id(day: str, building: str) -> str:
    """Deterministic: the same building and day always name the same record. Hashed
    because building names may hold characters Cosmos ids forbid (/ \\ ? #)."""
    digest = hashlib.sha256(building.strip().casefold().encode()).hexdigest()[:24]
    return f"{KIND}|{day}|{digest}"


def _iso(when: datetime) -> str:
    return iso_utc(when)


def evaluation_days(now: datetime | None = None) -> list[date]:
    today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    return [today - timedelta(days=n) for n in range(LOOKBACK_DAYS - 1, -1, -1)]


def system_principal(tenant_id: str) -> Principal:
    """Who the evaluator reads the report as: reader level (no EUII in what it gets)."""
    return Principal(
        tenant_id=tenant_id, object_id="system:quality-alerts", name=None, levels=("reader",)
    )


def breaches(rows: Sequence[Mapping[str, Any]], thresholds: Thresholds) -> list[dict[str, Any]]:
    """The (day, building) rows of a day x building audio summary that must alert."""
    out = []
    for row in rows:
        building = row.get("building")
        poor, good = int(row.get("poor") or 0), int(row.get("good") or 0)
        pct = poor_percent(poor, good)
        if not building or pct is None or poor + good < thresholds.min_streams:
            continue
        if pct > thresholds.poor_percent:
            out.append(
                {
                    "day": str(row["day"]),
                    "building": str(building),
                    "poorPercent": pct,
                    "poor": poor,
                    "good": good,
                    "streams": int(row.get("streams") or 0),
                }
            )
    return out


def tenant_percent(rows: Sequence[Mapping[str, Any]], day: str) -> float | None:
    """The tenant's audio Poor % for a day (every subnet, in a building or not)."""
    poor = sum(int(r.get("poor") or 0) for r in rows if str(r.get("day")) == day)
    good = sum(int(r.get("good") or 0) for r in rows if str(r.get("day")) == day)
    return poor_percent(poor, good)


@dataclass
class Evaluation:
    tenant_id: str
    days: list[str]
    raised: list[dict[str, Any]] = field(default_factory=list)
    refreshed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "days": self.days,
            "raised": len(self.raised),
            "refreshed": len(self.refreshed),
            "unchanged": self.unchanged,
        }


async def _raise_or_refresh(
    clients: Clients,
    tenant_id: str,
    breach: dict[str, Any],
    thresholds: Thresholds,
    now: datetime,
    result: Evaluation,
) -> None:
    stamp = _iso(now)
    doc = {
        "id": alert_id(breach["day"], breach["building"]),
        "tenantId": tenant_id,
        "kind": KIND,
        "mediaType": MEDIA,
        **breach,
        "threshold": thresholds.poor_percent,
        "minStreams": thresholds.min_streams,
        "status": "open",
        "raisedAt": stamp,
        "lastEvaluatedAt": stamp,
        "ackedBy": None,
        "ackedAt": None,
    }
    if await alert_store.create_alert(clients, doc):
        result.raised.append(dict(doc))
        telemetry.count_quality_alert(tenant_id, breach["building"])
        log.warning(
            "quality alert: building audio Poor %.1f%% over %.1f%% on %s "
            "(%d of %d classified streams poor)",
            breach["poorPercent"],
            thresholds.poor_percent,
            breach["day"],
            breach["poor"],
            breach["poor"] + breach["good"],
            extra={"alertId": doc["id"]},
        )
        return
    for _ in range(WRITE_ATTEMPTS):  # it exists: refresh the figures, never a second one
        existing = await alert_store.read_alert(clients, tenant_id, doc["id"])
        if existing is None:  # expired or deleted in between: it will be raised next run
            return
        if all(existing.get(k) == breach[k] for k in FIGURES):
            result.unchanged += 1
            return
        updated = existing | {k: breach[k] for k in FIGURES} | {"lastEvaluatedAt": stamp}
        if await alert_store.replace_alert(clients, updated, existing["_etag"]):
            result.refreshed.append(alert_store.public(updated))
            return
    raise RuntimeError(f"alert {doc['id']}: too many concurrent updates")


async def evaluate_tenant(
    clients: Clients,
    tenant_id: str,
    days: Sequence[date],
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Raise (or refresh) the quality alerts of a tenant's days; idempotent."""
    thresholds = thresholds or Thresholds.from_env()
    now = now or datetime.now(timezone.utc)
    ordered = sorted(set(days))
    result = Evaluation(tenant_id, [d.isoformat() for d in ordered])
    if not ordered:
        return result
    report = await quality_summary(
        clients,
        system_principal(tenant_id),
        {
            "from": ordered[0].isoformat(),
            "to": ordered[-1].isoformat(),
            "groupBy": "day,building",
            "mediaType": MEDIA,
        },
    )
    wanted = set(result.days)
    rows = [r for r in report["rows"] if str(r.get("day")) in wanted]
    today = now.astimezone(timezone.utc).date().isoformat()
    for day in result.days:
        period = "today" if day == today else ("yesterday" if day < today else None)
        if period:
            telemetry.record_quality(tenant_id, period, tenant_percent(rows, day))
    for breach in breaches(rows, thresholds):
        await _raise_or_refresh(clients, tenant_id, breach, thresholds, now, result)
    return result


async def evaluate_all(
    clients: Clients,
    tenant_ids: Sequence[str],
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> list[dict[str, Any]]:
    """The timer's work: every tenant, today and yesterday. One tenant's failure is
    logged and does not stop the others; it raises at the end so the run shows failed."""
    thresholds = thresholds or Thresholds.from_env()
    days = evaluation_days(now)
    out: list[dict[str, Any]] = []
    failed = 0
    for tenant_id in tenant_ids:
        with telemetry.log_context(tenantId=tenant_id):
            try:
                result = await evaluate_tenant(clients, tenant_id, days, thresholds, now)
            except Exception:
                failed += 1
                log.exception("quality alert evaluation failed for a tenant")
                continue
            out.append(result.summary())
            log.info(
                "quality alerts evaluated: %d raised, %d refreshed, %d unchanged",
                len(result.raised),
                len(result.refreshed),
                result.unchanged,
            )
    if failed:
        raise RuntimeError(f"quality alert evaluation failed for {failed} tenant(s)")
    return out


# ------------------------------------------------------------------------- admin API


def _day_param(params: Mapping[str, str], name: str, default: date) -> date:
    value = params.get(name)
    if not value:
        return default
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise Invalid(f"'{name}' must be a date (YYYY-MM-DD)", field=name) from None


async def list_alerts(
    clients: Clients, principal: Principal, params: Mapping[str, str]
) -> dict[str, Any]:
    """The tenant's quality alerts of a period (default the last 30 days), newest day
    first, worst first within a day; `status` = open | acknowledged | all."""
    principal.require(ADMIN)
    today = datetime.now(timezone.utc).date()
    end = _day_param(params, "to", today)
    start = _day_param(params, "from", end - timedelta(days=DEFAULT_LIST_DAYS - 1))
    if end < start:
        raise Invalid("'to' is before 'from'", field="to")
    status = (params.get("status") or "all").strip().lower()
    if status not in (*STATUSES, "all"):
        raise Invalid("status must be open, acknowledged or all", field="status")
    docs = await alert_store.query_alerts(
        clients,
        principal.tenant_id,
        KIND,
        start.isoformat(),
        end.isoformat(),
        None if status == "all" else status,
    )
    query = {"from": start.isoformat(), "to": end.isoformat(), "status": status}
    page, token = page_rows(docs, params.get("continuationToken"), alert_order, query)
    return {
        **query,
        "open": sum(1 for d in docs if d.get("status") == "open"),
        "alerts": [alert_store.public(d) for d in page],
        "continuationToken": token,
    }


def alert_order(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """Newest day first, worst first within a day, then by building and id: the list's
    order and its page position (an acknowledgement does not move an alert)."""
    try:
        day = -date.fromisoformat(str(doc.get("day"))[:10]).toordinal()
    except ValueError:
        day = 0
    return (
        day,
        -float(doc.get("poorPercent") or 0),
        str(doc.get("building") or "").casefold(),
        str(doc.get("id")),
    )


async def acknowledge(clients: Clients, principal: Principal, item_id: str) -> dict[str, Any]:
    """Mark an alert acknowledged by the caller. Idempotent: acknowledging it again
    returns the first acknowledgement unchanged."""
    principal.require(ADMIN)
    if not item_id or len(item_id) > 200:
        raise Invalid("alertId is required", field="alertId")
    for _ in range(WRITE_ATTEMPTS):
        doc = await alert_store.read_alert(clients, principal.tenant_id, item_id)
        if doc is None or doc.get("kind") != KIND:
            raise NotFound("no such alert in this tenant", field="alertId")
        if doc.get("status") == "acknowledged":
            return alert_store.public(doc)
        doc |= {
            "status": "acknowledged",
            "ackedAt": _iso(datetime.now(timezone.utc)),
            "ackedBy": principal.name or principal.object_id,
            "ackedById": principal.object_id,
        }
        if await alert_store.replace_alert(clients, doc, doc["_etag"]):
            return alert_store.public(doc)
        await asyncio.sleep(0.01)
    raise RuntimeError(f"alert {item_id}: too many concurrent updates")
