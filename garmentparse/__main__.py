from garmentparse.cli import main

main()
