"""The building file's validity start, history and rollback, through the emulators:
a later file labels the days from its start on and earlier days keep the earlier file;
relabelling history is an explicit choice; every kept upload is listed and rolling back
restores the days as they were labelled right after it (docs/reference/buildings.md)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import azure.functions as func
import pytest

import functions.http_support as http_support
from functions.buildings import get_building_history, post_building_rollback, put_buildings
from shared.aggregates.layout import doc_key, new_document
from shared.auth.tokens import Principal
from shared.reports.service import quality_summary
from shared.storage import layout
from shared.storage.clients import get_clients
from tests.integration.test_reports import _Validator, as_json, call

pytestmark = pytest.mark.stack

DAYS = ("2031-04-01", "2031-04-02", "2031-04-03")
CSV = {"Content-Type": "text/csv"}


def _file(building: str) -> bytes:
    return f"10.7.1.0,Net,24,{building},,,,Oslo,0150,NO,,Nordic,1,0\n".encode()


def _by_day(principal: Principal) -> dict[str, Any]:
    """Each day's building: one stream per day on 10.7.1.0/24."""
    params = {"from": DAYS[0], "to": DAYS[-1], "groupBy": "day,building"}

    async def go() -> dict[str, Any]:
        return await quality_summary(get_clients(), principal, params)

    return {r["day"]: r["building"] for r in asyncio.run(go())["rows"]}


@pytest.fixture
def tenant(stack: Any) -> Principal:
    tenant_id = str(uuid.uuid4())

    async def write() -> None:
        container = get_clients().container(layout.AGGREGATES)
        for day in DAYS:
            key = doc_key(day, "10.7.1.0", 24)
            doc = new_document(tenant_id, key, f"agg|{key}", f"{tenant_id}|{day[:7]}")
            doc["cells"] = {"audio|wired|na|0": {"streams": 1, "good": 1}}
            await container.upsert_item(doc)

    asyncio.run(write())
    return Principal(tenant_id=tenant_id, object_id="oid-a", name="admin@x", levels=("admin",))


def test_validity_start_history_and_rollback(
    tenant: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def upload(building: str, **params: str) -> Any:
        resp = call(
            monkeypatch,
            put_buildings,
            tenant,
            "PUT",
            body=_file(building),
            params=params,
            headers=CSV,
        )
        assert resp.status_code == 200, resp.get_body()
        return as_json(resp)

    first = upload("Old")  # the first file labels every day
    assert first["validFrom"] is None
    assert _by_day(tenant) == dict.fromkeys(DAYS, "Old")

    second = upload("New", validFrom=DAYS[1])
    assert second["validFrom"] == DAYS[1]
    assert _by_day(tenant) == {DAYS[0]: "Old", DAYS[1]: "New", DAYS[2]: "New"}

    # both at once is refused, naming the parameter; so is a bad date
    for params in ({"validFrom": DAYS[0], "relabelHistory": "true"}, {"validFrom": "April"}):
        resp = call(
            monkeypatch, put_buildings, tenant, "PUT", body=_file("X"), params=params, headers=CSV
        )
        assert resp.status_code == 400 and b"validFrom" in resp.get_body()

    history = as_json(call(monkeypatch, get_building_history, tenant))
    assert [u["uploadId"] for u in history["uploads"]] == [second["uploadId"], first["uploadId"]]
    assert [(u["current"], u["inUse"]) for u in history["uploads"]] == [(True, True), (False, True)]
    assert history["current"]["timeline"] == [
        {"uploadId": first["uploadId"], "validFrom": None},
        {"uploadId": second["uploadId"], "validFrom": DAYS[1]},
    ]

    relabel = upload("Everywhere", relabelHistory="true")  # the explicit choice
    assert _by_day(tenant) == dict.fromkeys(DAYS, "Everywhere")

    back = call(monkeypatch, post_building_rollback, tenant, "POST", rid=None)
    assert back.status_code == 404  # no such upload (an empty id)
    resp = _rollback(monkeypatch, tenant, second["uploadId"])
    assert resp.status_code == 200 and as_json(resp)["uploadId"] == second["uploadId"]
    assert _by_day(tenant) == {DAYS[0]: "Old", DAYS[1]: "New", DAYS[2]: "New"}
    assert _rollback(monkeypatch, tenant, first["uploadId"]).status_code == 200
    assert _by_day(tenant) == dict.fromkeys(DAYS, "Old")
    uploads = as_json(call(monkeypatch, get_building_history, tenant))["uploads"]
    assert {u["uploadId"] for u in uploads} == {
        first["uploadId"],
        second["uploadId"],
        relabel["uploadId"],
    }
    assert _rollback(monkeypatch, tenant, uuid.uuid4().hex).status_code == 404


def _rollback(monkeypatch: pytest.MonkeyPatch, tenant: Principal, upload_id: str) -> Any:
    """POST .../history/{uploadId}/rollback (the shared helper names its route id `id`)."""
    monkeypatch.setattr(http_support, "get_validator", lambda s: _Validator(tenant))
    req = func.HttpRequest(
        method="POST",
        url="http://localhost/api/x",
        params={},
        route_params={"uploadId": upload_id},
        body=b"",
        headers={"Authorization": "Bearer x"},
    )
    return asyncio.run(post_building_rollback.build().get_user_function()(req))
