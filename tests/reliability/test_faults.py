"""Faults mid-batch: the Cosmos DB emulator killed and restarted, the processor process
SIGKILLed, Cosmos DB throttling (429 + x-ms-retry-after-ms). Each ends in the calls,
history and aggregates of a clean run of the same batch (the same records processed
for a second tenant on an undisturbed path), the aggregates equal the brute-force
recount over the stored calls, and the batch status reconciles
(received = stored + excluded + quarantined).

The emulator-restart scenario has its own stack (its own Azurite and Cosmos server on
their own ports), driven with explicit Settings/Clients: os.environ and the settings
and client caches of the session stack are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import pytest

from devhost.stack import ROOT
from shared.processor import CHUNK_RECORDS, BatchProcessor
from shared.settings import Settings, get_settings
from shared.storage import layout
from shared.storage.batches import read_batch
from shared.storage.clients import Clients, build_cosmos_transport, make_clients
from tests.reliability import faultlib as fl

pytestmark = [pytest.mark.stack, pytest.mark.slow]


async def _count_calls(clients: Clients, tenant: str) -> int:
    found = [
        c
        async for c in clients.container(layout.CALLS).query_items(
            "SELECT VALUE c.id FROM c WHERE c.tenantId = @t",
            parameters=[{"name": "@t", "value": tenant}],
        )
    ]
    return len(found)


async def _clean_run(
    clients: Clients, settings: Settings, records: list[dict[str, Any]], policy: Any = fl.POLICY
) -> tuple[str, dict[str, Any], float]:
    tenant = str(uuid.uuid4())
    name = await fl.post(clients, settings, fl.envelope(tenant, records), policy=policy)
    t0 = time.perf_counter()
    status = await BatchProcessor(clients, settings).process(name)
    return tenant, status, time.perf_counter() - t0


def _assert_same(cmp: dict[str, Any], faulted: dict[str, Any], clean: dict[str, Any]) -> None:
    assert fl.reconciles(faulted), faulted
    assert fl.counts(faulted) == fl.counts(clean)
    assert faulted["status"] in ("completed", "completedWithErrors")
    assert cmp["storedCalls"] == cmp["cleanStoredCalls"] > 0, cmp
    failed = [k for k, v in cmp.items() if v is False]
    assert not failed, cmp


# ------------------------------------------------------------------ throttling (429)


def test_cosmos_throttling_ends_as_a_clean_run(stack, figures):
    from tests.reliability.throttle import ThrottlingTransport

    settings = get_settings()
    records = fl.batch_records(seed=21, calls=60)
    retries: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            retries.append(record.getMessage())

    handler = Capture(level=logging.WARNING)
    retry_log = logging.getLogger("shared.storage.retry")
    retry_log.addHandler(handler)

    async def scenario() -> dict[str, Any]:
        clients = make_clients(settings)
        transport = build_cosmos_transport(
            settings, ThrottlingTransport, rate=0.3, retry_after_ms=5
        )
        throttled = make_clients(settings, cosmos_transport=transport)
        try:
            tenant = str(uuid.uuid4())
            name = await fl.post(clients, settings, fl.envelope(tenant, records))
            t0 = time.perf_counter()
            faulted = await BatchProcessor(throttled, settings).process(name)
            faulted_s = time.perf_counter() - t0
            clean_tenant, clean, clean_s = await _clean_run(clients, settings, records)
            cmp = fl.compare(
                await fl.snapshot(clients, tenant), await fl.snapshot(clients, clean_tenant)
            )
            return {
                "faulted": faulted,
                "clean": clean,
                "cmp": cmp,
                "faulted_s": faulted_s,
                "clean_s": clean_s,
                "injected429": transport.throttled,
                "sent": transport.sent,
            }
        finally:
            await throttled.close()
            await clients.close()

    try:
        out = asyncio.run(scenario())
    finally:
        retry_log.removeHandler(handler)
    _assert_same(out["cmp"], out["faulted"], out["clean"])
    assert out["injected429"] > 100
    figures(
        records=len(records),
        injected429=out["injected429"],
        requestsSent=out["sent"],
        ourRetriesAfterSdkGaveUp=len(retries),
        throttledS=round(out["faulted_s"], 2),
        cleanS=round(out["clean_s"], 2),
        **fl.counts(out["faulted"]),
        **out["cmp"],
    )


# ------------------------------------------------------- processor SIGKILLed mid-batch

PROCESS_ONE = """
import asyncio, json, sys
from shared.processor import CHUNK_RECORDS, BatchProcessor
from shared.settings import Settings
from shared.storage.clients import make_clients

async def main():
    settings = Settings.from_env()
    clients = make_clients(settings)
    try:
        status = await BatchProcessor(clients, settings).process(sys.argv[1])
        print(json.dumps({k: status.get(k) for k in ("status", "received", "stored")}))
    finally:
        await clients.close()

asyncio.run(main())
"""


def _processor_process(blob_name: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", PROCESS_ONE, blob_name],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def test_processor_killed_mid_batch_then_rerun_ends_as_a_clean_run(stack, figures):
    settings = get_settings()
    # Several chunks (CHUNK_RECORDS), so the kill lands inside an early flush and the
    # re-run has merged and unmerged calls, pending ledgers, and later chunks to do.
    records = fl.batch_records(seed=22, calls=130)
    assert len(records) > 2 * CHUNK_RECORDS

    async def scenario() -> dict[str, Any]:
        clients = make_clients(settings)
        try:
            tenant = str(uuid.uuid4())
            batch_id = str(uuid.uuid4())
            name = await fl.post(clients, settings, fl.envelope(tenant, records, batch_id))
            # stderr to a file: a pipe nobody reads could block the child before the kill
            with tempfile.TemporaryFile() as errors:
                proc = _processor_process(name, stderr=errors)
                merged_at_kill = 0
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and proc.poll() is None:
                    merged_at_kill = await _count_calls(clients, tenant)
                    if merged_at_kill >= 5:
                        proc.send_signal(signal.SIGKILL)
                        break
                    await asyncio.sleep(0.02)
                proc.wait(10)
                errors.seek(0)
                assert proc.returncode == -signal.SIGKILL, (proc.returncode, errors.read()[-2000:])
            at_kill = await read_batch(clients, tenant, batch_id)
            calls_after_kill = await _count_calls(clients, tenant)
            t0 = time.perf_counter()
            rerun = _processor_process(name)
            _, err = rerun.communicate(timeout=120)
            rerun_s = time.perf_counter() - t0
            assert rerun.returncode == 0, err.decode()[-2000:]
            faulted = await read_batch(clients, tenant, batch_id)
            assert faulted is not None
            clean_tenant, clean, clean_s = await _clean_run(clients, settings, records)
            cmp = fl.compare(
                await fl.snapshot(clients, tenant), await fl.snapshot(clients, clean_tenant)
            )
            return {
                "faulted": faulted,
                "clean": clean,
                "cmp": cmp,
                "at_kill": at_kill,
                "merged_at_kill": merged_at_kill,
                "calls_after_kill": calls_after_kill,
                "rerun_s": rerun_s,
                "clean_s": clean_s,
            }
        finally:
            await clients.close()

    out = asyncio.run(scenario())
    at_kill = out["at_kill"]
    assert at_kill["status"] == "processing", "the kill happened mid-batch"
    assert 0 < out["calls_after_kill"] < out["cmp"]["cleanStoredCalls"], out
    assert out["faulted"]["attempts"] == 2
    _assert_same(out["cmp"], out["faulted"], out["clean"])
    figures(
        records=len(records),
        callsMergedWhenKilled=out["calls_after_kill"],
        rerunS=round(out["rerun_s"], 2),
        cleanS=round(out["clean_s"], 2),
        **fl.counts(out["faulted"]),
        **out["cmp"],
    )


# ------------------------------------------------- Cosmos DB killed and restarted


def test_cosmos_killed_mid_batch_and_restarted_ends_as_a_clean_run(figures):
    """Dedicated stack. The emulator keeps everything in memory, so its restart loses
    the whole database (calls, ledgers, aggregates and the batch status alike); the
    stack is re-provisioned and the processor's retry (the host's, emulated as
    host.json's 5 attempts 1 s apart) re-runs the batch from the raw blob, still in
    Blob. Retries that start before the re-provisioning fail too (and may leave calls
    without history or ledger in a half-provisioned database): the final run repairs."""
    from devhost.provision import provision
    from devhost.stack import Stack

    dedicated = Stack().start()
    try:
        settings = Settings.from_env(dedicated.env)
        records = fl.batch_records(seed=23, calls=100)

        async def scenario() -> dict[str, Any]:
            await provision(settings)
            clients = make_clients(settings)
            attempts: list[str] = []
            try:
                tenant = str(uuid.uuid4())
                batch_id = str(uuid.uuid4())
                env = fl.envelope(tenant, records, batch_id)
                # No exclusion policy here: the restart loses the tenant settings too, and
                # re-saving them would race the retries (which run freely meanwhile).
                name = await fl.post(clients, settings, env, policy=None)
                t0 = time.perf_counter()
                run = asyncio.ensure_future(
                    fl.host_retry(
                        BatchProcessor(clients, settings),
                        name,
                        attempts=5,
                        delay_s=1.0,
                        log=attempts,
                    )
                )
                merged_at_kill = 0
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not run.done():
                    merged_at_kill = await _count_calls(clients, tenant)
                    if merged_at_kill >= 10:
                        break
                    await asyncio.sleep(0.02)
                assert not run.done(), "the batch finished before the kill"
                cosmos = next(e for e in dedicated.emulators if e.name == "cosmos")
                assert cosmos.proc is not None
                os.killpg(cosmos.proc.pid, signal.SIGKILL)  # a crash, not a clean stop
                killed_at = time.perf_counter()
                await asyncio.sleep(1.0)  # down for a second: requests fail meanwhile
                await asyncio.to_thread(dedicated.restart_cosmos)
                # Re-provisioned only once the in-flight attempt has failed (on the
                # restarted, empty server its requests fail fast): were it provisioned
                # earlier, that attempt's retried writes could land in the emptied
                # database and the attempt "succeed" over a half-lost batch, an artifact
                # of an in-memory emulator (a real account keeps its data).
                while not attempts and not run.done() and time.perf_counter() - killed_at < 60:
                    await asyncio.sleep(0.05)
                await provision(settings)
                outage_s = time.perf_counter() - killed_at
                faulted = await run
                faulted_s = time.perf_counter() - t0
                clean_tenant, clean, clean_s = await _clean_run(
                    clients, settings, records, policy=None
                )
                cmp = fl.compare(
                    await fl.snapshot(clients, tenant), await fl.snapshot(clients, clean_tenant)
                )
                return {
                    "faulted": faulted,
                    "clean": clean,
                    "cmp": cmp,
                    "merged_at_kill": merged_at_kill,
                    "attempts": attempts,
                    "outage_s": outage_s,
                    "faulted_s": faulted_s,
                    "clean_s": clean_s,
                }
            finally:
                with contextlib.suppress(Exception):
                    await clients.close()

        out = asyncio.run(scenario())
    finally:
        dedicated.stop()
    assert out["attempts"], "at least one attempt failed during the outage"
    _assert_same(out["cmp"], out["faulted"], out["clean"])
    figures(
        records=len(records),
        callsMergedWhenKilled=out["merged_at_kill"],
        failedAttempts=out["attempts"],
        outageS=round(out["outage_s"], 2),
        faultedTotalS=round(out["faulted_s"], 2),
        cleanS=round(out["clean_s"], 2),
        **fl.counts(out["faulted"]),
        **out["cmp"],
    )
