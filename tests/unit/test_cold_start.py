"""Cold start: what `import function_app` must not do (bench/pipeline measures the time).

The worker imports the app before the first request; every module and every validator
built then is paid on each cold start. Services, parsers and the Azure SDK load when a
request or trigger first needs them, and so do pydantic and the models: an `Endpoint`
names its models (`functions.contract.model_class` imports them for the OpenAPI
document or a handler), and a model that is imported builds its validator on first use
(`defer_build`)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import azure.functions
import function_app
deferred = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")
                  or m in DEFERRED)
from pydantic import BaseModel
from pydantic._internal._mock_val_ser import MockValSer

def ours(cls):
    return cls.__module__.startswith(("shared.", "functions."))

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

built = sorted({f"{c.__module__}.{c.__qualname__}" for c in subclasses(BaseModel)
                if ours(c) and not isinstance(c.__pydantic_validator__, MockValSer)})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lxml", "ijson", "azure")
               and m != "azure" and not m.startswith("azure.functions"))
services = sorted(m for m in sys.modules if m in (
    "shared.processor", "shared.analytics.service", "shared.merge", "shared.ingest",
    "shared.admin.purge", "shared.alerts", "shared.reports.report_set", "shared.health"))
print(json.dumps({"built": built, "heavy": heavy, "services": services, "deferred": deferred}))
"""
# Loaded by the first request that needs them: the models and what only they need, the
# report service behind the report vocabulary, the OpenAPI problem model; settings,
# token validation, telemetry (its scrubber's patterns), the storage clients and the
# CSV writer of the HTTP edge.
DEFERRED = (
    "shared.models.api",
    "shared.models.call",
    "shared.models.envelope",
    "shared.tenant_settings",
    "shared.exclusions",
    "shared.topology_validation",
    "shared.reports.service",
    "shared.reports.definitions",
    "shared.aggregates.contribution",
    "shared.aggregates.layout",
    "shared.buildings",
    "shared.topology",
    "functions.problem_details",
    "shared.settings",
    "shared.auth.tokens",
    "shared.telemetry",
    "shared.telemetry.scrubbing",
    "shared.storage.clients",
    "shared.storage.layout",
    "shared.storage.retry",
    "csv",
)


@functools.cache
def _probe() -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", f"DEFERRED = {DEFERRED!r}\n{PROBE}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    result: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    return result


def test_importing_the_app_builds_no_validator_and_loads_no_sdk_parser_or_service() -> None:
    found = _probe()
    assert found["built"] == [], "models without defer_build (see shared/models/call.py)"
    assert found["heavy"] == [], "loaded at import: move it into the function that uses it"
    assert found["services"] == [], "route modules import their services in the handler"


def test_importing_the_app_loads_neither_pydantic_nor_a_model_module() -> None:
    found = _probe()
    assert found["deferred"] == [], (
        "name the model in the Endpoint (a string), import it in the handler"
    )


def test_every_model_a_route_module_names_is_a_pydantic_model() -> None:
    """Named models are resolved only when used, so a misspelt name would fail on the
    first request that needs it: every name an Endpoint or a `data_response` call of a
    route module holds resolves here."""
    import ast

    import function_app  # noqa: F401  (declares every route)
    from functions.contract import ENDPOINTS, model_class

    names = {n for e in ENDPOINTS for n in (e.response, e.body) if n is not None}
    names |= {model for e in ENDPOINTS for _, _, model in e.also}
    for path in (REPO / "functions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "data_response":
                args = node.args[3:4] + [k.value for k in node.keywords if k.arg == "item"]
                names |= {a.value for a in args if isinstance(a, ast.Constant)}
    assert "QuarantinedRecord" in names and "shared.models.envelope.BatchEnvelope" in names
    for name in sorted(names):
        assert model_class(name).__name__ == name.rpartition(".")[2], name
