"""Terminal output: one console for results (stdout) and one for progress and errors (stderr)."""

from __future__ import annotations

from rich.console import Console

# Rich looks up sys.stdout / sys.stderr at print time, so test runners can capture both.
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (no markup, never wrapped mid-path) on stdout, or stderr."""
    (error_console if stderr else console).print(line, markup=False, soft_wrap=True)
