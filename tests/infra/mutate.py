# ruff: noqa: E501  (the table of mutations reads best one per line)
"""Proof that the deployment checks can fail: each entry breaks one point of the
deployment in the working tree (a role, a default, the hook, the package, a container
resource...), runs the test that must catch it, and restores the file.

Run by hand, from a clean tree: `.venv/bin/python -m tests.infra.mutate [name filter...]`
(about 4 minutes for all 37). Not collected by pytest: it edits files while it runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

R = Path(__file__).resolve().parents[2]
M = [
    (
        "hook stores a value for provision",
        "infra/hooks/postdeploy.sh",
        'echo "Event Grid subscription $subscription is in place."',
        "azd env set CDC_BLOB_EVENTS true",
        "tests/infra/test_infra.py",
        "hooks_never",
    ),
    (
        "hook provisions",
        "infra/hooks/postdeploy.ps1",
        "if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }\nWrite-Host",
        "azd provision --no-prompt\nWrite-Host",
        "tests/infra/test_infra.py",
        "hooks_never",
    ),
    (
        "subscription with listKeys back in Bicep",
        "infra/app/blob-events.bicep",
        "output systemTopicName",
        "resource sub 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (true) {\n  parent: systemTopic\n  name: 'x'\n  properties: { destination: { endpointType: 'WebHook', properties: { endpointUrl: 'https://x/?code=${listKeys('${storage.id}/host/default', '2023-12-01').systemKeys.blobs_extension}' } } }\n}\n\noutput systemTopicName",
        "tests/infra/test_deploy.py",
        "no_key_and_no_event",
    ),
    (
        "parameter fed by a hook value",
        "infra/main.parameters.json",
        '"storageSkuName"',
        '"blobEventSubscription": { "value": "${CDC_BLOB_EVENTS=false}" },\n    "storageSkuName"',
        "tests/infra/test_deploy.py",
        "need_nothing_a_hook",
    ),
    (
        "Blob Data Contributor instead of Owner",
        "infra/rbac.bicep",
        "var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner",
        "var storageBlobDataOwner = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Owner",
        "tests/infra/test_infra.py",
        "role",
    ),
    (
        "queue role dropped",
        "infra/rbac.bicep",
        "resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
        "resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (false) {",
        "tests/infra/test_deploy.py",
        "only_on_request",
    ),
    (
        "Cosmos role assignments in parallel",
        "infra/rbac.bicep",
        "  dependsOn: [ appCosmos ]\n",
        "",
        "tests/infra/test_deploy.py",
        "one_after_another",
    ),
    (
        "ZRS default",
        "infra/core/storage.bicep",
        "param skuName string = 'Standard_LRS'",
        "param skuName string = 'Standard_ZRS'",
        "tests/infra/test_deploy.py",
        "every_region",
    ),
    (
        "ZRS default in main",
        "infra/main.bicep",
        "param storageSkuName string = 'Standard_LRS'",
        "param storageSkuName string = 'Standard_ZRS'",
        "tests/infra/test_deploy.py",
        "every_region",
    ),
    (
        "principalType not from azd",
        "infra/main.parameters.json",
        '    "principalType": { "value": "${AZURE_PRINCIPAL_TYPE}" },\n',
        "",
        "tests/infra/test_deploy.py",
        "only_on_request",
    ),
    (
        "user principal type hard-coded",
        "infra/rbac.bicep",
        "    principalId: userPrincipalId\n    principalType: userPrincipalType",
        "    principalId: userPrincipalId\n    principalType: 'User'",
        "tests/infra/test_deploy.py",
        "only_on_request",
    ),
    (
        "deployer data access by default",
        "infra/main.bicep",
        "param deployerDataAccess bool = false",
        "param deployerDataAccess bool = true",
        "tests/infra/test_deploy.py",
        "only_on_request",
    ),
    (
        "deployer data access unconditional",
        "infra/main.bicep",
        "userPrincipalId: deployerDataAccess ? principalId : ''",
        "userPrincipalId: principalId",
        "tests/infra/test_deploy.py",
        "only_on_request",
    ),
    (
        "unsafe identifier URI",
        "infra/main.bicep",
        "var apiIdentifierUri = 'api://${apiClientId}'",
        "var apiIdentifierUri = 'api://call-data-connector'",
        "tests/infra/test_deploy.py",
        "every_tenant",
    ),
    (
        "identifier URI in docs",
        "docs/deploy.md",
        "`api://<app name>`",
        "`api://call-data-connector`",
        "tests/infra/test_deploy.py",
        "every_tenant",
    ),
    (
        "second scope name",
        "infra/main.bicep",
        "var apiScopeName = 'access_as_user'",
        "var apiScopeName = 'user_impersonation'",
        "tests/infra/test_deploy.py",
        "scope or sign_in",
    ),
    (
        "second scope name in portal README",
        "portal/README.md",
        "`api://<API client ID>/access_as_user`",
        "`api://<API client ID>/user_impersonation`",
        "tests/infra/test_deploy.py",
        "one_scope",
    ),
    (
        "CORS opened",
        "infra/app/function.bicep",
        "cors: { allowedOrigins: [], supportCredentials: false }",
        "cors: { allowedOrigins: [ '*' ], supportCredentials: false }",
        "tests/infra/test_deploy.py",
        "served_by_the_function_app",
    ),
    (
        "portal sign-in setting dropped",
        "infra/app/function.bicep",
        "  CDC_PORTAL_API_SCOPE: portalApiScope\n",
        "",
        "tests/infra/test_infra.py",
        "exactly_what_the_code_reads",
    ),
    (
        "azd minimum too low",
        "azure.yaml",
        'azd: ">= 1.23.4"',
        'azd: ">= 1.20.0"',
        "tests/infra/test_deploy.py",
        "azd_minimum",
    ),
    (
        "no vendor step before packaging",
        "azure.yaml",
        "run: cd portal && npm ci --no-audit --no-fund --omit=dev && npm run vendor",
        "run: echo skip",
        "tests/infra/test_deploy.py",
        "azd_minimum",
    ),
    (".ci shipped", ".funcignore", ".ci\n", "", "tests/infra/test_deploy.py", "package_holds"),
    (
        "portal tools shipped",
        ".funcignore",
        "portal/tools\n",
        "",
        "tests/infra/test_deploy.py",
        "package_holds",
    ),
    (
        "portal not shipped",
        ".funcignore",
        "docs\n",
        "docs\nportal\n",
        "tests/infra/test_deploy.py",
        "package_holds",
    ),
    (
        "pyproject package list removed",
        "pyproject.toml",
        'include = ["functions", "functions.*", "shared", "shared.*"]',
        'include = ["*"]',
        "tests/infra/test_deploy.py",
        "pyproject",
    ),
    (
        "pyproject dependencies not requirements.txt",
        "pyproject.toml",
        'dependencies = { file = ["requirements.txt"] }',
        'dependencies = { file = ["requirements-dev.txt"] }',
        "tests/infra/test_deploy.py",
        "pyproject",
    ),
    (
        "partition key /id on the resource",
        "infra/core/cosmos.bicep",
        "partitionKey: { paths: [ c.partitionKey ], kind: 'Hash', version: 2 }",
        "partitionKey: { paths: [ '/id' ], kind: 'Hash', version: 2 }",
        "tests/infra/test_infra.py",
        "resources_as_written",
    ),
    (
        "TTL dropped on the resource",
        "infra/core/cosmos.bicep",
        "defaultTtl: contains(c, 'defaultTtl') ? c.defaultTtl : null",
        "defaultTtl: null",
        "tests/infra/test_infra.py",
        "resources_as_written",
    ),
    (
        "index policy replaced on the resource",
        "infra/core/cosmos.bicep",
        "indexingPolicy: c.indexingPolicy",
        "indexingPolicy: { indexingMode: 'consistent', automatic: true }",
        "tests/infra/test_infra.py",
        "resources_as_written",
    ),
    (
        "blob containers dropped from the resource loop",
        "infra/core/storage.bicep",
        "for containerName in concat(dataContainers, [ deploymentContainerName ])",
        "for containerName in [ deploymentContainerName ]",
        "tests/infra/test_infra.py",
        "blob_container_resources",
    ),
    (
        "hook filters the wrong container",
        "infra/hooks/postdeploy.sh",
        '--subject-begins-with "/blobServices/default/containers/${container}/blobs/"',
        '--subject-begins-with "/blobServices/default/containers/"',
        "tests/infra/test_deploy.py",
        "key_read_now or same_commands",
    ),
    (
        "hook does not wait for the key",
        "infra/hooks/postdeploy.sh",
        '  [ -n "$key" ] && break\n',
        "  break\n",
        "tests/infra/test_deploy.py",
        "key_read_now or fails_clearly",
    ),
    (
        "hook prints the key",
        "infra/hooks/postdeploy.sh",
        'echo "Creating or updating',
        'echo "endpoint $endpoint"\necho "Creating or updating',
        "tests/infra/test_deploy.py",
        "key_read_now",
    ),
    (
        "Windows hook differs",
        "infra/hooks/postdeploy.ps1",
        "--max-delivery-attempts 30",
        "--max-delivery-attempts 10",
        "tests/infra/test_deploy.py",
        "same_commands",
    ),
    (
        "portal serves dotfiles",
        "shared/portal_site.py",
        'if any(p.startswith(".") for p in parts) or any(p in DENIED_DIRS for p in parts):',
        "if any(p in DENIED_DIRS for p in parts):",
        "tests/unit/test_portal_site.py",
        "nothing_else",
    ),
    (
        "portal serves npm manifests",
        "shared/portal_site.py",
        '    ".ico": "image/x-icon",\n',
        '    ".ico": "image/x-icon",\n    ".json": "application/json",\n',
        "tests/integration/test_portal_route.py",
        "only_browser",
    ),
    (
        "portal config ignores settings",
        "shared/portal_site.py",
        "    if client_id:\n",
        "    if False:\n",
        "tests/integration/test_portal_route.py",
        "entra",
    ),
]


def main(only: list[str]) -> int:
    results: list[tuple[bool, str, str]] = []
    for name, rel, old, new, test, k in M:
        if only and not any(o in name for o in only):
            continue
        path = R / rel
        text = path.read_text()
        assert text.count(old) >= 1, (name, old)
        path.write_text(text.replace(old, new, 1))
        try:
            proc = subprocess.run(
                [
                    str(R / ".venv/bin/python"),
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:cacheprovider",
                    test,
                    "-k",
                    k,
                ],
                cwd=R,
                capture_output=True,
                text=True,
                timeout=600,
            )
        finally:
            path.write_text(text)
        last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
        caught = proc.returncode == 1
        results.append((caught, name, last))
        print(("CAUGHT " if caught else "MISSED ") + name + " :: " + last, flush=True)
    print(f"{sum(c for c, _, _ in results)}/{len(results)} mutations caught")
    return 0 if all(c for c, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
