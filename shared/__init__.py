"""Call Data Connector domain package: models, parsers, classification, storage, auth.

Never imports `azure.functions`: the trigger glue in `functions/` adapts this package
to the Functions runtime, so the same code runs under the local host and in tests.
"""
