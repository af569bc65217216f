"""A Microsoft Graph stand-in on loopback: exactly the endpoints the fetch path calls.

Why a stand-in and not a mock: the product talks to Graph over HTTP with tokens,
paging, throttling and webhooks; the tests must exercise that protocol end to end
(real HTTP in both directions, real RS256 tokens from the development issuer), so the
same code runs unchanged against https://graph.microsoft.com or any Graph-compatible
server named by CDC_GRAPH_URL.

What it speaks (Microsoft Graph v1.0, shapes from Microsoft's documented examples):
- `POST /subscriptions` (validation request to `notificationUrl` and
  `lifecycleNotificationUrl` first: `POST <url>?validationToken=...`, 200 text/plain
  with the token within 10 s, else 400), `PATCH /subscriptions/{id}` (renew),
  `DELETE /subscriptions/{id}`, `POST /subscriptions/{id}/reauthorize`; expiry at most
  4,230 minutes ahead for call records.
- `GET /communications/callRecords/{id}?$expand=sessions($expand=segments)`: sessions
  paged at 60 (`sessions@odata.nextLink`); like Graph, one relationship is expanded per
  request, so the record carries only a `participants_v2@odata.context` annotation, and
  `?$expand=participants_v2` expands the participants instead (130 a page).
- `GET /communications/callRecords/{id}/participants_v2` and `.../sessions`: the
  collections, paged by `@odata.nextLink` (130 participants, 60 sessions a page).
- `GET /communications/callRecords?$filter=startDateTime ge X and startDateTime lt Y`.
- `GET /communications/callRecords/getPstnCalls(fromDateTime=..,toDateTime=..)` and
  `getDirectRoutingCalls(...)`, paged by `@odata.nextLink`.
- Tokens: `Authorization: Bearer` RS256 from the development issuer, audience
  `https://graph.microsoft.com`, application permission in `roles`.

Test controls (Python methods, thread-safe): `add_calls` (store and notify),
`hide_for` (404 for the next n GETs of a record), `throttle` (429 burst with
Retry-After), `lifecycle` (send a lifecycle event), `add_pstn_rows`, `clock` (inject
time for subscription expiry). The same over HTTP on loopback for other processes:
`POST /_standin/calls|throttle|hide|lifecycle|logs` (JSON bodies with the same
arguments in camelCase) and `GET /_standin/state` (counts, subscriptions without
their clientState).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jwt
from aiohttp import ClientSession, ClientTimeout, web

log = logging.getLogger("devhost.graph")

GRAPH_AUDIENCE = "https://graph.microsoft.com"
SESSIONS_PAGE = 60  # Graph's page size for sessions (docs/graph.md, "Fetch")
PARTICIPANTS_PAGE = 130  # Graph's maximum page size for participants
LIST_PAGE = 60
PSTN_PAGE = 1000
MAX_SUBSCRIPTION_MINUTES = 4230
PERM_RECORDS = "CallRecords.Read.All"
PERM_PSTN = "CallRecord-PstnCalls.Read.All"
_FILTER = re.compile(r"startDateTime\s+(ge|gt|le|lt)\s+([0-9T:.\-+Z]+)", re.IGNORECASE)
_FUNC = re.compile(
    r"^communications/callRecords/(getPstnCalls|getDirectRoutingCalls)"
    r"\(fromDateTime=([^,]+),toDateTime=([^)]+)\)$",
    re.IGNORECASE,
)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().strip("'").replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "request-id": str(uuid.uuid4()),
                "date": _iso(datetime.now(timezone.utc)),
            },
        }
    }
    return web.json_response(body, status=status, headers=headers)


class GraphStandIn:
    """The stand-in in its own thread and event loop; `url` is its v1.0 base URL."""

    def __init__(
        self,
        port: int = 0,
        *,
        authority_url: str | None = None,
        public_key: Any = None,
        sessions_page: int = SESSIONS_PAGE,
    ) -> None:
        self.port = port
        self.authority_url = authority_url.rstrip("/") if authority_url else None
        self.sessions_page = sessions_page
        self._public_key = public_key
        self._jwks: dict[str, Any] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # (tenant, id) -> record
        self.hidden: dict[tuple[str, str], int] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.pstn_rows: dict[str, list[dict[str, Any]]] = {
            "getPstnCalls": [],
            "getDirectRoutingCalls": [],
        }
        self.throttle_left = 0
        self.throttle_retry_after = 1
        self.counts: dict[str, int] = {
            "get": 0,
            "get200": 0,
            "throttled": 0,
            "notFound": 0,
            "notifications": 0,
            "notificationFailures": 0,
            "validations": 0,
            "renewals": 0,
            "creates": 0,
            "reauthorizations": 0,
            "deletes": 0,
            "list": 0,
            "pstn": 0,
        }
        self.delivery_log: list[dict[str, Any]] = []  # (status, seconds) per delivery
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._session: ClientSession | None = None
        self._error: BaseException | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1.0"

    # lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> GraphStandIn:
        self._thread = threading.Thread(target=self._run, name="graph-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"graph stand-in did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._session = ClientSession(timeout=ClientTimeout(total=15))
        self._ready.set()
        await self._stop.wait()
        await self._session.close()
        await runner.cleanup()

    def stop(self) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(20)

    def _submit(self, coro: Any, timeout: float = 120.0) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # test controls --------------------------------------------------------------------

    def add_calls(
        self,
        tenant_id: str,
        records: list[dict[str, Any]],
        *,
        notify: bool = True,
        per_request: int = 50,
        client_state: str | None = None,
    ) -> list[int]:
        """Store call records and, like Graph, POST `created` notifications to every
        active subscription of the tenant (several per request). `client_state`
        overrides the subscription's (a forged notification). Returns the statuses."""
        with self._lock:
            for rec in records:
                self.records[(tenant_id, rec["id"])] = copy.deepcopy(rec)
        if not notify:
            return []
        posts = -(-len(records) // max(1, per_request))
        return list(
            self._submit(
                self._notify(tenant_id, [r["id"] for r in records], per_request, client_state),
                timeout=max(120.0, 15.0 * posts),  # a POST may take seconds on a busy machine
            )
        )

    def hide_for(self, tenant_id: str, record_id: str, gets: int) -> None:
        """The next `gets` GETs of this record answer 404 (Graph does that for a short
        while after the notification)."""
        with self._lock:
            self.hidden[(tenant_id, record_id)] = gets

    def throttle(self, requests: int, retry_after: int = 1) -> None:
        """The next `requests` call record GETs answer 429 with Retry-After."""
        with self._lock:
            self.throttle_left, self.throttle_retry_after = requests, retry_after

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """Send a lifecycle notification (`missed`, `subscriptionRemoved`,
        `reauthorizationRequired`); `subscriptionRemoved` also deletes it here."""
        return int(self._submit(self._lifecycle(subscription_id, event)))

    def add_pstn_rows(self, function: str, rows: list[dict[str, Any]]) -> None:
        """Rows for `getPstnCalls` or `getDirectRoutingCalls` (with a `_tenant` key)."""
        with self._lock:
            self.pstn_rows[function].extend(copy.deepcopy(rows))

    def active_subscriptions(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            s
            for s in self.subscriptions.values()
            if _parse_time(s["expirationDateTime"]) > now
            and (tenant_id is None or s["_tenant"] == tenant_id)
        ]

    # notifications --------------------------------------------------------------------

    async def _post(self, url: str, body: dict[str, Any]) -> int:
        assert self._session is not None
        t0 = time.perf_counter()
        try:
            async with self._session.post(url, json=body) as resp:
                await resp.read()
                status = resp.status
        except Exception as exc:  # an unreachable endpoint is a failed delivery
            log.debug("delivery to webhook failed: %r", exc)
            status = 0
        self.delivery_log.append({"status": status, "seconds": time.perf_counter() - t0})
        return status

    async def _notify(
        self, tenant_id: str, ids: list[str], per_request: int, client_state: str | None
    ) -> list[int]:
        statuses: list[int] = []
        for sub in self.active_subscriptions(tenant_id):
            for i in range(0, len(ids), per_request):
                value = [
                    {
                        "subscriptionId": sub["id"],
                        "clientState": sub["clientState"] if client_state is None else client_state,
                        "changeType": "created",
                        "resource": f"communications/callRecords/{rid}",
                        "subscriptionExpirationDateTime": sub["expirationDateTime"],
                        "resourceData": {
                            "@odata.type": "#microsoft.graph.callrecord",
                            "@odata.id": f"communications/callRecords/{rid}",
                            "id": rid,
                        },
                        "tenantId": tenant_id,
                    }
                    for rid in ids[i : i + per_request]
                ]
                status = await self._post(sub["notificationUrl"], {"value": value})
                self.counts["notifications"] += len(value)
                if not 200 <= status < 300:
                    self.counts["notificationFailures"] += len(value)
                statuses.append(status)
        return statuses

    async def _lifecycle(self, subscription_id: str, event: str) -> int:
        sub = self.subscriptions.get(subscription_id)
        if sub is None:
            raise KeyError(subscription_id)
        if event == "subscriptionRemoved":
            self.subscriptions.pop(subscription_id, None)
        body = {
            "value": [
                {
                    "subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "tenantId": sub["_tenant"],
                    "clientState": sub["clientState"],
                    "lifecycleEvent": event,
                }
            ]
        }
        return await self._post(sub.get("lifecycleNotificationUrl") or sub["notificationUrl"], body)

    async def _validate(self, url: str) -> bool:
        """Graph's validation request: POST url?validationToken=..., expect the token."""
        assert self._session is not None
        token = f"Validation: Testing client application reachability {secrets.token_hex(8)}"
        sep = "&" if "?" in url else "?"
        self.counts["validations"] += 1
        try:
            async with self._session.post(
                f"{url}{sep}validationToken={quote(token)}", timeout=ClientTimeout(total=10)
            ) as resp:
                text = await resp.text()
                ctype = resp.headers.get("Content-Type", "")
                return resp.status == 200 and text == token and ctype.startswith("text/plain")
        except Exception as exc:
            log.debug("validation request failed: %r", exc)
            return False

    # HTTP -----------------------------------------------------------------------------

    def _check_token(self, request: web.Request, permission: str) -> str | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        token = header[7:]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            key = self._key_for(token, str(unverified.get("tid", "")))
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience=GRAPH_AUDIENCE, leeway=60
            )
        except Exception as exc:
            return _error(
                401, "InvalidAuthenticationToken", f"Access token is invalid: {type(exc).__name__}"
            )
        if permission not in (claims.get("roles") or []):
            return _error(403, "Forbidden", f"Missing application permission {permission}")
        return str(claims["tid"])

    def _key_for(self, token: str, tenant: str) -> Any:
        if self.authority_url:
            if tenant not in self._jwks:
                self._jwks[tenant] = jwt.PyJWKClient(
                    f"{self.authority_url}/{tenant}/discovery/v2.0/keys"
                )
            return self._jwks[tenant].get_signing_key_from_jwt(token).key
        if self._public_key is None:
            from devhost.devauth import load_key

            self._public_key = load_key().public_key()
        return self._public_key

    async def _control(self, request: web.Request, what: str) -> web.Response:
        """The test controls over HTTP (`/_standin/...`), for a process that does not
        hold the object (a benchmark or a demo pointed at this server by URL)."""
        if request.method == "GET" and what == "state":
            return web.json_response(
                {
                    "counts": self.counts,
                    "throttleLeft": self.throttle_left,
                    "subscriptions": [
                        {
                            k: v
                            for k, v in sub.items()
                            if k not in ("clientState",) and not k.startswith("_")
                        }
                        for sub in self.active_subscriptions()
                    ],
                }
            )
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return _error(400, "BadRequest", "a JSON object is required")
        if what == "calls":
            tenant, records = str(body["tenantId"]), list(body["records"])
            with self._lock:
                for rec in records:
                    self.records[(tenant, rec["id"])] = copy.deepcopy(rec)
            statuses: list[int] = []
            if body.get("notify", True):
                statuses = await self._notify(
                    tenant,
                    [r["id"] for r in records],
                    int(body.get("perRequest", 50)),
                    body.get("clientState"),
                )
            return web.json_response({"stored": len(records), "deliveries": statuses})
        if what == "throttle":
            self.throttle(int(body["requests"]), int(body.get("retryAfter", 1)))
            return web.json_response({"throttleLeft": self.throttle_left})
        if what == "hide":
            self.hide_for(str(body["tenantId"]), str(body["recordId"]), int(body["gets"]))
            return web.json_response({"hidden": int(body["gets"])})
        if what == "lifecycle":
            try:
                status = await self._lifecycle(str(body["subscriptionId"]), str(body["event"]))
            except KeyError:
                return _error(404, "ResourceNotFound", "no such subscription")
            return web.json_response({"delivery": status})
        if what == "logs":
            self.add_pstn_rows(str(body["function"]), list(body["rows"]))
            return web.json_response({"rows": len(body["rows"])})
        return _error(404, "UnknownError", "no such control")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_standin/"):
            return await self._control(request, path[len("/_standin/") :].strip("/"))
        if not path.startswith("/v1.0/"):
            return _error(404, "UnknownError", "not found")
        sub = path[len("/v1.0/") :].strip("/")
        method = request.method
        if sub == "subscriptions" and method == "POST":
            return await self._create(request)
        m = re.fullmatch(r"subscriptions/([^/]+)(/reauthorize)?", sub)
        if m:
            return await self._subscription(request, m.group(1), bool(m.group(2)))
        if method != "GET":
            return _error(405, "BadRequest", "method not allowed")
        fm = _FUNC.match(sub)
        if fm:
            return await self._pstn(request, fm.group(1), fm.group(2), fm.group(3))
        if sub == "communications/callRecords":
            return await self._list(request)
        m = re.fullmatch(r"communications/callRecords/([^/]+)(?:/(sessions|participants_v2))?", sub)
        if m:
            return await self._record(request, m.group(1), m.group(2))
        return _error(404, "UnknownError", "not found")

    async def _create(self, request: web.Request) -> web.Response:
        tenant = self._check_token(request, PERM_RECORDS)
        if isinstance(tenant, web.Response):
            return tenant
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return _error(400, "BadRequest", "body is not a JSON object")
        if body.get("resource") not in (
            "/communications/callRecords",
            "communications/callRecords",
        ):
            return _error(400, "BadRequest", "unsupported resource")
        if body.get("changeType") != "created":
            return _error(400, "BadRequest", "callRecords support changeType 'created'")
        state = body.get("clientState")
        if not isinstance(state, str) or not 0 < len(state) <= 128:
            return _error(400, "BadRequest", "clientState must be 1-128 characters")
        error = self._check_expiry(body.get("expirationDateTime"))
        if error:
            return error
        for key in ("notificationUrl", "lifecycleNotificationUrl"):
            url = body.get(key)
            if key == "notificationUrl" and not isinstance(url, str):
                return _error(400, "BadRequest", "notificationUrl is required")
            if isinstance(url, str) and not await self._validate(url):
                return _error(
                    400, "ValidationError", f"Subscription validation request failed for {key}."
                )
        sub_id = str(uuid.uuid4())
        sub_doc = {
            "@odata.context": f"{self.url}/$metadata#subscriptions/$entity",
            "id": sub_id,
            "resource": "/communications/callRecords",
            "applicationId": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant)),
            "changeType": "created",
            "clientState": state,
            "notificationUrl": body["notificationUrl"],
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": body["expirationDateTime"],
            "creatorId": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant + "/creator")),
            "latestSupportedTlsVersion": "v1_2",
            "notificationContentType": None,
            "_tenant": tenant,
        }
        self.subscriptions[sub_id] = sub_doc
        self.counts["creates"] += 1
        return web.json_response(
            {k: v for k, v in sub_doc.items() if not k.startswith("_")}, status=201
        )

    def _check_expiry(self, value: Any) -> web.Response | None:
        try:
            expiry = _parse_time(str(value))
        except ValueError:
            return _error(400, "BadRequest", "expirationDateTime is not a date")
        now = self.clock()
        if expiry <= now:
            return _error(400, "BadRequest", "expirationDateTime must be in the future")
        if expiry > now + timedelta(minutes=MAX_SUBSCRIPTION_MINUTES):
            return _error(
                400,
                "BadRequest",
                "Subscription expiration can only be "
                f"{MAX_SUBSCRIPTION_MINUTES} minutes in the future.",
            )
        return None

    async def _subscription(self, request: web.Request, sub_id: str, reauth: bool) -> web.Response:
        tenant = self._check_token(request, PERM_RECORDS)
        if isinstance(tenant, web.Response):
            return tenant
        sub = self.subscriptions.get(sub_id)
        if sub is not None and _parse_time(sub["expirationDateTime"]) <= self.clock():
            self.subscriptions.pop(sub_id, None)  # an expired subscription is gone
            sub = None
        if sub is None or sub["_tenant"] != tenant:
            return _error(404, "ResourceNotFound", "The object was not found.")
        if reauth and request.method == "POST":
            self.counts["reauthorizations"] += 1
            return web.Response(status=204)
        if request.method == "DELETE":
            self.subscriptions.pop(sub_id, None)
            self.counts["deletes"] += 1
            return web.Response(status=204)
        if request.method == "GET":
            return web.json_response({k: v for k, v in sub.items() if not k.startswith("_")})
        if request.method != "PATCH":
            return _error(405, "BadRequest", "method not allowed")
        try:
            body = await request.json()
        except Exception:
            return _error(400, "BadRequest", "body is not JSON")
        error = self._check_expiry(body.get("expirationDateTime"))
        if error:
            return error
        sub["expirationDateTime"] = body["expirationDateTime"]
        self.counts["renewals"] += 1
        return web.json_response({k: v for k, v in sub.items() if not k.startswith("_")})

    def _throttled(self) -> web.Response | None:
        with self._lock:
            if self.throttle_left <= 0:
                return None
            self.throttle_left -= 1
            retry = self.throttle_retry_after
        self.counts["throttled"] += 1
        return _error(
            429, "TooManyRequests", "Too many requests", headers={"Retry-After": str(retry)}
        )

    async def _record(self, request: web.Request, record_id: str, nav: str | None) -> web.Response:
        tenant = self._check_token(request, PERM_RECORDS)
        if isinstance(tenant, web.Response):
            return tenant
        self.counts["get"] += 1
        throttled = self._throttled()
        if throttled:
            return throttled
        key = (tenant, record_id)
        with self._lock:
            record = self.records.get(key)
            if record is not None and nav is None and self.hidden.get(key, 0) > 0:
                self.hidden[key] -= 1
                record = None
        if record is None:
            self.counts["notFound"] += 1
            return _error(404, "NotFound", "The requested resource does not exist.")
        self.counts["get200"] += 1
        skip = int(request.query.get("$skiptoken", "0") or 0)
        rec_url = f"{self.url}/communications/callRecords/{record_id}"
        if nav == "sessions":
            page, more = self._page(record.get("sessions") or [], skip, self.sessions_page)
            body: dict[str, Any] = {
                "@odata.context": f"{self.url}/$metadata#communications/callRecords"
                f"('{record_id}')/sessions(segments())",
                "value": page,
            }
            if more:
                body["@odata.nextLink"] = (
                    f"{rec_url}/sessions?$expand=segments&$skiptoken={skip + self.sessions_page}"
                )
            return web.json_response(body)
        if nav == "participants_v2":
            page, more = self._page(record.get("participants_v2") or [], skip, PARTICIPANTS_PAGE)
            body = {
                "@odata.context": f"{self.url}/$metadata#communications/callRecords"
                f"('{record_id}')/participants_v2",
                "value": page,
            }
            if more:
                body["@odata.nextLink"] = (
                    f"{rec_url}/participants_v2?$skiptoken={skip + PARTICIPANTS_PAGE}"
                )
            return web.json_response(body)
        return web.json_response(self._entity(record, record_id, request.query.get("$expand", "")))

    def _entity(self, record: dict[str, Any], record_id: str, expand: str) -> dict[str, Any]:
        """The record as Graph's "Get callRecord" examples show it: `organizer_v2`
        always expanded, and the one relationship `$expand` names (sessions with their
        segments, or participants_v2) inline with its first page."""
        rec_url = f"{self.url}/communications/callRecords/{record_id}"
        meta = f"{self.url}/$metadata#communications/callRecords('{record_id}')"
        out = {k: v for k, v in record.items() if k not in ("sessions", "participants_v2")}
        out["participants_v2@odata.context"] = f"{meta}/participants_v2/$entity"
        if "sessions" in expand:
            out["@odata.context"] = (
                f"{self.url}/$metadata#communications/callRecords(sessions(segments()))/$entity"
            )
            page, more = self._page(record.get("sessions") or [], 0, self.sessions_page)
            if "segments" not in expand:
                page = [{k: v for k, v in s.items() if k != "segments"} for s in page]
            out["sessions"] = page
            if more:
                out["sessions@odata.nextLink"] = (
                    f"{rec_url}/sessions?$expand=segments&$skiptoken={self.sessions_page}"
                )
        elif "participants_v2" in expand:
            out["@odata.context"] = (
                f"{self.url}/$metadata#communications/callRecords(participants_v2())/$entity"
            )
            page, more = self._page(record.get("participants_v2") or [], 0, PARTICIPANTS_PAGE)
            out["participants_v2"] = page
            if more:
                out["participants_v2@odata.nextLink"] = (
                    f"{rec_url}/participants_v2?$skiptoken={PARTICIPANTS_PAGE}"
                )
        else:
            out["@odata.context"] = f"{self.url}/$metadata#communications/callRecords/$entity"
        return out

    @staticmethod
    def _page(items: list[Any], skip: int, size: int) -> tuple[list[Any], bool]:
        return items[skip : skip + size], skip + size < len(items)

    async def _list(self, request: web.Request) -> web.Response:
        tenant = self._check_token(request, PERM_RECORDS)
        if isinstance(tenant, web.Response):
            return tenant
        self.counts["list"] += 1
        throttled = self._throttled()
        if throttled:
            return throttled
        conds = _FILTER.findall(request.query.get("$filter", ""))
        if not conds:
            return _error(400, "BadRequest", "$filter on startDateTime is required")
        ops = {
            "ge": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "le": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
        }
        bounds = [(ops[op.lower()], _parse_time(value)) for op, value in conds]
        with self._lock:
            rows = sorted(
                (
                    r
                    for (t, _), r in self.records.items()
                    if t == tenant and all(f(_parse_time(r["startDateTime"]), v) for f, v in bounds)
                ),
                key=lambda r: (r["startDateTime"], r["id"]),
            )
        skip = int(request.query.get("$skiptoken", "0") or 0)
        page, more = self._page(rows, skip, LIST_PAGE)
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/$metadata#communications/callRecords",
            "value": [
                {k: v for k, v in r.items() if k not in ("sessions", "participants_v2")}
                for r in page
            ],
        }
        if more:
            query = parse_qs(urlsplit(str(request.url)).query)
            body["@odata.nextLink"] = (
                f"{self.url}/communications/callRecords?$filter="
                f"{quote(query['$filter'][0])}"
                f"&$skiptoken={skip + LIST_PAGE}"
            )
        return web.json_response(body)

    async def _pstn(
        self, request: web.Request, function: str, start: str, end: str
    ) -> web.Response:
        tenant = self._check_token(request, PERM_PSTN)
        if isinstance(tenant, web.Response):
            return tenant
        self.counts["pstn"] += 1
        try:
            t0, t1 = _parse_time(start), _parse_time(end)
        except ValueError:
            return _error(400, "BadRequest", "fromDateTime/toDateTime are not dates")
        if t1 <= t0 or t1 - t0 > timedelta(days=90):
            return _error(400, "BadRequest", "the date range must be positive and at most 90 days")
        name = "getPstnCalls" if function.lower() == "getpstncalls" else "getDirectRoutingCalls"
        with self._lock:
            rows = [
                r
                for r in self.pstn_rows[name]
                if r.get("_tenant") == tenant and t0 <= _parse_time(r["startDateTime"]) < t1
            ]
        skip = int(request.query.get("$skip", "0") or 0)
        page, more = self._page(rows, skip, PSTN_PAGE)
        row_type = "pstnCallLogRow" if name == "getPstnCalls" else "directRoutingLogRow"
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/$metadata#Collection(microsoft.graph.callRecords."
            f"{row_type})",
            "@odata.count": len(page),
            "value": [{k: v for k, v in r.items() if not k.startswith("_")} for r in page],
        }
        if more:
            body["@odata.nextLink"] = (
                f"{self.url}/communications/callRecords/{name}"
                f"(fromDateTime={start},toDateTime={end})"
                f"?$skip={skip + PSTN_PAGE}"
            )
        return web.json_response(body)
