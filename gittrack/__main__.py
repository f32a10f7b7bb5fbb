"""``python -m gittrack`` runs the CLI."""

from gittrack.cli import main

main()
