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

@description('Application (client) ID of the API\'s app registration. Its Application ID URI must be api://<this ID>: a URI form every tenant accepts, including those that restrict identifier URIs to ones with a unique tenant identifier.')
@minLength(36)
@maxLength(36)
param apiClientId string

@description('Further accepted token audiences besides api://<apiClientId> and <apiClientId> (AUTH_AUDIENCES); usually none.')
param apiAudiences array = []

@description('Application (client) ID of the portal\'s own single-page-app registration; empty: the portal is served but cannot sign in until it is set.')
param portalClientId string = ''

@description('Tenant the portal signs users in with: this tenant by default; \'organizations\' for a registration shared by several customer tenants.')
param portalSignInTenant string = tenant().tenantId

@description('Cosmos DB capacity: serverless (pay per request) or provisioned autoscale.')
@allowed([ 'serverless', 'autoscale' ])
param cosmosCapacityMode string = 'serverless'

@description('Autoscale maximum RU/s shared by the database (autoscale mode only).')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Storage redundancy. LRS works in every region; ZRS and GZRS only in regions with availability zones.')
@allowed([ 'Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS' ])
param storageSkuName string = 'Standard_LRS'

@description('Object ID of the principal running azd (azd sets AZURE_PRINCIPAL_ID); used only when deployerDataAccess is true.')
param principalId string = ''

@description('Type of principalId (azd sets AZURE_PRINCIPAL_TYPE: User for an interactive sign-in, ServicePrincipal in CI).')
@allowed([ 'User', 'ServicePrincipal', 'Group' ])
param principalType string = 'User'

@description('Give principalId read access to the stored call data (blobs and Cosmos DB items) for inspection. Off by default: call data is personal data, and the API serves it to the right people with auditing.')
param deployerDataAccess bool = false

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
// One name for the API's delegated scope, everywhere: the portal asks for it, the API
// registration exposes it (docs/deploy.md), the function app tells the portal its full name.
var apiScopeName = 'access_as_user'
var apiIdentifierUri = 'api://${apiClientId}'
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
    skuName: storageSkuName
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
    userPrincipalId: deployerDataAccess ? principalId : ''
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
    apiAudiences: union([ apiIdentifierUri, apiClientId ], apiAudiences)
    portalClientId: portalClientId
    portalSignInTenant: portalSignInTenant
    portalApiScope: '${apiIdentifierUri}/${apiScopeName}'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  // The host starts with identity-based storage: grant the roles before it first runs.
  dependsOn: [ rbac ]
}

// The system topic only. Its subscription needs the blobs_extension key, which exists once
// the deployed code has started: the azd postdeploy hook creates or refreshes it on every
// `azd up` / `azd deploy` (infra/hooks), so provisioning never depends on the code.
module blobEvents 'app/blob-events.bicep' = {
  name: 'blob-events'
  scope: rg
  params: {
    systemTopicName: 'evgt-cdc-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
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
// Read by the postdeploy hook to (re)create the blob trigger's Event Grid subscription.
output AZURE_BLOB_TRIGGER_FUNCTION string = blobEvents.outputs.functionName
output AZURE_BLOB_TRIGGER_CONTAINER string = blobEvents.outputs.containerName
output AZURE_BLOB_EVENT_SUBSCRIPTION string = blobEvents.outputs.subscriptionName
// The portal, served by the function app from the API's own origin.
output SERVICE_PORTAL_URI string = '${api.outputs.uri}/api/portal/'
output API_IDENTIFIER_URI string = apiIdentifierUri
output API_SCOPE string = '${apiIdentifierUri}/${apiScopeName}'
