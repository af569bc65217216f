"""CQD's definitions, figure by figure, through ingest, the processor and the report
engine on the emulators (docs/reference/cqd-dimensions.md). Each expected figure is
computed by hand in the comments from the records posted."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import devhost.qoe_generator as gen
from shared.auth.tokens import Principal
from shared.reports.service import quality_summary
from shared.storage.clients import get_clients
from tests.factories import cdr_record
from tests.integration.test_quality import post_and_process

pytestmark = pytest.mark.stack

DAY = datetime(2033, 5, 10, 9, 0, tzinfo=timezone.utc)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def admin(tenant: str) -> Principal:
    return Principal(tenant_id=tenant, object_id="oid-a", name="a@contoso.com", levels=("admin",))


def summary(tenant: str, **params: str) -> dict[str, Any]:
    query = {"from": "2033-05-09", "to": "2033-05-12", **params}

    async def go() -> dict[str, Any]:
        return await quality_summary(get_clients(), admin(tenant), query)

    return run(go())


@pytest.fixture(scope="module")
def cdr_tenant(stack: Any) -> str:
    """Six Skype for Business Server sessions known from their CDR only (no QoE):
    - s0-s2: audio, set up and ended normally           -> 3 x 2 = 6 CDR streams
    - s3: audio + video, ms-diagnostics 25 (setup failed) -> 2 x 2 = 4, all setup failed
    - s4: audio, ms-diagnostics 52 (mid-call media failure) -> 2, both dropped
    - s5: audio, starts 23:59:30 on the 10th, ends 00:01:30 on the 11th -> 2, the 11th
    """
    tenant = str(uuid.uuid4())
    records = [cdr_record(n=n, start=DAY + timedelta(minutes=n)) for n in range(3)]
    failed = cdr_record(n=3, start=DAY + timedelta(minutes=3), diagnostic_id=25)
    failed["data"]["mediaTypes"] = ["audio", "video"]
    records += [
        failed,
        cdr_record(n=4, start=DAY + timedelta(minutes=4), diagnostic_id=52),
        cdr_record(
            n=5, start=datetime(2033, 5, 10, 23, 59, 30, tzinfo=timezone.utc), duration_s=120
        ),
    ]
    status = run(post_and_process(tenant, records))
    assert status["status"] == "completed", status
    return tenant


def test_reliability_rates_are_per_stream_as_cqd_defines_them(cdr_tenant: str) -> None:
    body = summary(cdr_tenant, groupBy="product")
    [row] = body["rows"]
    assert row["product"] == "sfbServer"
    # streams with CDR data: 6 + 4 + 2 + 2 = 14; setup failed: 4 -> 4 / 14 = 28.57 %
    # (per session it would be 1 / 6 = 16.67 %).
    assert (row["cdrStreams"], row["setupFailedStreams"]) == (14, 4)
    assert row["callSetupFailurePercent"] == 28.57
    # set up: 14 - 4 = 10; dropped: s4's 2 -> 2 / 10 = 20 % (SfB drops are counted at all)
    assert (row["setupSucceededStreams"], row["droppedStreams"]) == (10, 2)
    assert row["droppedStreamPercent"] == 20.0
    assert (row["sessions"], row["callSetupFailures"]) == (6, 1)


def test_date_is_the_utc_day_the_stream_ended_and_hour_drills_down(cdr_tenant: str) -> None:
    body = summary(cdr_tenant, groupBy="day,hour")
    got = {(r["day"], r["hour"]): r["cdrStreams"] for r in body["rows"]}
    # s0-s4 end between 09:05 and 09:09 on the 10th (300 s calls); s5 ends 00:01:30 on
    # the 11th, so it is the 11th's even though it started on the 10th.
    assert got == {("2033-05-10", 9): 12, ("2033-05-11", 0): 2}
    only = summary(cdr_tenant, groupBy="day", hour="0")
    assert [(r["day"], r["cdrStreams"]) for r in only["rows"]] == [("2033-05-11", 2)]


def test_new_dimensions_filter_and_group(cdr_tenant: str) -> None:
    body = summary(cdr_tenant, groupBy="clientType,clientVersion,userAgentCategory,isTeams")
    # every CDR endpoint's user agent is "UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 ..."
    assert [
        (r["clientType"], r["clientVersion"], r["userAgentCategory"], r["isTeams"])
        for r in body["rows"]
    ] == [("desktop", "16.0.4849.1000", "sfbServer-desktop", False)]
    assert summary(cdr_tenant, groupBy="day", isTeams="true")["rows"] == []
    assert summary(cdr_tenant, groupBy="day", product="teams")["rows"] == []


def test_inside_comes_from_the_building_file_only(stack: Any) -> None:
    """Generated QoE calls whose clients say Inside = true; with no building file CQD
    counts every subnet as Outside."""
    tenant = str(uuid.uuid4())
    rng = random.Random(3)
    users = gen.demo_users(6)
    records: list[dict[str, Any]] = []
    for i in range(6):
        records += gen.generate_call(rng, tenant, users, DAY + timedelta(minutes=30 * i))
    status = run(post_and_process(tenant, records))
    assert status["status"] in ("completed", "completedWithErrors")
    body = summary(tenant, groupBy="insideCorp", mediaType="audio")
    assert [r["insideCorp"] for r in body["rows"]] == [False]
    assert body["rows"][0]["streams"] > 0 and not body["buildingFile"]
