"""Figures the reliability tests measure go to test-output/reliability/figures.json
(one entry per test, rewritten as tests finish), so docs/reliability.md can quote the
numbers of a run and anyone can reproduce them with the command given there."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

OUT = Path(__file__).resolve().parents[2] / "test-output" / "reliability" / "figures.json"


@pytest.fixture()
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """figures(key=value, ...) records measured values under the test's name."""

    def record(**values: Any) -> None:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(OUT.read_text())
        except (OSError, ValueError):
            data = {}
        entry = data.setdefault(request.node.name, {})
        entry.update(values)
        entry["at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        OUT.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        print(request.node.name, json.dumps(values, default=str))

    return record
