"""Quality alerts (issue 11): evaluated from the pre-aggregates by a timer, one record
per (tenant, building, day), listed and acknowledged by admins. The operational alerts
(poisoned batches, failure rate, silent servers) live in Azure Monitor (infra/app/
alerts.bicep) over the telemetry of `shared.telemetry`."""

from shared.alerts.quality import (
    Thresholds,
    acknowledge,
    alert_id,
    evaluate_all,
    evaluate_tenant,
    list_alerts,
)

__all__ = [
    "Thresholds",
    "acknowledge",
    "alert_id",
    "evaluate_all",
    "evaluate_tenant",
    "list_alerts",
]
