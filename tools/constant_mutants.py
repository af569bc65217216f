"""Hand-written mutants of the module constants mutmut cannot reach, each run against
the tests that pin it: `make mutate` prints killed / survived per edit and fails when
one survives.

Why a separate list: mutmut 3 mutates function bodies only, so the tables and limits the
reports and access checks stand on (the 60 s short-call limit, the 20-29 setup range,
the directory-role table, the field classes of the call detail) would be changed by no
mutant at all. Each edit here is one a reviewer could plausibly make by mistake. It is
applied to a copy of the repository (the working tree is never touched) and must match
exactly once, so an edit that no longer applies fails loudly instead of passing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".local", "mutants", "node_modules", "__pycache__", ".pytest_cache"
)

ATTRIBUTION = ("tests/unit/test_attribution_literal.py",)
ROLE_TABLES = (
    "tests/integration/test_roles_tokens.py::test_the_code_tables_equal_the_documented_tables",
)
PORTAL_TABLES = ("tests/integration/test_roles_tokens.py::test_portal_role_tables_equal_levels_py",)
FIELDS = ("tests/unit/test_visibility_every_field.py",)
GLOBAL_READER = '"f2ef992c-3afb-46b9-b7cf-a126ee74c451": "reader"'
SUPPORT_ENGINEER = '"f70938a0-fc10-4177-9e90-2178f8765737": "engineer"'
REPORTS_READER = '"4a5d8f65-41da-4de4-8968-e035b65339cf": "reader"'


@dataclass(frozen=True)
class Edit:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


def _field(name: str, cls: str) -> Edit:
    return Edit(
        f"{name} shown to a specialist",
        "shared/analytics/visibility.py",
        f'"{name}": "{cls}"',
        f'"{name}": "basic"',
        FIELDS,
    )


EDITS = (
    Edit(
        "short call limit 60 s -> 120 s",
        "shared/aggregates/contribution.py",
        "SHORT_CALL_S = 60.0",
        "SHORT_CALL_S = 120.0",
        ATTRIBUTION,
    ),
    Edit(
        "setup range 20-29 -> 21-29",
        "shared/aggregates/contribution.py",
        "20 <= session.diagnostic_id <= 29",
        "21 <= session.diagnostic_id <= 29",
        ATTRIBUTION,
    ),
    Edit(
        "setup range 20-29 -> 20-28",
        "shared/aggregates/contribution.py",
        "20 <= session.diagnostic_id <= 29",
        "20 <= session.diagnostic_id <= 28",
        ATTRIBUTION,
    ),
    Edit(
        "Global Reader -> admin",
        "shared/auth/levels.py",
        GLOBAL_READER,
        GLOBAL_READER.replace('"reader"', '"admin"'),
        ROLE_TABLES,
    ),
    Edit(
        "Teams Communications Support Engineer -> admin",
        "shared/auth/levels.py",
        SUPPORT_ENGINEER,
        SUPPORT_ENGINEER.replace('"engineer"', '"admin"'),
        ROLE_TABLES,
    ),
    Edit(
        "Reports Reader -> specialist",
        "shared/auth/levels.py",
        REPORTS_READER,
        REPORTS_READER.replace('"reader"', '"specialist"'),
        ROLE_TABLES,
    ),
    Edit(
        "portal: Global Reader -> admin",
        "portal/js/auth.js",
        GLOBAL_READER,
        GLOBAL_READER.replace('"reader"', '"admin"'),
        PORTAL_TABLES,
    ),
    _field("ssid", "debug"),
    _field("subnet_mask", "advanced"),
    _field("render_device", "advanced"),
    _field("sip_call_id", "debug"),
    _field("conference_uri", "debug"),
)


def pytest(copy: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
    )


def run(edit: Edit, copy: Path) -> str:
    """'killed', 'survived', or why the edit could not be tried."""
    target = copy / edit.path
    original = target.read_text()
    if original.count(edit.old) != 1:
        return f"does not apply ({original.count(edit.old)} matches of {edit.old!r})"
    target.write_text(original.replace(edit.old, edit.new))
    try:
        proc = pytest(copy, edit.tests)
    finally:
        target.write_text(original)
    if proc.returncode == 0:
        return "survived"
    if proc.returncode == 1:
        return "killed"
    return f"pytest exit {proc.returncode}: {proc.stdout[-300:]}"  # collection error, ...


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="constant-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=IGNORE, symlinks=True)
        # The control: unedited, every test named here passes, so a failure below is the
        # edit's doing and not a broken copy.
        control = pytest(copy, tuple(sorted({t for e in EDITS for t in e.tests})))
        if control.returncode != 0:
            print(f"the tests fail without any edit:\n{control.stdout[-2000:]}")
            return 2
        results = [(edit, run(edit, copy)) for edit in EDITS]
    for edit, outcome in results:
        print(f"{outcome:>8}: {edit.name} ({edit.path})")
    killed = sum(1 for _, outcome in results if outcome == "killed")
    print(f"constants: {killed}/{len(results)} killed")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
