"""Cosmos DB throttling injected below the SDK: a transport that answers a share of the
requests with 429 + `x-ms-retry-after-ms` instead of sending them (what a real account
does past its provisioned RU/s), handed to `azure.cosmos.aio.CosmosClient(transport=...)`.

The Cosmos SDK builds its own policy list (no `per_call_policies`), but it passes
`transport` through to its `AsyncPipelineClient`, so a transport wrapper is the seam
that sees every request, including the SDK's own retries. None of our code is patched:
the processor simply gets `Clients` built on this client.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from azure.core.pipeline.transport import AsyncHttpResponse
from azure.core.utils import CaseInsensitiveDict

from shared.storage.transport import PooledTransport


class ThrottledResponse(AsyncHttpResponse):
    """The 429 a throttled Cosmos DB account returns (substatus 3200: RU/s exceeded)."""

    BODY = b'{"code":"TooManyRequests","message":"Request rate is large (injected)"}'

    def __init__(self, request: Any, retry_after_ms: int) -> None:
        super().__init__(request, None)
        self.status_code = 429
        self.reason = "Too Many Requests"
        self.content_type = "application/json"
        self.headers = CaseInsensitiveDict(
            {
                "Content-Type": "application/json",
                "x-ms-retry-after-ms": str(retry_after_ms),
                "x-ms-substatus": "3200",
                "x-ms-request-charge": "0",
                "x-ms-activity-id": "00000000-0000-0000-0000-000000000429",
            }
        )

    def body(self) -> bytes:
        return self.BODY

    def text(self, encoding: str | None = None) -> str:
        return self.BODY.decode()

    async def load_body(self) -> None:
        return None

    async def close(self) -> None:
        return None


class ThrottlingTransport(PooledTransport):
    """Answers `rate` of the document requests (reads, writes, queries) with 429 and
    `x-ms-retry-after-ms`; every `burst_every`-th throttled request starts a burst of
    `burst` consecutive 429s on the next requests (longer than a single SDK retry
    chain would ride out alone, so our own `with_retries` is exercised too).
    Account/metadata requests (database account, collection, pk ranges) pass. On the
    product's bounded pool, as `make_clients` builds it by default."""

    def __init__(
        self,
        *,
        rate: float = 0.3,
        retry_after_ms: int = 5,
        seed: int = 9,
        burst_every: int = 25,
        burst: int = 12,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.retry_after_ms = retry_after_ms
        self.rng = random.Random(seed)
        self.burst_every = burst_every
        self.burst = burst
        self._burst_left = 0
        self.sent = 0
        self.throttled = 0
        self.by_method: Counter[str] = Counter()

    @staticmethod
    def _is_document_request(request: Any) -> bool:
        return "/docs" in request.url

    async def send(self, request: Any, **kwargs: Any) -> Any:
        if self._is_document_request(request):
            throttle = self._burst_left > 0 or self.rng.random() < self.rate
            if throttle:
                if self._burst_left > 0:
                    self._burst_left -= 1
                self.throttled += 1
                self.by_method[request.method] += 1
                if self.burst_every and self.throttled % self.burst_every == 0:
                    self._burst_left = self.burst
                return ThrottledResponse(request, self.retry_after_ms)
        self.sent += 1
        return await super().send(request, **kwargs)
