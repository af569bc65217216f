// Call Data Connector: everything `azd up` provisions.
// Subscription scope: the template creates its own resource group, so one azd environment
// is one resource group. No keys anywhere: every connection is Entra ID (managed identity).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used for the resource group name and a unique token.')
param environmentName string

@minLength(1)
@description('Azure region for all resources (must offer Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Entra tenant IDs whose tokens the API accepts (AUTH_TENANTS).')
@minLength(1)
param authTenants array

@description('Accepted token audiences: the API app ID URI and/or its client ID (AUTH_AUDIENCES).')
@minLength(1)
param apiAudiences array

@description('Cosmos DB capacity: serverless (pay per request) or provisioned autoscale.')
@allowed([ 'serverless', 'autoscale' ])
param cosmosCapacityMode string = 'serverless'

@description('Autoscale maximum RU/s shared by the database (autoscale mode only).')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Create the Event Grid subscription to the blob trigger. Needs the code deployed first (the blobs_extension key exists only then); the azd postdeploy hook turns it on.')
param blobEventSubscription bool = false

@description('Object ID of the deploying user (azd sets AZURE_PRINCIPAL_ID); empty for none.')
param principalId string = ''

@description('Principal type of principalId.')
@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param principalType string = 'User'

@description('Flex Consumption: maximum instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Flex Consumption: instance memory size in MB.')
@allowed([ 512, 2048, 4096 ])
param instanceMemoryMB int = 2048

@description('E-mail address for the operational and quality alerts (app/alerts.bicep); empty: an action group without receivers.')
param alertEmail string = ''

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var cosmosDatabaseName = 'calldata'
var deploymentContainerName = 'app-package'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-cdc-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stcdc${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module cosmos 'core/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: 'cosmos-cdc-${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-cdc-${resourceToken}'
    appInsightsName: 'appi-cdc-${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    cosmosAccountName: cosmos.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: 'func-cdc-${resourceToken}'
    planName: 'plan-cdc-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmosDatabaseName
    authTenants: authTenants
    apiAudiences: apiAudiences
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  // The host starts with identity-based storage: grant the roles before it first runs.
  dependsOn: [ rbac ]
}

module blobEvents 'app/blob-events.bicep' = {
  name: 'blob-events'
  scope: rg
  params: {
    systemTopicName: 'evgt-cdc-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    functionAppName: api.outputs.name
    createSubscription: blobEventSubscription
  }
}

// Azure Monitor alerts: poisoned batch, failure rate, silent server, building quality.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: 'cdc-${resourceToken}'
    location: location
    tags: tags
    appInsightsName: monitoring.outputs.appInsightsName
    alertEmail: alertEmail
  }
}

// Names and endpoints only: no keys, no connection strings.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output AZURE_COSMOS_DATABASE string = cosmosDatabaseName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = blobEvents.outputs.systemTopicName
