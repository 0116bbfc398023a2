"""The intake server: app, CLI, call registry and SLA clock, metrics."""
