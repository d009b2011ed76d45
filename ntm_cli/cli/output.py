"""How a command ends: a user's mistake as one sentence on stderr and an exit code, never a traceback."""

from __future__ import annotations

import contextlib
from typing import Iterator, NoReturn

import typer
from rich.markup import escape

from ntm_cli.errors import NtmError
from ntm_cli.reports.consoles import console, error_console, say, show  # noqa: F401  (the commands' consoles)

USAGE_ERROR = 2  # exit code for anything the user can fix, as for Typer's own usage errors


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    """Prints 'Error: <message>' to stderr and exits with `code` (no traceback)."""
    error_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Within the block, any NtmError (a bad option, an unusable run folder, a file that cannot
    be written) ends the command with its one-sentence message and its exit code; so does an
    allocation that fails (out of memory), which JAX raises as a RuntimeError."""
    from ntm_cli.training.resources import out_of_memory

    try:
        yield
    except NtmError as error:
        fail(str(error), error.exit_code)
    except (MemoryError, RuntimeError) as error:
        reported = out_of_memory(error)
        if reported is None:
            raise
        fail(str(reported), reported.exit_code)


@contextlib.contextmanager
def interrupted_before_training() -> Iterator[None]:
    """Ctrl-C while a training is being built and compiled (before any run folder is written)
    ends the command with exit code 130 and one sentence, not a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        fail("interrupted before training started; nothing was saved.", 130)
