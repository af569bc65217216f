"""`[monitoring_db]` in agent.toml: where the Monitoring databases are and how to log in.

Why two ways to name a database: an admin writes `server` (+ `instance` or `port`) and
the agent builds the SQL Server URL for `pymssql`; `qoe_url` / `cdr_url` take any
SQLAlchemy URL instead (a second server, a named pipe, the SQLite copy the tests use).
The password never lives in the file: `auth = "sql"` reads it from the environment
variable `password_env` names, exactly like the client secret; `auth = "windows"` logs
in as the account the agent runs as (integrated security, no password at all), or, with
`user = "DOMAIN\\name"` and `password_env`, as another Windows account (NTLM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cdc_agent.config import ConfigError, _Section

AUTH = ("windows", "sql")
KEYS = {
    "server",
    "instance",
    "port",
    "qoe_database",
    "cdr_database",
    "qoe_url",
    "cdr_url",
    "auth",
    "user",
    "password_env",
    "page_size",
    "qoe_overlap_minutes",
    "cdr_overlap_minutes",
    "backfill_days",
    "max_attempts",
    "retry_seconds",
    "login_timeout_seconds",
    "query_timeout_seconds",
    "enabled",
}
_PASSWORD_IN_URL = re.compile(r"^[a-z0-9+]+://[^/@]*:[^/@]*@", re.IGNORECASE)


@dataclass(frozen=True)
class MonitoringConfig:
    qoe_url: str | None
    cdr_url: str | None
    auth: str = "windows"
    user: str | None = None
    password_env: str | None = None
    page_size: int = 500
    qoe_overlap_minutes: float = 60.0
    cdr_overlap_minutes: float = 240.0
    backfill_days: float = 7.0
    max_attempts: int = 3
    retry_seconds: float = 5.0
    login_timeout_seconds: float = 30.0
    query_timeout_seconds: float = 120.0


def _url(server: str, instance: str | None, port: int | None, database: str) -> str:
    host = server + (f"\\{instance}" if instance else "")
    netloc = quote(host, safe=".-_\\") + (f":{port}" if port else "")
    return f"mssql+pymssql://{netloc}/{quote(database)}"


def parse_monitoring(file: Path, raw: Any) -> MonitoringConfig | None:
    """The validated section, or None when it is absent or `enabled = false`."""
    if raw is None:
        return None
    if isinstance(raw, dict) and "password" in raw:
        raise ConfigError(
            file,
            "[monitoring_db] password",
            "never store the SQL password in "
            "the file: put it in an environment variable and name it in "
            "password_env",
        )
    sec = _Section(file, "monitoring_db", raw, KEYS)
    enabled = sec.data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise sec.error("enabled", "must be true or false")
    if not enabled:
        return None
    server = sec.str("server")
    port_raw = sec.data.get("port")
    port = (
        None
        if port_raw is None
        else int(sec.number("port", 1433, minimum=1, maximum=65535, integer=True))
    )
    urls: dict[str, str | None] = {}
    for kind, default_db in (("qoe", "QoEMetrics"), ("cdr", "LcsCDR")):
        url = sec.str(f"{kind}_url")
        if url and _PASSWORD_IN_URL.match(url):
            raise sec.error(f"{kind}_url", "must not contain a password (use password_env)")
        if url is None and server:
            database = sec.str(f"{kind}_database", default_db) or default_db
            url = _url(server, sec.str("instance"), port, database)
        urls[kind] = url
    if not urls["qoe"] and not urls["cdr"]:
        raise sec.error(
            "server", "set server (or qoe_url / cdr_url) to read the Monitoring databases"
        )
    auth = sec.str("auth", "windows") or "windows"
    if auth not in AUTH:
        raise sec.error("auth", f"must be one of {', '.join(AUTH)}, got {auth!r}")
    user, password_env = sec.str("user"), sec.str("password_env")
    if auth == "sql" and not (user and password_env):
        raise sec.error(
            "password_env",
            "auth = 'sql' needs user and password_env (the name "
            "of the environment variable holding the password)",
        )
    if auth == "windows" and user and not password_env:
        raise sec.error(
            "password_env",
            "auth = 'windows' with a user (DOMAIN\\user, NTLM) "
            "needs password_env; leave user out to log in as the agent's account",
        )
    return MonitoringConfig(
        qoe_url=urls["qoe"],
        cdr_url=urls["cdr"],
        auth=auth,
        user=user,
        password_env=password_env,
        page_size=sec.number("page_size", 500, minimum=1, maximum=10_000, integer=True),
        qoe_overlap_minutes=sec.number("qoe_overlap_minutes", 60.0, minimum=0, maximum=7 * 1440),
        cdr_overlap_minutes=sec.number("cdr_overlap_minutes", 240.0, minimum=0, maximum=7 * 1440),
        backfill_days=sec.number("backfill_days", 7.0, minimum=0, maximum=3650),
        max_attempts=sec.number("max_attempts", 3, minimum=1, maximum=100, integer=True),
        retry_seconds=sec.number("retry_seconds", 5.0, minimum=0, maximum=3600),
        login_timeout_seconds=sec.number("login_timeout_seconds", 30.0, minimum=1, maximum=600),
        query_timeout_seconds=sec.number("query_timeout_seconds", 120.0, minimum=1, maximum=3600),
    )
