"""Terminal output: one console for results (stdout) and one for errors (stderr)."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Rich looks up sys.stdout / sys.stderr at print time, so test runners can capture both.
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

USAGE_ERROR = 2  # exit code for anything the user can fix, as for Typer's own usage errors


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Prints 'Error: <message>' to stderr and exits with `code` (no traceback)."""
    error_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)
