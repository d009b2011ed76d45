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
    be written) ends the command with its one-sentence message and its exit code; so does an
    allocation that fails (out of memory), which JAX raises as a RuntimeError."""
    from ntm_cli.resources import out_of_memory

    try:
        yield
    except NtmError as error:
        fail(str(error), error.exit_code)
    except (MemoryError, RuntimeError) as error:
        reported = out_of_memory(error)
        if reported is None:
            raise
        fail(str(reported), reported.exit_code)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (no markup, never wrapped mid-path) on stdout, or stderr."""
    (error_console if stderr else console).print(line, markup=False, soft_wrap=True)


@contextlib.contextmanager
def interrupted_before_training() -> Iterator[None]:
    """Ctrl-C while a training is being built and compiled (before any run folder is written)
    ends the command with exit code 130 and one sentence, not a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        fail("interrupted before training started; nothing was saved.", 130)
