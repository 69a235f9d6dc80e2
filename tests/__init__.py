"""Test suite; a package so that tests/core, tests/api, ... never shadow the real core, api, ... packages."""
