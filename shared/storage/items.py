"""Writes of Cosmos DB items, each with the retries of `retry.with_retries`, and the one
etag-conditional replace every read-modify-write loop of the app uses.

Optimistic concurrency: read an item (its `_etag`), compute the new body, replace it
only if nobody wrote in between; if somebody did, `StaleWrite` tells the caller to read
again and recompute on top of the other writer's result. Callers above `shared/storage`
never see an SDK exception class for this.
"""

from __future__ import annotations

from typing import Any

from shared.storage import cosmos_errors
from shared.storage.retry import with_retries


class StaleWrite(Exception):
    """The item changed since it was read (or, for a create, already exists)."""


class AlreadyExists(StaleWrite):
    """A create found an item with that id in the partition."""


MAX_ITEM_BYTES = 2 * 1024 * 1024  # Cosmos DB's item size limit (413 above it)


class ItemTooLarge(Exception):
    """Cosmos DB refused the item: over its 2 MB limit (413, never worth a retry)."""

    def __init__(self, item_id: str, size: int | None = None) -> None:
        super().__init__(item_id)
        self.item_id = item_id
        self.size = size


def _too_large(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 413


def _size(body: dict[str, Any]) -> int:
    import json

    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


async def replace_if_unchanged(
    container: Any, item_id: str, body: dict[str, Any], etag: str, *, what: str
) -> Any:
    """Replace `item_id` with `body` only if its etag is still `etag`."""
    from azure.core import MatchConditions

    try:
        return await with_retries(
            lambda: container.replace_item(
                item_id, body, etag=etag, match_condition=MatchConditions.IfNotModified
            ),
            what=what,
        )
    except cosmos_errors.CosmosAccessConditionFailedError:
        raise StaleWrite(item_id) from None
    except cosmos_errors.CosmosHttpResponseError as exc:
        if _too_large(exc):
            raise ItemTooLarge(item_id, _size(body)) from None
        raise


async def create_new(container: Any, body: dict[str, Any], *, what: str) -> Any:
    """Create `body`; `AlreadyExists` when its id is taken."""
    try:
        return await with_retries(lambda: container.create_item(body), what=what)
    except cosmos_errors.CosmosResourceExistsError:
        raise AlreadyExists(str(body.get("id"))) from None
    except cosmos_errors.CosmosHttpResponseError as exc:
        if _too_large(exc):
            raise ItemTooLarge(str(body.get("id")), _size(body)) from None
        raise


async def upsert(container: Any, body: dict[str, Any], *, what: str) -> Any:
    return await with_retries(lambda: container.upsert_item(body), what=what)


def create_op(body: dict[str, Any]) -> tuple[Any, ...]:
    """A transactional batch's create of `body` (fails the batch with 409 if it exists)."""
    return ("create", (body,))


def upsert_op(body: dict[str, Any]) -> tuple[Any, ...]:
    """A transactional batch's upsert of `body` (no condition)."""
    return ("upsert", (body,))


BATCH_LIMIT = 100  # operations per transactional batch (Cosmos DB's limit)


def replace_op(body: dict[str, Any], etag: str) -> tuple[Any, ...]:
    """A transactional batch's replace of `body`, only if the stored item still has
    `etag` (fails the batch with 412 otherwise)."""
    return ("replace", (body["id"], body), {"if_match_etag": etag})


async def execute_batch(
    container: Any, operations: list[tuple[Any, ...]], pk: str, *, what: str
) -> None:
    """One transactional batch in partition `pk` (all or nothing); `StaleWrite` when an
    etag-conditional replace or a create lost a race (412 / 409), so the caller reads
    again and rebuilds the batch instead of retrying the same stale operations."""
    try:
        await with_retries(
            lambda: container.execute_item_batch(operations, partition_key=pk), what=what
        )
    except cosmos_errors.CosmosBatchOperationError as exc:
        if exc.status_code in (409, 412):
            raise StaleWrite(pk) from None
        raise
