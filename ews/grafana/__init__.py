"""Grafana dashboards for the officers: generation, InfluxQL macro expansion, checks and upload."""
