from contextbridge.cli import main

main()
