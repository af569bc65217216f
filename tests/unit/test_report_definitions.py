"""Report definitions without storage: validation names the offending field, built-ins
are well-formed, default periods, derived measures, list filters and the CSV shape.
Running them on real data (and the role matrix) is tests/integration/test_reports.py."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from functions.problems import as_problem
from shared.errors import DomainError
from shared.reports.definitions import (
    BUILT_IN,
    BUILT_IN_BY_ID,
    DEFAULT_MEASURES,
    default_period,
    project_row,
    report_csv,
    validate_definition,
)
from shared.reports.service import filters_match, report_facet


def problem(body: Any) -> dict[str, Any]:
    with pytest.raises(DomainError) as info:
        validate_definition(body)
    assert as_problem(info.value).status == 400
    return as_problem(info.value).body()


def test_a_minimal_definition_gets_defaults() -> None:
    got = validate_definition(
        {
            "name": " Dublin Wi-Fi ",
            "groupBy": ["day", "site"],
            "filters": {"connectionType": "wifi", "city": ["Dublin"], "insideCorp": True},
        }
    )
    assert got == {
        "name": "Dublin Wi-Fi",
        "description": "",
        "groupBy": ("day", "site"),
        "filters": {"connectionType": "wifi", "city": ["Dublin"], "insideCorp": True},
        "measures": DEFAULT_MEASURES,
        "period": {"lastDays": 30},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"groupBy": ["day"]}, "name"),
        ({"name": "x"}, "groupBy"),
        ({"name": "x", "groupBy": ["day", "colour"]}, "groupBy[1]"),
        ({"name": "x", "groupBy": ["day", "day"]}, "groupBy[1]"),
        ({"name": "x", "groupBy": ["day", "week", "month", "site", "pool"]}, "groupBy"),
        ({"name": "x", "groupBy": ["day"], "filters": {"colour": "red"}}, "filters.colour"),
        ({"name": "x", "groupBy": ["day"], "filters": {"mediaType": "fax"}}, "filters.mediaType"),
        (
            {"name": "x", "groupBy": ["day"], "filters": {"mediaType": ["audio", "fax"]}},
            "filters.mediaType[1]",
        ),
        ({"name": "x", "groupBy": ["day"], "filters": {"vpn": "yes"}}, "filters.vpn"),
        (
            {"name": "x", "groupBy": ["day"], "filters": {"insideCorp": [True]}},
            "filters.insideCorp",
        ),
        ({"name": "x", "groupBy": ["day"], "filters": {"building": []}}, "filters.building"),
        ({"name": "x", "groupBy": ["day"], "filters": ["vpn"]}, "filters"),
        ({"name": "x", "groupBy": ["day"], "measures": ["mos"]}, "measures[0]"),
        ({"name": "x", "groupBy": ["day"], "measures": []}, "measures"),
        ({"name": "x", "groupBy": ["day"], "period": {"lastDays": 400}}, "period.lastDays"),
        ({"name": "x", "groupBy": ["day"], "period": {"lastMonths": 0}}, "period.lastMonths"),
        ({"name": "x", "groupBy": ["day"], "period": {"lastWeeks": 2}}, "period"),
        ({"name": "x", "groupBy": ["day"], "owner": "me"}, "owner"),
        ({"name": "x" * 101, "groupBy": ["day"]}, "name"),
    ],
)
def test_a_bad_definition_names_the_field(body: dict[str, Any], field: str) -> None:
    out = problem(body)
    assert out["field"] == field, out
    assert field in {e["field"] for e in out["errors"]}


def test_every_error_is_listed_at_once() -> None:
    out = problem({"name": "", "groupBy": ["x"], "measures": ["y"], "filters": {"z": 1}})
    assert [e["field"] for e in out["errors"]] == ["name", "groupBy[0]", "filters.z", "measures[0]"]
    assert problem("not an object")["field"] == "$"


def test_built_ins_are_valid_definitions() -> None:
    ids = [d.id for d in BUILT_IN]
    assert len(ids) == len(set(ids)) == len(BUILT_IN_BY_ID)
    assert {
        "overview",
        "quality-by-building",
        "quality-by-network",
        "reliability",
        "wired-vs-wifi",
        "inside-vs-outside",
        "vpn",
        "video-and-screen-sharing",
        "per-user",
    } <= set(ids)
    for d in BUILT_IN:
        assert d.version >= 1 and d.name and d.description
        if d.source == "summary":
            body = {
                "name": d.name,
                "groupBy": list(d.group_by),
                "filters": d.filters,
                "measures": list(d.measures),
                "period": d.period,
            }
            assert validate_definition(body)["groupBy"] == d.group_by
    assert BUILT_IN_BY_ID["per-user"].levels == frozenset({"admin", "engineer"})
    assert BUILT_IN_BY_ID["overview"].period == {"lastMonths": 12}


def test_default_periods_end_today() -> None:
    today = date(2031, 3, 15)
    p = default_period({"lastMonths": 12}, today)
    assert (p.start, p.end) == (date(2030, 4, 1), today)
    assert len(p.months()) == 12
    p = default_period({"lastMonths": 1}, date(2031, 1, 31))
    assert (p.start, p.end) == (date(2031, 1, 1), date(2031, 1, 31))
    p = default_period({"lastDays": 30}, today)
    assert (p.start, p.end) == (date(2031, 2, 14), today)
    p = default_period({"lastMonths": 13}, date(2031, 12, 31))
    assert (p.end - p.start).days + 1 <= 396


def test_derived_measures() -> None:
    row = {
        "day": "2031-02-01",
        "streams": 8,
        "good": 3,
        "poor": 1,
        "cdrStreams": 10,
        "setupFailedStreams": 2,
        "setupSucceededStreams": 8,
        "droppedStreams": 2,
        "sessions": 0,
        "callSetupFailures": 0,
        "poorDueTo": {"jitter": 1},
    }
    # CQD: setup failure rate = 2 failed / 10 streams with CDR data = 20 %; drop rate =
    # 2 dropped / 8 set up = 25 % (not / every stream, not per session).
    got = project_row(
        row,
        ("day",),
        ("poorPercent", "droppedStreamPercent", "callSetupFailurePercent", "poorDueTo"),
    )
    assert got == {
        "day": "2031-02-01",
        "poorPercent": 25.0,
        "droppedStreamPercent": 25.0,
        "callSetupFailurePercent": 20.0,
        "poorDueTo": {"jitter": 1},
    }


def test_list_filters_mean_any_of() -> None:
    dims = {"mediaType": "vbss", "insideCorp": False, "building": "HQ"}
    assert filters_match(dims, {"mediaType": ["video", "vbss"]})
    assert not filters_match(dims, {"mediaType": ["video", "appsharing"]})
    assert filters_match(dims, {"building": ["hq"], "insideCorp": False})
    assert not filters_match(dims, {"insideCorp": True})


def test_csv_has_dimensions_then_measures_in_order() -> None:
    report = {
        "groupBy": ["month", "vpn"],
        "measures": ["streams", "poorDueTo", "poorPercent"],
        "rows": [
            {
                "month": "2031-01",
                "vpn": True,
                "streams": 3,
                "poorPercent": None,
                "poorDueTo": {"rtt": 2},
            },
            {
                "month": "2031-02",
                "vpn": False,
                "streams": 1,
                "poorPercent": 50.0,
                "poorDueTo": {"jitter": 1},
            },
        ],
    }
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert lines == [
        ["month", "vpn", "streams", "poorDueTo.jitter", "poorDueTo.rtt", "poorPercent"],
        ["2031-01", "true", "3", "0", "2", ""],
        ["2031-02", "false", "1", "1", "0", "50.0"],
    ]


def test_dimensions_counted_in_different_documents_are_refused_together() -> None:
    """Client version and hour live in different facet documents (docs/reference/
    cqd-dimensions.md, Cost): a definition combining them is refused when saved, and
    the query API refuses the same combination; each alone (with places) is fine."""
    body = {"name": "x", "groupBy": ["clientVersion"], "filters": {"hour": 9}}
    assert problem(body)["errors"][0]["field"] == "groupBy"
    with pytest.raises(DomainError):
        report_facet(["clientVersion", "building"], {"hour": 9})
    assert report_facet(["building", "hour"], {"mediaType": "audio"}).name == "hour"
    assert report_facet(["building"], {"insideCorp": True}).name == ""
    assert report_facet(["transport"], {"connectionType": "wifi", "vpn": True}).name == "network"
    by_id = {d.id: report_facet(d.group_by, d.filters).name for d in BUILT_IN if d.id != "per-user"}
    assert by_id["quality-by-building"] == "" and by_id["client-versions"] == "client"
    assert by_id["reliability-drill-down"] == "hour" and by_id["wifi-by-band"] == "network"
