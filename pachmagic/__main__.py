"""``python -m pachmagic`` runs the command line (``pachmagic --help``)."""

from pachmagic.cli import main

main()
