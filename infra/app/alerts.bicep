// Azure Monitor alerts over the app's telemetry (shared/telemetry.py exports metrics to
// Application Insights' customMetrics; the README's "Operating it" says what each alert
// means and what to do). One action group, e-mail if an address is given.
//
// - poisoned batch: a batch failed every processing attempt (or was unreadable) and went
//   to the poison container;
// - processing failure rate: failed attempts (retries + poisoned) over all attempts in the
//   last hour, above a percentage, once there are a few batches;
// - silent source server: an on-prem server that sent a batch in the last two days has
//   sent none for N hours;
// - quality alert: the hourly evaluation raised a new building/day audio Poor % alert
//   (the record itself is in Cosmos DB: GET /api/v1/admin/alerts).
param namePrefix string
param location string
param tags object
param appInsightsName string

@description('E-mail address that receives the alerts; empty for an action group without receivers.')
param alertEmail string = ''

@description('Hours without a completed batch after which a known source server counts as silent.')
@minValue(1)
@maxValue(47)
param silentSourceHours int = 6

@description('Failed processing attempts, in percent of all attempts in an hour, that raise the failure-rate alert.')
@minValue(1)
@maxValue(100)
param failureRatePercent int = 10

@description('Fewest processing attempts in the hour before the failure rate is judged.')
@minValue(1)
param failureRateMinAttempts int = 5

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'cdc-ops'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var batchesByOutcome = '''
customMetrics
| where name == "cdc.batches"
| extend outcome = tostring(customDimensions.outcome), tenantId = tostring(customDimensions.tenantId), sourceServer = tostring(customDimensions.sourceServer)
'''

resource poisonedBatch 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-poisoned-batch'
  location: location
  tags: tags
  properties: {
    displayName: 'Call Data Connector: batch poisoned'
    description: 'A batch failed every processing attempt or was unreadable and is in the poison container. See GET /api/v1/admin/health (last24h.poisoned) for its id and reason.'
    severity: 1
    enabled: true
    scopes: [ appInsights.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: '${batchesByOutcome}| where outcome == "poisoned"\n| summarize poisoned = sum(valueSum) by tenantId, sourceServer'
          timeAggregation: 'Total'
          metricMeasureColumn: 'poisoned'
          dimensions: [
            { name: 'tenantId', operator: 'Include', values: [ '*' ] }
            { name: 'sourceServer', operator: 'Include', values: [ '*' ] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actionGroup.id ] }
  }
}

resource failureRate 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-failure-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'Call Data Connector: batch processing failure rate'
    description: 'More than ${failureRatePercent}% of batch processing attempts failed in the last hour (transient storage errors being retried, or batches poisoned).'
    severity: 2
    enabled: true
    scopes: [ appInsights.id ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: '${batchesByOutcome}| summarize attempts = sum(valueSum), failed = sumif(valueSum, outcome in ("retry", "poisoned"))\n| where attempts >= ${failureRateMinAttempts}\n| extend failedPercent = 100.0 * failed / attempts'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failedPercent'
          operator: 'GreaterThan'
          threshold: failureRatePercent
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actionGroup.id ] }
  }
}

resource silentSource 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-silent-source'
  location: location
  tags: tags
  properties: {
    displayName: 'Call Data Connector: source server silent'
    description: 'An on-prem server that sent batches in the last two days has sent none for ${silentSourceHours} hours.'
    severity: 2
    enabled: true
    scopes: [ appInsights.id ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    overrideQueryTimeRange: 'P2D'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: '${batchesByOutcome}| where timestamp > ago(2d) and outcome in ("completed", "completedWithErrors") and isnotempty(sourceServer)\n| summarize lastBatch = max(timestamp) by tenantId, sourceServer\n| where lastBatch < ago(${silentSourceHours}h)'
          timeAggregation: 'Count'
          dimensions: [
            { name: 'tenantId', operator: 'Include', values: [ '*' ] }
            { name: 'sourceServer', operator: 'Include', values: [ '*' ] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actionGroup.id ] }
  }
}

resource qualityAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-building-quality'
  location: location
  tags: tags
  properties: {
    displayName: 'Call Data Connector: building audio quality'
    description: 'A building\'s audio Poor % for a day is over the threshold (CDC_ALERT_POOR_PERCENT). List and acknowledge with GET/POST /api/v1/admin/alerts.'
    severity: 3
    enabled: true
    scopes: [ appInsights.id ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics\n| where name == "cdc.quality.alerts"\n| extend tenantId = tostring(customDimensions.tenantId), building = tostring(customDimensions.building)\n| summarize raised = sum(valueSum) by tenantId, building'
          timeAggregation: 'Total'
          metricMeasureColumn: 'raised'
          dimensions: [
            { name: 'tenantId', operator: 'Include', values: [ '*' ] }
            { name: 'building', operator: 'Include', values: [ '*' ] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [ actionGroup.id ] }
  }
}

output actionGroupId string = actionGroup.id
