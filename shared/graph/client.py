"""A small async Microsoft Graph client (aiohttp + azure-identity tokens).

Why not msgraph-sdk: the fetch path calls six endpoints; the SDK's import alone would
take most of the cold-start budget. What this client does for every call:
- throttling: 429, 503 and 504 wait `Retry-After` (seconds or an HTTP date; an
  exponential backoff when absent) and try again, never sooner; once the waits of one
  call would exceed `max_wait_s` it raises `Throttled` with the server's delay, so the
  caller hands the wait to the queue instead of holding a worker;
- a 401 refreshes the token once;
- a 404 raises `NotFound` (a call record can answer 404 shortly after its
  notification: the fetcher retries it later);
- paging: `@odata.nextLink` and `sessions@odata.nextLink` are followed only on the
  configured Graph origin, so a bad link can never send our token elsewhere.
- a call record's `participants_v2`: Graph expands one relationship per request
  (`sessions` with `segments`, or `participants_v2`), so the participants are their own
  collection (`GET .../callRecords/{id}/participants_v2`, 130 a page), requested at
  the same time as the record: one round trip, not two.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from shared.graph.config import GraphConfig
from shared.graph.tokens import TokenProvider

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({429, 503, 504})
EXPAND = "$expand=sessions($expand=segments)"


class GraphError(Exception):
    """Status and Graph error code only in the text: the body (`detail`) stays out of
    logs and problem responses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Graph {status} {code}")
        self.status, self.code, self.detail = status, code, message


class NotFound(GraphError):
    pass


class Throttled(GraphError):
    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(status, "throttled", f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


def retry_after_s(value: str | None, attempt: int) -> float:
    """Retry-After in seconds: delta-seconds or an HTTP date; backoff when absent."""
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            pass
    return min(60.0, 2.0**attempt) * (0.5 + random.random() / 2)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphClient:
    """One per event loop and process (see `get_graph`); counts what it did in `stats`."""

    def __init__(
        self,
        config: GraphConfig,
        tokens: TokenProvider,
        session: Any,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_wait_s: float | None = None,
        max_attempts: int = 8,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.session = session
        self.sleep = sleep
        self.max_wait_s = config.max_inline_wait_s if max_wait_s is None else max_wait_s
        self.max_attempts = max_attempts
        self.stats: dict[str, float] = {"requests": 0, "throttled": 0, "waitedS": 0.0}

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not (
                path_or_url == self.config.origin
                or path_or_url.startswith(self.config.origin + "/")
            ):
                raise GraphError(502, "badLink", "a next link points outside Graph's origin")
            return path_or_url
        return f"{self.config.url}/{path_or_url.lstrip('/')}"

    async def request(self, method: str, tenant_id: str, path_or_url: str, body: Any = None) -> Any:
        url = self._url(path_or_url)
        waited = 0.0
        refreshed = False
        for attempt in range(1, self.max_attempts + 1):
            token = await self.tokens.token(tenant_id, refresh=refreshed and attempt > 1)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            self.stats["requests"] += 1
            try:
                async with self.session.request(method, url, json=body, headers=headers) as resp:
                    status = resp.status
                    retry_header = resp.headers.get("Retry-After")
                    text = await resp.text()
            except (TimeoutError, OSError) as exc:  # includes aiohttp.ClientError
                status, retry_header, text = 503, None, type(exc).__name__
            if status == 401 and not refreshed:
                refreshed = True
                continue
            if status in RETRY_STATUS:
                self.stats["throttled"] += 1
                delay = retry_after_s(retry_header, attempt)
                if waited + delay > self.max_wait_s or attempt == self.max_attempts:
                    raise Throttled(status, max(delay, 1.0))
                waited += delay
                self.stats["waitedS"] += delay
                await self.sleep(delay)
                continue
            if status == 404:
                raise NotFound(404, "notFound", "resource not found")
            if status >= 400:
                raise GraphError(status, _error_code(text), text[:300])
            return json.loads(text) if text else None
        raise Throttled(503, 5.0)

    # call records ---------------------------------------------------------------------

    async def call_record(self, tenant_id: str, record_id: str) -> dict[str, Any]:
        """The whole record: sessions with segments and every further page of them,
        and `participants_v2` with every page (absent when the server has no such
        collection for the record: 404 there while the record itself answers)."""
        path = f"communications/callRecords/{quote(record_id)}"
        got, listed = await asyncio.gather(
            self.request("GET", tenant_id, f"{path}?{EXPAND}"),
            self._collection(tenant_id, f"{path}/participants_v2"),
            return_exceptions=True,
        )
        if isinstance(got, BaseException):
            raise got
        if not isinstance(got, dict):
            raise GraphError(502, "badRecord", "call record is not a JSON object")
        record: dict[str, Any] = got
        link = record.pop("sessions@odata.nextLink", None)
        sessions = record.get("sessions")
        if not isinstance(sessions, list):
            sessions = record["sessions"] = []
        while link:
            page = await self.request("GET", tenant_id, link)
            sessions.extend(page.get("value") or [])
            link = page.get("@odata.nextLink")
        record.pop("participants_v2@odata.nextLink", None)
        if isinstance(listed, NotFound):
            record.pop("participants_v2", None)
        elif isinstance(listed, BaseException):
            raise listed
        else:
            record["participants_v2"] = listed
        return record

    async def _collection(self, tenant_id: str, link: str | None) -> list[Any]:
        """Every item of a paged collection (`value` + `@odata.nextLink`)."""
        items: list[Any] = []
        while link:
            page = await self.request("GET", tenant_id, link)
            items.extend(page.get("value") or [] if isinstance(page, dict) else [])
            link = page.get("@odata.nextLink") if isinstance(page, dict) else None
        return items

    async def list_call_records(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> AsyncIterator[dict[str, Any]]:
        """Call records (without sessions) whose startDateTime is in [start, end)."""
        flt = quote(f"startDateTime ge {_iso(start)} and startDateTime lt {_iso(end)}")
        link: str | None = f"communications/callRecords?$filter={flt}"
        while link:
            page = await self.request("GET", tenant_id, link)
            for item in page.get("value") or []:
                yield item
            link = page.get("@odata.nextLink")

    async def log_rows(
        self, tenant_id: str, function: str, start: datetime, end: datetime
    ) -> AsyncIterator[dict[str, Any]]:
        """Rows of `getPstnCalls` or `getDirectRoutingCalls` for [start, end)."""
        link: str | None = (
            f"communications/callRecords/{function}"
            f"(fromDateTime={_iso(start)},toDateTime={_iso(end)})"
        )
        while link:
            page = await self.request("GET", tenant_id, link)
            for item in page.get("value") or []:
                yield item
            link = page.get("@odata.nextLink")

    # subscriptions --------------------------------------------------------------------

    async def create_subscription(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.request("POST", tenant_id, "subscriptions", body))

    async def renew_subscription(
        self, tenant_id: str, subscription_id: str, expires: datetime
    ) -> dict[str, Any]:
        return dict(
            await self.request(
                "PATCH",
                tenant_id,
                f"subscriptions/{quote(subscription_id)}",
                {"expirationDateTime": _iso(expires)},
            )
        )

    async def reauthorize_subscription(self, tenant_id: str, subscription_id: str) -> None:
        await self.request("POST", tenant_id, f"subscriptions/{quote(subscription_id)}/reauthorize")

    async def delete_subscription(self, tenant_id: str, subscription_id: str) -> None:
        await self.request("DELETE", tenant_id, f"subscriptions/{quote(subscription_id)}")


def _error_code(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "error"


_cache: dict[int, tuple[asyncio.AbstractEventLoop, GraphClient, float]] = {}


def get_graph(config: GraphConfig | None = None) -> GraphClient:
    """The Graph client of the running loop (an aiohttp session is bound to its loop),
    rebuilt when the settings change (tests point it at another stand-in)."""
    from aiohttp import ClientSession, ClientTimeout

    from shared.graph.config import graph_config
    from shared.graph.tokens import token_provider

    config = config or graph_config()
    loop = asyncio.get_running_loop()
    cached = _cache.get(id(loop))
    if cached and cached[0] is loop and cached[1].config == config:
        return cached[1]
    for key, (old_loop, _, _) in list(_cache.items()):
        if old_loop.is_closed():
            del _cache[key]
    session = ClientSession(timeout=ClientTimeout(total=60, connect=10))
    client = GraphClient(config, token_provider(config, session), session)
    _cache[id(loop)] = (loop, client, time.time())
    return client


async def close_graph() -> None:
    cached = _cache.pop(id(asyncio.get_running_loop()), None)
    if cached:
        await cached[1].tokens.close()
        await cached[1].session.close()
