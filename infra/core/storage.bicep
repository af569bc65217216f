// Storage account for the Functions host (AzureWebJobsStorage), the deployment package
// and the app's own blobs (CDC_STORAGE). Entra ID only: shared keys are disabled.
param name string
param location string
param tags object
@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string
@description('Storage redundancy. LRS by default because it exists in every region; ZRS/GZRS fail in regions without availability zones, so choose them per region (main.bicep storageSkuName).')
@allowed([ 'Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS' ])
param skuName string = 'Standard_LRS'

// shared/storage/layout.py BLOB_CONTAINERS (tests/infra checks they match).
var dataContainers = [
  'incoming'   // raw batches as posted; removed after processing, and after 7 days by the rule below
  'quarantine' // rejected records with their reason
  'poison'     // batches that failed every processing attempt
  'audit'      // audit blobs
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  //checkov:skip=CKV_AZURE_35: Event Grid delivery and the Flex Consumption app (no VNet integration in this template) reach the account over its public endpoint; access needs an Entra token and an RBAC role, shared keys are off
  //checkov:skip=CKV_AZURE_59: same as CKV_AZURE_35: no private endpoint in this template; public endpoint accepts Entra ID only
  //checkov:skip=CKV_AZURE_206: LRS by default so the template deploys in every region (ZRS/GZRS need availability zones); blobs are transient (incoming is emptied by processing) and the durable data lives in Cosmos DB; set storageSkuName to Standard_ZRS or Standard_GZRS where the region offers it
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in concat(dataContainers, [ deploymentContainerName ]): {
    parent: blobService
    name: containerName
    properties: { publicAccess: 'None' }
  }
]

// Raw batches are deleted by the processor; anything left in incoming/ (a batch that never
// got processed) goes after 7 days. Poison and quarantine keep theirs for inspection.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-incoming-after-7-days'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [ 'blockBlob' ]
              prefixMatch: [ 'incoming/' ]
            }
            actions: {
              baseBlob: { delete: { daysAfterModificationGreaterThan: 7 } }
            }
          }
        }
      ]
    }
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
