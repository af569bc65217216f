"""A plain-text progress bar on stderr for a backlog, with no dependency.

On a console it redraws one line (`\\r`); when stderr is a file or a pipe (Task
Scheduler, a service wrapper) it prints a line at every 10 % instead, so logs stay
readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self, total_files: int, stream: TextIO | None = None, width: int = 30, enabled: bool = True
    ) -> None:
        self.total = max(0, total_files)
        self.done = 0
        self.records = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._last_decile = -1

    def grow(self, extra_files: int) -> None:
        """New files landed during the backlog: the bar's total grows with them."""
        self.total += max(0, extra_files)

    def advance(self, files: int, records: int) -> None:
        self.done += files
        self.records += records
        self._draw()

    def line(self) -> str:
        total = max(self.total, self.done, 1)
        frac = self.done / total
        filled = int(self.width * frac)
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (total - self.done) / rate if rate > 0 else 0.0
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {frac * 100:5.1f}% "
            f"{self.done}/{total} files, {self.records} records sent, "
            f"{rate:.1f} files/s, ETA {int(eta // 60)}m{int(eta % 60):02d}s"
        )

    def _draw(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
            return
        decile = int(10 * self.done / max(self.total, 1))
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
