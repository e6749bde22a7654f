"""The edge runtime: configuration, the deterministic cycle, controllers, commands."""
