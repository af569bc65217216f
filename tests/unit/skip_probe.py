"""Not collected by the suite (no `test_` prefix): run explicitly by
test_no_silent_skips.py to show that an unlisted skip fails the run."""

import pytest


def test_skips_without_being_listed() -> None:
    pytest.skip("a dependency is missing")
