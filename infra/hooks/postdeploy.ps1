# azd postdeploy hook (Windows): see postdeploy.sh.
$ErrorActionPreference = 'Stop'
$current = (azd env get-value CDC_BLOB_EVENTS 2>$null)
if ($current -eq 'true') {
  Write-Host 'Event Grid subscription already managed by the template.'
  exit 0
}
Write-Host 'Creating the Event Grid subscription for process_batch (second provision run)...'
azd env set CDC_BLOB_EVENTS true
azd provision --no-prompt
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
