"""The command line: parsing and printing only (`commands.py` holds the app and its entry point,
one module per command family beside it). `ntm_cli.cli:main` is the console script."""

from ntm_cli.cli.commands import app, main

__all__ = ["app", "main"]
