"""Parse every .bicep file under a folder with pycep-parser; print {path: tree | error} as JSON.

Run by tests/infra with the interpreter of the infra venv (.local/infra-venv), where
pycep-parser is installed; the app's own environment never imports it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(root: str) -> int:
    from pycep import BicepParser

    parser = BicepParser()
    out: dict[str, dict] = {}
    for path in sorted(Path(root).rglob("*.bicep")):
        rel = path.relative_to(root).as_posix()
        try:
            out[rel] = {"tree": parser.parse(file_path=path)}
        except Exception as exc:  # report every file, not only the first failure
            out[rel] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(out, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
