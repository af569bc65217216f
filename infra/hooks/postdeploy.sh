#!/bin/sh
# azd postdeploy hook: create or refresh the Event Grid subscription of the blob trigger.
#
# Its webhook URL carries the blobs_extension system key, which the Functions host creates
# only once the deployed code has started, so provisioning cannot create it (a template
# that tried would fail on the next `azd up` after `azd down`). This hook runs after every
# `azd deploy` / `azd up`: it waits for the key, reads it then, and creates or updates the
# subscription (the Event Grid call is create-or-update). It stores nothing in the azd
# environment and never prints the key.
#
# Needs the Azure CLI (az), signed in to the tenant; every call names azd's subscription,
# so az's own default subscription does not matter.
set -eu

# Values come from the azd environment (azd exports them to hooks; fall back to asking).
value() {
  eval "v=\${$1:-}"
  if [ -z "$v" ]; then v=$(azd env get-value "$1" 2>/dev/null || true); fi
  if [ -z "$v" ]; then echo "postdeploy: $1 is not set in the azd environment (run azd provision)" >&2; exit 1; fi
  printf '%s' "$v"
}

command -v az >/dev/null 2>&1 || { echo "postdeploy: the Azure CLI (az) is required: https://learn.microsoft.com/cli/azure/install-azure-cli" >&2; exit 1; }

sub=$(value AZURE_SUBSCRIPTION_ID)
rg=$(value AZURE_RESOURCE_GROUP)
app=$(value AZURE_FUNCTION_APP_NAME)
api_uri=$(value SERVICE_API_URI)
topic=$(value AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)
function=$(value AZURE_BLOB_TRIGGER_FUNCTION)
container=$(value AZURE_BLOB_TRIGGER_CONTAINER)
subscription=$(value AZURE_BLOB_EVENT_SUBSCRIPTION)
wait_s=${CDC_KEY_WAIT_SECONDS:-300}
interval_s=${CDC_KEY_WAIT_INTERVAL:-10}

az account show --subscription "$sub" --output none 2>/dev/null || {
  echo "postdeploy: the Azure CLI is not signed in to subscription $sub: run 'az login', then 'azd hooks run postdeploy'" >&2
  exit 1
}

echo "Waiting for the blobs_extension key of $app (the host creates it when the code starts)..."
waited=0
key=""
while :; do
  key=$(az functionapp keys list --subscription "$sub" --resource-group "$rg" --name "$app" \
        --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  if [ "$waited" -ge "$wait_s" ]; then
    echo "postdeploy: no blobs_extension key on $app after ${wait_s}s; check that the app started (azd monitor --logs), then run 'azd hooks run postdeploy'" >&2
    exit 1
  fi
  sleep "$interval_s"
  waited=$((waited + interval_s))
done

endpoint="${api_uri%/}/runtime/webhooks/blobs?functionName=Host.Functions.${function}&code=${key}"
echo "Creating or updating Event Grid subscription $subscription ($container/ -> $function)..."
az eventgrid system-topic event-subscription create \
  --subscription "$sub" \
  --resource-group "$rg" \
  --system-topic-name "$topic" \
  --name "$subscription" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/${container}/blobs/" \
  --event-delivery-schema eventgridschema \
  --max-delivery-attempts 30 \
  --event-ttl 1440 \
  --max-events-per-batch 1 \
  --preferred-batch-size-in-kilobytes 64 \
  --output none
echo "Event Grid subscription $subscription is in place."
