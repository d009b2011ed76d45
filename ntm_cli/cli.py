"""The `ntm` command line: parse, build a config, call library code, report.

JAX is imported only inside the commands that need it, so `ntm --help` answers at once.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ntm_cli import __version__
from ntm_cli.output import console, fail

app = typer.Typer(
    name="ntm",
    help="Train, compare and understand Neural Turing Machines on the paper's algorithmic tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def _given(**sizes: Optional[int]) -> dict[str, int]:
    """The size overrides the user actually gave."""
    return {name: value for name, value in sizes.items() if value is not None}


def _build_task(name: str, sizes: dict[str, int]):
    """make_task, with a user mistake turned into one sentence on stderr and exit code 2."""
    from tasks import TaskConfigError, make_task

    try:
        return make_task(name, **sizes)
    except TaskConfigError as error:
        fail(str(error))


def _version(value: bool) -> None:
    if value:
        console.print(f"ntm {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train, compare and understand Neural Turing Machines on the paper's algorithmic tasks."""


@app.command("tasks")
def tasks_command() -> None:
    """List the tasks with their sizes, sequence length T and chance-level cost."""
    from ntm_cli.reporting import tasks_table
    from tasks import TASK_NAMES, make_task

    tasks = [make_task(name) for name in TASK_NAMES]
    console.print(tasks_table(tasks))
    for task in tasks:
        console.print(f"[bold]{task.name}[/]: {task.summary}.")


@app.command("show")
def show_command(
    task: Annotated[str, typer.Argument(help="Task name or alias (see `ntm tasks`).")],
    seed: Annotated[int, typer.Option(help="Seed of the sample's PRNG key.")] = 0,
    batch_index: Annotated[int, typer.Option(min=0, help="Which example of the seed's stream.")] = 0,
    width: Width = None,
    min_length: MinLength = None,
    max_length: MaxLength = None,
    min_repeats: MinRepeats = None,
    max_repeats: MaxRepeats = None,
    min_items: MinItems = None,
    max_items: MaxItems = None,
    item_size: ItemSize = None,
    order: Order = None,
    length: Length = None,
    num_inputs: NumInputs = None,
    num_outputs: NumOutputs = None,
) -> None:
    """Print one sample of a task: every channel over time ('#' = 1, '.' = 0), target and mask."""
    built = _build_task(
        task,
        _given(
            width=width, min_length=min_length, max_length=max_length, min_repeats=min_repeats,
            max_repeats=max_repeats, min_items=min_items, max_items=max_items, item_size=item_size,
            order=order, length=length, num_inputs=num_inputs, num_outputs=num_outputs,
        ),
    )
    import jax

    batch = built.sample_at(jax.random.key(seed), batch_index)
    title = f"{built.name}: seed {seed}, example {batch_index}"
    console.print(built.render(batch, 0, title=title), markup=False, soft_wrap=True)


@app.command("params")
def params_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the rows as JSON on stdout.")] = False,
) -> None:
    """Parameter counts of the paper's 15 configurations (Tables 1-3): ours beside the paper's."""
    from ntm_cli.models.params import paper_param_rows
    from ntm_cli.reporting import params_table

    rows = paper_param_rows()
    if json_output:
        import json

        print(json.dumps(rows, indent=2))
    else:
        console.print(params_table(rows))


def main() -> None:
    """Console-script entry point."""
    app()
