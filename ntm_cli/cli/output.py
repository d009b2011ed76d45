"""How a command ends: a user's mistake as one sentence on stderr and an exit code, never a traceback."""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator, NoReturn

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


# --- the parser's own errors (a value Typer refuses before a command runs) ---------------------------


def usage_sentence(error: Any) -> str:
    """A Click usage error (a `click.ClickException` raised while parsing) as one sentence in the
    tool's own words, naming the option, the value and what is allowed, as the commands' own
    checks do: '--seed must be at least 0, got -1.'"""
    param = getattr(error, "param", None)
    cause = getattr(error, "__cause__", None)
    details = cause.errors() if hasattr(cause, "errors") else []  # a pydantic ValidationError's
    if param is None:
        options = getattr(error, "possibilities", None)
        text = error.format_message()
        if getattr(error, "option_name", None) and options is not None:  # click.NoSuchOption
            guess = f"; did you mean {' or '.join(options)}?" if options else "."
            return f"there is no option {error.option_name}{guess}"
        return text if text.endswith((".", "?")) else text + "."
    name = max(param.opts, key=len) if getattr(param, "param_type_name", "") == "option" else param.name
    if not details:
        return error.format_message().rstrip(".") + "."
    detail = details[0]
    kind, given, limits = detail.get("type", ""), detail.get("input"), detail.get("ctx") or {}
    got = f", got {given!r}." if isinstance(given, str) and not given.lstrip("-").isdigit() else f", got {given}."
    if kind == "int_parsing":
        return f"{name} takes whole numbers{got}"
    if kind in ("float_parsing", "finite_number"):
        return f"{name} takes numbers{got}"
    if kind == "greater_than_equal":
        return f"{name} must be at least {limits['ge']:,}{got}"
    if kind == "less_than_equal":
        return f"{name} must be at most {limits['le']:,}{got}"
    message = re.sub(r"^Value error, ", "", detail.get("msg", "")).rstrip(".")
    choices = re.match(r"^'.*' is not one of (.*)$", message)
    if choices:
        return f"{name} must be one of {choices.group(1)}{got}"
    return f"{name}: {message}{got}"


def print_usage_error(error: Any) -> None:
    """Typer's hook for a usage error (`typer.rich_utils.rich_format_error`): 'Error:' and the
    sentence on stderr, then where the help is; the exit code stays Click's (2)."""
    if type(error).__name__ == "NoArgsIsHelpError":  # `ntm` alone: the help was printed
        return
    context = getattr(error, "ctx", None)
    error_console.print(f"[bold red]Error:[/] {escape(usage_sentence(error))}", soft_wrap=True)
    if context is not None:
        error_console.print(f"See '{escape(context.command_path)} --help'.", soft_wrap=True, style="dim")
