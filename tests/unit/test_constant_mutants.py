"""The hand-written constant mutants of `make mutate` (tools/constant_mutants.py) stay
current: each edit matches its file exactly once today and names tests that exist, so a
renamed constant or moved test fails here, not silently in the benchmark."""

from __future__ import annotations

import pytest

from tools.constant_mutants import EDITS, ROOT


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.name)
def test_each_edit_applies_once_and_names_existing_tests(edit) -> None:
    source = (ROOT / edit.path).read_text()
    assert source.count(edit.old) == 1, edit.old
    assert edit.new != edit.old and edit.new not in source
    for test in edit.tests:
        path, _, name = test.partition("::")
        text = (ROOT / path).read_text()
        assert not name or f"def {name}(" in text, test


def test_the_edits_named_by_the_review_are_all_there() -> None:
    names = {e.name for e in EDITS}
    assert {
        "short call limit 60 s -> 120 s",
        "setup range 20-29 -> 21-29",
        "Global Reader -> admin",
        "Teams Communications Support Engineer -> admin",
        "Reports Reader -> specialist",
    } <= names
    fields = {e.name.split()[0] for e in EDITS if e.path.endswith("visibility.py")}
    assert fields == {"ssid", "subnet_mask", "render_device", "sip_call_id", "conference_uri"}
