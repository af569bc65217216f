# azd postdeploy hook (Windows): create or refresh the Event Grid subscription of the blob
# trigger, with the blobs_extension key read now. Same steps as postdeploy.sh (read it for
# why); stores nothing in the azd environment and never prints the key.
$ErrorActionPreference = 'Stop'

function Get-AzdValue([string]$Name) {
  $v = [Environment]::GetEnvironmentVariable($Name)
  if (-not $v) { $v = (azd env get-value $Name 2>$null) }
  if (-not $v) { throw "postdeploy: $Name is not set in the azd environment (run azd provision)" }
  return $v
}

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  throw 'postdeploy: the Azure CLI (az) is required: https://learn.microsoft.com/cli/azure/install-azure-cli'
}

$sub = Get-AzdValue 'AZURE_SUBSCRIPTION_ID'
$rg = Get-AzdValue 'AZURE_RESOURCE_GROUP'
$app = Get-AzdValue 'AZURE_FUNCTION_APP_NAME'
$apiUri = Get-AzdValue 'SERVICE_API_URI'
$topic = Get-AzdValue 'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME'
$function = Get-AzdValue 'AZURE_BLOB_TRIGGER_FUNCTION'
$container = Get-AzdValue 'AZURE_BLOB_TRIGGER_CONTAINER'
$subscription = Get-AzdValue 'AZURE_BLOB_EVENT_SUBSCRIPTION'
$waitSeconds = if ($env:CDC_KEY_WAIT_SECONDS) { [int]$env:CDC_KEY_WAIT_SECONDS } else { 300 }
$intervalSeconds = if ($env:CDC_KEY_WAIT_INTERVAL) { [int]$env:CDC_KEY_WAIT_INTERVAL } else { 10 }

az account show --subscription $sub --output none 2>$null
if ($LASTEXITCODE -ne 0) {
  throw "postdeploy: the Azure CLI is not signed in to subscription ${sub}: run 'az login', then 'azd hooks run postdeploy'"
}

Write-Host "Waiting for the blobs_extension key of $app (the host creates it when the code starts)..."
$waited = 0
$key = ''
while ($true) {
  $key = (az functionapp keys list --subscription $sub --resource-group $rg --name $app `
          --query 'systemKeys.blobs_extension' --output tsv 2>$null)
  if ($LASTEXITCODE -eq 0 -and $key) { break }
  if ($waited -ge $waitSeconds) {
    throw "postdeploy: no blobs_extension key on $app after ${waitSeconds}s; check that the app started (azd monitor --logs), then run 'azd hooks run postdeploy'"
  }
  Start-Sleep -Seconds $intervalSeconds
  $waited += $intervalSeconds
}

# The URL contains '&': quoted for the az launcher (az.cmd) so cmd does not split it.
$endpoint = '"' + $apiUri.TrimEnd('/') + "/runtime/webhooks/blobs?functionName=Host.Functions.$function&code=$key" + '"'
Write-Host "Creating or updating Event Grid subscription $subscription ($container/ -> $function)..."
az eventgrid system-topic event-subscription create `
  --subscription $sub `
  --resource-group $rg `
  --system-topic-name $topic `
  --name $subscription `
  --endpoint-type webhook `
  --endpoint $endpoint `
  --included-event-types Microsoft.Storage.BlobCreated `
  --subject-begins-with "/blobServices/default/containers/$container/blobs/" `
  --event-delivery-schema eventgridschema `
  --max-delivery-attempts 30 `
  --event-ttl 1440 `
  --max-events-per-batch 1 `
  --preferred-batch-size-in-kilobytes 64 `
  --output none
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "Event Grid subscription $subscription is in place."
