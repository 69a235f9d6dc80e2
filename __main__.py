"""``python -m voxfarm``: the ``voxfarm`` command."""

from voxfarm.cli.main import main

main()
