#!/bin/sh
# azd postdeploy hook: the Event Grid subscription of the blob trigger needs the
# blobs_extension system key, which exists only once the code is deployed. The first
# `azd up` therefore provisions again with the subscription turned on; later runs find
# CDC_BLOB_EVENTS=true and provision it with everything else.
set -eu
if [ "$(azd env get-value CDC_BLOB_EVENTS 2>/dev/null || true)" = "true" ]; then
  echo "Event Grid subscription already managed by the template."
  exit 0
fi
echo "Creating the Event Grid subscription for process_batch (second provision run)..."
azd env set CDC_BLOB_EVENTS true
azd provision --no-prompt
