"""Device simulators for tests and the demo (only what cannot be attached here)."""
