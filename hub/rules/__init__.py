"""Pure rule engine: no I/O, no clock, no threads."""

from hub.rules.native import select

# The one exception to "no import-time I/O": before any engine module loads, check that a native
# (mypyc) build matches these sources, and load the .py files instead when it does not (native.py).
select()
