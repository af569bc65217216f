// Event Grid source for the blob trigger `process_batch` (container incoming/): the system
// topic on the storage account. The subscription delivering BlobCreated events to the
// Functions blob extension webhook is NOT declared here: its URL carries the
// blobs_extension system key, which the Functions host creates only once the deployed code
// has started. Declaring it here would make every provision after an `azd down` fail
// (listKeys cannot resolve before the code exists) and would freeze a key that can be
// rotated. The azd postdeploy hook (infra/hooks/postdeploy.sh, .ps1) reads the key then
// and creates or updates the subscription on every deployment, as Microsoft's
// Flex Consumption Event Grid blob trigger quickstart does. Redeploying infra leaves the
// subscription alone (incremental mode: resources the template does not declare stay).
param systemTopicName string
param location string
param tags object
param storageAccountName string

// The trigger in the code (functions/processor.py); tests/infra checks they agree.
var functionName = 'process_batch'
var containerName = 'incoming'
var subscriptionName = 'incoming-to-${replace(functionName, '_', '-')}'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output systemTopicName string = systemTopic.name
output functionName string = functionName
output containerName string = containerName
output subscriptionName string = subscriptionName
