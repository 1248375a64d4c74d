"""Hub: ingest, store, rule engine, alert dispatch and feeds."""
