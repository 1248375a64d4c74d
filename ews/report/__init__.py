"""The after-action storm report: data drawn from InfluxDB, pages drawn with matplotlib, PDF or PNG."""
