"""Device simulators on real serial lines (pseudo-terminals) and sockets, for tests and `ews demo`."""
