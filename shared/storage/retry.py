"""Retry with backoff for transient storage errors (429, 503, 408, timeouts).

The Cosmos SDK already retries 429 with the server's retry-after; this wraps whole
operations so 503s, gateway timeouts and dropped connections (an emulator restart, a
failover) are retried too, and only a persistent failure reaches the poison path.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shared import telemetry  # Cosmos retries and request charge as metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 410, 429, 449, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncio.TimeoutError | ConnectionError):
        return True
    # The SDK's error classes are looked up, not imported: an exception can only be an
    # instance of a class whose module is loaded, so while `azure.core` is not (no client
    # was created yet) no SDK error exists, and importing it here would put ~40 ms on
    # every cold start of the app (the HTTP edge asks this of every failed request).
    sdk = sys.modules.get("azure.core.exceptions")
    if sdk is None:
        return False
    if isinstance(exc, sdk.ServiceRequestError | sdk.ServiceResponseError):
        return True
    if isinstance(exc, sdk.HttpResponseError):
        return exc.status_code in TRANSIENT_STATUS
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("x-ms-retry-after-ms", "retry-after-ms"):
        if name in headers:
            try:
                return float(headers[name]) / 1000.0
            except ValueError:
                pass
    if "retry-after" in headers:
        try:
            return float(headers["retry-after"])
        except ValueError:
            return None
    return None


async def with_retries(
    op: Callable[[], Awaitable[T]],
    *,
    attempts: int = 6,
    base_delay: float = 0.2,
    max_delay: float = 10.0,
    what: str = "storage operation",
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            result = await op()
            telemetry.record_cosmos_response(result, what)
            return result
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            telemetry.count_retry(what, exc)
            delay = retry_after_seconds(exc)
            if delay is None:
                delay = min(max_delay, base_delay * 2 ** (attempt - 1))
                delay *= 0.5 + random.random()  # jitter: retries of many calls spread out
            log.warning(
                "%s failed transiently (%s); retry %d/%d in %.2fs",
                what,
                type(exc).__name__,
                attempt,
                attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def read_or_none(
    container: Any, item_id: str, partition_key: str, *, what: str
) -> dict[str, Any] | None:
    """A point read with the retries above; None when the item does not exist (a
    missing item is an answer, not a failure)."""
    from azure.cosmos import exceptions as cosmos_errors

    async def op() -> dict[str, Any] | None:
        try:
            return await container.read_item(item_id, partition_key=partition_key)
        except cosmos_errors.CosmosResourceNotFoundError:
            return None

    return await with_retries(op, what=what)


Key = tuple[str, str]  # (item id, partition key value)


async def read_many(
    container: Any, keys: list[Key], *, what: str, pk_field: str = "pk"
) -> dict[Key, dict[str, Any]]:
    """Many point reads as one read-many (the SDK's `read_items`: one query per
    partition-key range, however many logical partitions), with the retries above.
    The items found, by (id, partition key; `pk_field` is where the item holds it); a
    key missing from the answer does not exist. This is how a flush reads what it is
    about to write: one request instead of one per item."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}

    async def op() -> list[dict[str, Any]]:
        return list(await container.read_items(wanted))

    found = await with_retries(op, what=what)
    return {(str(item["id"]), str(item.get(pk_field))): item for item in found}
