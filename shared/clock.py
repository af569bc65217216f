"""The one way the app writes "now": UTC, ISO-8601 with a `Z`.

Stored timestamps are compared as strings (Cosmos DB queries such as
`c.completedAt >= @since`), which only works when every writer uses the same format.
Seconds are enough for what people read (uploadedAt, lastSeen); batch status stamps
carry milliseconds so a batch's received/started/completed order is visible.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal


def iso_utc(when: datetime, timespec: Literal["seconds", "milliseconds"] = "seconds") -> str:
    return when.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def utcnow(timespec: Literal["seconds", "milliseconds"] = "seconds") -> str:
    return iso_utc(datetime.now(timezone.utc), timespec)
