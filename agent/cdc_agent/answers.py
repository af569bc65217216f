"""The service's answers as an operator reads them in the agent's log: the problem+json
title, detail and first field errors, and for a refusal that stops the run, what to
check in agent.toml."""

from __future__ import annotations

import json
from typing import Any

from cdc_agent.transport import Response


def problem_text(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)[:300]
    parts = [str(problem.get(k)) for k in ("title", "detail") if problem.get(k)]
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors[:3]))
    return " - ".join(parts)[:500] or json.dumps(problem)[:300]


def fatal_text(resp: Response, url: str) -> str:
    hint = {
        401: "the token was refused: check [auth] and [server] api_audience/tenant_id",
        403: "the app has no CallData.Ingest role or the token's tenant is not [server] tenant_id",
        404: "no ingest API at this address: check [server] endpoint",
        405: "no ingest API at this address: check [server] endpoint",
    }.get(resp.status, "unexpected answer: check [server] endpoint")
    return f"{url} answered HTTP {resp.status} ({problem_text(resp.problem())}): {hint}"
