"""schemathesis in a virtual environment of its own under .local/ (it pins its own
hypothesis and friends, which must not meet the project's): created on first use,
pinned, reused. `make test` builds it before pytest starts (`python -m
tests.e2e.schemathesis_tool`), so an install is not counted as a test's time; the test
builds it itself when run alone."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from devhost.stack import LOCAL

SCHEMATHESIS = "schemathesis==4.32.5"
VENV = LOCAL / "schemathesis-venv"


def ensure() -> Path:
    """The `st` command of the pinned schemathesis, installed if missing or stale."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    with open(LOCAL / "schemathesis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel runs)
        stamp = VENV / ".installed"
        if not stamp.exists() or stamp.read_text() != SCHEMATHESIS:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run(
                [
                    str(VENV / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    SCHEMATHESIS,
                ],
                check=True,
            )
            stamp.write_text(SCHEMATHESIS)
    return VENV / "bin" / "st"


if __name__ == "__main__":
    print(ensure())
