"""The local Functions host against a tiny FunctionApp built here (independent of the
product's function_app.py): HTTP routing from the app's metadata, sync and async
functions, concurrency, error mapping, and blob triggers with the real host's
semantics (name = container/blob, retries, poison, blobs present at start)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient

from devhost.host import LocalHost
from devhost.stack import Stack

pytestmark = pytest.mark.stack
CONTAINER = f"devhost-{uuid.uuid4().hex[:8]}"


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blobs: list[tuple[str, bytes, int | None]] = []
        self.attempts: dict[str, int] = {}


def build_app(calls: Calls) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/echo/{thing}/{extra?}", methods=["GET", "POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(
            json.dumps(
                {
                    "method": req.method,
                    "route": dict(req.route_params),
                    "q": req.params.get("q"),
                    "body": req.get_body().decode(),
                    "hdr": req.headers.get("x-test"),
                    "url": req.url,
                }
            ),
            mimetype="application/json",
            headers={"X-Echo": "1"},
        )

    @app.route(route="v1/slow", methods=["GET"])
    async def slow(req: func.HttpRequest) -> func.HttpResponse:
        await asyncio.sleep(0.5)
        return func.HttpResponse("done", status_code=201, mimetype="text/plain", charset="utf-8")

    @app.route(route="v1/boom", methods=["GET"])
    async def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("kaboom")

    @app.blob_trigger(arg_name="blob", path=f"{CONTAINER}/{{name}}", connection="CDC_STORAGE")
    async def on_blob(blob: func.InputStream) -> None:
        name = blob.name or ""
        with calls.lock:
            calls.attempts[name] = calls.attempts.get(name, 0) + 1
            attempt = calls.attempts[name]
        data = blob.read()
        if b"hang-once" in data and attempt == 1:
            await asyncio.sleep(30)  # past the host's function timeout
        if b"always-fail" in data or (b"fail-twice" in data and attempt <= 2):
            raise RuntimeError(f"failing {name} attempt {attempt}")
        with calls.lock:
            calls.blobs.append((name, data, blob.length))

    return app


@pytest.fixture(scope="module")
def service(stack: Stack) -> Iterator[BlobServiceClient]:
    svc = BlobServiceClient.from_connection_string(os.environ["CDC_STORAGE"])
    svc.create_container(CONTAINER)
    svc.get_blob_client(CONTAINER, "before/start.txt").upload_blob(b"early")
    yield svc
    svc.delete_container(CONTAINER)
    svc.close()


@pytest.fixture(scope="module")
def host(service: BlobServiceClient) -> Iterator[tuple[LocalHost, Calls]]:
    calls = Calls()
    running = LocalHost(build_app(calls), port=0, retry_delay_s=0.05).start()
    yield running, calls
    running.stop()


def get(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_http_route_params_query_body_headers(host: tuple[LocalHost, Calls]) -> None:
    h, _ = host
    status, headers, body = get(
        f"{h.base_url}/api/v1/echo/abc?q=1", data=b"hello", headers={"X-Test": "yes"}
    )
    doc = json.loads(body)
    assert status == 200 and headers["X-Echo"] == "1"
    assert headers["Content-Type"].startswith("application/json")
    assert doc["method"] == "POST" and doc["route"] == {"thing": "abc"}
    assert (doc["q"], doc["body"], doc["hdr"]) == ("1", "hello", "yes")
    assert doc["url"].startswith(f"{h.base_url}/api/v1/echo/abc")
    assert json.loads(get(f"{h.base_url}/api/v1/echo/abc/def")[2])["route"] == {
        "thing": "abc",
        "extra": "def",
    }


def test_http_errors(host: tuple[LocalHost, Calls]) -> None:
    h, _ = host
    status, _, body = get(f"{h.base_url}/api/v1/boom")
    assert status == 500 and json.loads(body)["status"] == 500
    assert get(f"{h.base_url}/api/v1/nothing")[0] == 404
    assert get(f"{h.base_url}/v1/echo/x")[0] == 404  # outside the route prefix
    status, headers, _ = get(f"{h.base_url}/api/v1/slow", data=b"x")
    assert status == 405 and headers["Allow"] == "GET"


def test_async_functions_run_concurrently(host: tuple[LocalHost, Calls]) -> None:
    h, _ = host
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: get(f"{h.base_url}/api/v1/slow"), range(4)))
    assert [r[0] for r in results] == [201] * 4 and results[0][2] == b"done"
    assert results[0][1]["Content-Type"] == "text/plain; charset=utf-8"
    assert time.monotonic() - t0 < 1.5  # 4 x 0.5 s sequentially would be 2 s


def test_blob_trigger_semantics(host: tuple[LocalHost, Calls], service: BlobServiceClient) -> None:
    h, calls = host
    h.wait_idle(30)
    # present before the host started: processed on start, named container/blob
    assert (f"{CONTAINER}/before/start.txt", b"early", 5) in calls.blobs
    container = service.get_container_client(CONTAINER)
    container.upload_blob("tenant/2026/11/21/batch.json.gz", b"ok")
    container.upload_blob("flaky.txt", b"fail-twice")
    container.upload_blob("bad.txt", b"always-fail")
    h.wait_idle(30)
    names = [n for n, _, _ in calls.blobs]
    assert f"{CONTAINER}/tenant/2026/11/21/batch.json.gz" in names
    assert calls.attempts[f"{CONTAINER}/flaky.txt"] == 3 and f"{CONTAINER}/flaky.txt" in names
    assert calls.attempts[f"{CONTAINER}/bad.txt"] == 5  # then poison, no more retries
    assert [p for p, _ in h.poisoned] == [f"{CONTAINER}/bad.txt"]
    # unchanged blobs are not invoked again; a changed blob (new etag) is
    container.upload_blob("tenant/2026/11/21/batch.json.gz", b"changed", overwrite=True)
    h.wait_idle(30)
    assert names.count(f"{CONTAINER}/tenant/2026/11/21/batch.json.gz") == 1
    assert calls.blobs[-1][:2] == (f"{CONTAINER}/tenant/2026/11/21/batch.json.gz", b"changed")
    assert calls.attempts[f"{CONTAINER}/bad.txt"] == 5


def test_portal_is_served_when_present(host: tuple[LocalHost, Calls], tmp_path: Any) -> None:
    h, _ = host
    assert h.portal_dir.is_dir(), "the repo's portal/ folder"
    status, _, _ = get(f"{h.base_url}/portal/")
    assert status == 200
    assert get(f"{h.base_url}/portal/../host.json")[0] == 404


def test_blob_invocation_past_function_timeout_is_cancelled_and_retried(
    host: tuple[LocalHost, Calls], service: BlobServiceClient
) -> None:
    """As in Azure (host.json functionTimeout), a hung invocation is cancelled and the
    attempt counts as failed; while it runs, wait_idle's timeout names the blob."""
    h, calls = host
    h.wait_idle(30)
    saved = h.function_timeout_s
    h.function_timeout_s = 1.5
    try:
        service.get_container_client(CONTAINER).upload_blob("hang.txt", b"hang-once")
        deadline = time.monotonic() + 20
        while f"{CONTAINER}/hang.txt" not in calls.attempts and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(TimeoutError, match=f"{CONTAINER}/hang.txt for"):
            h.wait_idle(0.3)
        h.wait_idle(30)
    finally:
        h.function_timeout_s = saved
    assert calls.attempts[f"{CONTAINER}/hang.txt"] == 2
    assert (f"{CONTAINER}/hang.txt", b"hang-once", 9) in calls.blobs
    assert saved == 600  # host.json: "functionTimeout": "00:10:00"
