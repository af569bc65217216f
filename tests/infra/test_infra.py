"""Checks of the Bicep template in infra/ (no Bicep compiler is installable here):
every file parses (pycep-parser), it sets exactly the app settings the code reads in
Azure, its storage matches shared/storage/layout.py, role IDs are named built-in roles,
no output carries a secret, and checkov finds nothing that is not skipped with a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.settings import SETTING_NAMES, Settings
from shared.storage.layout import BLOB_CONTAINERS, COSMOS_CONTAINERS, INCOMING

from .venv import INFRA, REPO

# --- app settings -----------------------------------------------------------------------

# Read by the code only outside Azure; the template must never set them.
LOCAL_ONLY = {"CDC_STORAGE", "COSMOS_KEY", "CDC_DEV_AUTHORITY"}


def is_optional_tunable(name: str) -> bool:
    """Tunables with defaults in code; the template may leave them out."""
    return name.startswith(("CDC_MAX_", "CDC_ALERT_")) or name in (
        "CDC_COSMOS_CONCURRENCY",
        "CDC_BUILD_VERSION",
        # Graph: retry tunables, and the certificate pair that only a
        # multi-tenant deployment (tenants other than home) sets.
        "CDC_GRAPH_NOT_FOUND_DELAY_S",
        "CDC_GRAPH_MAX_INLINE_WAIT_S",
        "CDC_GRAPH_APP_ID",
        "CDC_GRAPH_CERTIFICATE_PATH",
        # defaults to https://$WEBSITE_HOSTNAME, which App Service sets
        "CDC_GRAPH_WEBHOOK_BASE",
    )


# Read by the Functions host (not by our code), so absent from SETTING_NAMES.
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    # The blob trigger's poison queue lives on the trigger's connection (CDC_STORAGE);
    # shared/storage/queues.py reads it too, for the Graph queue (no Settings field).
    "CDC_STORAGE__queueServiceUri",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

# --- built-in role definitions (Azure RBAC and Cosmos DB data plane) ---------------------

BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "00000000-0000-0000-0000-000000000001": "Cosmos DB Built-in Data Reader",
    "00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}
# Management roles: they give no data access (Microsoft: "Management roles like Owner
# aren't sufficient") and Storage Account Contributor could turn shared keys back on.
FORBIDDEN_ROLES = {
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor (< host minimum)",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


# --- helpers over pycep's JSON ----------------------------------------------------------


def evaluate(node: Any, variables: dict[str, Any], local: dict[str, Any] | None = None) -> Any:
    """Evaluate the subset of Bicep the tables and the resources built from them use:
    literals, arrays, objects, variable references, a loop's item (`local`), `a.b.c`,
    `cond ? a : b`, `contains(o, 'k')`, `a * b` and `-n`. pycep writes a reference and a
    string literal alike, so a string naming a local or a variable is the reference."""
    local = local or {}

    def ev(n: Any) -> Any:
        return evaluate(n, variables, local)

    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, str):
        if node in local:
            return local[node]
        return evaluate(variables[node]["value"], variables) if node in variables else node
    if isinstance(node, list):
        return [ev(v) for v in node]
    if isinstance(node, dict) and "operator" in node:
        return _operator(node, ev)
    if isinstance(node, dict) and "function" in node:
        return _function(node, ev)
    if isinstance(node, dict):
        return {k: ev(v) for k, v in node.items()}
    raise AssertionError(f"unexpected node {node!r}")


def _operator(node: dict[str, Any], ev: Callable[[Any], Any]) -> Any:
    op, ops = node["operator"]["type"], node["operator"]["operands"]
    if op == "multiply":
        return ev(ops["operand_1"]) * ev(ops["operand_2"])
    if op == "minus":
        return -ev(ops["integer_value"])
    if op == "conditional":
        return ev(ops["true_value"]) if ev(ops["condition"]) else ev(ops["false_value"])
    if op == "property_accessor":
        value, rest = ev(ops["operand_1"]), ops["operand_2"]
        while isinstance(rest, dict):  # a.b.c = accessor(a, accessor(b, c))
            inner = rest["operator"]["operands"]
            value, rest = value[inner["operand_1"]], inner["operand_2"]
        return value[rest]
    raise AssertionError(f"expression not supported by the test: {node}")


def _function(node: dict[str, Any], ev: Callable[[Any], Any]) -> Any:
    fn, args = node["function"]["type"], node["function"]["parameters"]
    if fn == "contains":
        return ev(args["item_to_find"]) in ev(args["container"])
    if fn == "concat":
        return [x for key in sorted(args) for x in ev(args[key])]
    raise AssertionError(f"function not supported by the test: {node}")


def variable(tree: dict[str, Any], name: str) -> Any:
    return evaluate(tree["variables"][name]["value"], tree["variables"])


def resources_of(bicep: dict[str, dict], rtype: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(file, symbolic name, resource) for every resource of the type, in every file."""
    return [
        (path, name, res)
        for path, tree in bicep.items()
        for name, res in tree.get("resources", {}).items()
        if res["type"].lower() == rtype.lower()
    ]


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's declared body; for loops and conditions the inner body."""
    cfg = resource["config"]
    while "config" in cfg and ("loop_type" in cfg or "condition" in cfg):
        cfg = cfg["config"]
    return cfg


def bicep_sources() -> dict[str, str]:
    return {p.relative_to(INFRA).as_posix(): p.read_text() for p in INFRA.rglob("*.bicep")}


# --- parsing ----------------------------------------------------------------------------


def test_every_bicep_file_parses(bicep_files: dict[str, dict[str, Any]]) -> None:
    expected = set(bicep_sources())
    assert set(bicep_files) == expected
    errors = {path: f["error"] for path, f in bicep_files.items() if "error" in f}
    assert not errors, errors
    for path in ("main.bicep", "rbac.bicep"):
        assert path in bicep_files


def test_main_is_azd_friendly(bicep: dict[str, dict]) -> None:
    main = bicep["main.bicep"]
    assert {
        "environmentName",
        "location",
        "authTenants",
        "apiClientId",
        "apiAudiences",
        "cosmosCapacityMode",
        "principalId",
        "principalType",
    } <= set(main["parameters"])
    assert main["parameters"]["authTenants"]["type"] == "array"
    assert main["parameters"]["apiAudiences"]["type"] == "array"
    assert "azd-env-name" in json.dumps(main["variables"]["tags"])
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(params) <= set(main["parameters"])
    assert {"environmentName", "location", "authTenants", "apiClientId"} <= set(params)
    azure_yaml = (REPO / "azure.yaml").read_text()
    for needle in ("api:", "language: python", "host: function", "project: ."):
        assert needle in azure_yaml


# --- app settings -----------------------------------------------------------------------


def app_settings(bicep: dict[str, dict]) -> dict[str, Any]:
    """The function app's settings: siteConfig.appSettings is built from one object
    variable (`[for setting in items(appSettings): ...]`); return that object."""
    ((_, _, site),) = [
        r for r in resources_of(bicep, "Microsoft.Web/sites") if not r[2]["existing"]
    ]
    listed = body(site)["properties"]["siteConfig"]["appSettings"]
    loop = listed["loop_type"]
    assert loop["type"] == "object", "app settings come from one object variable"
    assert "Microsoft.Web/sites/config" not in json.dumps(
        [r["type"] for _, _, r in resources_of(bicep, "Microsoft.Web/sites/config")]
    ), "a separate appsettings resource would replace siteConfig.appSettings"
    return bicep["app/function.bicep"]["variables"][loop["detail"]["object_name"]]["value"]


def test_app_settings_are_exactly_what_the_code_reads_in_azure(bicep: dict[str, dict]) -> None:
    names = set(app_settings(bicep))
    assert set(SETTING_NAMES) >= LOCAL_ONLY, "LOCAL_ONLY names a setting the code no longer has"
    assert not names & LOCAL_ONLY, f"local-only settings set in Azure: {names & LOCAL_ONLY}"
    code_settings = names - HOST_SETTINGS
    unknown = code_settings - set(SETTING_NAMES)
    assert not unknown, f"template sets settings the code does not read: {unknown}"
    required = {n for n in SETTING_NAMES if n not in LOCAL_ONLY and not is_optional_tunable(n)}
    missing = required - code_settings
    assert not missing, f"template does not set: {missing}"
    assert {n for n in code_settings if is_optional_tunable(n)} <= set(SETTING_NAMES)


def test_connections_are_identity_based(bicep: dict[str, dict]) -> None:
    settings = app_settings(bicep)
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["CDC_STORAGE__credential"] == "managedidentity"
    text = json.dumps(settings)
    assert "AccountKey" not in text and "SharedAccessSignature" not in text
    assert "Authorization=AAD" in text
    assert settings["COSMOS_DATABASE"] == "cosmosDatabaseName"
    main = bicep["main.bicep"]
    assert variable(main, "cosmosDatabaseName") == Settings().cosmos_database
    assert "join" in json.dumps(settings["AUTH_TENANTS"])
    assert "join" in json.dumps(settings["AUTH_AUDIENCES"])


def test_dev_authority_never_appears_in_infra() -> None:
    for path in INFRA.rglob("*"):
        if path.is_file() and path.suffix in {".bicep", ".json", ".sh", ".ps1"}:
            assert "CDC_DEV_AUTHORITY" not in path.read_text(), path
    assert "CDC_DEV_AUTHORITY" not in (REPO / "azure.yaml").read_text()


def test_flex_consumption_python_311(bicep: dict[str, dict]) -> None:
    ((_, _, plan),) = resources_of(bicep, "Microsoft.Web/serverfarms")
    assert body(plan)["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    ((_, _, site),) = [
        r for r in resources_of(bicep, "Microsoft.Web/sites") if not r[2]["existing"]
    ]
    cfg = body(site)
    assert cfg["identity"]["type"] == "UserAssigned"
    fac = cfg["properties"]["functionAppConfig"]
    assert fac["runtime"] == {"name": "python", "version": "3.11"}
    assert fac["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert cfg["properties"]["httpsOnly"] is True


# --- storage ----------------------------------------------------------------------------


def test_blob_containers_match_layout(bicep: dict[str, dict]) -> None:
    storage = bicep["core/storage.bicep"]
    assert variable(storage, "dataContainers") == list(BLOB_CONTAINERS)
    assert variable(bicep["main.bicep"], "deploymentContainerName") not in BLOB_CONTAINERS


def test_blob_container_resources_as_written(bicep: dict[str, dict]) -> None:
    """The container resources ARM receives (the loop evaluated), not only the table: every
    layout container plus the deployment package's, none public."""
    tree = bicep["core/storage.bicep"]
    ((_, _, res),) = resources_of(
        bicep, "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    loop = res["config"]["loop_type"]["detail"]
    package = variable(bicep["main.bicep"], "deploymentContainerName")
    names = evaluate(loop["array_name"], tree["variables"], {"deploymentContainerName": package})
    written = [evaluate(body(res), tree["variables"], {loop["item_name"]: n}) for n in names]
    assert [w["name"] for w in written] == [*BLOB_CONTAINERS, package]
    assert all(w["properties"] == {"publicAccess": "None"} for w in written)
    assert all(w["parent"] == "blobService" for w in written)


def test_storage_account_is_locked_down(bicep: dict[str, dict]) -> None:
    ((_, _, account),) = [
        r for r in resources_of(bicep, "Microsoft.Storage/storageAccounts") if not r[2]["existing"]
    ]
    props = body(account)["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_incoming_lifecycle_rule(bicep: dict[str, dict]) -> None:
    ((_, _, policy),) = resources_of(bicep, "Microsoft.Storage/storageAccounts/managementPolicies")
    (rule,) = body(policy)["properties"]["policy"]["rules"]
    assert rule["definition"]["filters"]["prefixMatch"] == [f"{INCOMING}/"]
    delete = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert list(delete.values()) == [7]


def test_blob_trigger_event_grid_source(bicep: dict[str, dict]) -> None:
    """The template declares the system topic only; its names for the subscription the
    postdeploy hook creates are the trigger's in the code (tests/infra/test_deploy.py
    checks the hook and that no subscription or key is in the template)."""
    ((_, _, topic),) = resources_of(bicep, "Microsoft.EventGrid/systemTopics")
    assert body(topic)["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert body(topic)["properties"]["source"] == {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": "storage", "operand_2": "id"},
        }
    }
    tree = bicep["app/blob-events.bicep"]
    function_name = variable(tree, "functionName")
    assert variable(tree, "containerName") == INCOMING
    processor = (REPO / "functions" / "processor.py").read_text()
    assert f'@bp.function_name("{function_name}")' in processor
    assert f'path="{INCOMING}/' in processor and "EVENT_GRID" in processor


# --- Cosmos DB --------------------------------------------------------------------------


def test_cosmos_containers_match_layout(bicep: dict[str, dict]) -> None:
    containers = variable(bicep["core/cosmos.bicep"], "containers")
    assert [c["name"] for c in containers] == [c.name for c in COSMOS_CONTAINERS]
    for declared, expected in zip(containers, COSMOS_CONTAINERS, strict=True):
        assert declared["partitionKey"] == expected.partition_key, expected.name
        assert declared.get("defaultTtl") == expected.default_ttl, expected.name
        assert declared["indexingPolicy"] == expected.indexing_policy, expected.name


SQL_DATABASES = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases"


def test_cosmos_container_resources_as_written(bicep: dict[str, dict]) -> None:
    """The container resources themselves, evaluated for every item of their loop: what
    ARM receives, not only the table beside it (a resource writing `paths: [ '/id' ]` or
    dropping defaultTtl fails here even when the table is right)."""
    tree = bicep["core/cosmos.bicep"]
    ((_, _, res),) = resources_of(bicep, f"{SQL_DATABASES}/containers")
    loop = res["config"]["loop_type"]
    assert loop["type"] == "array"
    items = variable(tree, loop["detail"]["array_name"])
    written: dict[str, dict[str, Any]] = {}
    for item in items:
        cfg = evaluate(body(res), tree["variables"], {loop["detail"]["item_name"]: item})
        resource = cfg["properties"]["resource"]
        assert cfg["name"] == resource["id"]
        assert cfg["parent"] == "database"
        written[resource["id"]] = resource
    assert list(written) == [c.name for c in COSMOS_CONTAINERS]
    for expected in COSMOS_CONTAINERS:
        resource = written[expected.name]
        assert resource["partitionKey"] == {
            "paths": [expected.partition_key],
            "kind": "Hash",
            "version": 2,
        }, expected.name
        assert resource["defaultTtl"] == expected.default_ttl, expected.name
        assert resource["indexingPolicy"] == expected.indexing_policy, expected.name
    ((_, _, database),) = resources_of(bicep, SQL_DATABASES)
    db = body(database)
    assert db["name"] == db["properties"]["resource"]["id"] == "databaseName"


def test_cosmos_account_is_entra_only(bicep: dict[str, dict]) -> None:
    tree = bicep["core/cosmos.bicep"]
    assert tree["parameters"]["capacityMode"]["decorators"]
    allowed = json.dumps(bicep["main.bicep"]["parameters"]["cosmosCapacityMode"])
    assert "serverless" in allowed and "autoscale" in allowed
    ((_, _, account),) = [
        r
        for r in resources_of(bicep, "Microsoft.DocumentDB/databaseAccounts")
        if not r[2]["existing"]
    ]
    props = body(account)["properties"]
    assert props["disableLocalAuth"] is True
    assert props["disableKeyBasedMetadataWriteAccess"] is True


# --- roles ------------------------------------------------------------------------------


def test_role_ids_are_named_built_in_roles() -> None:
    for path, text in bicep_sources().items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            for guid in GUID.findall(line):
                guid = guid.lower()
                assert guid not in FORBIDDEN_ROLES, f"{path}:{i + 1}: {FORBIDDEN_ROLES[guid]}"
                assert guid in BUILT_IN_ROLES, f"{path}:{i + 1}: unknown role ID {guid}"
                comment = line.split("//", 1)[1] if "//" in line else lines[i - 1]
                assert BUILT_IN_ROLES[guid] in comment, (
                    f"{path}:{i + 1}: name the role ({BUILT_IN_ROLES[guid]}) in a comment"
                )


def test_role_assignments_use_named_ids_and_deterministic_names(bicep: dict[str, dict]) -> None:
    rbac = bicep["rbac.bicep"]
    role_vars = {
        name
        for name, v in rbac["variables"].items()
        if isinstance(v["value"], str) and v["value"].lower() in BUILT_IN_ROLES
    }
    assignments = resources_of(bicep, "Microsoft.Authorization/roleAssignments")
    sql = resources_of(bicep, "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments")
    assert assignments and sql
    assert {path for path, _, _ in assignments + sql} == {"rbac.bicep"}, "one RBAC module"
    for _, name, res in assignments + sql:
        cfg = body(res)
        guid_fn = cfg["name"]["function"]
        assert guid_fn["type"] == "guid", name
        args = guid_fn["parameters"]
        role_var = args["extra_string_2"]
        assert role_var in role_vars, name
        assert json.dumps(args["base_string"]).count('"id"') == 1, f"{name}: guid(scope.id, ...)"
        assert "rincipalId" in args["extra_string_1"], name
        role_def = json.dumps(cfg["properties"]["roleDefinitionId"])
        assert role_var in role_def, f"{name}: name and roleDefinitionId use the same role"
    app_roles = {
        body(r)["name"]["function"]["parameters"]["extra_string_2"]
        for _, _, r in assignments + sql
        if body(r)["properties"]["principalId"] == "appPrincipalId"
    }
    # Microsoft's "AzureWebJobsStorage permissions" and blob trigger tables: Storage Blob
    # Data Owner (not Contributor) plus Storage Queue Data Contributor for host storage with
    # a blob trigger; the queue role also serves a queue trigger.
    assert {rbac["variables"][v]["value"] for v in app_roles} == {
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
        "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher
        "00000000-0000-0000-0000-000000000002",  # Cosmos DB Built-in Data Contributor
    }


# --- outputs ----------------------------------------------------------------------------

SECRET_MARKERS = (
    "listkeys",
    "primarykey",
    "secondarykey",
    "connectionstring",
    "accountkey",
    "masterkey",
    "systemkeys",
    "secret",
    "password",
    "sas",
)


def test_no_secret_in_outputs(bicep: dict[str, dict]) -> None:
    for path, tree in bicep.items():
        for name, output in tree.get("outputs", {}).items():
            text = (name + json.dumps(output)).lower()
            found = [m for m in SECRET_MARKERS if m in text]
            assert not found, f"{path}: output {name} carries {found}"
    for path, text in bicep_sources().items():
        for line in text.splitlines():
            if line.startswith("output "):
                assert not any(m in line.lower() for m in SECRET_MARKERS), f"{path}: {line}"


# --- checkov ----------------------------------------------------------------------------

SKIP = re.compile(r"//\s*checkov:skip=(CKV2?_AZURE_\d+)(?::\s*(.*))?")


def test_checkov_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        (c["check_id"], c["resource"], c["file_path"], c["check_name"])
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert not failed, failed
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0


def test_checkov_skips_are_justified_and_current(checkov_report: dict[str, Any]) -> None:
    declared: set[str] = set()
    for path, text in bicep_sources().items():
        for match in SKIP.finditer(text):
            reason = (match.group(2) or "").strip()
            assert len(reason) >= 20, f"{path}: {match.group(1)} needs a reason"
            declared.add(match.group(1))
    skipped = {c["check_id"] for c in checkov_report["results"]["skipped_checks"]}
    assert declared == skipped, (
        f"skips that match no check: {declared - skipped}; skipped without a comment: "
        f"{skipped - declared}"
    )


@pytest.mark.parametrize("path", sorted(p.name for p in Path(INFRA / "hooks").glob("*")))
def test_hooks_never_change_what_the_next_provision_reads(path: str) -> None:
    """A hook that stores a value in the azd environment, or provisions, makes the next
    `azd up` depend on it (once: CDC_BLOB_EVENTS=true made provisioning after `azd down`
    fail). The hooks only read."""
    text = (INFRA / "hooks" / path).read_text()
    command = r"(?:^|[;&|(]|\bthen|\bdo)\s*azd\s+"  # azd as a command, not in a message
    assert not re.search(command + r"env\s+set", text, re.M), path
    assert not re.search(command + r"(?:provision|up)\b", text, re.M), path
    assert "CDC_BLOB_EVENTS" not in text
