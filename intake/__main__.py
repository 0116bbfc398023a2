"""``python -m intake``: the command line."""

from intake.app.cli import main

main()
