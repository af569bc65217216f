"""Record dispatch: (kind, format) -> parser producing call fragments.

A parser either returns the fragments a record contributes or raises `RecordRejected`
with a reason a telecom admin can act on; the processor quarantines rejected records
and never lets one bad record fail the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.models.call import Fragment


class RecordRejected(Exception):
    """The record cannot be used; `reason` is stored with it in quarantine."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParseContext:
    tenant_id: str
    max_qoe_bytes: int = 300 * 1024


Parser = Callable[[Any, ParseContext], list[Fragment]]
_PARSERS: dict[tuple[str, str], Parser] = {}
_loaded = False


def register(kind: str, fmt: str) -> Callable[[Parser], Parser]:
    def deco(fn: Parser) -> Parser:
        _PARSERS[(kind, fmt)] = fn
        return fn

    return deco


def _load_parsers() -> None:
    # Imported for their @register side effect; kept lazy so importing the dispatcher
    # (e.g. at function indexing) does not load lxml.
    global _loaded
    from shared.parsing import cdr  # noqa: F401

    for optional in ("shared.parsing.qoe_xml", "shared.parsing.graph", "shared.parsing.pstn"):
        try:
            __import__(optional)
        except ModuleNotFoundError as exc:
            if exc.name != optional:
                raise
    _loaded = True


def parse_record(kind: str, fmt: str, data: Any, ctx: ParseContext) -> list[Fragment]:
    if not _loaded:
        _load_parsers()
    parser = _PARSERS.get((kind, fmt))
    if parser is None:
        raise RecordRejected(f"no parser for kind {kind!r} format {fmt!r}")
    try:
        return parser(data, ctx)
    except RecordRejected:
        raise
    except Exception as exc:  # a parser bug must quarantine one record, not fail a batch
        raise RecordRejected(
            f"{kind}/{fmt} could not be parsed: {type(exc).__name__}: {exc}"
        ) from exc
