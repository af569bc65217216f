"""Checks that `azd up` works the second time too, and that the portal it deploys can
reach the API: the Event Grid subscription is the postdeploy hook's (key read then,
nothing stored for the next provision), the portal's sign-in and scope are one name
everywhere, roles and defaults are the documented, region-safe, opt-in ones, and the
package azd builds holds what the app needs and nothing else.

Nothing here deploys (no Azure from this machine); every check reads the files as azd
and ARM would, and the postdeploy hook is run with `az`/`azd` replaced by recorders that
only log their arguments, to see the commands it sends.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from shared.storage.layout import INCOMING

from .test_infra import app_settings, bicep_sources, body, resources_of, variable
from .venv import INFRA, REPO

HOOK_SH = INFRA / "hooks" / "postdeploy.sh"
HOOK_PS1 = INFRA / "hooks" / "postdeploy.ps1"
SCOPE_NAME = "access_as_user"
MIN_AZD = (1, 23, 4)
# These files name the other scope only to test that nothing else does.
MENTION_OK = {"tests/infra/test_deploy.py", "tests/infra/mutate.py"}


def strip_comments(bicep: str) -> str:
    """Bicep source without // and /* */ comments (quotes respected: URLs keep their //)."""
    out, i, quoted = [], 0, False
    while i < len(bicep):
        ch = bicep[i]
        if quoted:
            out.append(ch)
            if ch == "\\" and i + 1 < len(bicep):
                out.append(bicep[i + 1])
                i += 1
            elif ch == "'":
                quoted = False
        elif ch == "'":
            quoted = True
            out.append(ch)
        elif bicep.startswith("//", i):
            i = bicep.find("\n", i)
            if i < 0:
                break
            continue
        elif bicep.startswith("/*", i):
            i = bicep.find("*/", i) + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parameter_env_vars() -> dict[str, str]:
    """{Bicep parameter: the azd environment variable main.parameters.json maps it to}."""
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    found = {}
    for name, p in params.items():
        m = re.fullmatch(r"\$\{([A-Z0-9_]+)(=[^}]*)?\}", str(p["value"]))
        assert m, f"{name}: {p['value']!r} is not a plain ${{VAR}} mapping"
        found[name] = m.group(1)
    return found


@pytest.fixture(scope="module")
def azure_yaml(infra_python: Path) -> dict[str, Any]:
    """azure.yaml as azd reads it (YAML parsed in the infra venv, which has PyYAML)."""
    proc = subprocess.run(
        [
            str(infra_python),
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            str(REPO / "azure.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


# --- azd up, azd down, azd up ---------------------------------------------------------


def test_template_holds_no_key_and_no_event_subscription(bicep: dict[str, dict]) -> None:
    """Provisioning must not need the deployed code: no Event Grid subscription resource
    and no listKeys/systemKeys anywhere (a key read during provisioning fails on the
    first run after `azd down`, when the code does not exist yet). With no listKeys at
    all, the `cond ? listKeys(...) : ''` guard has nothing left to guard."""
    assert not resources_of(bicep, "Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert not resources_of(bicep, "Microsoft.EventGrid/eventSubscriptions")
    for path, text in bicep_sources().items():
        code = strip_comments(text).lower()
        for marker in ("listkeys", "systemkeys", "blobs_extension", "/host/default"):
            assert marker not in code, f"{path}: {marker}"


def test_parameters_need_nothing_a_hook_would_set(bicep: dict[str, dict]) -> None:
    """Every parameter comes from azd itself or from what the admin sets before the first
    `azd up` (docs/deploy.md); none from a value a hook writes, and every required one
    is mapped."""
    mapped = parameter_env_vars()
    main = bicep["main.bicep"]["parameters"]
    assert set(mapped) <= set(main)
    required = {name for name, p in main.items() if "default" not in p}
    assert required <= set(mapped), f"required but not mapped: {required - set(mapped)}"
    assert "CDC_BLOB_EVENTS" not in mapped.values()
    assert "blobEventSubscription" not in main
    docs = (REPO / "docs" / "deploy.md").read_text()
    azd_own = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID", "AZURE_PRINCIPAL_TYPE"}
    for name, env in mapped.items():
        assert env in azd_own or f"`{env}`" in docs, f"{name}: {env} is not in docs/deploy.md"


def dotted(node: Any) -> str:
    """`a.b.c` from pycep's nested property accessors."""
    if isinstance(node, str):
        return node
    ops = node["operator"]["operands"]
    return f"{dotted(ops['operand_1'])}.{dotted(ops['operand_2'])}"


def hook_inputs(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text))


def test_hook_reads_outputs_of_the_template(bicep: dict[str, dict]) -> None:
    """What the hooks read are outputs azd stores after provisioning, and the function and
    container names come from the same Bicep variables test_infra compares with the code."""
    outputs = bicep["main.bicep"]["outputs"]
    sh = hook_inputs(HOOK_SH.read_text(), r"\$\(value ([A-Z_]+)\)")
    ps1 = hook_inputs(HOOK_PS1.read_text(), r"Get-AzdValue '([A-Z_]+)'")
    assert sh == ps1
    azd_own = {"AZURE_SUBSCRIPTION_ID"}  # azd keeps it in every environment
    unknown = sh - set(outputs) - azd_own
    assert not unknown, f"hooks read what neither azd nor the template provides: {unknown}"
    assert {
        "AZURE_BLOB_TRIGGER_FUNCTION",
        "AZURE_BLOB_TRIGGER_CONTAINER",
        "AZURE_BLOB_EVENT_SUBSCRIPTION",
        "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME",
    } <= sh
    events = bicep["app/blob-events.bicep"]
    assert set(events["outputs"]) >= {"functionName", "containerName", "subscriptionName"}
    for output, var in (
        ("AZURE_BLOB_TRIGGER_FUNCTION", "functionName"),
        ("AZURE_BLOB_TRIGGER_CONTAINER", "containerName"),
        ("AZURE_BLOB_EVENT_SUBSCRIPTION", "subscriptionName"),
    ):
        assert dotted(outputs[output]["value"]) == f"blobEvents.outputs.{var}", output
        assert events["outputs"][var]["value"] == var
    assert variable(events, "containerName") == INCOMING


def _recorder(bin_dir: Path, log: Path, key_after: int | None, signed_in: bool = True) -> None:
    """`az` and `azd` stand-ins that log their argv (JSON lines) and answer the two calls
    the hook makes: the key query (empty `key_after` times, then a key) and the create."""
    bin_dir.mkdir()
    script = textwrap.dedent(f"""\
        #!/usr/bin/env python3
        import json, os, sys
        log = {str(log)!r}
        with open(log, "a") as f:
            f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\\n")
        args = sys.argv[1:]
        if os.path.basename(sys.argv[0]) == "az" and args[:3] == ["functionapp", "keys", "list"]:
            calls = sum(1 for line in open(log) if '"keys", "list"' in line)
            key_after = {key_after!r}
            if key_after is not None and calls > key_after:
                print("k3y-SECRET-value==")
        if os.path.basename(sys.argv[0]) == "az" and args[:2] == ["account", "show"]:
            sys.exit(0 if {signed_in!r} else 1)
        """)
    for name in ("az", "azd"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)


HOOK_ENV = {
    "AZURE_SUBSCRIPTION_ID": "00000000-1111-2222-3333-444444444444",
    "AZURE_RESOURCE_GROUP": "rg-cdc-test",
    "AZURE_FUNCTION_APP_NAME": "func-cdc-abc",
    "SERVICE_API_URI": "https://func-cdc-abc-h7f.westeurope-01.azurewebsites.net",
    "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-cdc-abc",
    "AZURE_BLOB_TRIGGER_FUNCTION": "process_batch",
    "AZURE_BLOB_TRIGGER_CONTAINER": "incoming",
    "AZURE_BLOB_EVENT_SUBSCRIPTION": "incoming-to-process-batch",
}


def run_hook(
    tmp_path: Path, key_after: int | None, env: dict[str, str] | None = None, signed_in: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "calls.jsonl"
    log.touch()
    _recorder(tmp_path / "bin", log, key_after, signed_in)
    full = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CDC_KEY_WAIT_SECONDS": "3",
        "CDC_KEY_WAIT_INTERVAL": "1",
        **(HOOK_ENV if env is None else env),
    }
    proc = subprocess.run(
        ["sh", str(HOOK_SH)], capture_output=True, text=True, timeout=60, env=full, cwd=tmp_path
    )
    return proc, [json.loads(line) for line in log.read_text().splitlines()]


def test_postdeploy_hook_creates_the_subscription_with_the_key_read_now(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path, key_after=2)  # the host creates the key a bit later
    assert proc.returncode == 0, proc.stderr
    keys = [c for c in calls if c[:4] == ["az", "functionapp", "keys", "list"]]
    assert len(keys) == 3
    assert all("systemKeys.blobs_extension" in c and "func-cdc-abc" in c for c in keys)
    assert all(c[c.index("--subscription") + 1] == HOOK_ENV["AZURE_SUBSCRIPTION_ID"] for c in keys)
    (create,) = [
        c for c in calls if c[1:5] == ["eventgrid", "system-topic", "event-subscription", "create"]
    ]
    args = dict(zip(create[5::2], create[6::2], strict=False))
    assert args["--endpoint"] == (
        "https://func-cdc-abc-h7f.westeurope-01.azurewebsites.net/runtime/webhooks/blobs"
        "?functionName=Host.Functions.process_batch&code=k3y-SECRET-value=="
    )
    assert args["--system-topic-name"] == "evgt-cdc-abc"
    assert args["--name"] == "incoming-to-process-batch"
    assert args["--resource-group"] == "rg-cdc-test"
    assert args["--subscription"] == HOOK_ENV["AZURE_SUBSCRIPTION_ID"]  # not az's default
    assert args["--included-event-types"] == "Microsoft.Storage.BlobCreated"
    assert args["--subject-begins-with"] == f"/blobServices/default/containers/{INCOMING}/blobs/"
    assert args["--endpoint-type"] == "webhook"
    assert calls.index(create) == len(calls) - 1, "the subscription is the last step"
    # The key goes only into the subscription: not printed, not stored in the azd env.
    assert "k3y-SECRET" not in proc.stdout + proc.stderr
    assert not [c for c in calls if c[0] == "azd" and c[1:3] == ["env", "set"]]
    # A second run (azd deploy again, or after azd down + azd up) does the same again.
    again = tmp_path / "again"
    again.mkdir()
    proc2, calls2 = run_hook(again, key_after=0)
    assert proc2.returncode == 0, proc2.stderr
    assert sum(c[1:5] == create[1:5] for c in calls2) == 1


def test_postdeploy_hook_fails_clearly_without_key(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path, key_after=None)
    assert proc.returncode != 0
    assert "no blobs_extension key on func-cdc-abc" in proc.stderr
    assert not [c for c in calls if "eventgrid" in c], "no subscription without a key"


def test_postdeploy_hook_says_when_az_is_not_signed_in(tmp_path: Path) -> None:
    proc, calls = run_hook(tmp_path, key_after=0, signed_in=False)
    assert proc.returncode != 0
    assert "not signed in to subscription" in proc.stderr and "az login" in proc.stderr
    assert not [c for c in calls if "functionapp" in c or "eventgrid" in c]


def test_postdeploy_hook_names_a_missing_value(tmp_path: Path) -> None:
    env = {k: v for k, v in HOOK_ENV.items() if k != "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME"}
    proc, calls = run_hook(tmp_path, key_after=0, env=env)
    assert proc.returncode != 0
    assert "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME is not set" in proc.stderr
    assert ["azd", "env", "get-value", "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME"] in calls
    assert not [c for c in calls if "eventgrid" in c]


def test_windows_hook_sends_the_same_commands() -> None:
    """pwsh is not installed here: the Windows hook is compared with the POSIX one it
    mirrors (same az commands, same flags and values)."""
    sh, ps1 = HOOK_SH.read_text(), HOOK_PS1.read_text()
    for command in (
        "az functionapp keys list",
        "az eventgrid system-topic event-subscription create",
    ):
        assert command in sh and command in ps1, command
    flags = re.compile(r"(--[a-z-]+)(?:\s+(\S+))?")

    def create_flags(text: str) -> dict[str, str]:
        block = text[text.index("event-subscription create") :]
        block = block[: block.index("--output none")]
        return {f: re.sub(r"[\"'`$\\{}]|env:", "", v or "") for f, v in flags.findall(block)}

    sh_flags, ps1_flags = create_flags(sh), create_flags(ps1)
    assert set(sh_flags) == set(ps1_flags)
    for flag in (
        "--included-event-types",
        "--endpoint-type",
        "--max-delivery-attempts",
        "--event-ttl",
        "--max-events-per-batch",
        "--event-delivery-schema",
    ):
        assert sh_flags[flag] == ps1_flags[flag], flag
    assert "systemKeys.blobs_extension" in sh and "systemKeys.blobs_extension" in ps1
    assert "Host.Functions." in sh and "Host.Functions." in ps1


# --- the portal, deployed with the app --------------------------------------------------


def test_portal_is_served_by_the_function_app_with_its_sign_in(bicep: dict[str, dict]) -> None:
    settings = app_settings(bicep)
    assert {"CDC_PORTAL_CLIENT_ID", "CDC_PORTAL_TENANT_ID", "CDC_PORTAL_API_SCOPE"} <= set(settings)
    main = bicep["main.bicep"]
    assert variable(main, "apiScopeName") == SCOPE_NAME
    api = body(main["modules"]["api"])["params"]
    assert api["portalApiScope"] == "${apiIdentifierUri}/${apiScopeName}"
    assert main["outputs"]["SERVICE_PORTAL_URI"]["value"] == "${api.outputs.uri}/api/portal/"
    # Same origin: no cross-origin caller is allowed at all.
    ((_, _, site),) = [
        r for r in resources_of(bicep, "Microsoft.Web/sites") if not r[2]["existing"]
    ]
    assert body(site)["properties"]["siteConfig"]["cors"]["allowedOrigins"] == []
    assert (REPO / "functions" / "portal.py").is_file()
    assert "portal_bp" in (REPO / "function_app.py").read_text()


def test_one_scope_name_everywhere() -> None:
    """The delegated scope the portal requests is the one the docs tell the admin to
    expose, and the one the template names."""
    deploy = (REPO / "docs" / "deploy.md").read_text()
    readme = (REPO / "portal" / "README.md").read_text()
    assert SCOPE_NAME in deploy and SCOPE_NAME in readme
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in tracked:
        path = REPO / rel
        if path.suffix in {".md", ".json", ".bicep", ".py", ".js", ".html", ".toml", ".yaml"}:
            text = path.read_text(errors="replace")
            assert "user_impersonation" not in text or rel in MENTION_OK, rel


def test_api_identifier_uri_is_accepted_by_every_tenant(bicep: dict[str, dict]) -> None:
    """api://<client ID>: a form Entra accepts even where tenants block identifier URIs
    without a unique tenant identifier; `api://call-data-connector` is refused there."""
    main = bicep["main.bicep"]
    assert main["variables"]["apiIdentifierUri"]["value"] == "api://${apiClientId}"
    api = body(main["modules"]["api"])["params"]
    assert api["apiAudiences"] == {
        "function": {
            "type": "union",
            "parameters": {"arg_1": ["apiIdentifierUri", "apiClientId"], "arg_2": "apiAudiences"},
        }
    }
    for rel in ("docs/deploy.md", "agent/agent.example.toml", "portal/README.md", "README.md"):
        assert "api://call-data-connector" not in (REPO / rel).read_text(), rel


# --- roles and defaults -----------------------------------------------------------------


def test_cosmos_role_assignments_run_one_after_another(bicep: dict[str, dict]) -> None:
    """Cosmos DB takes one SQL role assignment change per account at a time; parallel
    ones are reported to fail (412, another operation in progress). Every pair must be
    ordered by dependsOn."""
    sql = {
        name: body(res)
        for _, name, res in resources_of(
            bicep, "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments"
        )
    }
    assert len(sql) >= 2
    after = {name: set(cfg.get("dependsOn") or []) for name, cfg in sql.items()}

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            n = todo.pop()
            if n == b:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(after.get(n, ()))
        return False

    names = sorted(sql)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert reaches(a, b) or reaches(b, a), f"{a} and {b} may run in parallel"


def test_deploying_principal_gets_data_access_only_on_request(bicep: dict[str, dict]) -> None:
    main = bicep["main.bicep"]
    assert main["parameters"]["deployerDataAccess"]["default"] is False
    rbac_params = body(main["modules"]["rbac"])["params"]
    assert rbac_params["userPrincipalId"] == {
        "operator": {
            "type": "conditional",
            "operands": {
                "condition": "deployerDataAccess",
                "true_value": "principalId",
                "false_value": "",
            },
        }
    }
    rbac = bicep["rbac.bicep"]
    for name, res in rbac["resources"].items():
        if res["existing"]:
            continue
        principal = body(res)["properties"]["principalId"]
        if principal == "userPrincipalId":
            assert "userPrincipalId" in json.dumps(res["config"]["condition"]), name
            if "principalType" in body(res)["properties"]:
                assert body(res)["properties"]["principalType"] == "userPrincipalType", name
        else:
            assert principal == "appPrincipalId", name
            assert res["config"].get("condition") is None, f"{name}: the app always needs it"
            if "principalType" in body(res)["properties"]:
                assert body(res)["properties"]["principalType"] == "ServicePrincipal", name
    assert parameter_env_vars()["principalType"] == "AZURE_PRINCIPAL_TYPE"
    assert rbac_params["userPrincipalType"] == "principalType"


def test_storage_redundancy_deploys_in_every_region(bicep: dict[str, dict]) -> None:
    main = bicep["main.bicep"]
    assert main["parameters"]["storageSkuName"]["default"] == "Standard_LRS"
    assert body(main["modules"]["storage"])["params"]["skuName"] == "storageSkuName"
    assert bicep["core/storage.bicep"]["parameters"]["skuName"]["default"] == "Standard_LRS"
    ((_, _, account),) = [
        r
        for r in resources_of(bicep, "Microsoft.DocumentDB/databaseAccounts")
        if not r[2]["existing"]
    ]
    assert all(loc["isZoneRedundant"] is False for loc in body(account)["properties"]["locations"])


# --- azd itself and the package it builds ------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def test_azd_minimum_version_and_hooks(azure_yaml: dict[str, Any]) -> None:
    constraint = azure_yaml["requiredVersions"]["azd"]
    m = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)", constraint.strip())
    assert m and _version(m.group(1)) >= MIN_AZD, constraint
    api = azure_yaml["services"]["api"]
    assert (api["project"], api["language"], api["host"]) == (".", "python", "function")
    prepackage = api["hooks"]["prepackage"]
    for shell in ("posix", "windows"):
        assert "npm ci" in prepackage[shell]["run"] and "npm run vendor" in prepackage[shell]["run"]
        assert prepackage[shell]["continueOnError"] is False
    post = azure_yaml["hooks"]["postdeploy"]
    assert post["posix"]["run"] == "./infra/hooks/postdeploy.sh"
    assert post["windows"]["run"] == "./infra/hooks/postdeploy.ps1"
    assert os.access(HOOK_SH, os.X_OK)
    assert "postprovision" not in azure_yaml["hooks"], "nothing may need the code at provision"


def funcignore_patterns() -> list[str]:
    lines = (REPO / ".funcignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """gitignore matching for the simple patterns .funcignore may use: a name (any
    level), `name/` (folders only), `a/b` (anchored at the project root)."""
    parts = rel.split("/")
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pat = pattern.rstrip("/")
        if "/" in pat:
            depth = pat.count("/") + 1
            prefix = "/".join(parts[:depth])
            if fnmatch.fnmatchcase(prefix, pat) and (not dir_only or len(parts) > depth):
                return True
        else:
            candidates = parts[:-1] if dir_only else parts
            if any(fnmatch.fnmatchcase(p, pat) for p in candidates):
                return True
    return False


def test_package_holds_the_app_and_the_portal_and_nothing_else() -> None:
    patterns = funcignore_patterns()
    for p in patterns:  # no negation or ** (azd fixed their parsing only in 1.23.13)
        assert not p.startswith("!") and "**" not in p, p
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    written = [
        "portal/vendor/msal-browser.min.js",
        "portal/vendor/msal-redirect-bridge.min.js",
        "portal/node_modules/@azure/msal-browser/package.json",
        "call-data-connector_env/pyvenv.cfg",
        "wt_env/lib/x.py",
        "shared/__pycache__/x.pyc",
        ".venv/pyvenv.cfg",
        "local.settings.json",
    ]
    # azd leaves out the ignore file itself, .azure/ and local.settings.json on its own.
    always = [".funcignore", ".azure/", "local.settings.json"]
    package = {rel for rel in tracked + written if not ignored(rel, patterns + always)}
    for needed in (
        "function_app.py",
        "host.json",
        "requirements.txt",
        "functions/portal.py",
        "functions/processor.py",
        "shared/settings.py",
        "shared/portal_site.py",
        "portal/index.html",
        "portal/auth-redirect.html",
        "portal/config.json",
        "portal/js/app.js",
        "portal/js/auth.js",
        "portal/css/portal.css",
        "portal/vendor/msal-browser.min.js",
        "portal/vendor/msal-redirect-bridge.min.js",
    ):
        assert needed in package, needed
    for rel in package:
        top = rel.split("/")[0]
        assert top in {
            "function_app.py",
            "host.json",
            "requirements.txt",
            "functions",
            "shared",
            "schemas",
            "portal",
        }, rel
        if top == "portal":
            assert rel.split("/")[1] in {
                "index.html",
                "auth-redirect.html",
                "config.json",
                "js",
                "css",
                "vendor",
            }, rel
    assert not [r for r in package if r.startswith(".ci/")]


def test_pyproject_installs_the_app_for_azd_restore(tmp_path: Path) -> None:
    """azd restore runs `pip install .` when a pyproject.toml exists: it must build, ship
    only the app's packages, and depend on exactly requirements.txt."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            ".local",
            "node_modules",
            "__pycache__",
            "test-output",
            "build",
            "*.egg-info",
        ),
    )
    proc = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "python"),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        tops = {n.split("/")[0] for n in zf.namelist() if ".dist-info" not in n}
        meta = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("/METADATA"))
    assert tops == {"function_app.py", "functions", "shared"}
    requires = sorted(
        line.split(":", 1)[1].strip().replace(" ", "")
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:")
    )
    listed = [
        ln.split("#")[0].strip() for ln in (REPO / "requirements.txt").read_text().splitlines()
    ]
    assert len(requires) == len([ln for ln in listed if ln])
