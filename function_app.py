"""Composition root: one FunctionApp, the blueprints registered. Nothing else here:
no settings read, no clients created at import (indexing must never fail on config)."""

import azure.functions as func

from functions.admin import bp as admin_bp
from functions.alerts import bp as alerts_bp
from functions.analytics import bp as analytics_bp
from functions.buildings import bp as buildings_bp
from functions.graph import bp as graph_bp  # Teams call records from Microsoft Graph
from functions.health import bp as health_bp
from functions.ingest import bp as ingest_bp
from functions.openapi import bp as openapi_bp
from functions.portal import bp as portal_bp  # the admin portal, same origin as the API
from functions.processor import bp as processor_bp
from functions.quality import bp as quality_bp
from functions.reports import bp as reports_bp
from functions.topology import bp as topology_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (
    ingest_bp,
    processor_bp,
    analytics_bp,
    openapi_bp,
    health_bp,
    quality_bp,
    buildings_bp,
    reports_bp,
    topology_bp,
    alerts_bp,
    admin_bp,
    portal_bp,
    graph_bp,
):
    app.register_functions(blueprint)
