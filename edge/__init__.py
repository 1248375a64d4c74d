"""Edge gateway agent: sensors, outbox and publisher for one hazard point."""
