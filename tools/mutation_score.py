"""Mutation score per module from mutmut's result files (`mutants/**/*.py.meta`).

`make mutate` runs mutmut one module at a time (the machine's cores are shared), then
this prints, per module, killed / mutants and the surviving mutant names. A mutant with
no test reaching it counts as not killed: an untested line is a gap, not an excuse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KILLED = {1, 3, -11, -9, 24, 36, 152, 255}  # test failure, crash, timeout: the suite noticed
SURVIVED = 0
NO_TESTS = 33


def load(root: Path) -> dict[str, dict[str, int | None]]:
    """{module: {mutant: exit code or None (not run)}}."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(root)).removesuffix(".py.meta").replace("/", ".")
        out[module] = codes
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "mutants")
    total_killed = total = 0
    for module, codes in load(root).items():
        ran = {k: v for k, v in codes.items() if v is not None}
        if not ran:
            continue
        killed = sum(1 for v in ran.values() if v in KILLED)
        survivors = sorted(k.rsplit(".", 1)[-1] for k, v in ran.items() if v == SURVIVED)
        untested = sum(1 for v in ran.values() if v == NO_TESTS)
        total_killed, total = total_killed + killed, total + len(ran)
        print(
            f"{module}: {killed}/{len(ran)} killed ({100 * killed / len(ran):.1f} %), "
            f"{len(survivors)} survived, {untested} without a test"
        )
        for name in survivors:
            print(f"    survived: {name}")
    if total:
        print(f"all: {total_killed}/{total} killed ({100 * total_killed / total:.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
