"""Teams call records straight from Microsoft Graph: subscription, webhook, fetch.

See docs/graph.md. Nothing here imports `azure.functions`; functions/graph.py is the
trigger glue.
"""
