"""HTTP with the standard library, and the retry decisions of ingest delivery.

Why urllib: the agent installs on locked-down Windows servers; one fewer dependency is one
fewer thing to approve and patch. urllib honours the system proxy variables
(HTTPS_PROXY/NO_PROXY) and verifies TLS against the system store.

Decisions (issue 6): 2xx delivered (202 accepted, 200 identical retry); 408, 429, 5xx and
connection errors retried with exponential backoff and full jitter, waiting at least the
server's `Retry-After` (seconds or HTTP date); 401/403/404/405 and redirects mean the
agent itself is misconfigured (token, role, tenant, endpoint): they stop the run and keep
the batch pending, because moving the whole backlog to rejected/ for an expired secret
would be wrong; any other 4xx (400, 409, 413, 415, 422...) rejects that batch.
"""

from __future__ import annotations

import enum
import json
import random
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from cdc_agent import __version__

USER_AGENT = f"cdc-agent/{__version__}"


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"
    FATAL = "fatal"


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def problem(self) -> dict[str, Any]:
        """The server's problem+json body, or a stand-in that still says what happened."""
        body = self.json()
        if isinstance(body, dict):
            return body
        text = self.body[:2000].decode("utf-8", "replace")
        return {"status": self.status, "title": f"HTTP {self.status}", "detail": text}


class TransportError(Exception):
    """No HTTP answer at all (refused, reset, DNS, TLS, timeout): always retried."""


HttpSend = Callable[[str, str, bytes | None, Mapping[str, str], float], Response]


def urllib_send(
    method: str, url: str, body: bytes | None, headers: Mapping[str, str], timeout: float
) -> Response:
    """One HTTP exchange; HTTP errors come back as a Response, network errors raise."""
    req = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read()
        except OSError:
            data = b""
        return Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, data)
    except ssl.SSLCertVerificationError as exc:
        raise TransportError(f"TLS certificate not trusted: {exc}") from exc
    except (urllib.error.URLError, OSError) as exc:  # timeouts and resets are OSErrors
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{type(reason).__name__}: {reason}") from exc


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    if status in (401, 403, 404, 405) or 300 <= status < 400 or status < 200:
        return Outcome.FATAL
    return Outcome.REJECTED


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.
    None when absent or unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)  # lenient: "1.5"
        return max(0.0, seconds)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass
class Backoff:
    """Exponential backoff with full jitter; `Retry-After` is a floor, capped so a
    hostile or buggy header cannot park the agent for days."""

    base: float = 1.0
    cap: float = 300.0
    max_retry_after: float = 900.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1 = first retry)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        jittered = self.rng.uniform(0, ceiling) if ceiling > 0 else 0.0
        if retry_after is not None:
            floor = min(retry_after, self.max_retry_after)
            # a little jitter above the floor so many agents do not return in lock-step
            return floor + self.rng.uniform(0, min(1.0, floor * 0.1 + 0.1))
        return jittered
