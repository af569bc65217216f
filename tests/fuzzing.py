"""How hard the property tests push: bounded in the suite, longer with `make fuzz`."""

import os


def fuzz_examples(default: int) -> int:
    """CDC_FUZZ_EXAMPLES (set by `make fuzz`) raises every fuzz test's example count."""
    return max(default, int(os.environ.get("CDC_FUZZ_EXAMPLES", "0") or 0))
