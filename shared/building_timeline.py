"""Which uploaded building file labels which day (pure: no storage).

CQD asks for a start date with every building file upload and keeps the list of uploads
("My uploads"); a day is labelled by the file in effect on it, so a new file need not
relabel past days. Our rule (docs/reference/buildings.md, "Validity and history"):

- The tenant's *timeline* is a list of segments (upload id, valid from), ordered by
  their start. A day uses the last segment that starts on or before it; a segment
  without a start (`None`) covers every day before the next one. A day before the first
  segment has no file (every subnet Outside, no building).
- A new upload valid from day F keeps the segments starting before F and ends the
  timeline with itself from F on. Relabelling history is the explicit choice of an
  upload with no start: it replaces the whole timeline.
- Without either choice, the first upload of a tenant applies to every day (nothing was
  labelled before it) and a later one starts on the day of the upload (UTC), so days
  already reported keep their buildings.
- Rolling back to an earlier upload restores the timeline that upload made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.errors import Invalid


@dataclass(frozen=True)
class Segment:
    upload_id: str
    valid_from: str | None  # YYYY-MM-DD; None: from the beginning
    chunks: int = 0  # how many stored chunks the upload has (read without another lookup)

    def as_doc(self) -> dict[str, Any]:
        return {"uploadId": self.upload_id, "validFrom": self.valid_from, "chunks": self.chunks}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Segment:
        return cls(str(doc["uploadId"]), doc.get("validFrom"), int(doc.get("chunks") or 0))


def _start(segment: Segment) -> str:
    return segment.valid_from or ""


def validity(params: Mapping[str, str | None], has_timeline: bool, today: date) -> str | None:
    """The start day an upload's query parameters ask for: `validFrom=YYYY-MM-DD`, or
    `relabelHistory=true` for every day; neither: see the module docstring."""
    valid_from = (params.get("validFrom") or "").strip()
    relabel = (params.get("relabelHistory") or "").strip().lower()
    if relabel not in ("", "true", "false"):
        raise Invalid("'relabelHistory' must be true or false", field="relabelHistory")
    if valid_from and relabel == "true":
        raise Invalid(
            "give 'validFrom' or 'relabelHistory=true', not both: relabelling history "
            "applies the file to every day",
            field="validFrom",
        )
    if relabel == "true":
        return None
    if valid_from:
        try:
            return date.fromisoformat(valid_from).isoformat()
        except ValueError:
            raise Invalid("'validFrom' must be a date (YYYY-MM-DD)", field="validFrom") from None
    return today.isoformat() if has_timeline else None


def with_upload(timeline: Sequence[Segment], segment: Segment) -> list[Segment]:
    """The timeline after an upload valid from `segment.valid_from`."""
    if segment.valid_from is None:
        return [segment]
    kept = [s for s in timeline if _start(s) < segment.valid_from]
    return [*sorted(kept, key=_start), segment]


def upload_for(timeline: Sequence[Segment], day: str) -> str | None:
    """The upload id that labels `day` (YYYY-MM-DD), None when no file covers it."""
    chosen: str | None = None
    for segment in sorted(timeline, key=_start):
        if _start(segment) <= day:
            chosen = segment.upload_id
    return chosen
