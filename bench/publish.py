"""Where a benchmark's figures go: `bench/results/<name>` (what the README's "Measured"
table is read from) and standard output, in one place so every benchmark writes the
same JSON the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name: str, figures: dict[str, Any]) -> None:
    """Write `figures` to bench/results/`name` and print them."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(figures, indent=2)
    (RESULTS / name).write_text(text)
    print(text)
