"""What the agent does besides delivering batches: pushing the tenant's settings it
owns (the on-prem topology, the exclusion policy) and the retention of sent files.
A mixin of `Agent`, which provides the attributes declared here."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta

from cdc_agent.answers import fatal_text, problem_text
from cdc_agent.batching import utc_now_iso
from cdc_agent.config import Config
from cdc_agent.errors import FatalError
from cdc_agent.exclusions import ExclusionPolicy
from cdc_agent.journal import Journal
from cdc_agent.transport import Outcome, Response, TransportError, classify

log = logging.getLogger("cdc_agent")


class Upkeep:
    cfg: Config
    policy: ExclusionPolicy
    journal: Journal | None
    clock: Callable[[], float]

    def url(self, path: str) -> str:
        raise NotImplementedError

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        raise NotImplementedError

    def push_topology(self, path: str) -> bool:
        """PUT the on-prem topology (sites; pools with FQDN, role, site; gateways): the
        service validates it and answers 400 naming the field of a mistake."""
        try:
            with open(path, "rb") as fh:
                body = fh.read()
            json.loads(body)
        except (OSError, ValueError) as exc:
            log.error("topology file %s cannot be read as JSON: %s", path, exc)
            return False
        try:
            resp = self._request(
                "PUT", "admin/topology", body, {"Content-Type": "application/json"}
            )
        except TransportError as exc:
            log.error("could not push the topology: %s", exc)
            return False
        if classify(resp.status) is not Outcome.DELIVERED:
            log.error(
                "the service rejected the topology (HTTP %d): %s",
                resp.status,
                problem_text(resp.problem()),
            )
            return False
        log.info("topology pushed to the service (%s)", path)
        return True

    def push_exclusions(self, force: bool = False) -> bool:
        """PUT the policy as the tenant's setting when it changed since the last push.
        An empty policy is pushed only to clear one this agent pushed before, so a new
        agent with no policy does not wipe the tenant's."""
        j = self.journal
        assert j is not None
        fp = self.policy.fingerprint()
        pushed = j.data["exclusions"].get("fingerprint")
        if not force and (pushed == fp or (pushed is None and not self.policy)):
            return False
        body = json.dumps(self.policy.as_json()).encode()
        try:
            resp = self._request(
                "PUT", "ingest/exclusions", body, {"Content-Type": "application/json"}
            )
        except TransportError as exc:
            log.warning("could not push the exclusion policy (will retry): %s", exc)
            return False
        outcome = classify(resp.status)
        if outcome is Outcome.FATAL:
            raise FatalError(fatal_text(resp, self.url("ingest/exclusions")))
        if outcome is not Outcome.DELIVERED:
            log.warning(
                "the service did not take the exclusion policy (HTTP %d: %s); the "
                "agent still drops those records itself",
                resp.status,
                problem_text(resp.problem()),
            )
            return False
        j.data["exclusions"] = {
            "fingerprint": fp,
            "pushedAt": utc_now_iso(),
            "users": len(self.policy.users),
            "domains": len(self.policy.domains),
        }
        j.save()
        log.info(
            "exclusion policy pushed to the service (%d users, %d domains)",
            len(self.policy.users),
            len(self.policy.domains),
        )
        return True

    def purge_sent(self) -> int:
        """Delete sent/YYYY-MM-DD folders older than retention_days (0 keeps all)."""
        days = self.cfg.spool.retention_days
        if days <= 0 or not self.cfg.spool.sent_dir.exists():
            return 0
        today = datetime.fromtimestamp(self.clock()).date()
        cutoff = today - timedelta(days=days)
        removed = 0
        for d in self.cfg.spool.sent_dir.iterdir():
            try:
                day = date.fromisoformat(d.name)
            except ValueError:
                continue
            if d.is_dir() and day < cutoff:
                with contextlib.suppress(OSError):
                    shutil.rmtree(d)
                    removed += 1
                    log.info("retention: removed %s (older than %d days)", d, days)
        return removed
