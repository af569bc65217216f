"""Load (the bounded version of `python -m bench.load.run`): concurrent senders
post batches to the local host over loopback; every post is accepted (no errors) and
once the processor has drained nothing is lost. How fast the 202 is, is measured by the
benchmark (timings are not asserted in tests: a loaded CI machine is not a slow product)."""

from __future__ import annotations

import pytest

from bench.load.run import run_load, verify_drained
from devhost.stack import DEMO_TENANT

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_concurrent_senders_lose_nothing(local_host, mint, figures):
    token = mint(DEMO_TENANT, roles=["CallData.Ingest"])
    result = run_load(
        local_host, token, DEMO_TENANT, senders=6, batches=4, records=10, max_seconds=600
    )
    load = result.figures()
    assert load["errors"] == 0, load["errorSamples"]
    assert load["batchesAccepted"] == 24
    drained = verify_drained(local_host, token, result, local_host.wait_idle, timeout=120)
    assert drained["lostBatches"] == [] and drained["lostRecords"] == 0, drained
    assert drained["callsStored"] == drained["recordsExpected"] == 240
    figures(**load, **drained)
