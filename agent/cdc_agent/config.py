"""The agent's TOML configuration (agent.toml), validated up front.

Why strict: the agent runs unattended under Task Scheduler or as a service, so a typo
must fail at start with the file and the key named, not hours later as a silent skip.
Unknown keys are errors for the same reason. Secrets never live in the file: the client
secret and the certificate password are read from environment variables it names.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cdc_agent.monitoring.config import MonitoringConfig

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$"
)
AUTH_MODES = ("certificate", "secret", "dev-token")
SERVER_MAX_RECORDS = 10_000  # docs/reference/ingest.md limits: the server answers 413 above these
SERVER_MAX_MB = 50.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A bad configuration value, naming the file and the `[section] key`."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        self.file, self.key = str(file), key
        super().__init__(f"{file}: {key}: {message}")


@dataclass(frozen=True)
class ServerConfig:
    endpoint: str
    tenant_id: str
    api_audience: str
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class AuthConfig:
    mode: str
    client_id: str | None = None
    certificate_path: Path | None = None
    certificate_password_env: str | None = None
    secret_env: str | None = None
    authority_host: str | None = None
    dev_token: str | None = None
    dev_token_command: tuple[str, ...] | None = None
    dev_token_cwd: Path | None = None


@dataclass(frozen=True)
class SpoolConfig:
    qoe_dir: Path | None
    cdr_dir: Path | None
    sent_dir: Path
    rejected_dir: Path
    state_dir: Path
    retention_days: int = 30
    settle_seconds: float = 5.0
    poll_seconds: float = 10.0


@dataclass(frozen=True)
class BatchConfig:
    max_records: int = 1000
    max_mb: float = 8.0

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    max_retry_after_seconds: float = 900.0


@dataclass(frozen=True)
class ExclusionsConfig:
    users: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceConfig:
    fqdn: str
    pool: str | None = None
    site: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class LoggingConfig:
    file: Path
    level: str = "INFO"
    max_mb: float = 10.0
    backups: int = 5


@dataclass(frozen=True)
class Config:
    path: Path
    server: ServerConfig
    auth: AuthConfig
    spool: SpoolConfig
    batch: BatchConfig
    delivery: DeliveryConfig
    exclusions: ExclusionsConfig
    source: SourceConfig
    logging: LoggingConfig
    extra: dict[str, Any] = field(default_factory=dict)
    monitoring: MonitoringConfig | None = None  # [monitoring_db]: the monitoring-db source


class _Section:
    """Typed reads from one TOML table; every error names `[section] key` and the file."""

    def __init__(self, file: Path, name: str, data: Any, allowed: set[str]) -> None:
        self.file, self.name = file, name
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(file, f"[{name}]", "must be a table")
        self.data: dict[str, Any] = data
        for key in data:
            if key not in allowed:
                raise ConfigError(
                    file, f"[{name}] {key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def key(self, key: str) -> str:
        return f"[{self.name}] {key}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(key), message)

    def str(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(key, default)
        if value is None:
            if required:
                raise self.error(key, "is required")
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {type(value).__name__}")
        value = value.strip()
        if required and not value:
            raise self.error(key, "must not be empty")
        return value or None

    def number(
        self,
        key: builtins.str,
        default: float,
        *,
        minimum: float,
        maximum: float,
        integer: bool = False,
    ) -> Any:
        value = self.data.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))
        ):
            kind = "an integer" if integer else "a number"
            raise self.error(key, f"must be {kind}, got {value!r}")
        if not minimum <= value <= maximum:
            raise self.error(key, f"must be between {minimum:g} and {maximum:g}, got {value!r}")
        return value

    def strings(self, key: builtins.str) -> tuple[builtins.str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(v.strip() for v in value if v.strip())

    def path(self, key: builtins.str, base: Path, *, required: bool = False) -> Path | None:
        value = self.str(key, required=required)
        if value is None:
            return None
        p = Path(os.path.expandvars(value)).expanduser()
        return p if p.is_absolute() else (base / p).resolve()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(sec: _Section) -> str:
    value = sec.str("endpoint", required=True)
    assert value is not None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise sec.error("endpoint", f"must be a URL like https://cdc.example.net, got {value!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # A bearer token must never cross the network in clear text.
        raise sec.error("endpoint", "must use https:// (http:// is allowed only for loopback)")
    if parts.query or parts.fragment:
        raise sec.error("endpoint", "must not have a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]  # the agent adds /api/v1/...: accept either form
    return f"{parts.scheme}://{parts.netloc}{path}"


def _read_toml(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    file = Path(path).expanduser().resolve()
    try:
        with file.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "(syntax)", str(exc)) from None
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot be read: {exc}") from None
    sections = {
        "server",
        "auth",
        "spool",
        "batch",
        "delivery",
        "exclusions",
        "source",
        "logging",
        "monitoring_db",
    }
    for name in raw:
        if name not in sections:
            raise ConfigError(
                file, f"[{name}]", f"unknown section (allowed: {', '.join(sorted(sections))})"
            )

    return file, raw


def _server(file: Path, raw: dict[str, Any]) -> ServerConfig:
    s = _Section(
        file,
        "server",
        raw.get("server"),
        {"endpoint", "tenant_id", "api_audience", "timeout_seconds"},
    )
    tenant = s.str("tenant_id", required=True)
    assert tenant is not None
    if not GUID_RE.match(tenant):
        raise s.error("tenant_id", f"must be the Entra tenant ID (a GUID), got {tenant!r}")
    return ServerConfig(
        endpoint=_endpoint(s),
        tenant_id=tenant.lower(),
        api_audience=(s.str("api_audience", required=True) or "").rstrip("/"),
        timeout_seconds=s.number("timeout_seconds", 60.0, minimum=1, maximum=600),
    )


def _dev_token_command(a: _Section) -> tuple[str, ...] | None:
    """`dev_token_command` as an argv: a command line string (shell-split) or a list."""
    command_raw = a.data.get("dev_token_command")
    if isinstance(command_raw, str) and command_raw.strip():
        return tuple(shlex.split(command_raw, posix=os.name != "nt"))
    elif (
        isinstance(command_raw, list)
        and command_raw
        and all(isinstance(c, str) for c in command_raw)
    ):
        return tuple(command_raw)
    elif command_raw is not None:
        raise a.error("dev_token_command", "must be a command line string or a list of strings")
    return None


def _check_auth(a: _Section, auth: AuthConfig) -> None:
    """What each mode needs besides the mode itself."""
    if auth.mode in ("certificate", "secret"):
        if not auth.client_id:
            raise a.error("client_id", f"is required when mode = {auth.mode!r}")
        if not GUID_RE.match(auth.client_id):
            raise a.error("client_id", "must be the app registration's client ID (a GUID)")
    if auth.mode == "certificate" and auth.certificate_path is None:
        raise a.error("certificate_path", "is required when mode = 'certificate'")
    if auth.mode == "secret" and not auth.secret_env:
        raise a.error(
            "secret_env",
            "is required when mode = 'secret' (the name of the "
            "environment variable holding the client secret)",
        )
    if auth.mode == "dev-token" and not (auth.dev_token or auth.dev_token_command):
        raise a.error(
            "dev_token_command", "mode = 'dev-token' needs dev_token or dev_token_command"
        )


def _auth(file: Path, raw: dict[str, Any], base: Path) -> AuthConfig:
    if isinstance(raw.get("auth"), dict) and "secret" in raw["auth"]:
        raise ConfigError(
            file,
            "[auth] secret",
            "never store the client secret in the file: "
            "put it in an environment variable and name it in secret_env",
        )
    a = _Section(
        file,
        "auth",
        raw.get("auth"),
        {
            "mode",
            "client_id",
            "certificate_path",
            "certificate_password_env",
            "secret_env",
            "authority_host",
            "dev_token",
            "dev_token_command",
            "dev_token_cwd",
        },
    )
    mode = a.str("mode", required=True)
    if mode not in AUTH_MODES:
        raise a.error("mode", f"must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
    command = _dev_token_command(a)
    auth = AuthConfig(
        mode=mode,
        client_id=a.str("client_id"),
        certificate_path=a.path("certificate_path", base),
        certificate_password_env=a.str("certificate_password_env"),
        secret_env=a.str("secret_env"),
        authority_host=a.str("authority_host"),
        dev_token=a.str("dev_token"),
        dev_token_command=command,
        dev_token_cwd=a.path("dev_token_cwd", base) or base,
    )
    _check_auth(a, auth)
    return auth


def _check_spool(sp: _Section, spool: SpoolConfig, monitoring: bool) -> None:
    """At least one input (a folder or a [monitoring_db]); no output directory is an
    input or inside one."""
    if spool.qoe_dir is None and spool.cdr_dir is None and not monitoring:
        raise sp.error("qoe_dir", "set qoe_dir, cdr_dir or both (or a [monitoring_db])")
    inputs = {"qoe_dir": spool.qoe_dir, "cdr_dir": spool.cdr_dir}
    outputs = {
        "sent_dir": spool.sent_dir,
        "rejected_dir": spool.rejected_dir,
        "state_dir": spool.state_dir,
    }
    for in_key, in_dir in inputs.items():
        for out_key, out_dir in outputs.items():
            if in_dir is not None and (out_dir == in_dir or in_dir in out_dir.parents):
                raise sp.error(
                    out_key,
                    f"must not be {in_key} or inside it (files there would be picked up again)",
                )


def _spool(file: Path, raw: dict[str, Any], base: Path, monitoring: bool) -> SpoolConfig:
    sp = _Section(
        file,
        "spool",
        raw.get("spool"),
        {
            "qoe_dir",
            "cdr_dir",
            "sent_dir",
            "rejected_dir",
            "state_dir",
            "retention_days",
            "settle_seconds",
            "poll_seconds",
        },
    )
    spool = SpoolConfig(
        qoe_dir=sp.path("qoe_dir", base),
        cdr_dir=sp.path("cdr_dir", base),
        sent_dir=sp.path("sent_dir", base, required=True) or base,
        rejected_dir=sp.path("rejected_dir", base, required=True) or base,
        state_dir=sp.path("state_dir", base, required=True) or base,
        retention_days=sp.number("retention_days", 30, minimum=0, maximum=3650, integer=True),
        settle_seconds=sp.number("settle_seconds", 5.0, minimum=0, maximum=3600),
        poll_seconds=sp.number("poll_seconds", 10.0, minimum=0.1, maximum=3600),
    )
    _check_spool(sp, spool, monitoring)
    return spool


def _batch(file: Path, raw: dict[str, Any]) -> BatchConfig:
    b = _Section(file, "batch", raw.get("batch"), {"max_records", "max_mb"})
    return BatchConfig(
        max_records=b.number(
            "max_records", 1000, minimum=1, maximum=SERVER_MAX_RECORDS, integer=True
        ),
        max_mb=b.number("max_mb", 8.0, minimum=0.01, maximum=SERVER_MAX_MB),
    )


def _delivery(file: Path, raw: dict[str, Any]) -> DeliveryConfig:
    d = _Section(
        file,
        "delivery",
        raw.get("delivery"),
        {"max_attempts", "backoff_base_seconds", "backoff_max_seconds", "max_retry_after_seconds"},
    )
    return DeliveryConfig(
        max_attempts=d.number("max_attempts", 8, minimum=1, maximum=1000, integer=True),
        backoff_base_seconds=d.number("backoff_base_seconds", 1.0, minimum=0, maximum=600),
        backoff_max_seconds=d.number("backoff_max_seconds", 300.0, minimum=0, maximum=86400),
        max_retry_after_seconds=d.number(
            "max_retry_after_seconds", 900.0, minimum=0, maximum=86400
        ),
    )


def _exclusions(file: Path, raw: dict[str, Any]) -> ExclusionsConfig:
    e = _Section(file, "exclusions", raw.get("exclusions"), {"users", "domains"})
    exclusions = ExclusionsConfig(users=e.strings("users"), domains=e.strings("domains"))
    for dom in exclusions.domains:
        if "@" in dom.lstrip("@") or "/" in dom or " " in dom:
            raise e.error("domains", f"{dom!r} is not a domain name (put users in users)")

    return exclusions


def _source(file: Path, raw: dict[str, Any]) -> SourceConfig:
    so = _Section(file, "source", raw.get("source"), {"fqdn", "pool", "site", "version"})
    source = SourceConfig(
        fqdn=so.str("fqdn", required=True) or "",
        pool=so.str("pool"),
        site=so.str("site"),
        version=so.str("version"),
    )
    if len(source.fqdn) > 255:
        raise so.error("fqdn", "must be at most 255 characters")

    return source


def _logging(file: Path, raw: dict[str, Any], base: Path, spool: SpoolConfig) -> LoggingConfig:
    lg = _Section(file, "logging", raw.get("logging"), {"file", "level", "max_mb", "backups"})
    level = (lg.str("level", "INFO") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise lg.error("level", f"must be one of {', '.join(LOG_LEVELS)}")
    return LoggingConfig(
        file=lg.path("file", base) or spool.state_dir / "logs" / "cdc-agent.log",
        level=level,
        max_mb=lg.number("max_mb", 10.0, minimum=0.1, maximum=1024),
        backups=lg.number("backups", 5, minimum=0, maximum=100, integer=True),
    )


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate agent.toml; raise ConfigError naming the file and key."""
    file, raw = _read_toml(path)
    base = file.parent
    server = _server(file, raw)
    auth = _auth(file, raw, base)
    from cdc_agent.monitoring.config import parse_monitoring

    monitoring = parse_monitoring(file, raw.get("monitoring_db"))
    spool = _spool(file, raw, base, monitoring is not None)
    batch = _batch(file, raw)
    delivery = _delivery(file, raw)
    exclusions = _exclusions(file, raw)
    source = _source(file, raw)
    logging_cfg = _logging(file, raw, base, spool)
    return Config(
        path=file,
        server=server,
        auth=auth,
        spool=spool,
        batch=batch,
        delivery=delivery,
        exclusions=exclusions,
        source=source,
        logging=logging_cfg,
        monitoring=monitoring,
    )
