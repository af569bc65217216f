// The function app: Flex Consumption (FC1), Python 3.11, user-assigned identity for
// everything (deployment package, host storage, app storage, Cosmos DB, App Insights).
param name string
param planName string
param location string
param tags object
param identityName string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
param cosmosEndpoint string
param cosmosDatabaseName string
param authTenants array
param apiAudiences array
@description('The portal\'s SPA app registration (client ID); empty until registered.')
param portalClientId string
@description('Tenant ID (or \'organizations\') the portal signs users in with.')
param portalSignInTenant string
@description('Full name of the API\'s delegated scope the portal requests: api://<API client ID>/access_as_user.')
param portalApiScope string
param maximumInstanceCount int
param instanceMemoryMB int

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  //checkov:skip=CKV_AZURE_225: zone redundancy is a Flex Consumption option in a few regions only; the app is stateless and every batch is durable in storage before it is processed
  properties: {
    reserved: true // Linux
  }
}

// App settings: exactly what shared/settings.py reads in Azure (tests/infra compares them
// with SETTING_NAMES), plus what the Functions host itself reads. The local-only ones
// (storage connection string, Cosmos DB key, development token issuer) are never set.
var appSettings = {
  // Functions host storage, identity-based.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  // The app's own connection (blob trigger on incoming/, and the code's blob client).
  CDC_STORAGE__blobServiceUri: storage.properties.primaryEndpoints.blob
  // The queue endpoint of the same connection: the Graph webhooks put call record ids on
  // the `graph-callrecords` queue through it (shared/storage/queues.py), the host's queue
  // trigger reads them, and the blob trigger keeps its poison queue there.
  CDC_STORAGE__queueServiceUri: storage.properties.primaryEndpoints.queue
  CDC_STORAGE__credential: 'managedidentity'
  CDC_STORAGE__clientId: identity.properties.clientId
  // Cosmos DB through the same identity (DefaultAzureCredential picks AZURE_CLIENT_ID).
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  AZURE_CLIENT_ID: identity.properties.clientId
  // Token validation.
  AUTH_TENANTS: join(authTenants, ',')
  AUTH_AUDIENCES: join(apiAudiences, ',')
  // The portal's sign-in configuration, served as /api/portal/config.json (functions/portal.py):
  // the portal is served by this app, from the API's own origin, so no CORS is needed.
  CDC_PORTAL_CLIENT_ID: portalClientId
  CDC_PORTAL_TENANT_ID: portalSignInTenant
  CDC_PORTAL_API_SCOPE: portalApiScope
  // Teams call records from Microsoft Graph: the home tenant's managed identity reads
  // them (admin consent once, docs/deploy.md); Graph calls the webhooks on this host
  // (https://$WEBSITE_HOSTNAME unless CDC_GRAPH_WEBHOOK_BASE names a custom domain).
  CDC_GRAPH_URL: 'https://graph.microsoft.com/v1.0'
  CDC_GRAPH_AUTHORITY: environment().authentication.loginEndpoint
  CDC_GRAPH_TENANTS: join(authTenants, ',')
  CDC_GRAPH_HOME_TENANT: tenant().tenantId
  // Application Insights with Entra ID ingestion (local auth is off on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  //checkov:skip=CKV_AZURE_212: instance count is managed by the Flex Consumption platform (scale to zero, always-ready optional), not by a minimum worker count
  //checkov:skip=CKV_AZURE_213: Flex Consumption does not support the App Service health check feature; /api/v1/health is probed by monitoring instead
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  //checkov:skip=CKV_AZURE_222: the API is called by on-prem Skype for Business servers and by users' browsers over the internet; every call carries an Entra token
  //checkov:skip=CKV_AZURE_17: client certificates are not used: callers authenticate with Entra ID bearer tokens (the push agent's certificate is a client-credentials credential at Entra ID, not a TLS client certificate)
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // The portal is served from this origin (/api/portal/): no cross-origin caller exists,
      // so none is allowed.
      cors: { allowedOrigins: [], supportCredentials: false }
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

}

// No publishing credentials: azd deploys with the deployer's Entra identity.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: { allow: false }
}

output name string = functionApp.name
output id string = functionApp.id
output uri string = 'https://${functionApp.properties.defaultHostName}'
