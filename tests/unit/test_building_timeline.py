"""Which building file labels which day (shared.building_timeline), by hand: pure."""

from __future__ import annotations

from datetime import date

import pytest

from shared.building_timeline import Segment, upload_for, validity, with_upload
from shared.errors import Invalid

TODAY = date(2031, 5, 20)


def test_validity_defaults_explicit_start_and_relabel() -> None:
    assert validity({}, has_timeline=False, today=TODAY) is None  # first file: every day
    assert validity({}, has_timeline=True, today=TODAY) == "2031-05-20"  # later: from today
    assert validity({"validFrom": "2031-01-02"}, True, TODAY) == "2031-01-02"
    assert validity({"relabelHistory": "true"}, True, TODAY) is None
    assert validity({"relabelHistory": "false"}, True, TODAY) == "2031-05-20"
    for bad in ({"validFrom": "02/01/2031"}, {"relabelHistory": "yes"}):
        with pytest.raises(Invalid):
            validity(bad, True, TODAY)
    with pytest.raises(Invalid) as both:
        validity({"validFrom": "2031-01-02", "relabelHistory": "true"}, True, TODAY)
    assert both.value.field == "validFrom"


def test_a_new_file_labels_from_its_start_and_earlier_days_keep_theirs() -> None:
    a = [Segment("A", None)]
    b = with_upload(a, Segment("B", "2031-03-01"))
    assert [(s.upload_id, s.valid_from) for s in b] == [("A", None), ("B", "2031-03-01")]
    assert upload_for(b, "2031-02-28") == "A" and upload_for(b, "2031-03-01") == "B"
    # a file starting before B's start ends B: C from 2031-02-15 on, A before
    c = with_upload(b, Segment("C", "2031-02-15"))
    assert [s.upload_id for s in c] == ["A", "C"]
    assert upload_for(c, "2031-02-14") == "A" and upload_for(c, "2031-03-05") == "C"
    # relabelling history replaces the whole timeline
    assert with_upload(c, Segment("D", None)) == [Segment("D", None)]


def test_a_day_before_the_first_start_has_no_file() -> None:
    only = [Segment("B", "2031-03-01")]
    assert upload_for(only, "2031-02-28") is None
    assert upload_for([], "2031-02-28") is None
