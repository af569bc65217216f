"""A small local Functions host: serves the FunctionApp's HTTP functions and fires its
blob triggers, reading both from the app's own function metadata (no second route
table), so what runs locally is what `func start` and Azure index. Core Tools cannot be
installed here; `func start` keeps working for those who have it (nothing of this is
referenced from function_app.py).

HTTP: `http://127.0.0.1:<port>/<routePrefix>/<route>` (routePrefix from host.json), a
`func.HttpRequest` built per request, sync functions in a thread, async ones awaited,
on aiohttp so concurrent requests really run concurrently.
Blob triggers: the container is polled (every 200 ms) for new or changed blobs (name +
etag), blobs present at start included, and each is invoked like the real host does:
`InputStream.name` = `<container>/<blob name>`, up to `poisonBlobThreshold` attempts
(host.json, 5) with a delay between them, then logged as poison and left alone for that
blob version; at most `maxDegreeOfParallelism` (host.json, 4) run at once.
Queue triggers: each queue is polled (Azurite Queue), messages decoded as the host
does (`messageEncoding`, base64 by default), handed over as `func.QueueMessage` with
their dequeue count; a message that fails is made visible again after
`visibilityTimeout` and, once it has failed `maxDequeueCount` times (host.json
`extensions.queues`, 5), moved to `<queue>-poison` like the real host.
Timer triggers: NCRONTAB schedules (six fields, UTC) evaluated against `clock` (an
injectable callable), and `fire_timer(name)` runs one now (tests).
Development extras: static `portal/` at `/portal/`, and `POST /dev/token` (a token from
the development issuer, loopback only) for the portal's development sign-in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import inspect
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.stack import ROOT

log = logging.getLogger("devhost")
POLL_S = 0.2
ALL_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})


@dataclass
class HttpRoute:
    name: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    template: str
    fn: Any
    arg: str


@dataclass
class BlobRoute:
    name: str
    container: str
    pattern: re.Pattern[str]  # matches the blob name inside the container
    prefix: str  # literal start of the blob name: narrows the listing
    connection: str
    fn: Any
    arg: str


@dataclass
class QueueRoute:
    name: str
    queue: str
    connection: str
    fn: Any
    arg: str


@dataclass
class TimerRoute:
    name: str
    schedule: str
    run_on_startup: bool
    fn: Any
    arg: str
    next_due: dt.datetime | None = None


def _cron_field(spec: str, value: int, low: int) -> bool:
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", ""):
            start, end = low, 10_000
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(part)
            end = start if step == 1 else 10_000
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def _fields(schedule: str) -> list[str]:
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB needs six fields: {schedule!r}")
    return fields


def _minute_matches(fields: list[str], when: dt.datetime) -> bool:
    _, minute, hour, day, month, dow = fields
    return (
        _cron_field(minute, when.minute, 0)
        and _cron_field(hour, when.hour, 0)
        and _cron_field(day, when.day, 1)
        and _cron_field(month, when.month, 1)
        and _cron_field(dow, (when.weekday() + 1) % 7, 0)
    )


def cron_matches(schedule: str, when: dt.datetime) -> bool:
    """NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}` (what the
    Functions timer trigger takes): `*`, `*/n`, `a-b`, `a,b`, numbers."""
    fields = _fields(schedule)
    return _cron_field(fields[0], when.second, 0) and _minute_matches(fields, when)


def next_occurrence(schedule: str, after: dt.datetime) -> dt.datetime:
    """The first whole second after `after` that the schedule matches (minutes first,
    so a daily schedule costs ~1,440 checks, not 86,400)."""
    fields = _fields(schedule)
    t = after.replace(microsecond=0) + dt.timedelta(seconds=1)
    first_second = t.second
    minute = t.replace(second=0)
    for _ in range(367 * 1440):
        if _minute_matches(fields, minute):
            for sec in range(first_second, 60):
                if _cron_field(fields[0], sec, 0):
                    return minute.replace(second=sec)
        minute += dt.timedelta(minutes=1)
        first_second = 0
    raise ValueError(f"schedule {schedule!r} never fires")


def route_regex(template: str) -> re.Pattern[str]:
    """A Functions route template as a regex with named groups: `{x}` one segment,
    `{x?}` an optional last segment, `{*x}` the rest of the path; `{x:int}` constraints
    are accepted and ignored. Case-insensitive, trailing slash optional, like the host."""
    out = ""
    for part in re.split(r"(\{[^}]+\})", template.strip("/")):
        if part.startswith("{"):
            name = part[1:-1].split(":")[0].strip()
            if name.startswith("*"):
                out = out.removesuffix("/") + f"(?:/?(?P<{name[1:]}>.*))?"
            elif name.endswith("?"):
                out = out.removesuffix("/") + f"(?:/(?P<{name[:-1]}>[^/]+))?"
            else:
                out += f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$", re.IGNORECASE)


def match_route(template: str, path: str) -> dict[str, str] | None:
    """Route parameters of `path` (no prefix, no leading slash), or None."""
    m = route_regex(template).match(path.strip("/"))
    if m is None:
        return None
    return {k: v for k, v in m.groupdict().items() if v is not None}


def blob_path_regex(path: str) -> tuple[str, re.Pattern[str], str]:
    """`incoming/{name}` -> (container, regex over the blob name, literal prefix).
    `{x}` inside a blob path matches across `/`, as the blob trigger binds it."""
    container, _, rest = path.partition("/")
    out = ""
    for part in re.split(r"(\{[^}]+\})", rest):
        out += f"(?P<{part[1:-1]}>.+)" if part.startswith("{") else re.escape(part)
    return container, re.compile(f"^{out}$"), rest.split("{", 1)[0]


def read_host_json(path: Path | None = None) -> dict[str, Any]:
    try:
        data = json.loads((path or ROOT / "host.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def route_prefix(host_json: dict[str, Any] | None = None) -> str:
    host = read_host_json() if host_json is None else host_json
    prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def _kind(trigger: Any) -> str:
    return type(trigger).__name__


_INDEXED: dict[int, list[Any]] = {}


def app_functions(app: func.FunctionApp) -> list[Any]:
    """`app.get_functions()` once per app: azure-functions 1.26 re-registers the
    blueprints on every call and then rejects its own names as duplicates (the real
    worker indexes once, so only a second caller in one process meets it)."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = app.get_functions()
    return _INDEXED[id(app)]


def read_triggers(app: func.FunctionApp) -> tuple[list[QueueRoute], list[TimerRoute]]:
    """Queue and timer triggers from the app's own metadata."""
    queues: list[QueueRoute] = []
    timers: list[TimerRoute] = []
    for fn in app_functions(app):
        trigger = fn.get_trigger()
        if _kind(trigger) == "QueueTrigger":
            queues.append(
                QueueRoute(
                    fn.get_function_name(),
                    trigger.queue_name,
                    trigger.connection or "AzureWebJobsStorage",
                    fn.get_user_function(),
                    trigger.name,
                )
            )
        elif _kind(trigger) == "TimerTrigger":
            timers.append(
                TimerRoute(
                    fn.get_function_name(),
                    trigger.schedule,
                    bool(getattr(trigger, "run_on_startup", False)),
                    fn.get_user_function(),
                    trigger.name,
                )
            )
    return queues, timers


def read_functions(app: func.FunctionApp) -> tuple[list[HttpRoute], list[BlobRoute]]:
    """HTTP routes and blob triggers from the app's own metadata, literal routes first
    (the Functions host prefers the most specific template)."""
    http: list[HttpRoute] = []
    blobs: list[BlobRoute] = []
    for fn in app_functions(app):
        trigger = fn.get_trigger()
        user_fn = fn.get_user_function()
        if _kind(trigger) == "HttpTrigger":
            methods = frozenset(
                str(getattr(m, "value", m)).upper() for m in (trigger.methods or ALL_METHODS)
            )
            template = (trigger.route or fn.get_function_name()).strip("/")
            http.append(
                HttpRoute(
                    fn.get_function_name(),
                    methods,
                    route_regex(template),
                    template,
                    user_fn,
                    trigger.name,
                )
            )
        elif _kind(trigger) == "BlobTrigger":
            container, pattern, prefix = blob_path_regex(trigger.path)
            blobs.append(
                BlobRoute(
                    fn.get_function_name(),
                    container,
                    pattern,
                    prefix,
                    trigger.connection or "AzureWebJobsStorage",
                    user_fn,
                    trigger.name,
                )
            )
        elif _kind(trigger) not in ("QueueTrigger", "TimerTrigger"):  # read_triggers
            log.warning(
                "function %s: trigger %s is not served by the local host",
                fn.get_function_name(),
                _kind(trigger),
            )
    http.sort(key=lambda r: (r.template.count("{"), -len(r.template)))
    return http, blobs


def _timespan_s(value: Any) -> float:
    """host.json `hh:mm:ss` -> seconds."""
    try:
        h, m, sec = str(value).split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return 1.0


async def _call(fn: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(**kwargs)
    return await asyncio.to_thread(fn, **kwargs)


def _problem(status: int, title: str, **extra: Any) -> web.Response:
    # `detail` is required in the API's problem model (functions/problem_details.py).
    return web.json_response(
        {"title": title, "status": status, "detail": title, **extra},
        status=status,
        content_type="application/problem+json",
    )


class LocalHost:
    """The host, in its own thread and event loop: `start()` returns once it listens
    (port 0 = a free port, then `.port`/`.base_url`), `stop()` drains and closes,
    `wait_idle()` returns once no blob invocation is pending or running."""

    def __init__(
        self,
        app: func.FunctionApp,
        port: int = 7071,
        *,
        retry_delay_s: float = 1.0,
        max_attempts: int | None = None,
        blob_concurrency: int | None = None,
        poll_s: float = POLL_S,
        dev_authority: Any = None,
        host_json: Path | None = None,
        portal_dir: Path | None = None,
    ) -> None:
        config = read_host_json(host_json)
        blobs_cfg = config.get("extensions", {}).get("blobs", {})
        self.http, self.blobs = read_functions(app)
        self.queues, self.timers = read_triggers(app)
        queues_cfg = config.get("extensions", {}).get("queues", {})
        self.max_dequeue = int(queues_cfg.get("maxDequeueCount", 5))
        self.queue_batch = int(queues_cfg.get("batchSize", 16))
        self.queue_base64 = str(queues_cfg.get("messageEncoding", "base64")).lower() == "base64"
        # A failed message becomes visible again after visibilityTimeout (host.json);
        # tests pass a short retry_delay_s.
        self.queue_retry_s = min(
            retry_delay_s, _timespan_s(queues_cfg.get("visibilityTimeout", "00:00:01"))
        )
        self.clock: Any = lambda: dt.datetime.now(dt.timezone.utc)
        self.queue_poisoned: list[tuple[str, str]] = []
        self.queue_invocations = 0
        self.timer_runs: dict[str, int] = {}
        self._queue_inflight = 0
        self.port = port
        self.prefix = route_prefix(config)
        self.retry_delay_s = retry_delay_s
        self.max_attempts = int(max_attempts or blobs_cfg.get("poisonBlobThreshold", 5))
        self.blob_concurrency = int(blob_concurrency or blobs_cfg.get("maxDegreeOfParallelism", 4))
        self.poll_s = poll_s
        self.dev_authority = dev_authority
        self.portal_dir = portal_dir or ROOT / "portal"
        self.poisoned: list[tuple[str, str]] = []
        self.invocations = 0  # blob invocations started (each blob version once)
        self._seen: dict[tuple[str, str], str] = {}
        self._inflight = 0
        # blob path -> monotonic start of its current attempt: named in wait_idle's
        # timeout so a slow or stuck invocation says which blob it is.
        self._running: dict[str, float] = {}
        # The real host cancels an invocation after functionTimeout; so does this one,
        # and the attempt counts as failed (retried, then poison), as it would in Azure.
        self.function_timeout_s = _timespan_s(config.get("functionTimeout", "00:10:00"))
        self._scans_begun = 0
        self._scans_done = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        # Set by wait_idle (and stop): the blob poller's nap ends at once, so a test
        # waiting for the processor to drain does not sit out the rest of poll_s.
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._blob_sem: asyncio.Semaphore | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # HTTP -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/portal", "/") and self.portal_dir.is_dir():
            raise web.HTTPFound("/portal/")
        if path.startswith("/portal/") and self.portal_dir.is_dir():
            return await self._static(path[len("/portal/") :])
        if path == "/dev/token" and request.method == "POST":
            return await self._dev_token(request)
        prefix = f"/{self.prefix}/" if self.prefix else "/"
        if not path.startswith(prefix):
            return _problem(404, "not found")
        sub = path[len(prefix) :]
        allowed: set[str] = set()
        for route in self.http:
            m = route.pattern.match(sub)
            if not m:
                continue
            if request.method not in route.methods:
                allowed |= route.methods
                continue
            return await self._invoke_http(route, request, m)
        if allowed:
            return web.json_response(
                {"title": "method not allowed", "status": 405},
                status=405,
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        return _problem(404, "not found")

    async def _invoke_http(
        self, route: HttpRoute, request: web.Request, m: re.Match[str]
    ) -> web.StreamResponse:
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params={k: v for k, v in m.groupdict().items() if v is not None},
            body=await request.read(),
        )
        try:
            resp = await _call(route.fn, **{route.arg: req})
        except Exception:
            log.exception("function %s failed", route.name)
            return _problem(500, "Internal Server Error", function=route.name)
        if not isinstance(resp, func.HttpResponse):
            log.error("function %s returned %r, not an HttpResponse", route.name, type(resp))
            return _problem(500, "Internal Server Error", function=route.name)
        headers = {
            k: v
            for k, v in resp.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding")
        }
        if resp.mimetype and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = resp.mimetype + (
                f"; charset={resp.charset}" if resp.charset else ""
            )
        return web.Response(status=resp.status_code, body=resp.get_body(), headers=headers)

    async def _static(self, rel: str) -> web.StreamResponse:
        root = self.portal_dir.resolve()
        target = (root / (rel or "index.html")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if (
            not target.is_relative_to(root)
            or not target.is_file()
            or "node_modules" in target.relative_to(root).parts
        ):
            return _problem(404, "not found")
        return web.FileResponse(target)

    async def _dev_token(self, request: web.Request) -> web.Response:
        """Development sign-in for the portal: {tenantId, user, level} -> {token}."""
        if self.dev_authority is None:
            return _problem(404, "no development issuer")
        from devhost.devauth import LEVEL_ROLES

        try:
            body = await request.json()
            role = LEVEL_ROLES[body["level"]]
            token = self.dev_authority.token(
                str(body["tenantId"]), user=body.get("user"), roles=[role]
            )
        except (ValueError, KeyError, TypeError):
            return _problem(400, "tenantId, user and level are required", field="level")
        return web.json_response({"token": token})

    # Blob triggers --------------------------------------------------------------------

    async def _poll_blobs(self) -> None:
        from azure.storage.blob.aio import BlobServiceClient

        clients: dict[str, Any] = {}
        assert self._stop is not None
        try:
            while not self._stop.is_set():
                self._scans_begun += 1
                for route in self.blobs:
                    await self._scan(route, clients, BlobServiceClient)
                self._scans_done += 1
                assert self._wake is not None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()
        finally:
            for client in clients.values():
                await client.close()

    async def _scan(self, route: BlobRoute, clients: dict[str, Any], factory: Any) -> None:
        conn = os.environ.get(route.connection)
        if not conn:
            return
        if route.connection not in clients:
            clients[route.connection] = factory.from_connection_string(conn)
        container = clients[route.connection].get_container_client(route.container)
        try:
            async for blob in container.list_blobs(name_starts_with=route.prefix or None):
                if not route.pattern.match(blob.name):
                    continue
                key = (route.name, blob.name)
                if self._seen.get(key) == blob.etag:
                    continue
                self._seen[key] = blob.etag
                self._inflight += 1
                self.invocations += 1
                task = asyncio.ensure_future(self._invoke_blob(route, container, blob.name))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # container missing, storage restarting: next round
            log.debug("blob poll of %s failed: %s", route.container, exc)

    async def _invoke_blob(self, route: BlobRoute, container: Any, name: str) -> None:
        assert self._blob_sem is not None
        try:
            async with self._blob_sem:
                for attempt in range(1, self.max_attempts + 1):
                    client = container.get_blob_client(name)
                    try:
                        data = await (await client.download_blob()).readall()
                    except Exception:  # deleted meanwhile (processed): nothing to do
                        return
                    stream = func.blob.InputStream(
                        data=data,
                        name=f"{route.container}/{name}",
                        uri=client.url,
                        length=len(data),
                    )
                    self._running[f"{route.container}/{name}"] = time.monotonic()
                    try:
                        await asyncio.wait_for(
                            _call(route.fn, **{route.arg: stream}), self.function_timeout_s
                        )
                        return
                    except Exception as exc:
                        log.warning(
                            "%s attempt %d/%d on %s/%s failed: %r",
                            route.name,
                            attempt,
                            self.max_attempts,
                            route.container,
                            name,
                            exc,
                        )
                        if attempt == self.max_attempts:
                            self.poisoned.append((f"{route.container}/{name}", repr(exc)))
                            log.error(
                                "%s: %s/%s is poison after %d attempts",
                                route.name,
                                route.container,
                                name,
                                attempt,
                            )
                            return
                        await asyncio.sleep(self.retry_delay_s)
        finally:
            self._running.pop(f"{route.container}/{name}", None)
            self._inflight -= 1

    # Queue triggers -------------------------------------------------------------------

    async def _poll_queues(self) -> None:
        from azure.storage.queue.aio import QueueClient

        clients: dict[str, Any] = {}
        assert self._stop is not None
        sem = asyncio.Semaphore(self.queue_batch)
        try:
            while not self._stop.is_set():
                found = 0
                for route in self.queues:
                    found += await self._scan_queue(route, clients, QueueClient, sem)
                if not found:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.poll_s)
        finally:
            for client in clients.values():
                await client.close()

    def _queue_client(
        self, route: QueueRoute, clients: dict[str, Any], factory: Any, name: str
    ) -> Any | None:
        conn = os.environ.get(route.connection)
        if not conn:
            return None
        if name not in clients:
            clients[name] = factory.from_connection_string(conn, name)
        return clients[name]

    async def _scan_queue(
        self, route: QueueRoute, clients: dict[str, Any], factory: Any, sem: asyncio.Semaphore
    ) -> int:
        client = self._queue_client(route, clients, factory, route.queue)
        if client is None:
            return 0
        found = 0
        try:
            free = max(1, min(32, self.queue_batch - self._queue_inflight))
            if self._queue_inflight >= self.queue_batch:
                return 0
            async for msg in client.receive_messages(
                messages_per_page=free, visibility_timeout=300, max_messages=free
            ):
                found += 1
                self._queue_inflight += 1
                self.queue_invocations += 1
                task = asyncio.ensure_future(
                    self._invoke_queue(route, clients, factory, client, msg, sem)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except Exception as exc:  # queue missing (created on first send), storage restarting
            log.debug("queue poll of %s failed: %s", route.queue, exc)
        return found

    async def _invoke_queue(
        self,
        route: QueueRoute,
        clients: dict[str, Any],
        factory: Any,
        client: Any,
        msg: Any,
        sem: asyncio.Semaphore,
    ) -> None:
        from azure.functions.queue import QueueMessage

        try:
            async with sem:
                raw = msg.content if isinstance(msg.content, str) else str(msg.content)
                try:
                    body = (
                        base64.b64decode(raw, validate=True)
                        if self.queue_base64
                        else (raw.encode())
                    )
                except ValueError:
                    body = b""
                    failure: Exception | None = ValueError("message is not base64")
                else:
                    failure = None
                if failure is None:
                    message = QueueMessage(
                        id=msg.id,
                        body=body,
                        dequeue_count=msg.dequeue_count,
                        pop_receipt=msg.pop_receipt,
                        insertion_time=msg.inserted_on,
                        expiration_time=msg.expires_on,
                    )
                    try:
                        await _call(route.fn, **{route.arg: message})
                    except Exception as exc:
                        failure = exc
                if failure is None:
                    with contextlib.suppress(Exception):
                        await client.delete_message(msg.id, msg.pop_receipt)
                    return
                log.warning(
                    "%s: message %s failed (dequeue %d/%d): %r",
                    route.name,
                    msg.id,
                    msg.dequeue_count,
                    self.max_dequeue,
                    failure,
                )
                if msg.dequeue_count >= self.max_dequeue:
                    poison = self._queue_client(route, clients, factory, f"{route.queue}-poison")
                    assert poison is not None
                    with contextlib.suppress(Exception):
                        await poison.create_queue()
                    await poison.send_message(raw)
                    await client.delete_message(msg.id, msg.pop_receipt)
                    self.queue_poisoned.append((route.queue, repr(failure)))
                    log.error("%s: message %s moved to %s-poison", route.name, msg.id, route.queue)
                else:
                    with contextlib.suppress(Exception):
                        await client.update_message(
                            msg.id,
                            msg.pop_receipt,
                            visibility_timeout=int(max(0, self.queue_retry_s)),
                        )
        finally:
            self._queue_inflight -= 1

    async def queue_depth(self) -> int:
        """Messages still in the trigger queues, visible or not (tests wait for 0)."""
        from azure.storage.queue.aio import QueueClient

        total = 0
        for route in self.queues:
            conn = os.environ.get(route.connection)
            if not conn:
                continue
            async with QueueClient.from_connection_string(conn, route.queue) as client:
                try:
                    props = await client.get_queue_properties()
                    total += int(props.approximate_message_count or 0)
                except Exception:
                    continue
        return total

    def wait_queues_drained(self, timeout: float = 60.0) -> None:
        """Return once every trigger queue is empty and no queue invocation runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._loop is not None
            depth = asyncio.run_coroutine_threadsafe(self.queue_depth(), self._loop).result(30)
            if depth == 0 and not self._queue_inflight:
                return
            time.sleep(0.1)
        raise TimeoutError(f"queue triggers still busy after {timeout}s")

    # Timer triggers -------------------------------------------------------------------

    async def _run_timer(self, route: TimerRoute, past_due: bool = False) -> None:
        from azure.functions.timer import TimerRequest

        now = self.clock()
        request = TimerRequest(
            past_due=past_due,
            schedule={"AdjustForDST": False},
            schedule_status={
                "Last": now.isoformat(),
                "Next": next_occurrence(route.schedule, now).isoformat(),
                "LastUpdated": now.isoformat(),
            },
        )
        self.timer_runs[route.name] = self.timer_runs.get(route.name, 0) + 1
        try:
            await _call(route.fn, **{route.arg: request})
        except Exception:
            log.exception("timer %s failed", route.name)
            raise

    async def _timers(self) -> None:
        assert self._stop is not None
        for route in self.timers:
            route.next_due = next_occurrence(route.schedule, self.clock())
            if route.run_on_startup:
                with contextlib.suppress(Exception):
                    await self._run_timer(route)
        while not self._stop.is_set():
            now = self.clock()
            for route in self.timers:
                if route.next_due is not None and now >= route.next_due:
                    route.next_due = next_occurrence(route.schedule, now)
                    with contextlib.suppress(Exception):
                        await self._run_timer(route)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    def fire_timer(self, name: str, timeout: float = 120.0) -> None:
        """Run timer function `name` now on the host's loop and wait for it; its error,
        if any, is raised here (tests)."""
        route = next((r for r in self.timers if r.name == name), None)
        if route is None:
            raise KeyError(f"no timer function {name!r}")
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._run_timer(route), self._loop).result(timeout)

    # Lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> LocalHost:
        self._thread = threading.Thread(target=self._run, name="devhost", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("local host did not start")
        if self._error is not None:
            raise RuntimeError(f"local host failed to start: {self._error!r}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._blob_sem = asyncio.Semaphore(self.blob_concurrency)
        app = web.Application(client_max_size=200 * 1024 * 1024)
        # `[\s\S]`, not `.`: a path with an encoded newline still reaches `_handle` (and
        # its problem+json 404), not aiohttp's own text/plain one.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._handle)
        # auto_decompress off: the Functions host hands the body over as sent (ingest
        # checks Content-Encoding and the compressed size limit itself).
        runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        poller = asyncio.ensure_future(self._poll_blobs())
        background = [
            asyncio.ensure_future(self._poll_queues()),
            asyncio.ensure_future(self._timers()),
        ]
        self._ready.set()
        await self._stop.wait()
        await poller
        await asyncio.gather(*background, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
        await runner.cleanup()
        with contextlib.suppress(Exception):  # the app's cached clients for this loop
            from shared.storage.clients import close_clients

            await close_clients()
        with contextlib.suppress(Exception):  # Graph client and queue clients, if used
            from shared.graph.client import close_graph
            from shared.storage.queues import close_queues

            await close_graph()
            await close_queues()

    def stop(self) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
            self._poke()
        if self._thread:
            self._thread.join(40)

    def _poke(self) -> None:
        """Start the next blob scan now rather than after the rest of poll_s."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Return once a full poll that began after this call found nothing new and no
        blob invocation is pending or running (tests: "the processor has drained")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.invocations
            target = self._scans_begun + 1
            self._poke()
            while self._scans_done < target and time.monotonic() < deadline:
                time.sleep(0.01)
            while self._inflight and time.monotonic() < deadline:
                time.sleep(0.01)
            if self._scans_done >= target and not self._inflight and (self.invocations == started):
                return
        now = time.monotonic()
        running = ", ".join(
            f"{name} for {now - began:.0f}s" for name, began in list(self._running.items())
        )
        raise TimeoutError(
            f"blob triggers still running after {timeout}s ({self._inflight} in flight"
            + (f": {running})" if running else ")")
        )
