from afterorder.cli import main

main()
