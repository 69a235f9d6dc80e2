"""Test suite; a package so that tests/worker etc. never shadow the source packages."""
