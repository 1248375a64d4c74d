"""Sensor protocols: one module per protocol or device family, one registry line each."""
