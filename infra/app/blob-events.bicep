// Event Grid source for the blob trigger `process_batch` (container incoming/): a system
// topic on the storage account and, once the code is deployed, a subscription delivering
// BlobCreated events to the Functions blob extension webhook.
param systemTopicName string
param location string
param tags object
param storageAccountName string
param functionAppName string
@description('The blobs_extension system key exists only after the code is deployed (the host creates it when it loads the blob extension), so the subscription is created on the second provision run (azd postdeploy hook).')
param createSubscription bool

var functionName = 'process_batch'
var containerName = 'incoming'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
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

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (createSubscription) {
  parent: systemTopic
  name: 'incoming-to-${replace(functionName, '_', '-')}'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The key goes straight into the subscription (Event Grid stores the URL as a
        // secret); it is never an output. defaultHostName, not '{name}.azurewebsites.net':
        // new apps may get a unique regional default host name.
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${listKeys('${functionApp.id}/host/default', '2023-12-01').systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output systemTopicName string = systemTopic.name
