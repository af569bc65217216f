"""Graph settings, read from the environment on first use (never at import).

Why settings and not constants: the same flow runs against Microsoft Graph in Azure,
against the loopback stand-in in development, and against any Graph-compatible server
someone names in CDC_GRAPH_URL; the token authority moves with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
# The queue trigger's queue: fixed (layout.GRAPH_QUEUE), since a trigger's queue name is
# part of the function's binding and must equal what the sender uses.
DEFAULT_QUEUE = "graph-callrecords"
# Graph's maximum subscription lifetime for call records is 4,230 minutes; we ask for a
# little less so clock skew between us and Graph never makes the request invalid.
MAX_SUBSCRIPTION_MINUTES = 4230
SUBSCRIPTION_MINUTES = 4200
# The renewal timer runs every 30 minutes and renews anything expiring within 24 hours:
# a subscription gets about 47 chances before it could expire.
RENEW_WITHIN_MINUTES = 24 * 60
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in (value or "").split(",") if v.strip())


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class GraphConfig:
    url: str = DEFAULT_GRAPH_URL
    authority: str = DEFAULT_AUTHORITY
    tenants: tuple[str, ...] = ()
    home_tenant: str | None = None
    app_id: str | None = None
    certificate_path: str | None = None
    managed_identity_client_id: str | None = None
    webhook_base: str | None = None
    queue: str = DEFAULT_QUEUE
    # First retry of a record that answered 404 (doubles each time, capped at 30 min).
    not_found_delay_s: float = 60.0
    # How long one fetch may wait in-process for Retry-After before handing the wait to
    # the queue (message visibility) instead.
    max_inline_wait_s: float = 20.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> GraphConfig:
        env = dict(os.environ if env is None else env)
        base = env.get("CDC_GRAPH_WEBHOOK_BASE") or (
            f"https://{env['WEBSITE_HOSTNAME']}" if env.get("WEBSITE_HOSTNAME") else None
        )
        return cls(
            url=(env.get("CDC_GRAPH_URL") or DEFAULT_GRAPH_URL).rstrip("/"),
            authority=(env.get("CDC_GRAPH_AUTHORITY") or DEFAULT_AUTHORITY).rstrip("/"),
            tenants=_csv(env.get("CDC_GRAPH_TENANTS")),
            home_tenant=(env.get("CDC_GRAPH_HOME_TENANT") or "").lower() or None,
            app_id=env.get("CDC_GRAPH_APP_ID") or None,
            certificate_path=env.get("CDC_GRAPH_CERTIFICATE_PATH") or None,
            managed_identity_client_id=env.get("AZURE_CLIENT_ID") or None,
            webhook_base=base.rstrip("/") if base else None,
            not_found_delay_s=_float(env, "CDC_GRAPH_NOT_FOUND_DELAY_S", 60.0),
            max_inline_wait_s=_float(env, "CDC_GRAPH_MAX_INLINE_WAIT_S", 20.0),
        )

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def scope(self) -> str:
        """`https://graph.microsoft.com/.default`: the app's consented permissions. A
        national cloud's Graph (https, its own host) is its own resource; a loopback
        stand-in accepts tokens for Graph's resource, as a real proxy would."""
        parts = urlsplit(self.url)
        if parts.scheme == "https" and parts.hostname not in LOOPBACK:
            return f"{self.origin}/.default"
        return "https://graph.microsoft.com/.default"

    @property
    def authority_is_loopback(self) -> bool:
        return urlsplit(self.authority).hostname in LOOPBACK

    def webhook_url(self, which: str) -> str:
        if not self.webhook_base:
            from shared.settings import SettingsError

            raise SettingsError(
                "set CDC_GRAPH_WEBHOOK_BASE (the public https base URL of "
                "this app) so Graph can reach the webhook"
            )
        return f"{self.webhook_base}/api/v1/graph/{which}"

    def is_tenant(self, tenant_id: str | None) -> bool:
        return bool(tenant_id) and str(tenant_id).lower() in self.tenants


def graph_config() -> GraphConfig:
    """Read per call: cheap, and tests change the environment between cases."""
    return GraphConfig.from_env()
