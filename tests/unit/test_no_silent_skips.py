"""A skip that tests/skips.py does not list fails the run (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tests.skips as skips

ROOT = Path(__file__).parents[2]


def test_an_unlisted_skip_fails_the_run() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/unit/skip_probe.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout
    assert "skips not listed in tests/skips.py" in proc.stdout
    assert "skip_probe.py::test_skips_without_being_listed" in proc.stdout


def test_listed_skips_match_by_node_id_or_its_base() -> None:
    skips.ALLOWED_SKIPS["tests/x.py::test_a"] = "why"
    try:
        assert skips.allowed("tests/x.py::test_a") == "why"
        assert skips.allowed("tests/x.py::test_a[p1]") == "why"
        assert skips.allowed("tests/x.py::test_b") is None
    finally:
        del skips.ALLOWED_SKIPS["tests/x.py::test_a"]
