"""Pure rule engine: no I/O, no clock, no threads."""
