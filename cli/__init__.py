"""The ``voxfarm`` command line."""
