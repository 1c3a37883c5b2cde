from kassagate.cli import main

main()
