"""``python -m hazardloop`` runs the command line."""

from hazardloop.cli import main

main()
