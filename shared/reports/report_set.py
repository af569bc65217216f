"""The report set as a service: list, read, create, replace, delete and run report
definitions for a principal. Definitions and their rules are in
`shared.reports.definitions` (pure); custom ones are stored by `shared.storage.reports`;
running goes through the one summary engine (`shared.reports.service`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from shared.auth.levels import ADMIN, REPORTS
from shared.auth.tokens import Principal
from shared.clock import utcnow
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.reports.definitions import (
    BUILT_IN,
    BUILT_IN_BY_ID,
    CUSTOM_PREFIX,
    MAX_CUSTOM_REPORTS,
    ReportDefinition,
    default_period,
    definition_from_doc,
    project_row,
    validate_definition,
)
from shared.reports.service import (
    Period,
    filters_match,
    group_key,
    paged,
    poor_user_key,
    poor_user_table,
    run_summary,
    summary_filters,
)
from shared.storage import reports as store
from shared.storage.clients import Clients
from shared.storage.items import StaleWrite

AUTHORS_VISIBLE = frozenset({"admin", "engineer"})  # who wrote a report: a UPN, EUII


def _visible(definition: ReportDefinition, principal: Principal) -> bool:
    return bool(set(principal.levels) & definition.levels)


async def list_reports(clients: Clients, principal: Principal) -> dict[str, Any]:
    """Built-ins the caller's level may run, then the tenant's custom reports by name."""
    principal.require(REPORTS)
    custom = sorted(
        (definition_from_doc(d) for d in await store.list_custom(clients, principal.tenant_id)),
        key=lambda d: (d.name.lower(), d.id),
    )
    authors = bool(set(principal.levels) & AUTHORS_VISIBLE)
    return {
        "reports": [
            d.as_json(with_authors=authors) for d in (*BUILT_IN, *custom) if _visible(d, principal)
        ]
    }


async def get_report(clients: Clients, principal: Principal, report_id: str) -> ReportDefinition:
    """The definition, if it exists for this tenant and the caller's level may run it."""
    principal.require(REPORTS)
    definition = BUILT_IN_BY_ID.get(report_id)
    if definition is None and report_id.startswith(CUSTOM_PREFIX):
        doc = await store.read_custom(clients, principal.tenant_id, report_id)
        definition = definition_from_doc(doc) if doc else None
    if definition is None:
        raise NotFound("no such report for this tenant", field="id")
    if not _visible(definition, principal):
        raise Forbidden(
            "this report needs a wider role", extra={"requiredLevels": sorted(definition.levels)}
        )
    return definition


async def _check_name(
    clients: Clients, tenant_id: str, name: str, own_id: str | None = None
) -> int:
    """`Conflict` if another report has this name (case-insensitive); the custom count."""
    docs = await store.list_custom(clients, tenant_id)
    taken = {d.name.lower() for d in BUILT_IN}
    taken |= {str(d["name"]).lower() for d in docs if d.get("reportId") != own_id}
    if name.lower() in taken:
        raise Conflict(f"a report named {name!r} already exists", field="name")
    return len(docs)


def _author(principal: Principal) -> str | None:
    return principal.name or principal.object_id


async def create_report(clients: Clients, principal: Principal, body: Any) -> dict[str, Any]:
    principal.require(ADMIN)
    fields = validate_definition(body)
    count = await _check_name(clients, principal.tenant_id, fields["name"])
    if count >= MAX_CUSTOM_REPORTS:
        raise Conflict(f"a tenant keeps at most {MAX_CUSTOM_REPORTS} custom reports")
    report_id = CUSTOM_PREFIX + uuid.uuid4().hex[:12]
    now = utcnow()
    doc = {
        "id": store.item_id(report_id),
        "tenantId": principal.tenant_id,
        "type": store.REPORT_TYPE,
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
    await store.create_custom(clients, doc)
    return definition_from_doc(doc).as_json()


async def replace_report(
    clients: Clients, principal: Principal, report_id: str, body: Any
) -> dict[str, Any]:
    """Replace a custom definition (etag-conditional: a concurrent edit is a `Conflict`)."""
    principal.require(ADMIN)
    if report_id in BUILT_IN_BY_ID:
        raise Conflict("built-in reports are read-only; create a custom report instead", field="id")
    fields = validate_definition(body)
    old = await store.read_custom(clients, principal.tenant_id, report_id)
    if old is None:
        raise NotFound("no such report for this tenant", field="id")
    await _check_name(clients, principal.tenant_id, fields["name"], own_id=report_id)
    doc = {k: v for k, v in old.items() if not k.startswith("_")}
    doc.update(
        fields,
        groupBy=list(fields["groupBy"]),
        measures=list(fields["measures"]),
        version=int(old["version"]) + 1,
        updatedAt=utcnow(),
        updatedBy=_author(principal),
    )
    try:
        await store.replace_custom(clients, doc, old["_etag"])
    except StaleWrite:
        raise Conflict(
            "the report was modified concurrently; read it and retry", field="id"
        ) from None
    return definition_from_doc(doc).as_json()


async def delete_report(clients: Clients, principal: Principal, report_id: str) -> None:
    principal.require(ADMIN)
    if report_id in BUILT_IN_BY_ID:
        raise Conflict("built-in reports cannot be deleted", field="id")
    if not await store.delete_custom(clients, principal.tenant_id, report_id):
        raise NotFound("no such report for this tenant", field="id")


def narrowed_filters(own: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The definition's filters AND the run's; `Invalid` naming a run filter that lies
    outside the definition's own values for that dimension."""
    out = dict(own)
    for name, value in extra.items():
        if name in own and not filters_match({name: value}, {name: own[name]}):
            raise Invalid(
                f"this report only covers {name} = {own[name]!r}; {value!r} is outside it",
                field=name,
            )
        out[name] = value
    return out


async def run_report(
    clients: Clients,
    principal: Principal,
    report_id: str,
    params: Mapping[str, str],
    today: date | None = None,
) -> dict[str, Any]:
    """Run a definition over `from`/`to` (both, or neither for its default period),
    narrowed by the filters of `params` (the summary's names and values): a filter on a
    dimension the definition filters too must be one of the definition's values, so a
    run can narrow a report and never turn it into another."""
    definition = await get_report(clients, principal, report_id)
    filters = narrowed_filters(definition.filters, summary_filters(params))
    if params.get("from") or params.get("to"):
        period = Period.parse(params)
    else:
        period = default_period(definition.period, today or datetime.now(timezone.utc).date())
    head: dict[str, Any] = {
        "report": definition.ref(),
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "groupBy": list(definition.group_by),
        "filters": filters,
        "measures": list(definition.measures),
    }
    # a token continues the same report at the same version over the same period
    query = ("report", "groupBy", "filters", "measures")
    if definition.source == "poorUsers":
        body = await poor_user_table(clients, principal, {"from": head["from"], "to": head["to"]})
        table = {**head, "documentsRead": body["documentsRead"], "rows": body["rows"]}
        return paged(table, params, poor_user_key, query)
    names = list(definition.group_by)
    body = await run_summary(clients, principal, period, names, filters)
    rows = [project_row(r, definition.group_by, definition.measures) for r in body["rows"]]
    table = {
        **head,
        "buildingFile": body["buildingFile"],
        "topology": body["topology"],
        "documentsRead": body["documentsRead"],
        "rows": rows,
    }
    return paged(table, params, lambda r: group_key(r, names), query)
