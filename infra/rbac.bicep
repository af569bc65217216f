// Every role assignment of the deployment, in one place. Names are deterministic,
// guid(scope id, principal id, role definition id), so re-provisioning is idempotent.
// Data-plane roles only, scoped to the one resource that needs them, at the level
// Microsoft documents as the minimum for what the app does (docs/deploy.md cites it).
param storageAccountName string
param cosmosAccountName string
param appInsightsName string
@description('Principal ID of the app\'s user-assigned managed identity.')
param appPrincipalId string
@description('Object ID of the deploying principal, for read access to the data; empty for none (the default: main.bicep passes it only when deployerDataAccess is true).')
param userPrincipalId string = ''
@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param userPrincipalType string = 'User'

// Built-in role definition IDs (tests/infra checks each against a table of built-in roles).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002' // Cosmos DB Built-in Data Contributor
var cosmosDataReader = '00000000-0000-0000-0000-000000000001' // Cosmos DB Built-in Data Reader

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// App: blobs. One account is both the host storage (AzureWebJobsStorage: key store, leases,
// blob receipts) and the blob trigger's connection. Microsoft documents Storage Blob Data
// Owner as the host storage minimum and as the blob trigger's role; Contributor is not
// enough. It also covers the app's data containers and the Flex deployment package.
resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// App: queues. The blob trigger writes a blob that failed every attempt to its
// `webjobs-blobtrigger-poison` queue on the trigger's connection, and the host uses queues
// on AzureWebJobsStorage for the trigger; a queue trigger (the Graph fetch path) reads,
// updates and deletes messages. Storage Queue Data Contributor covers all of them.
resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// App: telemetry ingestion with Entra ID (App Insights local auth is off).
resource appMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// App: Cosmos DB data plane (read/write items). A Cosmos DB SQL role, not an Azure RBAC
// role: assigned on the account through sqlRoleAssignments.
resource appCosmos 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, appPrincipalId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: appPrincipalId
    scope: cosmos.id
  }
}

// Deploying principal (only when asked for, deployerDataAccess): read-only access to
// inspect data. Writes go through the API like everyone else's.
resource userBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, storageBlobDataReader)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// Cosmos DB applies one SQL role assignment change to an account at a time: a second one
// sent in parallel can fail ("another operation is in progress"), so this one waits.
resource userCosmos 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = if (!empty(userPrincipalId)) {
  parent: cosmos
  name: guid(cosmos.id, userPrincipalId, cosmosDataReader)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataReader}'
    principalId: userPrincipalId
    scope: cosmos.id
  }
  dependsOn: [ appCosmos ]
}
