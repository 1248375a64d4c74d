"""Test data: the demo typhoon storm loaded into real influxd."""
