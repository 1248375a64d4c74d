"""Benchmarks that print figures and side-by-side ratios (not timed tests)."""
