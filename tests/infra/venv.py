"""The infra check tools' own virtualenv (.local/infra-venv), installable offline.

checkov pins many packages, so it and pycep-parser live in a separate venv, installed
from the exact closure in infra/requirements-check.lock out of a local wheelhouse
(.local/wheels/infra) with `--no-index`: once the wheelhouse holds the locked wheels, no
package index is needed at all, on this machine or on one the wheelhouse was copied to.
The wheelhouse is filled from the configured package index (`pip download`, the same
index the main venv is installed from) the first time it is missing or stale, or ahead of
time with `make infra-wheels`. The venv is reused while the lock is unchanged (its hash is
stamped into the venv and the wheelhouse). Creation takes about 40 s; reuse is instant.

When neither the wheelhouse nor an index is available the checks fail, saying so: a
skipped infra check would let CI pass without the templates being checked.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
LOCK = INFRA / "requirements-check.lock"
VENV = REPO / ".local" / "infra-venv"
WHEELS = REPO / ".local" / "wheels" / "infra"
STAMP_NAME = ".requirements.sha256"


class InfraVenvError(RuntimeError):
    """The tools could not be installed; the message says why and what to do."""


def _digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def _stamped(folder: Path) -> bool:
    stamp = folder / STAMP_NAME
    return stamp.exists() and stamp.read_text().strip() == _digest()


def _pip(python: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """pip, bounded: ~40 s on an idle machine, over 15 min on a heavily loaded one (the
    closure holds botocore's thousands of files)."""
    command = [str(python), "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise InfraVenvError(f"pip {args[0]} took over 30 minutes: {' '.join(command)}") from None


def fill_wheelhouse(wheels: Path = WHEELS) -> Path:
    """Download every locked wheel (no dependency resolution: the lock is the closure)
    into `wheels`, unless it already holds this lock's set."""
    if _stamped(wheels):
        return wheels
    wheels.mkdir(parents=True, exist_ok=True)
    proc = _pip(
        sys.executable,
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(wheels),
        "-r",
        str(LOCK),
    )
    if proc.returncode != 0:
        raise InfraVenvError(
            f"the infra checks install checkov and pycep-parser offline from {wheels}, "
            f"which does not hold the wheels of {LOCK.name}, and downloading them from "
            "the package index failed (no index reachable?). Run `make infra-wheels` once "
            f"on a connected machine, or copy its {wheels.relative_to(REPO)} here. "
            f"pip said:\n{proc.stderr[-3000:]}"
        )
    (wheels / STAMP_NAME).write_text(_digest())
    return wheels


def ensure_venv(venv: Path = VENV, wheels: Path = WHEELS) -> Path:
    """Return the venv's python, creating the venv from the wheelhouse (offline) if
    missing or stale; raise InfraVenvError on any install error."""
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".infra-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one creator at a time (parallel test runs)
        if python.exists() and _stamped(venv):
            return python
        fill_wheelhouse(wheels)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = _pip(python, "install", "--no-index", "--find-links", str(wheels), "-r", str(LOCK))
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise InfraVenvError(
                f"pip install --no-index -r {LOCK.name} from {wheels} failed:\n"
                f"{proc.stderr[-4000:]}"
            )
        (venv / STAMP_NAME).write_text(_digest())
        return python


if __name__ == "__main__":  # `make infra-wheels`: fill the wheelhouse and build the venv
    print(ensure_venv())
