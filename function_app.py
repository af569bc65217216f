"""Composition root: one FunctionApp, the blueprints registered. Nothing else here:
no settings read, no clients created at import (indexing must never fail on config)."""

import azure.functions as func

from functions.alerts import bp as alerts_bp  # quality alerts (issue 11)
from functions.analytics import bp as analytics_bp
from functions.graph import bp as graph_bp  # Teams call records from Microsoft Graph
from functions.health import bp as health_bp
from functions.ingest import bp as ingest_bp
from functions.processor import bp as processor_bp
from functions.quality import bp as quality_bp
from functions.reports import bp as reports_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(ingest_bp)
app.register_functions(processor_bp)
app.register_functions(analytics_bp)
app.register_functions(health_bp)
app.register_functions(quality_bp)
app.register_functions(reports_bp)
app.register_functions(alerts_bp)
app.register_functions(graph_bp)
