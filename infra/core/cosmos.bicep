// Cosmos DB for NoSQL: account, database `calldata` and the containers of
// shared/storage/layout.py COSMOS_CONTAINERS (tests/infra checks they match: names,
// partition keys, TTLs, indexing policies). Entra ID only: local (key) auth is disabled.
param name string
param location string
param tags object
param databaseName string
@allowed([ 'serverless', 'autoscale' ])
param capacityMode string
@minValue(1000)
param autoscaleMaxThroughput int

var day = 86400

// defaultTtl in seconds; -1 = TTL on, no default (only items carrying `ttl` expire);
// a container without defaultTtl has TTL off. Index only what queries filter or sort on.
var containers = [
  {
    name: 'calls' // point reads only: nothing indexed
    partitionKey: '/pk'
    defaultTtl: 30 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: []
      excludedPaths: [ { path: '/*' } ]
    }
  }
  {
    name: 'userCalls'
    partitionKey: '/pk'
    defaultTtl: 30 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/pk/?' }, { path: '/start/?' }, { path: '/callId/?' } ]
      excludedPaths: [ { path: '/*' } ]
      compositeIndexes: [
        [ { path: '/start', order: 'descending' }, { path: '/id', order: 'descending' } ]
      ]
    }
  }
  {
    name: 'batches'
    partitionKey: '/tenantId'
    defaultTtl: 30 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [
        { path: '/status/?' }
        { path: '/receivedAt/?' }
        { path: '/sourceFqdn/?' }
        { path: '/completedAt/?' }
      ]
      excludedPaths: [ { path: '/*' } ]
    }
  }
  {
    name: 'tenants' // settings never expire; user directory entries carry their own ttl
    partitionKey: '/tenantId'
    defaultTtl: -1
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/type/?' }, { path: '/user/?' }, { path: '/nameLower/?' }, { path: '/kind/?' } ]
      excludedPaths: [ { path: '/*' } ]
    }
  }
  {
    name: 'aggregates' // 13 months
    partitionKey: '/pk'
    defaultTtl: 396 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/pk/?' }, { path: '/day/?' }, { path: '/kind/?' } ]
      excludedPaths: [ { path: '/*' } ]
    }
  }
  {
    name: 'audit' // 1 year
    partitionKey: '/pk'
    defaultTtl: 365 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/pk/?' }, { path: '/at/?' } ]
      excludedPaths: [ { path: '/*' } ]
      compositeIndexes: [
        [ { path: '/at', order: 'descending' }, { path: '/id', order: 'descending' } ]
      ]
    }
  }
  {
    name: 'alerts' // quality alerts: one per tenant, building and day; 13 months
    partitionKey: '/tenantId'
    defaultTtl: 396 * day
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/kind/?' }, { path: '/day/?' }, { path: '/status/?' } ]
      excludedPaths: [ { path: '/*' } ]
    }
  }
  {
    name: 'graph' // Microsoft Graph fetch state: subscriptions, backfills, record versions
    partitionKey: '/tenantId'
    defaultTtl: -1
    indexingPolicy: {
      indexingMode: 'consistent'
      automatic: true
      includedPaths: [ { path: '/kind/?' }, { path: '/day/?' } ]
      excludedPaths: [ { path: '/*' } ]
    }
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  //checkov:skip=CKV_AZURE_99: the Flex Consumption app has no static outbound IPs or VNet in this template, so an IP/VNet filter would lock it out; the endpoint accepts Entra ID tokens only (disableLocalAuth) and the identity holds a data-plane role
  //checkov:skip=CKV_AZURE_101: same as CKV_AZURE_99: public network access is needed without a private endpoint; no keys exist to be used from outside
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    capabilities: capacityMode == 'serverless' ? [ { name: 'EnableServerless' } ] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: { tier: 'Continuous7Days' }
    }
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    // Autoscale throughput is shared by the database's containers; serverless has none.
    options: capacityMode == 'autoscale' ? { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } } : {}
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for c in containers: {
    parent: database
    name: c.name
    properties: {
      resource: {
        id: c.name
        partitionKey: { paths: [ c.partitionKey ], kind: 'Hash', version: 2 }
        defaultTtl: contains(c, 'defaultTtl') ? c.defaultTtl : null
        indexingPolicy: c.indexingPolicy
      }
    }
  }
]

output name string = account.name
output id string = account.id
output endpoint string = account.properties.documentEndpoint
