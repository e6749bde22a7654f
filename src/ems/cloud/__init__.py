"""The cloud service: edges and dashboards over WebSockets, command dispatch, telemetry."""
