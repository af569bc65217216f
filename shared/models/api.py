"""The shapes of the API's response bodies, as pydantic models.

The OpenAPI document (`functions/contract.py`) is generated from these and, for request
bodies, from the models next to the code that validates them (`BatchEnvelope`,
`ExclusionPolicy`, `reports.definitions.ReportDefinitionBody`,
`topology_validation.TopologyBody`), built from the same constants.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.models.call import CallView


class ApiModel(BaseModel):
    """Every API body: snake_case fields in Python, camelCase on the wire and in the
    OpenAPI document (the same alias rule as the call models; docs/reference/api.md)."""

    model_config = ConfigDict(defer_build=True, alias_generator=to_camel, populate_by_name=True)


class BatchAccepted(ApiModel):
    batch_id: str
    status: str
    status_url: str
    records: int


class BatchError(ApiModel):
    index: int
    reason: str


class BatchStatus(ApiModel):
    batch_id: str
    tenant_id: str
    status: Literal["accepted", "processing", "completed", "completedWithErrors", "failed"]
    received: int
    stored: int
    quarantined: int
    excluded: int
    calls: int
    errors: list[BatchError]
    received_at: str | None
    completed_at: str | None


class ExclusionSaved(ApiModel):
    tenant_id: str
    users: int
    domains: int


class UserEntry(ApiModel):
    user: str
    display_name: str | None
    sip_uri: str | None
    last_seen: str | None


class UserSearch(ApiModel):
    users: list[UserEntry]


class CallSummary(ApiModel):
    call_id: str
    call_type: str | None
    start: str | None
    end: str | None
    duration_s: float | None
    rating: str | None
    reasons: list[str]
    participant_count: int | None
    participants: list[str] | None = Field(
        default=None,
        description="engineer and admin only; the first 50 (participantCount counts all, "
        "the call detail lists everyone)",
    )


class CallHistory(ApiModel):
    user: str
    from_: str = Field(alias="from")
    to: str
    calls: list[CallSummary]
    continuation_token: str | None


class CallLookup(ApiModel):
    """`GET /api/v1/calls?sourceId=`: the calls that carry the id (most often one)."""

    source_id: str
    calls: list[CallSummary]
    continuation_token: str | None = Field(
        default=None, description="always null: an id names a handful of calls at most"
    )


class CallDetail(CallView):
    """Fields absent for a specialist are not in the response at all (docs/reference/roles.md)."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    call_id: str
    participant_count: int
    session_count: int = Field(description="all the call's sessions; `sessions` is one page")
    continuation_token: str | None = Field(
        default=None, description="the next page of sessions; null on the last page"
    )


class SourceIndexRun(ApiModel):
    """One run of the source-id index backfill (`POST /api/v1/admin/source-index/backfill`)."""

    users_read: int
    calls_read: int
    ids_checked: int = Field(description="source ids of those calls looked up in the index")
    entries_written: int = Field(description="index entries created or extended (0: complete)")
    continuation_token: str | None = Field(description="run again with it; null: done")


class AuditEntry(ApiModel):
    at: str
    action: str
    actor_id: str | None
    actor_name: str | None
    level: str | None
    target_user: str | None
    call_id: str | None
    field: str | None = None  # admin changes: which setting changed
    user_hash: str | None = None  # a purge: the user as a hash, never the address


class AuditPage(ApiModel):
    entries: list[AuditEntry]
    continuation_token: str | None


class ReportTable(ApiModel):
    """A report: one row per group with counts, Poor % and poor-due-to counts."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    documents_read: int
    rows: list[dict[str, Any]]
    continuation_token: str | None


class BuildingSummary(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    rows: int | None = None
    upload_id: str | None = None
    valid_from: str | None = Field(
        None, description="first UTC day the current upload labels (null: every day)"
    )


class BuildingUpload(ApiModel):
    """One kept upload of the building file (docs/reference/buildings.md)."""

    upload_id: str
    rows: int
    buildings: int
    valid_from: str | None = None
    uploaded_at: str
    uploaded_by: str | None = None
    current: bool
    active: bool = Field(description="the current upload (the same as current)")
    in_use: bool = Field(description="the timeline labels some days with this upload")


class BuildingHistory(ApiModel):
    current: BuildingSummary
    uploads: list[BuildingUpload]


class ExclusionView(ApiModel):
    """The tenant's exclusion policy as the agent last pushed it (or a purge added to)."""

    users: list[str]
    domains: list[str]


# Report set and topology.


class ReportDefinitionOut(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    id: str
    name: str
    version: int
    built_in: bool
    source: Literal["summary", "poorUsers"]
    group_by: list[str]
    measures: list[str]
    levels: list[str]


class ReportList(ApiModel):
    reports: list[ReportDefinitionOut]


class TopologySummary(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    active: bool
    version: int
    sites: int
    pools: int
    gateways: int


class QualityAlert(ApiModel):
    """One building's day over the audio Poor % threshold."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    id: str
    day: str
    building: str
    poor_percent: float
    poor: int
    good: int
    threshold: float
    status: str
    raised_at: str
    acked_by: str | None = None
    acked_at: str | None = None


class AlertList(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    open: int = Field(description="open alerts in the period (all pages)")
    alerts: list[QualityAlert]
    continuation_token: str | None


class PurgeResult(BaseModel):
    """What a user purge did; the user appears only as a hash."""

    model_config = ConfigDict(defer_build=True)

    userHash: str
    status: Literal["running", "completed", "failed"]
    startedAt: str
    completedAt: str | None
    requestedBy: str | None
    callsDeleted: int
    callsScrubbed: int
    historyEntriesDeleted: int
    directoryEntryDeleted: bool
    auditEntriesScrubbed: int
    quarantinedRecordsScrubbed: int
    addedToExclusions: bool
    statusUrl: str | None = None


class QuarantinedRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)

    batchId: str
    index: int
    reason: str | None
    discarded: bool
    discardedAt: str | None = None
    lastReplayAt: str | None = None
    record: Any = None  # only when one record is read (admin, audited)


class QuarantineList(BaseModel):
    """One page of quarantined records; `byReason` and `count` are the page's."""

    model_config = ConfigDict(defer_build=True)

    items: list[QuarantinedRecord]
    byReason: dict[str, int]
    count: int
    continuationToken: str | None


class ReplayOutcome(BaseModel):
    model_config = ConfigDict(defer_build=True)

    index: int
    outcome: Literal["stored", "excluded", "quarantined", "discarded"]
    reason: str | None


class ReplayResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    batchId: str
    results: list[ReplayOutcome]
    counts: dict[str, int]


class ReplayRun(ReplayResult):
    """One run of a batch's replay (`POST /api/v1/admin/quarantine/{batchId}/replay`):
    a bounded number of records, then a token for the next run."""

    replayed: int = Field(description="records replayed by this run (len(results))")
    remaining: int = Field(
        description="quarantined records of the batch this pass has not reached yet (0: done)"
    )
    continuationToken: str | None = Field(
        description="run again with it to replay the next records; null: the pass is over"
    )


# Microsoft Graph (functions/graph.py): the webhooks' and the admin routes' bodies.


class GraphNotifications(BaseModel):
    """Graph change or lifecycle notifications (`value`: one item per notification), as
    Microsoft Graph posts them: Graph's format, not ours, so no alias rule."""

    model_config = ConfigDict(defer_build=True, extra="allow")
    value: list[dict[str, object]]


class BackfillBody(ApiModel):
    from_: str = Field(alias="from", description="ISO-8601 start (inclusive), within 30 days")
    to: str = Field(description="ISO-8601 end (exclusive)")


class BackfillStarted(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    run_id: str
    tenant_id: str
    status: str


class GraphState(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    subscription: dict[str, object] | None = None
    backfills: list[dict[str, object]] = Field(default_factory=list)


class PstnTrunkDay(ApiModel):
    day: str
    trunk: str
    log_type: str
    attempts: int
    answered: int
    ner: float | None = Field(description="network effectiveness ratio (docs/graph.md)")
    average_duration_s: float | None
    failures_by_sip_code: dict[str, int] = Field(description="keyed by SIP code (data)")


class PstnReport(ApiModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    rows: list[PstnTrunkDay]
    continuation_token: str | None
