"""How a run of the agent stops short."""

from __future__ import annotations


class FatalError(Exception):
    """The agent cannot deliver anything as configured (token, role, endpoint): the run
    stops, nothing is moved, the batch stays pending for the next run."""


class Postponed(Exception):
    """A batch could not be delivered within the attempts of this run (server busy or
    unreachable, or the agent is stopping); it stays pending."""
