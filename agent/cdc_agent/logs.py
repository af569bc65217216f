"""Logs a Windows admin can read: plain text lines with the server's local time and its
UTC offset, to a size-rotated file (cdc-agent.log, .1, .2, ...) and to the console.

No JSON, no colours: the file is opened in Notepad or tailed with
`Get-Content -Wait -Tail 50`.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


class LocalTimeFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # astimezone() gives the local offset on Windows too, where %z can print a name
        return (
            datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(sep=" ", timespec="seconds")
        )


def setup_logging(
    file: Path | None,
    level: str = "INFO",
    max_mb: float = 10.0,
    backups: int = 5,
    console: bool = True,
    verbose: bool = False,
) -> None:
    root = logging.getLogger("cdc_agent")
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO))
    root.propagate = False
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    fmt = LocalTimeFormatter(FORMAT)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            file,
            maxBytes=int(max_mb * 1024 * 1024),
            backupCount=backups,
            encoding="utf-8",
            delay=True,
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(fmt)
        root.addHandler(stream)
