"""PSTN (Calling Plans) and Direct Routing logs from Graph, and the per-trunk day report.

Why both paths: each log row becomes a `pstnCall`/`graph-pstn-v1` record through the
ingest path, so the call appears in the user's history and call detail with the same
visibility rules (numbers masked, trunk and SIP details not for a specialist); and
its outcome joins a per-(day, trunk) document, from which the report is computed.

`getPstnCalls(fromDateTime,toDateTime)` / `getDirectRoutingCalls(...)`: at most 90 days
per request and 1,000 rows per page (`@odata.nextLink`), so windows are cut into
90-day pieces. The day documents keep each row's outcome under its row id (a union),
so re-reading an overlapping window, or the same day twice, counts nothing twice.

NER (network effectiveness ratio, after ITU-T E.411): the share of attempts that the
network completed to the far end, whatever the called party did with them: answered,
busy (486, 600), declined (603), not answered or cancelled while ringing (480, 487).
Failures the network or the number caused (404, 408, 5xx, other 4xx) count against
it. attempts = every row; answered = rows with final SIP code 200 (or marked
successful).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from shared.graph.client import GraphClient, Throttled
from shared.graph.config import GraphConfig
from shared.graph.subscriptions import iso, parse_iso
from shared.paging import page_rows
from shared.settings import Settings
from shared.storage import graph_state
from shared.storage.clients import Clients
from shared.storage.queues import send_messages

log = logging.getLogger(__name__)
FUNCTIONS = {"getPstnCalls": "pstn", "getDirectRoutingCalls": "directRouting"}
MAX_RANGE = timedelta(days=90)  # documented maximum of one request
BATCH_ROWS = 1000
# Final SIP codes that still count as the network having done its job (see NER above).
NER_EFFECTIVE = frozenset({200, 480, 486, 487, 600, 603})


async def queue_logs(config: GraphConfig, tenant_id: str, begin: datetime, end: datetime) -> bool:
    await send_messages(
        config.queue, [{"op": "logs", "tenantId": tenant_id, "from": iso(begin), "to": iso(end)}]
    )
    return True


def _pieces(begin: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    while begin < end:
        out.append((begin, min(begin + MAX_RANGE, end)))
        begin = out[-1][1]
    return out


def _outcome(row: dict[str, Any]) -> list[Any]:
    code = row.get("finalSipCode")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    ok = row.get("successfulCall")
    answered = ok if isinstance(ok, bool) else code == 200
    duration = row.get("duration")
    duration = duration if isinstance(duration, int | float) else 0
    return [code, bool(answered), float(duration)]


async def _submit_rows(
    clients: Clients,
    settings: Settings,
    config: GraphConfig,
    tenant: str,
    log_type: str,
    rows: list[dict[str, Any]],
) -> None:
    from shared.graph.fetcher import submit

    for i in range(0, len(rows), BATCH_ROWS):
        chunk = rows[i : i + BATCH_ROWS]
        digest = hashlib.sha256("|".join(sorted(str(r.get("id")) for r in chunk)).encode())
        body = {
            "schemaVersion": "1.0",
            "batchId": f"{log_type}-{digest.hexdigest()[:32]}",
            "tenantId": tenant,
            "source": {
                "type": "teams-graph",
                "fqdn": config.origin.split("://", 1)[-1] or "graph.microsoft.com",
                "version": "v1.0",
            },
            "sentAt": iso(parse_iso(str(chunk[0].get("startDateTime")))),
            "records": [
                {"kind": "pstnCall", "format": "graph-pstn-v1", "data": r | {"logType": log_type}}
                for r in chunk
            ],
        }
        await submit(clients, settings, tenant, body)


async def _add_to_days(
    clients: Clients, tenant: str, log_type: str, rows: list[dict[str, Any]]
) -> None:
    groups: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for r in rows:
        day = str(r.get("startDateTime") or "")[:10]
        trunk = str(
            r.get("trunkFullyQualifiedDomainName")
            or ("Calling Plan" if log_type == "pstn" else "unknown")
        )
        groups.setdefault((day, trunk), {})[str(r.get("id"))] = _outcome(r)
    for (day, trunk), outcomes in groups.items():
        doc_id = f"pstn:{log_type}:{day}:{hashlib.sha1(trunk.encode()).hexdigest()[:16]}"

        def merge(doc: dict[str, Any], new: dict[str, list[Any]] = outcomes) -> None:
            doc.setdefault("rows", {}).update(new)

        await graph_state.update_doc(
            clients,
            tenant,
            doc_id,
            merge,
            default={
                "kind": "pstnDay",
                "day": day,
                "trunk": trunk,
                "logType": log_type,
                "rows": {},
                "ttl": 396 * 86_400,
            },
        )


async def run(
    clients: Clients,
    settings: Settings,
    graph: GraphClient,
    config: GraphConfig,
    message: dict[str, Any],
) -> str:
    tenant = str(message["tenantId"]).lower()
    begin, end = parse_iso(str(message["from"])), parse_iso(str(message["to"]))
    total = 0
    for function, log_type in FUNCTIONS.items():
        for a, b in _pieces(begin, end):
            rows: list[dict[str, Any]] = []
            try:
                async for row in graph.log_rows(tenant, function, a, b):
                    if isinstance(row, dict) and row.get("id"):
                        rows.append(row)
            except Throttled as exc:  # the whole window again later: idempotent
                await send_messages(
                    config.queue, [message], visibility_timeout=max(1, int(exc.retry_after))
                )
                return "throttled"
            if rows:
                await _submit_rows(clients, settings, config, tenant, log_type, rows)
                await _add_to_days(clients, tenant, log_type, rows)
            total += len(rows)
    log.info("graph logs: %d PSTN / Direct Routing rows read", total)
    return "logs"


def summarise(docs: list[dict[str, Any]], start: str, end: str) -> list[dict[str, Any]]:
    """Rows per (day, trunk): attempts, answered, NER, average duration of answered
    calls, failures by final SIP code. Days are `start`..`end` inclusive (YYYY-MM-DD)."""
    out = []
    for doc in sorted(docs, key=lambda d: (d.get("day", ""), d.get("trunk", ""))):
        if not start <= doc.get("day", "") <= end:
            continue
        outcomes = list((doc.get("rows") or {}).values())
        attempts = len(outcomes)
        answered = [o for o in outcomes if o[1]]
        effective = sum(1 for o in outcomes if o[1] or o[0] in NER_EFFECTIVE)
        failures = Counter(str(o[0]) for o in outcomes if not o[1])
        out.append(
            {
                "day": doc.get("day"),
                "trunk": doc.get("trunk"),
                "logType": doc.get("logType"),
                "attempts": attempts,
                "answered": len(answered),
                "ner": round(effective / attempts, 4) if attempts else None,
                "averageDurationS": round(sum(o[2] for o in answered) / len(answered), 1)
                if answered
                else None,
                "failuresBySipCode": dict(sorted(failures.items())),
            }
        )
    return out


async def report(clients: Clients, tenant_id: str, start: str, end: str) -> list[dict[str, Any]]:
    docs = await graph_state.query_days(clients, tenant_id, "pstnDay", start, end)
    return summarise(docs, start, end)


async def report_page(
    clients: Clients, tenant_id: str, start: str, end: str, continuation: str | None
) -> dict[str, Any]:
    """One page of the per-trunk report, by day, trunk and log type."""
    rows = await report(clients, tenant_id, start, end)
    page, token = page_rows(
        rows,
        continuation,
        lambda r: (str(r["day"]), str(r["trunk"]), str(r["logType"])),
        {"from": start, "to": end},
    )
    return {"from": start, "to": end, "rows": page, "continuationToken": token}
