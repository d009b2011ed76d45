"""Terminal output: one console for results (stdout) and one for errors (stderr)."""

from __future__ import annotations

import contextlib
from typing import Iterator, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ntm_cli.errors import NtmError

# Rich looks up sys.stdout / sys.stderr at print time, so test runners can capture both.
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

USAGE_ERROR = 2  # exit code for anything the user can fix, as for Typer's own usage errors


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Prints 'Error: <message>' to stderr and exits with `code` (no traceback)."""
    error_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Within the block, any NtmError (a bad option, an unusable run folder, a file that cannot
    be written) ends the command with its one-sentence message and its exit code."""
    try:
        yield
    except NtmError as error:
        fail(str(error), error.exit_code)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (no markup, never wrapped mid-path) on stdout, or stderr."""
    (error_console if stderr else console).print(line, markup=False, soft_wrap=True)
