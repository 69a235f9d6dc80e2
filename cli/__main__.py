from voxfarm.cli.main import main

main()
