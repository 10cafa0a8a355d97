"""The HTTP API and the web console (``hazardloop web``): FastAPI routers over the application services."""
