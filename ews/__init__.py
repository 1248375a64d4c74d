"""Composition roots: the ews command line, the demo, device simulators and server launching."""
