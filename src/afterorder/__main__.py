from afterorder.cli.main import main

main()
