"""The infra check tools' own virtualenv (.local/infra-venv).

checkov pins many packages, so it and pycep-parser live in a separate venv, created on
first use from infra/requirements-check.txt and reused while that file is unchanged
(a hash of it is stamped into the venv). Creation takes about 40 s; reuse is instant.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
REQUIREMENTS = INFRA / "requirements-check.txt"
VENV = REPO / ".local" / "infra-venv"
STAMP = VENV / ".requirements.sha256"
PYTHON = VENV / "bin" / "python"


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def ensure_venv() -> Path:
    """Return the venv's python, creating the venv if missing or stale; fail on any
    install error. An unreachable package index fails too (saying so): a skipped infra
    check would let CI pass without the templates being checked."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".infra-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator at a time (parallel test runs)
        if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == _digest():
            return PYTHON
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        proc = subprocess.run(
            [
                str(PYTHON),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            if not _pypi_reachable():
                pytest.fail(
                    "infra checks need checkov/pycep-parser from PyPI, which is "
                    "unreachable from here (pip install failed); they do not skip"
                )
            pytest.fail(f"pip install -r {REQUIREMENTS.name} failed:\n{proc.stderr[-4000:]}")
        STAMP.write_text(_digest())
        return PYTHON
