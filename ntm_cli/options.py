"""Options shared by several commands (task sizes), and turning them into a task."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ntm_cli.output import fail

# Task-size overrides, shared by every command that builds a task. Each applies to the tasks
# that have that size; giving one to a task without it is an error that names the valid ones.
_SIZES = "Task sizes (each applies to the tasks that have it)"
Width = Annotated[Optional[int], typer.Option(help="Bits per vector.", rich_help_panel=_SIZES)]
MinLength = Annotated[Optional[int], typer.Option(help="Shortest sequence (copy, repeat).", rich_help_panel=_SIZES)]
MaxLength = Annotated[Optional[int], typer.Option(help="Longest sequence (copy, repeat).", rich_help_panel=_SIZES)]
MinRepeats = Annotated[Optional[int], typer.Option(help="Fewest repeats (repeat).", rich_help_panel=_SIZES)]
MaxRepeats = Annotated[Optional[int], typer.Option(help="Most repeats (repeat).", rich_help_panel=_SIZES)]
MinItems = Annotated[Optional[int], typer.Option(help="Fewest items (recall).", rich_help_panel=_SIZES)]
MaxItems = Annotated[Optional[int], typer.Option(help="Most items (recall).", rich_help_panel=_SIZES)]
ItemSize = Annotated[Optional[int], typer.Option(help="Vectors per item (recall).", rich_help_panel=_SIZES)]
Order = Annotated[Optional[int], typer.Option(help="N of the N-gram model (ngrams).", rich_help_panel=_SIZES)]
Length = Annotated[Optional[int], typer.Option(help="Bits per sequence (ngrams).", rich_help_panel=_SIZES)]
NumInputs = Annotated[Optional[int], typer.Option(help="Vectors to sort (sort).", rich_help_panel=_SIZES)]
NumOutputs = Annotated[Optional[int], typer.Option(help="Top vectors to output (sort).", rich_help_panel=_SIZES)]


def given(**sizes: Optional[int]) -> dict[str, int]:
    """The size overrides the user actually gave."""
    return {name: value for name, value in sizes.items() if value is not None}


def build_task(name: str, sizes: dict[str, int]):
    """make_task, with a user mistake turned into one sentence on stderr and exit code 2."""
    from tasks import TaskConfigError, make_task

    try:
        return make_task(name, **sizes)
    except TaskConfigError as error:
        fail(str(error))
