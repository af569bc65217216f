"""Session fixtures for the infra checks: the tools' venv, the parsed Bicep files and
one checkov run, each computed once per test session."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .venv import INFRA, InfraVenvError, ensure_venv

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def infra_python() -> Path:
    """The tools' venv, from the wheelhouse; no wheels and no index fails (never skips)."""
    try:
        return ensure_venv()
    except InfraVenvError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def bicep_files(infra_python: Path) -> dict[str, dict[str, Any]]:
    """{path relative to infra/: {"tree": pycep JSON} or {"error": message}}."""
    proc = subprocess.run(
        [str(infra_python), str(HERE / "dump_bicep.py"), str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def bicep(bicep_files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Parsed trees of the files that parsed (test_parses reports the others)."""
    return {path: f["tree"] for path, f in bicep_files.items() if "tree" in f}


@pytest.fixture(scope="session")
def checkov_report(infra_python: Path) -> dict[str, Any]:
    checkov = infra_python.parent / "checkov"
    proc = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Exit code 1 = failed checks; the report says which. Anything else is a tool error.
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report
