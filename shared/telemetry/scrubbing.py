"""Log filters: context stamping and the EUII scrubber, installed on every root handler
and in the log-record factory."""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from typing import Any

from shared.telemetry.context import CONTEXT_FIELDS, _context

log = logging.getLogger("shared.telemetry")  # one logger name for the whole package


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class ContextFilter(logging.Filter):
    """Stamps batchId / tenantId / sourceServer of the current scope on the record.

    Values passed explicitly with `extra=` win. Absent fields are left absent rather than
    set to None: exporters reject None attribute values."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _context.get()
        if scope:
            for name in CONTEXT_FIELDS:
                value = scope.get(name)
                if value is not None and getattr(record, name, None) is None:
                    setattr(record, name, value)
        return True


_SIP = re.compile(r"(?i)\bsips?:[^\s\"'<>,;)\]}]+")
_TEL = re.compile(r"(?i)\btel:\+?[\d\-.() ]*\d")
# Addresses are matched from the start of a run of their characters only (the
# lookbehinds): from every position inside a long run the match backtracked over the
# rest of it, quadratic in the run's length.
_UPN = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
_MAC = re.compile(r"(?<![\w:-])(?:[0-9A-Fa-f]{2}[-:]){5}[0-9A-Fa-f]{2}(?![\w:-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_IPV6 = re.compile(
    r"(?i)(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}"
    r"\d{1,3})?(?![\w:])"
)
_E164 = re.compile(r"(?<![\w+])\+\d{8,15}(?!\w)")
# A UPN in a URL (`/users/alice%40contoso.com/calls`, `sip%3Aalice%40...`).
_UPN_ENCODED = re.compile(r"(?i)(?<![\w.%+'-])(?:sips?%3A)?[\w.%+'-]+%40[\w-]+(?:\.[\w-]+)+")
# Phone numbers as people write them: (425) 555-0123, 425-555-0123, +1 425 555 0123,
# 425.555.0123: three groups or more of digits with separators, 10 to 15 digits.
_PHONE = re.compile(
    r"(?<![\w.:/-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})[ .-]\d{3,4}[ .-]\d{3,4}(?![\w.:-])"
)
# A MAC without separators (001A2B3C4D5E): 12 hex digits standing alone, with a digit
# and a letter in it (a run of 12 digits is a number, often a phone one, handled above;
# the last group of a GUID follows a hyphen and is kept).
_MAC_BARE = re.compile(
    r"(?<![\w-])(?=[0-9A-Fa-f]*[A-Fa-f])(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{12}(?![\w-])"
)
# Values of fields that name or place a person, in JSON, Python reprs, `key=value` text
# and QoE XML: display names, SSIDs, BSSIDs, machine names. Pydantic errors quote the
# offending input (`input_value=...`), which may be any of these.
_NAMED = (
    r"(?:display_?name|user\d?_?display_?name|\w*DisplayName|ssid|bssid|machine_?name|"
    r"organizer_?name|caller_?name|callee_?name|name)"
)
_KEY_VALUE = re.compile(
    r"(?i)([\"']?\b" + _NAMED + r"[\"']?\s*[:=]\s*)(?:\"[^\"]*\"|'[^']*'|[^\s,;&)}\]][^\n,;&)}\]]*)"
)
_XML_VALUE = re.compile(r"(?i)(<(?:\w+:)?(" + _NAMED + r")(?:\s[^>]*)?>)[^<]*(</)")
_INPUT_VALUE = re.compile(r"input_value=(?:\"[^\"]*\"|'[^']*'|\{.*?\}|\[.*?\]|[^,\s]+)")


def _ipv4(m: re.Match[str]) -> str:
    return "[ip]" if all(int(o) <= 255 for o in m.group(0).split(".")) else m.group(0)


def _ipv6(m: re.Match[str]) -> str:
    text = m.group(0)
    if text.count(":") < 2:
        return text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return text  # a time of day (10:00:00) or some other colon-separated token
    return "[ip]"


def scrub_text(text: str) -> str:
    """Replace EUII in free text: SIP/tel URIs, UPNs and e-mail addresses (URL-encoded
    too), phone numbers (E.164 and the usual written forms), IPv4/IPv6 addresses, MAC
    addresses (with or without separators), and the values of name/SSID fields (display
    names cannot be told from other words, but they travel in named fields). Server
    FQDNs, ids, times and versions are kept."""
    if not text:
        return text
    out = _INPUT_VALUE.sub("input_value=[redacted]", text)
    out = _KEY_VALUE.sub(r"\1[name]", out)
    if "<" in out:
        out = _XML_VALUE.sub(r"\1[name]\3", out)
    if "%40" in out or "%40".upper() in out:
        out = _UPN_ENCODED.sub("[upn]", out)
    out = _SIP.sub("[sip]", out)
    out = _TEL.sub("[tel]", out)
    out = _UPN.sub("[upn]", out)
    out = _MAC.sub("[mac]", out)
    out = _MAC_BARE.sub("[mac]", out)
    out = _PHONE.sub("[tel]", out)
    out = _IPV4.sub(_ipv4, out)
    if ":" in out:
        out = _IPV6.sub(_ipv6, out)
    if "+" in out:
        out = _E164.sub("[tel]", out)
    return out


class ScrubbedError(Exception):
    """Stands in for an exception whose message held EUII (type name kept in the text)."""


_stats = {"records": 0, "redacted": 0}
_stats_lock = threading.Lock()


def scrub_stats(reset: bool = False) -> dict[str, int]:
    """Records seen and records the scrubber had to change (tests: 'clean' vs 'cleaned')."""
    with _stats_lock:
        out = dict(_stats)
        if reset:
            _stats.update(records=0, redacted=0)
    return out


class EuiiScrubber(logging.Filter):
    """Removes EUII from a record's message, exception and `extra=` string attributes.

    Idempotent: the message and exception are scrubbed once (the record factory usually
    does it); the extras are checked at every handler, because `extra=` values are set on
    the record after the factory ran."""

    def filter(self, record: logging.LogRecord) -> bool:
        changed = False
        first = not getattr(record, "_cdc_scrubbed", False)
        if first:
            record._cdc_scrubbed = True
            changed = self._message(record)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str) and key[0] != "_":
                clean = scrub_text(value)
                if clean != value:
                    setattr(record, key, clean)
                    changed = True
        if changed:
            record._cdc_redacted = True  # tests tell "clean" from "cleaned" per record
        with _stats_lock:
            _stats["records"] += int(first)
            _stats["redacted"] += int(changed)
        return True

    @staticmethod
    def _message(record: logging.LogRecord) -> bool:
        changed = False
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            message = None
        if message is not None:
            clean = scrub_text(message)
            if clean != message:
                record.msg, record.args, changed = clean, (), True
        if record.exc_info and record.exc_info[1] is not None:
            exc_type, exc, tb = record.exc_info
            text = str(exc)
            clean = scrub_text(text)
            if clean != text:
                name = getattr(exc_type, "__name__", "Exception")
                record.exc_info = (ScrubbedError, ScrubbedError(f"{name}: {clean}"), tb)
                record.exc_text = None
                changed = True
        return changed


_SCRUBBER = EuiiScrubber()
_installed: dict[str, Any] = {"factory": None, "previous": None}
_install_lock = threading.Lock()


def install_logging() -> None:
    """Scrub every log record the process creates, in the record factory, so even a
    handler without our filters never sees EUII in a message (idempotent; stdlib only).

    Context is stamped by handler filters (`attach_filters`), not here: `extra=` keys
    that already exist on a record make `Logger.makeRecord` raise, and the processor
    passes batchId/tenantId as extras."""
    with _install_lock:
        if _installed["factory"] is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _SCRUBBER.filter(record)
            return record

        _installed["previous"] = previous
        logging.setLogRecordFactory(factory)
        _installed["factory"] = factory


def uninstall_logging() -> None:
    """Restore the previous record factory (tests)."""
    with _install_lock:
        factory = _installed["factory"]
        if factory is not None and logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(_installed["previous"])
        _installed["factory"] = None


def attach_filters(handler: logging.Handler) -> None:
    """Context stamping and scrubbing on a handler (idempotent). `configure_telemetry`
    does this for every root handler (the Functions worker's, Azure Monitor's)."""
    have = {type(f) for f in handler.filters}
    for f in (ContextFilter(), EuiiScrubber()):
        if type(f) not in have:
            handler.addFilter(f)


def attach_root_filters() -> None:
    for handler in logging.getLogger().handlers:
        attach_filters(handler)
