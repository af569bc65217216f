"""The shapes of the API's response bodies, as pydantic models.

The OpenAPI document (`functions/contract.py`) is generated from these and, for request
bodies, from the models next to the code that validates them (`BatchEnvelope`,
`ExclusionPolicy`, `reports.definitions.ReportDefinitionBody`,
`topology_validation.TopologyBody`), built from the same constants.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models.call import CallView


class BatchAccepted(BaseModel):
    batchId: str
    status: str
    statusUrl: str
    records: int


class BatchError(BaseModel):
    index: int
    reason: str


class BatchStatus(BaseModel):
    batchId: str
    tenantId: str
    status: Literal["accepted", "processing", "completed", "completedWithErrors", "failed"]
    received: int
    stored: int
    quarantined: int
    excluded: int
    calls: int
    errors: list[BatchError]
    receivedAt: str | None
    completedAt: str | None


class ExclusionSaved(BaseModel):
    tenantId: str
    users: int
    domains: int


class UserEntry(BaseModel):
    user: str
    displayName: str | None
    sipUri: str | None
    lastSeen: str | None


class UserSearch(BaseModel):
    users: list[UserEntry]


class CallSummary(BaseModel):
    callId: str
    callType: str | None
    start: str | None
    end: str | None
    durationS: float | None
    rating: str | None
    reasons: list[str]
    participantCount: int | None
    participants: list[str] | None = Field(default=None, description="engineer and admin only")


class CallHistory(BaseModel):
    user: str
    from_: str = Field(alias="from")
    to: str
    calls: list[CallSummary]
    continuationToken: str | None


class CallDetail(CallView):
    """Fields absent for a specialist are not in the response at all (docs/reference/roles.md)."""

    model_config = ConfigDict(extra="allow")
    callId: str
    participant_count: int


class AuditEntry(BaseModel):
    at: str
    action: str
    actorId: str | None
    actorName: str | None
    level: str | None
    targetUser: str | None
    callId: str | None
    field: str | None = None  # admin changes: which setting changed
    userHash: str | None = None  # a purge: the user as a hash, never the address


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    continuationToken: str | None


class ReportTable(BaseModel):
    """A report: one row per group with counts, Poor % and poor-due-to counts."""

    model_config = ConfigDict(extra="allow")
    from_: str = Field(alias="from")
    to: str
    documentsRead: int
    rows: list[dict[str, Any]]


class BuildingSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    rows: int | None = None


# Report set and topology.


class ReportDefinitionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    version: int
    builtIn: bool
    source: Literal["summary", "poorUsers"]
    groupBy: list[str]
    measures: list[str]
    levels: list[str]


class ReportList(BaseModel):
    reports: list[ReportDefinitionOut]


class TopologySummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    active: bool
    version: int
    sites: int
    pools: int
    gateways: int


class QualityAlert(BaseModel):
    """One building's day over the audio Poor % threshold."""

    model_config = ConfigDict(extra="allow")
    id: str
    day: str
    building: str
    poorPercent: float
    poor: int
    good: int
    threshold: float
    status: str
    raisedAt: str
    ackedBy: str | None = None
    ackedAt: str | None = None


class AlertList(BaseModel):
    model_config = ConfigDict(extra="allow")
    open: int
    truncated: bool
    alerts: list[QualityAlert]


class PurgeResult(BaseModel):
    """What a user purge did; the user appears only as a hash."""

    userHash: str
    status: Literal["completed"]
    startedAt: str
    completedAt: str
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
    batchId: str
    index: int
    reason: str | None
    discarded: bool
    discardedAt: str | None = None
    lastReplayAt: str | None = None
    record: Any = None  # only when one record is read (admin, audited)


class QuarantineList(BaseModel):
    items: list[QuarantinedRecord]
    byReason: dict[str, int]
    count: int


class ReplayOutcome(BaseModel):
    index: int
    outcome: Literal["stored", "excluded", "quarantined", "discarded"]
    reason: str | None


class ReplayResult(BaseModel):
    batchId: str
    results: list[ReplayOutcome]
    counts: dict[str, int]


# Microsoft Graph (functions/graph.py): the webhooks' and the admin routes' bodies.


class GraphNotifications(BaseModel):
    """Graph change or lifecycle notifications (`value`: one item per notification)."""

    model_config = ConfigDict(extra="allow")
    value: list[dict[str, object]]


class BackfillBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="ISO-8601 start (inclusive), within 30 days")
    to: str = Field(description="ISO-8601 end (exclusive)")


class BackfillStarted(BaseModel):
    model_config = ConfigDict(extra="allow")
    runId: str
    tenantId: str
    status: str


class GraphState(BaseModel):
    model_config = ConfigDict(extra="allow")
    subscription: dict[str, object] | None = None
    backfills: list[dict[str, object]] = Field(default_factory=list)


class PstnTrunkDay(BaseModel):
    day: str
    trunk: str
    logType: str
    attempts: int
    answered: int
    ner: float | None = Field(description="network effectiveness ratio (docs/graph.md)")
    averageDurationS: float | None
    failuresBySipCode: dict[str, int]


class PstnReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    rows: list[PstnTrunkDay]
